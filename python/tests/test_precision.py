"""precision="bf16": opt-in, refused where the processor lacks bfloat16 instructions, recorded in options,
checkpoints and a run's config.yaml, and a step near float32's by bfloat16's rounding (the exact checks, against
float64 of the rounded operands, are the core's: ConvolutionAccuracyTests)."""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import swiftgan
from swiftgan import GAN

SMALL = dict(image_size=32, channels=1, z_dim=8, ngf=8, ndf=8, seed=5)


def bf16_refusal():
    """Why this processor cannot run precision bf16, or None."""
    try:
        GAN("RaSGAN", precision="bf16", **SMALL).close()
    except ValueError as error:
        return str(error)
    return None


requires_bf16 = pytest.mark.skipif(bf16_refusal() is not None, reason=str(bf16_refusal()))


def batch(seed=0, n=8):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 1, 32, 32)).astype(np.float32)


def test_float32_is_the_default():
    with GAN("RaSGAN", **SMALL) as gan:
        assert gan.options["precision"] == "fp32"
    with pytest.raises(ValueError, match=r"precision"):
        GAN("RaSGAN", precision="fp16", **SMALL)


def test_bf16_is_refused_with_the_missing_instruction_set_named():
    # oneDNN told to use at most AVX2 (or AVX-512 without BF16): the processor "lacks" the instructions.
    isa = "AVX512_CORE" if "avx512f" in swiftgan.processor.instruction_sets() else "AVX2"
    code = ("import swiftgan\n"
            "try:\n    swiftgan.GAN('RaSGAN', image_size=32, channels=1, precision='bf16')\n"
            "except Exception as e:\n    print(type(e).__name__ + ': ' + str(e))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ONEDNN_MAX_CPU_ISA": isa})
    assert done.returncode == 0, done.stderr
    name = {"AVX512_CORE": "AVX-512", "AVX2": "AVX2"}[isa]
    assert re.fullmatch(r"ValueError: precision bf16 needs the AVX512-BF16 instructions \(AMD Zen 4 or later, Intel "
                        r"Cooper Lake\) or AMX \(Intel Sapphire Rapids or later\); oneDNN finds at most "
                        + re.escape(f"{name} on this processor (ONEDNN_MAX_CPU_ISA={isa}): use precision fp32"),
                        done.stdout.strip()), done.stdout
    # float32 runs there as anywhere.
    done = subprocess.run([sys.executable, "-c", "import swiftgan; swiftgan.GAN('RaSGAN', image_size=32, channels=1)"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "ONEDNN_MAX_CPU_ISA": isa})
    assert done.returncode == 0, done.stderr


def relative_rms(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(b.astype(np.float64) ** 2)))


@requires_bf16
@pytest.mark.parametrize("loss", ["RaSGAN", "RaLSGAN-GP"])
@pytest.mark.parametrize("seed", [5, 6, 7])
def test_a_bf16_step_differs_from_float32_by_bfloat16_rounding_only(loss, seed):
    # bfloat16 keeps 8 significant bits: rounding an operand moves it by at most u = 2⁻⁸ of itself (relative),
    # a product by at most 2u. Through G's or the critic's 5 products (4 convolutions and a dense layer) the
    # first-order relative moves add up to 10u = 0.039: the bound on the relative RMS move of a fresh G's samples
    # and of the critic's first loss (both before any update; measured: 0.005 and up to 0.009). A mode that
    # rounded nothing would move them by 0; one that rounded where it must not (the weights themselves, the
    # sums, the penalty's norms) is held by the core's tests against float64 of the rounded operands.
    u = 2.0 ** -8
    z = np.random.default_rng(1).standard_normal((8, 8)).astype(np.float32)
    results = {}
    for precision in ("fp32", "bf16"):
        with GAN(loss, precision=precision, **{**SMALL, "seed": seed}) as gan:
            samples = gan.generate(z)
            stats = gan.train_step(batch(0))
            results[precision] = (samples, stats["d_loss"], gan.state_dict())
    (x32, d32, w32), (x16, d16, w16) = results["fp32"], results["bf16"]
    assert 0 < relative_rms(x16, x32) < 10 * u
    assert 0 < abs(d16 - d32) / abs(d32) < 10 * u, (d16, d32)
    # The weights are the float32 master copy: Adam's first step moves each by lr = 2e-4 at most, so a weight is
    # within 2·lr of float32's (a gradient within rounding of 0 may take the other sign).
    for key in w32:
        np.testing.assert_allclose(w16[key], w32[key], rtol=0, atol=2 * 2e-4 * (1 + 1e-3), err_msg=key)


@requires_bf16
def test_bf16_is_recorded_in_checkpoints_and_a_resumed_gan_goes_on_in_it_bit_identically(tmp_path):
    batches = [batch(i) for i in range(4)]
    with GAN("RaSGAN-GP", precision="bf16", **SMALL) as straight:
        for b in batches:
            straight.train_step(b)
        expected = straight.state_dict()
    with GAN("RaSGAN-GP", precision="bf16", **SMALL) as first:
        for b in batches[:2]:
            first.train_step(b)
        first.save(str(tmp_path / "ckpt"))
    with GAN.load(str(tmp_path / "ckpt")) as resumed:
        assert resumed.options["precision"] == "bf16"
        for b in batches[2:]:
            resumed.train_step(b)
        got = resumed.state_dict()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


@requires_bf16
def test_swiftgan_train_records_precision_in_the_runs_config_and_resumes_in_it(tmp_path):
    images = np.where(np.random.default_rng(0).random((64, 1, 32, 32)) < 0.5, -1, 1).astype(np.float32)
    np.save(tmp_path / "data.npy", images)
    script = shutil.which("swiftgan")
    command = [script] if script else [sys.executable, "-m", "swiftgan"]
    common = ["--ngf", "8", "--ndf", "8", "--z-dim", "8", "--batch-size", "16", "--no-progress", "--threads", "1"]
    done = subprocess.run(command + ["train", "--dataset", "data.npy", "--precision", "bf16", "--iters", "2",
                                     "--out", "run", *common], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    run = swiftgan.load_run(str(tmp_path / "run"))
    assert run.config["precision"] == "bf16"
    assert re.search(r"^precision: bf16$", (tmp_path / "run" / "config.yaml").read_text(), re.M)
    done = subprocess.run(command + ["train", "--resume", "run", "--iters", "3", "--no-progress"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    run = swiftgan.load_run(str(tmp_path / "run"))
    assert run.iteration == 3 and run.config["precision"] == "bf16"
