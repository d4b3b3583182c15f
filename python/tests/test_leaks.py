"""No leaks in long sessions: 10,000 GANs created, trained a step, read and freed, and 100,000 `sample` calls on
one GAN keep the resident memory within 10% of its level after the first 100 (measured in a child process, so
that nothing else of the session moves it). LeakSanitizer runs on the C ABI in test_c_abi.py."""
import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent("""
    import os, sys
    import numpy as np
    from swiftgan import GAN

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    options = dict(loss="RaSGAN-GP", arch="mlp", channels=2, z_dim=2, ngf=8, ndf=8, ema_decay=0.5, threads=1)
    real = np.random.default_rng(0).uniform(-1, 1, (8, 2)).astype(np.float32)
    what, total = sys.argv[1], int(sys.argv[2])
    if what == "cycles":
        for i in range(total):
            with GAN(**options, seed=i) as gan:
                gan.train_step(real)
                gan.state_dict()
                if i % 10 == 0:
                    try:
                        gan.train_step(real[:1])  # a refused call, with its error message
                    except ValueError:
                        pass
            if i + 1 == 100:
                first = rss()
    else:
        gan = GAN(**options)
        for i in range(total):
            gan.sample(4)
            if i + 1 == 100:
                first = rss()
    print(first, rss())
""")


@pytest.mark.parametrize("what, total", [("cycles", 10_000), ("samples", 100_000)])
def test_resident_memory_stays_within_10_percent_of_its_level_after_the_first_100(what, total):
    done = subprocess.run([sys.executable, "-c", CHILD, what, str(total)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    first, last = map(int, done.stdout.split())
    print(f"{what}: RSS {first / 2**20:.1f} MiB after 100, {last / 2**20:.1f} MiB after {total}")
    assert last <= 1.10 * first, f"{what}: RSS grew from {first / 2**20:.1f} MiB to {last / 2**20:.1f} MiB over {total}"
