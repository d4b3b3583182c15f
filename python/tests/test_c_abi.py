"""The C ABI from C and from the extension: usable from any language, and no input crashes the process."""
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import swiftgan

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
LIBRARY_DIR = os.path.dirname(os.path.abspath(swiftgan.__file__))  # libswiftgan.so ships beside the extension


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_the_c_example_trains_saves_reloads_and_gets_errors_not_crashes(tmp_path):
    program = tmp_path / "train_and_reload"
    subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-I", os.path.join(ROOT, "Sources", "SwiftGANC"),
                    os.path.join(ROOT, "Tests", "CExample", "train_and_reload.c"), "-o", str(program),
                    "-L", LIBRARY_DIR, "-lswiftgan", f"-Wl,-rpath,{LIBRARY_DIR}", "-lm"], check=True)
    done = subprocess.run([str(program), str(tmp_path / "state.bin")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: the reloaded GAN takes the same step" in done.stdout
    assert done.stdout.count("ok: ") >= 20 and done.stdout.rstrip().endswith("all checks passed")


# Each call gets a wrong argument; the child process prints what it raised. A crash ends the child with a
# signal, which the test reports with the calls that ran.
FUZZ = textwrap.dedent("""
    import numpy as np
    from swiftgan import _native
    h = _native.create("loss=RaSGAN-GP\\narch=dcgan\\nimage_size=32\\nchannels=1\\nz_dim=8\\nngf=8\\nndf=8")
    f32 = lambda *shape: np.zeros(shape, np.float32)
    real = f32(4, 1, 32, 32)
    read_only = f32(1024)
    read_only.flags.writeable = False
    variance = next(i for i in range(h.tensor_count(0)) if h.tensor_info(0, i)[0].endswith("running_var"))
    calls = [
        ("sample: out too small", lambda: h.sample(200000, f32(2))),
        ("sample: n negative", lambda: h.sample(-1, f32(2))),
        ("sample: out read-only", lambda: h.sample(1, read_only)),
        ("sample: out float64", lambda: h.sample(1, np.zeros(1024))),
        ("generate: z too wide", lambda: h.generate(f32(2, 9), f32(2, 1, 32, 32))),
        ("generate: out too small", lambda: h.generate(f32(2, 8), f32(1))),
        ("generate: z empty", lambda: h.generate(f32(0, 8), f32(0))),
        ("generate: z None", lambda: h.generate(None, f32(2))),
        ("train_step: real None", lambda: h.train_step([("real", None)])),
        ("train_step: unknown input", lambda: h.train_step([("real", real), ("noise", real)])),
        ("train_step: not pairs", lambda: h.train_step([real])),
        ("train_step: real 1-D", lambda: h.train_step([("real", f32(5))])),
        ("train_step: real 9-D", lambda: h.train_step([("real", f32(*[1] * 9))])),
        ("train_step: real of 1 sample", lambda: h.train_step([("real", f32(1, 1, 32, 32))])),
        ("train_step: z wrong", lambda: h.train_step([("real", real), ("z", f32(3, 8))])),
        ("train_step: z_g wrong", lambda: h.train_step([("real", real), ("z_g", f32(4))])),
        ("train_step: u 3-D", lambda: h.train_step([("real", real), ("u", f32(1, 1, 4))])),
        ("train_step: DRAGAN input on GP", lambda: h.train_step([("real", real), ("dragan_alpha", f32(4))])),
        ("train_step: int array", lambda: h.train_step([("real", np.zeros((4, 1, 32, 32), np.int32))])),
        ("train_step: str", lambda: h.train_step([("real", "real")])),
        ("tensor_read: index", lambda: h.tensor_read(1, 10 ** 9, f32(1))),
        ("tensor_read: count", lambda: h.tensor_read(1, 0, f32(1))),
        ("tensor_read: which", lambda: h.tensor_read(7, 0, f32(1))),
        ("tensor_write: gradients", lambda: h.tensor_write(2, [(0, f32(1))])),
        ("tensor_write: NaN", lambda: h.tensor_write(0, [(0, np.full(h.tensor_info(0, 0)[1], np.nan, np.float32))])),
        ("tensor_write: shape", lambda: h.tensor_write(0, [(0, f32(int(np.prod(h.tensor_info(0, 0)[1]))))])),
        ("tensor_write: negative variance", lambda: h.tensor_write(0, [(variance, -np.ones(h.tensor_info(0, variance)[1], np.float32))])),
        ("tensor_info: negative index", lambda: h.tensor_info(1, -1)),
        ("set_scalars: unknown name", lambda: h.set_scalars("iteration=2\\nstep=3")),
        ("set_scalars: not a number", lambda: h.set_scalars("began.k=fast")),
        ("set_scalars: not name=value", lambda: h.set_scalars("iteration")),
        ("set_threads: too many", lambda: h.set_threads(5000)),
        ("create: bad option", lambda: _native.create("image_size=-3")),
        ("create: not key=value", lambda: _native.create("nonsense")),
        ("catalogue: which", lambda: _native.catalogue(9)),
    ]
    for name, call in calls:
        try:
            call()
            print(name, "-> no error")
        except Exception as e:
            print(name, "->", type(e).__name__, str(e).splitlines()[0] if str(e) else "")
    h.train_step([("real", real)])
    print("a step after the refused calls: ok")
    h.close()
    for name, call in [("closed: sample", lambda: h.sample(1, f32(1024))),
                       ("closed: train_step", lambda: h.train_step([("real", real)])),
                       ("closed: tensor_count", lambda: h.tensor_count(0)), ("closed: close again", h.close)]:
        try:
            call()
            print(name, "-> no error")
        except Exception as e:
            print(name, "->", type(e).__name__, str(e).splitlines()[0] if str(e) else "")
""")


def test_wrong_counts_null_buffers_and_closed_handles_raise_and_never_crash():
    done = subprocess.run([sys.executable, "-c", FUZZ], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"the process died ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    lines = dict(line.split(" -> ", 1) for line in done.stdout.splitlines() if " -> " in line)
    assert "a step after the refused calls: ok" in done.stdout
    expected = {
        "sample: out too small": "ValueError out must hold 200000 × 1024 = 204800000 floats",
        "sample: n negative": "ValueError n must be in [1, 2^20], got -1",
        "sample: out float64": "TypeError out must hold float32 values",
        "sample: out read-only": "TypeError out must be a writable C-contiguous float32 buffer",
        "generate: z too wide": "ValueError z must have shape [N, 8], got [2, 9]",
        "generate: out too small": "ValueError out must hold 2 × 1024 = 2048 floats",
        "generate: z empty": "ValueError z must hold at least one latent, got 0",
        "generate: z None": "ValueError z: values is NULL",
        "train_step: real None": "ValueError real is required",
        "train_step: real 1-D": "ValueError real must have shape [N, 1, 32, 32], got [5]",
        "train_step: real 9-D": "ValueError real has 9 dimensions, at most 8 are supported",
        "train_step: real of 1 sample": "ValueError real must hold at least 2 samples per batch, got 1",
        "train_step: z wrong": "ValueError z must have shape [4, 8], got [3, 8]",
        "train_step: z_g wrong": "ValueError z_g must have shape [4, 8], got [4]",
        "train_step: u 3-D": "ValueError u must have shape [4], got [1, 1, 4]",
        "train_step: DRAGAN input on GP": "ValueError dragan_alpha is not an input of loss RaSGAN-GP (it is drawn by the penalties -DRAGAN)",
        "train_step: unknown input": "ValueError noise is not an input of loss RaSGAN-GP; a step of this GAN takes real, z, z_g, u",
        "train_step: not pairs": "TypeError",
        "train_step: int array": "TypeError real must hold float32 values",
        "train_step: str": "TypeError real must be a C-contiguous float32 buffer",
        "tensor_read: index": "ValueError index must be in [0,",
        "tensor_read: count": "ValueError count must be",
        "tensor_read: which": "ValueError which must be SG_TENSORS_MODEL",
        "tensor_write: gradients": "ValueError gradients are read-only",
        "tensor_write: NaN": "ValueError G.main.0.weight: holds non-finite values (NaN or ±inf), the first at flat index 0",
        "tensor_write: shape": "ValueError G.main.0.weight: expected shape [8, 32, 4, 4], got [4096]",
        "tensor_write: negative variance": "ValueError G.main.1.running_var: must be ≥ 0 (a variance), got -1.0 at flat index 0",
        "tensor_info: negative index": "ValueError index must be in [0,",
        "set_scalars: unknown name": "ValueError unknown trainer scalar 'step'; known: iteration, optimizer_D.steps",
        "set_scalars: not a number": "ValueError began.k must be a number in [0, 1], got 'fast'",
        "set_scalars: not name=value": "ValueError scalar line 'iteration' is not of the form name=value",
        "set_threads: too many": "ValueError threads must be in [1, 1024]",
        "create: bad option": "ValueError image_size must be an integer",
        "create: not key=value": "ValueError config line 'nonsense' is not of the form key=value",
        "catalogue: which": "ValueError what must be 0",
        "closed: sample": "ValueError the GAN is closed",
        "closed: train_step": "ValueError the GAN is closed",
        "closed: tensor_count": "ValueError the GAN is closed",
    }
    for name, start in expected.items():
        assert lines.get(name, "").startswith(start), f"{name}: {lines.get(name)!r}, expected {start!r}"
    assert lines["closed: close again"] == "no error"


def test_the_headers_statistics_are_the_cores_list_in_its_order():
    import re

    from swiftgan import gan

    with open(os.path.join(ROOT, "Sources", "SwiftGANC", "swiftgan.h")) as f:
        header = f.read()
    defines = {name.lower(): int(index) for name, index in re.findall(r"#define SG_STAT_(\w+) (\d+)", header)}
    count = defines.pop("count")
    assert count == len(gan.STATISTICS)
    assert sorted(defines, key=defines.get) == list(gan.STATISTICS)


@pytest.mark.skipif(shutil.which("cc") is None or shutil.which("swift") is None and not os.path.exists(
    "/opt/swift/usr/bin/swift"), reason="needs a C compiler and the Swift toolchain")
def test_the_c_abi_is_clean_under_address_and_leak_sanitizer(tmp_path):
    """The library built with -sanitize=address (in .build-asan), and both C programs built with
    -fsanitize=address: no invalid access, and no leaked allocation when they end (LeakSanitizer)."""
    swift = shutil.which("swift") or "/opt/swift/usr/bin/swift"
    scratch = os.path.join(ROOT, ".build-asan")
    subprocess.run([swift, "build", "--product", "swiftgan", "--sanitize=address", "--scratch-path", scratch],
                   cwd=ROOT, check=True, capture_output=True, timeout=1200)
    library_dir = os.path.join(scratch, "debug")
    environment = {**os.environ, "ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1"}
    for source, args, expected in [("train_and_reload.c", [str(tmp_path / "state.bin")], "all checks passed"),
                                   ("lifetimes.c", ["3"], "3 cycles of 4 GANs: all checks passed")]:
        program = tmp_path / source[:-2]
        subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-g", "-fsanitize=address", "-I",
                        os.path.join(ROOT, "Sources", "SwiftGANC"), os.path.join(ROOT, "Tests", "CExample", source),
                        "-o", str(program), "-L", library_dir, "-lswiftgan", f"-Wl,-rpath,{library_dir}", "-lm"],
                       check=True)
        done = subprocess.run([str(program), *args], capture_output=True, text=True, timeout=600, env=environment)
        report = done.stdout[-3000:] + done.stderr[-6000:]
        assert done.returncode == 0 and "Sanitizer" not in done.stderr, f"{source}: {report}"
        assert done.stdout.rstrip().endswith(expected), report


def test_every_handle_kind_shares_the_handle_calls_and_refuses_another_kinds_calls_by_name():
    import ctypes

    lib = ctypes.CDLL(os.path.join(LIBRARY_DIR, "libswiftgan.so"))
    lib.sg_last_error.restype = ctypes.c_char_p
    for name in ("sg_gan_create", "sg_features_create"):
        getattr(lib, name).argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.sg_handle_free.argtypes = [ctypes.c_void_p]
    lib.sg_gan_sample.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64]
    lib.sg_features_evaluate.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64]
    lib.sg_tensor_count.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_int64)]
    lib.sg_handle_kind.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_int64)]
    gan, net = ctypes.c_void_p(), ctypes.c_void_p()
    assert lib.sg_gan_create(b"arch=mlp\nchannels=2\nz_dim=2\nngf=4\nndf=4", ctypes.byref(gan)) == 0
    assert lib.sg_features_create(b"image_size=16\nwidth=2", ctypes.byref(net)) == 0
    counts = {}
    for name, handle in (("gan", gan), ("features", net)):
        count, kind, needed = ctypes.c_int64(), ctypes.create_string_buffer(16), ctypes.c_int64()
        assert lib.sg_tensor_count(handle, 0, ctypes.byref(count)) == 0 and count.value > 0
        assert lib.sg_handle_kind(handle, kind, 16, ctypes.byref(needed)) == 0 and kind.value.decode() == name
        counts[name] = count.value
    assert counts == {"gan": 16, "features": 22}  # the MLP pair: 4 Linear layers each, weight and bias; the CNN: 22
    out = (ctypes.c_float * 4)()
    assert lib.sg_gan_sample(net, 2, out, 4) == 1 and b"is not a live GAN handle" in lib.sg_last_error()
    assert lib.sg_features_evaluate(gan, None, 0, out, 4) == 1
    assert b"is not a live feature network handle" in lib.sg_last_error()
    assert lib.sg_handle_free(net) == 0 and lib.sg_handle_free(gan) == 0
    assert lib.sg_handle_free(gan) == 1 and b"is not a live handle: freed already" in lib.sg_last_error()
