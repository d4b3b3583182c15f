"""Every processor gets vector kernels: on each instruction-set level oneDNN can be held to (ONEDNN_MAX_CPU_ISA, a
level above this processor's acts as its own), a training step of every architecture runs no convolution on oneDNN's
reference loops, which are 100× slower than its gemm (a layout chosen for AVX-512 sent AVX2 there: 3.8 s for one
backward-data pass of the spectral-normalisation CNN's last layer at batch 64)."""
import os
import subprocess
import sys

import pytest

STEP_OF_EVERY_ARCHITECTURE = """
import numpy as np, swiftgan
for arch, loss, size, channels in [("dcgan", "RaSGAN-GP", 32, 1), ("dcgan", "RaLSGAN", 64, 3),
                                   ("resnet", "WGAN-GP", 32, 3), ("cnn", "RaSGAN", 32, 3),
                                   ("ebgan", "EBGAN", 64, 3), ("began", "BEGAN", 64, 3)]:
    options = dict(spectral_norm_d=True) if arch == "cnn" else {}
    with swiftgan.GAN(loss, arch=arch, image_size=size, channels=channels, z_dim=16, ngf=16, ndf=16, seed=1,
                      threads=1, **options) as gan:
        gan.train_step(np.random.default_rng(0).uniform(-1, 1, (4, channels, size, size)).astype(np.float32))
"""


@pytest.mark.parametrize("isa", ["SSE41", "AVX", "AVX2", "AVX512_CORE"])
def test_no_convolution_runs_on_onednn_reference_kernels(isa):
    done = subprocess.run([sys.executable, "-c", STEP_OF_EVERY_ARCHITECTURE], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "ONEDNN_MAX_CPU_ISA": isa, "ONEDNN_VERBOSE": "1"})
    assert done.returncode == 0, done.stderr
    # onednn_verbose,exec,cpu,convolution,<implementation>,<propagation>,...
    runs = [line.split(",") for line in done.stdout.splitlines() if line.startswith("onednn_verbose,exec,cpu,")]
    convolutions = [fields for fields in runs if fields[3] == "convolution"]
    assert len(convolutions) > 50, f"{len(convolutions)} convolutions seen: did ONEDNN_VERBOSE print?"
    reference = sorted({f"{fields[5]} {fields[4]} {fields[-2]}" for fields in convolutions
                        if fields[4].startswith("ref")})
    assert not reference, f"under ONEDNN_MAX_CPU_ISA={isa}, reference kernels for: " + "; ".join(reference)
