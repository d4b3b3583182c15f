"""Property test of the C ABI through ctypes (run in a child process by test_properties.py): random calls of
every function of swiftgan.h with random handles (live, freed, NULL, pointers of another kind), counts, shapes,
buffers, capacities and texts; every buffer really holds at least the count the call is given (the one lie the
header says the library cannot detect).

Each call returns SG_OK with a correct result, or SG_INVALID_ARGUMENT / SG_DIVERGED with a message; after
SG_INVALID_ARGUMENT the GAN is exactly as before. Never SG_ENGINE_ERROR, never a crash. Prints the number of
calls tried."""
import ctypes
import math
import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import swiftgan

LIB = ctypes.CDLL(os.path.join(os.path.dirname(swiftgan.__file__), "libswiftgan.so"))
OK, INVALID, ENGINE, DIVERGED = 0, 1, 2, 3
MAX_DIMS = 8
CALLS = {"tried": 0, "refused": 0}


class Array(ctypes.Structure):
    _fields_ = [("values", ctypes.c_void_p), ("count", ctypes.c_int64), ("ndim", ctypes.c_int32),
                ("shape", ctypes.c_int64 * MAX_DIMS)]


class NamedArray(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("array", Array)]


P, I32, I64 = ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64
for name, args in {
    "sg_gan_create": [ctypes.c_char_p, ctypes.POINTER(P)], "sg_handle_free": [P],
    "sg_handle_config": [P, P, I64, ctypes.POINTER(I64)], "sg_gan_train_step": [P, P, I32, P, I32],
    "sg_gan_step_inputs": [P, P, I64, ctypes.POINTER(I64)],
    "sg_gan_generate": [P, P, P, I64], "sg_gan_sample": [P, I64, P, I64],
    "sg_tensor_count": [P, I32, ctypes.POINTER(I64)],
    "sg_tensor_info": [P, I32, I64, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(I32), P],
    "sg_tensor_read": [P, I32, I64, P, I64], "sg_tensor_write": [P, I32, I64, P, P],
    "sg_gan_set_retain_gradients": [P, I32], "sg_handle_set_threads": [P, I32], "sg_handle_get_threads": [P, P],
    "sg_gan_scalars_read": [P, P, I64, ctypes.POINTER(I64)], "sg_gan_scalars_write": [P, ctypes.c_char_p],
    "sg_catalogue": [I32, P, I64, ctypes.POINTER(I64)], "sg_options": [P, I64, ctypes.POINTER(I64)],
    "sg_stat_names": [P, I64, ctypes.POINTER(I64)],
}.items():
    getattr(LIB, name).argtypes = args
    getattr(LIB, name).restype = I32
LIB.sg_last_error.restype = ctypes.c_char_p

CONFIGS = [b"loss=RaSGAN-GP\narch=dcgan\nimage_size=32\nchannels=1\nz_dim=4\nngf=2\nndf=2\nema_decay=0.5",
           b"loss=RSGAN\narch=mlp\nchannels=2\nz_dim=2\nngf=4\nndf=4",
           b"loss=WGAN-GP\narch=mlp\nchannels=3\nz_dim=3\nngf=4\nndf=4\nn_critic=2"]
KEEP = []  # buffers alive for the duration of an example


def create(config):
    handle = P()
    status = LIB.sg_gan_create(config, ctypes.byref(handle))
    return status, handle.value


def full_state(handle):
    """Every FULL tensor and the scalars text of a live handle."""
    count = I64()
    assert LIB.sg_tensor_count(handle, 1, ctypes.byref(count)) == OK
    tensors = []
    for i in range(count.value):
        name, ndim, shape = ctypes.c_char_p(), I32(), (I64 * 8)()
        assert LIB.sg_tensor_info(handle, 1, i, ctypes.byref(name), ctypes.byref(ndim), shape) == OK
        size = math.prod(shape[:ndim.value])
        out = np.empty(size, np.float32)
        assert LIB.sg_tensor_read(handle, 1, i, out.ctypes.data, size) == OK
        tensors.append(out)
    return tensors, text_of(lambda b, c, n: LIB.sg_gan_scalars_read(handle, b, c, n))


def text_of(read):
    needed = I64()
    read(None, 0, ctypes.byref(needed))
    buffer = ctypes.create_string_buffer(needed.value)
    assert read(buffer, needed.value, ctypes.byref(needed)) == OK
    return buffer.value


@st.composite
def float_buffers(draw, max_count=4096):
    """(pointer or None, floats held): a float32 buffer of a random size (values in [-1, 1], sometimes NaN)."""
    if draw(st.integers(0, 9)) == 0:
        return None, 0
    count = draw(st.one_of(st.integers(0, 64), st.integers(0, max_count)))
    buffer = np.random.default_rng(draw(st.integers(0, 2 ** 31))).uniform(-1, 1, count).astype(np.float32)
    if count and draw(st.integers(0, 9)) == 0:
        buffer[draw(st.integers(0, count - 1))] = np.nan
    KEEP.append(buffer)
    return buffer.ctypes.data, count


@st.composite
def arrays(draw, near):
    """An sg_array near shape `near`: its shape or another, a count that may disagree with the shape but never
    exceeds the floats its values hold."""
    shape = list(near) if draw(st.booleans()) else draw(st.lists(st.integers(-2, 6), max_size=9))
    ndim = draw(st.one_of(st.just(len(shape)), st.integers(-1, 10)))
    values, held = draw(float_buffers())
    product = math.prod(s for s in shape) if shape and all(s >= 0 for s in shape) else 0
    count = min(product, held) if draw(st.booleans()) else draw(st.integers(0, held))
    if values is None:
        count = draw(st.sampled_from([0, 0, 5]))
    array = Array(values, count, ndim)
    for i, s in enumerate(shape[:MAX_DIMS]):
        array.shape[i] = s
    return array


@st.composite
def handles(draw, live, freed):
    kind = draw(st.sampled_from(["live"] * 6 + ["freed", "null", "garbage", "buffer"]))
    if kind == "live" and live:
        return draw(st.sampled_from(live))
    if kind == "freed" and freed:
        return draw(st.sampled_from(freed))
    if kind == "garbage":
        return draw(st.integers(1, 2 ** 48))
    if kind == "buffer":
        buffer = np.zeros(64, np.float32)
        KEEP.append(buffer)
        return buffer.ctypes.data
    return None


def a_call(draw, handle, models):
    """(name, call returning a status, check of a successful result)."""
    model = models.get(handle, {"z_dim": 4, "sample": 1024, "k": 1})
    z_dim, sample, k = model["z_dim"], model["sample"], model["k"]
    name = draw(st.sampled_from(["train"] * 3 + ["generate", "sample", "read", "write", "info", "scalars_write",
                                                 "scalars_read", "config", "inputs", "threads", "retain"]))
    if name == "train":
        batch = draw(st.integers(0, 4))
        named = [(b"real", [batch, sample] if sample != 1024 else [batch, 1, 32, 32])]
        named += [(field, shape) for field, shape in [(b"z", [batch, z_dim]), (b"z_g", [batch, z_dim]), (b"u", [batch]),
                                                      (b"dragan_alpha", [batch]), (b"noise", [batch]), (None, [batch])]
                  if draw(st.booleans())]
        named = draw(st.permutations(named))
        inputs = (NamedArray * max(len(named), 1))(*[NamedArray(field, draw(arrays(shape))) for field, shape in named])
        count = draw(st.one_of(st.just(len(named)), st.integers(-1, len(named))))
        KEEP.append(inputs)
        capacity = draw(st.integers(-2, 12))
        stats = (ctypes.c_double * max(capacity, 0))() if draw(st.integers(0, 5)) else None
        given = inputs if draw(st.integers(0, 9)) else None
        return name, lambda: LIB.sg_gan_train_step(handle, given, count, stats, capacity), None
    if name == "generate":
        z = draw(arrays([draw(st.integers(0, 3)), z_dim]))
        out, held = draw(float_buffers())
        count = draw(st.integers(0, held)) if draw(st.booleans()) else held
        KEEP.append(z)
        return name, lambda: LIB.sg_gan_generate(handle, ctypes.byref(z), out, count), None
    if name == "sample":
        n = draw(st.one_of(st.integers(-2, 4), st.just(1 << 21), st.just(-(1 << 62))))
        out, held = draw(float_buffers())
        count = draw(st.integers(0, held)) if draw(st.booleans()) else held

        def finite():
            return out is None or bool(np.isfinite(np.ctypeslib.as_array(ctypes.cast(out, ctypes.POINTER(ctypes.c_float)),
                                                                         (max(count, 1),))[:count]).all())
        return name, lambda: LIB.sg_gan_sample(handle, n, out, count), finite
    if name == "read":
        which, index = draw(st.integers(-1, 3)), draw(st.one_of(st.integers(-2, 40), st.just(1 << 40)))
        buffer, held = draw(float_buffers(max_count=40000))
        count = draw(st.integers(0, held)) if draw(st.booleans()) else held
        return name, lambda: LIB.sg_tensor_read(handle, which, index, buffer, count), None
    if name == "write":  # several tensors at once, all or nothing
        which, n = draw(st.integers(-1, 3)), draw(st.integers(0, 3))
        indices = (I64 * max(n, 1))(*[draw(st.one_of(st.integers(-2, 40), st.just(1 << 40))) for _ in range(n)])
        values = (Array * max(n, 1))(*[draw(arrays(draw(st.lists(st.integers(0, 40), max_size=4)))) for _ in range(n)])
        count = draw(st.one_of(st.just(n), st.integers(-1, n)))
        KEEP.extend([indices, values])
        null = draw(st.integers(0, 9)) == 0
        return name, lambda: LIB.sg_tensor_write(handle, which, count, None if null else indices, values), None
    if name == "info":
        which, index = draw(st.integers(-1, 3)), draw(st.integers(-2, 40))
        out_name, ndim, shape = ctypes.c_char_p(), I32(), (I64 * 8)()
        null_shape = draw(st.booleans())
        return name, lambda: LIB.sg_tensor_info(handle, which, index, ctypes.byref(out_name), ctypes.byref(ndim),
                                                    None if null_shape else shape), None
    if name == "scalars_write":
        pieces = st.sampled_from(["iteration", "rng.0", "began.k", "skipped_steps", "=", "\n", "3", "-1", "1e400",
                                  "nan", "x", " ", "é", "optimizer_G.steps", "18446744073709551616"])
        text = "".join(draw(st.lists(pieces, max_size=12))).encode()
        return name, lambda: LIB.sg_gan_scalars_write(handle, text), None
    if name in ("scalars_read", "config", "inputs"):
        capacity = draw(st.integers(-5, 4000))
        buffer = ctypes.create_string_buffer(max(capacity, 1)) if draw(st.integers(0, 5)) else None
        needed = I64() if draw(st.booleans()) else None
        function = {"scalars_read": LIB.sg_gan_scalars_read, "config": LIB.sg_handle_config,
                    "inputs": LIB.sg_gan_step_inputs}[name]
        return name, lambda: function(handle, buffer, capacity, ctypes.byref(needed) if needed is not None else None), None
    if name == "threads":
        count = draw(st.integers(-3, 2000))
        return name, lambda: LIB.sg_handle_set_threads(handle, count), None
    on = draw(st.integers(-1, 2))
    return name, lambda: LIB.sg_gan_set_retain_gradients(handle, on), None


@settings(max_examples=250, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_random_calls_of_the_c_abi_return_a_status_never_crash(data):
    live, freed, models = [], [], {}
    try:
        for _ in range(data.draw(st.integers(1, 3))):
            config = data.draw(st.one_of(st.sampled_from(CONFIGS), st.binary(max_size=40).map(
                lambda b: b.replace(b"\0", b""))))
            status, handle = create(config)
            CALLS["tried"] += 1
            assert status in (OK, INVALID), status
            if status == OK and config not in CONFIGS:  # a random text the library took (the defaults: a large GAN)
                assert text_of(lambda b, c, n: LIB.sg_handle_config(handle, b, c, n)).startswith(b"loss=")
                assert LIB.sg_handle_free(handle) == OK
                freed.append(handle)
            elif status == OK:
                live.append(handle)
                text = config.decode(errors="replace")
                models[handle] = {"z_dim": int(text.split("z_dim=")[1].split("\n")[0]),
                                  "sample": 1024 if "dcgan" in text else int(text.split("channels=")[1].split("\n")[0]),
                                  "k": 2 if "n_critic=2" in text else 1}
            else:
                assert LIB.sg_last_error()
        for _ in range(data.draw(st.integers(1, 10))):
            if live and data.draw(st.integers(0, 12)) == 0:
                handle = live.pop(data.draw(st.integers(0, len(live) - 1)))
                assert LIB.sg_handle_free(handle) == OK
                freed.append(handle)
                continue
            handle = data.draw(handles(live, freed))
            name, call, check = a_call(data.draw, handle, models)
            before = full_state(handle) if handle in live else None
            status = call()
            CALLS["tried"] += 1
            assert status in (OK, INVALID, DIVERGED), f"{name}: status {status}: {LIB.sg_last_error()}"
            if status != OK:
                CALLS["refused"] += 1
                assert LIB.sg_last_error(), f"{name}: status {status} without a message"
                if status == INVALID and before is not None:
                    after = full_state(handle)
                    assert after[1] == before[1] and all(np.array_equal(a, b, equal_nan=True)
                                                         for a, b in zip(after[0], before[0])), f"{name} changed the GAN"
            else:
                assert handle in live, f"{name} succeeded on a handle that is not live: {handle}"
                assert check is None or check(), f"{name} returned a wrong result"
        for handle in freed:
            assert LIB.sg_handle_free(handle) == INVALID  # a second free is refused
    finally:
        for handle in live:
            LIB.sg_handle_free(handle)
        KEEP.clear()


def test_library_texts_with_random_capacities():
    for what in range(-2, 5):
        for capacity in (-1, 0, 1, 10, 100000):
            buffer = ctypes.create_string_buffer(max(capacity, 1))
            needed = I64()
            status = LIB.sg_catalogue(what, buffer, capacity, ctypes.byref(needed))
            assert status in (OK, INVALID)
            assert LIB.sg_options(buffer, capacity, None) in (OK, INVALID)
            assert LIB.sg_stat_names(None, capacity, ctypes.byref(needed)) == INVALID
            CALLS["tried"] += 3


def test_report():
    print(f"\ncalls tried: {CALLS['tried']} ({CALLS['refused']} refused)")
    assert CALLS["tried"] >= 1000
