"""Every processor gets vector kernels: on each instruction-set level oneDNN can be held to (ONEDNN_MAX_CPU_ISA, a
level above this processor's acts as its own), a training step of every architecture runs no convolution on oneDNN's
reference loops, which are 100× slower than its gemm (a layout chosen for AVX-512 sent AVX2 there: 3.8 s for one
backward-data pass of the spectral-normalisation CNN's last layer at batch 64). And OpenBLAS runs the kernels of
the processor's instruction sets, which the package chooses before the core is loaded (`swiftgan.processor`: Debian's
OpenBLAS 0.3.21 runs its SSE3 Prescott kernels on processors newer than its model table: sgemm at 49 against
310 GFLOP/s on an Intel Xeon model 207)."""
import os
import subprocess
import sys
import textwrap

import pytest

from swiftgan import processor

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


# OpenBLAS's kernels

ZEN3 = "fpu sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma f16c bmi2"
XEON_MODEL_207 = ZEN3 + " avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni avx512_bf16 amx_bf16 amx_tile"


def cpuinfo(tmp_path, flags):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: a processor\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: sse\n")
    return str(path)


def test_kernels_follow_the_instruction_sets_not_the_model():
    assert processor.openblas_kernels(frozenset(XEON_MODEL_207.split())) == "SkylakeX"
    assert processor.openblas_kernels(frozenset(ZEN3.split())) == "Haswell"
    # AVX-512 F without BW/DQ/VL (Knights Landing) cannot run the SkylakeX kernels; AVX2 without FMA has no kernels
    assert processor.openblas_kernels(frozenset((ZEN3 + " avx512f avx512cd").split())) == "Haswell"
    assert processor.openblas_kernels(frozenset("sse sse2 avx avx2".split())) is None
    assert processor.openblas_kernels(frozenset()) is None


def test_instruction_sets_are_the_first_processors_flags(tmp_path):
    assert processor.instruction_sets(cpuinfo(tmp_path, XEON_MODEL_207)) == frozenset(XEON_MODEL_207.split())
    assert processor.instruction_sets(str(tmp_path / "absent")) == frozenset()


def test_the_choice_lasts_while_the_core_loads_and_a_users_choice_is_kept(tmp_path):
    environ = {"PATH": "/bin"}
    with processor.openblas_kernels_chosen(environ, cpuinfo(tmp_path, XEON_MODEL_207)) as chosen:
        assert chosen == "SkylakeX" and environ["OPENBLAS_CORETYPE"] == "SkylakeX"
    assert environ == {"PATH": "/bin"}
    environ = {"OPENBLAS_CORETYPE": "Haswell"}
    with processor.openblas_kernels_chosen(environ, cpuinfo(tmp_path, XEON_MODEL_207)) as chosen:
        assert chosen is None and environ == {"OPENBLAS_CORETYPE": "Haswell"}
    assert environ == {"OPENBLAS_CORETYPE": "Haswell"}
    environ = {}
    with processor.openblas_kernels_chosen(environ, cpuinfo(tmp_path, "sse sse2")) as chosen:
        assert chosen is None and environ == {}


def test_a_weaker_core_loaded_before_the_package_is_named_with_the_remedy():
    assert processor.kernels_warning("Haswell", "Zen") is None  # Zen runs the Haswell kernels
    assert processor.kernels_warning("SkylakeX", "Cooperlake") is None
    assert processor.kernels_warning(None, "Prescott") is None
    message = processor.kernels_warning("SkylakeX", "Prescott")
    assert "'Prescott' kernels" in message and "OPENBLAS_CORETYPE=SkylakeX" in message


def run_python(code, **env):
    environ = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    environ.update(env)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environ, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


CHOSEN = processor.openblas_kernels(processor.instruction_sets())


@pytest.mark.skipif(CHOSEN is None, reason="no AVX2 with FMA on this processor: OpenBLAS's own choice stands")
def test_the_loaded_core_runs_the_kernels_of_this_processors_instruction_sets():
    # Without the choice, Debian's OpenBLAS 0.3.21 runs its Prescott kernels on processors newer than its table
    lines = run_python("""
        import os, warnings
        warnings.simplefilter("error")
        import swiftgan
        print(swiftgan.kernels()["openblas"])
        print(os.environ.get("OPENBLAS_CORETYPE", "unset"))
    """)
    assert lines == [CHOSEN, "unset"]
    assert run_python("import swiftgan; print(swiftgan.kernels()['openblas'])", OPENBLAS_CORETYPE="Prescott") == \
        ["Prescott"]


@pytest.mark.skipif(CHOSEN is None, reason="no AVX2 with FMA on this processor: OpenBLAS's own choice stands")
def test_openblas_loaded_before_the_package_on_weaker_kernels_is_warned_of():
    lines = run_python("""
        import ctypes, os, warnings
        ctypes.CDLL("libopenblas.so.0")  # another library's OpenBLAS, loaded with the user's OPENBLAS_CORETYPE
        del os.environ["OPENBLAS_CORETYPE"]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import swiftgan
        print(swiftgan.kernels()["openblas"])
        print(*[f"{w.category.__name__}: {w.message}" for w in caught], sep="\\n")
    """, OPENBLAS_CORETYPE="Prescott")
    assert lines[0] == "Prescott"
    assert lines[1].startswith("RuntimeWarning: OpenBLAS was loaded before swiftgan and runs its 'Prescott' kernels")
    assert f"OPENBLAS_CORETYPE={CHOSEN}" in lines[1]
