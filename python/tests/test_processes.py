"""Principle 8 of the Guarantees: after `fork` the child works (on one thread) or gets a clear error, never a
hang; `copy.copy`, `copy.deepcopy` and `pickle` of a GAN make an independent GAN in the same state, or are refused
naming what is copied."""
import copy
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from swiftgan import GAN
from swiftgan.features import FeatureNetwork

SMALL = dict(image_size=32, channels=1, ngf=8, ndf=8, z_dim=8)


def batch(seed):
    return np.random.default_rng(seed).uniform(-1, 1, (8, 1, 32, 32)).astype(np.float32)


def test_a_fork_child_trains_on_one_thread_instead_of_hanging():
    script = textwrap.dedent("""
        import os, sys, numpy as np, swiftgan
        gan = swiftgan.GAN(image_size=32, channels=1, ngf=8, ndf=8, z_dim=8, threads=2)
        x = np.zeros((8, 1, 32, 32), np.float32)
        gan.train_step(x)  # the thread pool has started
        expected = swiftgan.GAN(image_size=32, channels=1, ngf=8, ndf=8, z_dim=8, threads=1)
        expected.train_step(x); expected.train_step(x)
        pid = os.fork()
        if pid == 0:
            gan.train_step(x)
            other = swiftgan.GAN(image_size=32, channels=1, ngf=8, ndf=8, z_dim=8)
            other.train_step(x); other.train_step(x)
            same = all(np.array_equal(a, b) for a, b in zip(other.state_dict().values(), expected.state_dict().values()))
            try:
                gan.threads = 2
                refused = "not refused"
            except ValueError as error:
                refused = str(error)
            print(f"child: threads {gan.threads} {other.threads}, same as one thread: {same}; {refused}", flush=True)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        gan.train_step(x)  # the parent goes on with its threads
        print("parent: child status", status, "threads", gan.threads, flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert ("child: threads 1 1, same as one thread: True; threads: this process was forked after SwiftGAN's thread "
            "pool had started, and a thread pool does not survive a fork: it computes on 1 thread, not 2") in done.stdout
    assert "parent: child status 0 threads 2" in done.stdout


@pytest.mark.parametrize("how", ["copy", "deepcopy", "pickle"])
def test_copies_and_pickles_are_independent_gans_in_the_same_state(how):
    make = {"copy": copy.copy, "deepcopy": copy.deepcopy, "pickle": lambda g: pickle.loads(pickle.dumps(g))}[how]
    with GAN(**SMALL, ema_decay=0.9) as gan:
        gan.train_step(batch(0))
        twin = make(gan)
        try:
            assert twin._handle is not gan._handle and twin.scalars == gan.scalars
            for a, b in zip(gan.state_dict().values(), twin.state_dict().values()):
                np.testing.assert_array_equal(a, b)
            for seed in (1, 2):  # the same stream, moments and moving average: the same next steps
                assert gan.train_step(batch(seed)) == twin.train_step(batch(seed))
            np.testing.assert_array_equal(gan.sample(4), twin.sample(4))
            twin.train_step(batch(3))  # and one trains without the other
            assert twin.iteration == gan.iteration + 1
            twin.close()
            assert gan.train_step(batch(3)) is not None  # closing the copy leaves the original working
        finally:
            twin.close()


def test_a_closed_gan_and_a_feature_network_are_refused_naming_them():
    gan = GAN(**SMALL)
    gan.close()
    for make in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(ValueError, match="the GAN is closed"):
            make(gan)
    with FeatureNetwork(channels=1, image_size=8, classes=3, width=2) as net:
        for make in (copy.copy, copy.deepcopy, pickle.dumps):
            with pytest.raises(TypeError, match=r"cannot copy or pickle FeatureNetwork\(channels=1, image_size=8, "
                                                r"classes=3, width=2, features=8\): it holds a handle to the Swift core"):
                make(net)
