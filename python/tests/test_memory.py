"""Principle 3 of the Guarantees: no crash for lack of memory. Each case runs in a child process under an
address-space limit (RLIMIT_AS), set after the library's threads exist, so that a crash or a hang is reported
as a failure; every call there must succeed or raise MemoryError naming what and how much, leaving the GAN as
it was."""
import subprocess
import sys
import textwrap

import pytest

PRELUDE = textwrap.dedent("""
    import resource, sys
    import numpy as np
    import swiftgan

    def vm_size():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))

    def limit(extra):
        resource.setrlimit(resource.RLIMIT_AS, (vm_size() + extra, resource.RLIM_INFINITY))

    def same(a, b):
        return list(a) == list(b) and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)

    warm = swiftgan.GAN(image_size=32, channels=1, ngf=4, ndf=4, z_dim=4)  # the thread pool exists
    warm.train_step(np.zeros((4, 1, 32, 32), np.float32))
""")


def run_child(body, timeout=300):
    done = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body)], capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"the child ended with {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_a_gan_larger_than_the_memory_left_is_a_memory_error_not_a_crash():
    out = run_child("""
        limit(400 << 20)
        try:
            swiftgan.GAN(image_size=64, channels=3, ngf=512, ndf=512)
        except MemoryError as error:
            print("refused:", error)
        gan = swiftgan.GAN(image_size=32, channels=1, ngf=8, ndf=8, z_dim=8)  # a small one still works
        gan.train_step(np.zeros((4, 1, 32, 32), np.float32))
        print("ok")
    """)
    assert "refused: out of memory: building the networks (dcgan: " in out and out.rstrip().endswith("ok"), out


def test_a_step_or_sample_beyond_the_memory_left_is_refused_and_changes_nothing():
    out = run_child("""
        gan = swiftgan.GAN(image_size=64, channels=3, ngf=16, ndf=16, z_dim=16)
        gan.train_step(np.zeros((4, 3, 64, 64), np.float32))
        before, scalars = gan.state_dict(), gan.scalars
        real = np.zeros((4096, 3, 64, 64), np.float32)
        limit(100 << 20)
        try:
            gan.train_step(real)  # the copy of the batch is refused
        except MemoryError as error:
            print("copy refused:", error)
        limit(450 << 20)
        try:
            gan.train_step(real)  # the copy fits, the step does not
        except MemoryError as error:
            print("step refused:", error)
        print("unchanged:", same(before, gan.state_dict()) and scalars == gan.scalars)
        gan.train_step(real[:4])
        print("trains on:", gan.iteration)
    """)
    # 4096·3·64·64 floats, 192 MiB: the pool rounds to whole pages (the power-of-two pool asked for 256)
    assert "copy refused: out of memory: a copy of real [4096, 3, 64, 64] needs 192.0 MB, " in out, out
    assert "step refused: out of memory: a training step on a batch of 4096 needs " in out, out
    assert "unchanged: True" in out and "trains on: 2" in out, out


def test_metrics_on_features_too_wide_for_the_memory_left_are_memory_errors():
    out = run_child("""
        features = np.random.default_rng(0).normal(size=(4, 60000))
        limit(200 << 20)
        for name, call in [("fid", lambda: swiftgan.metrics.fid(features, features)),
                           ("statistics", lambda: swiftgan.metrics.feature_statistics(features))]:
            try:
                call()
                print(name, "computed")
            except MemoryError as error:
                print(name, "refused:", error)
    """)
    assert "fid refused: out of memory: the covariance of 60000-wide features needs 268.2 GB" in out, out
    assert "statistics refused: " in out, out


@pytest.mark.parametrize("seed", range(12))
def test_random_limits_never_crash(seed):
    """A random limit, then random work: every call succeeds or raises MemoryError."""
    out = run_child(f"""
        rng = np.random.default_rng({seed})
        limit(int(rng.integers(30, 600)) << 20)
        outcomes = []
        for _ in range(6):
            what = rng.integers(0, 4)
            try:
                if what == 0:
                    g = swiftgan.GAN(image_size=32, channels=3, ngf=int(rng.integers(8, 400)), ndf=int(rng.integers(8, 400)))
                    g.train_step(np.zeros((int(rng.integers(2, 64)), 3, 32, 32), np.float32))
                elif what == 1:
                    warm.train_step(np.zeros((int(rng.integers(2, 20000)), 1, 32, 32), np.float32))
                elif what == 2:
                    warm.sample(int(rng.integers(1, 200000)))
                else:
                    f = rng.normal(size=(int(rng.integers(2, 50)), int(rng.integers(1, 20000))))
                    swiftgan.metrics.fid(f, f)
                outcomes.append("ok")
            except MemoryError:
                outcomes.append("MemoryError")
        print("outcomes:", outcomes)
    """)
    assert "outcomes:" in out, out
