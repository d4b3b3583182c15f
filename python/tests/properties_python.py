"""Property test of the Python API (run in a child process by test_properties.py, so that a crash is reported
rather than ending the test session): random shapes, dtypes, layouts, values and call orders on small GANs.

Each call either returns a correct result or raises TypeError, ValueError, KeyError or TrainingDivergedError;
after any failure, a divergence included, the GAN is exactly as before (weights, buffers, moments, moving
average, trainer scalars). Prints the number of calls tried."""
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import swiftgan
from swiftgan import GAN

SETUPS = [
    dict(loss="RaSGAN-GP", image_size=32, channels=1, z_dim=4, ngf=2, ndf=2, ema_decay=0.5, seed=1),
    dict(loss="RSGAN", arch="mlp", channels=2, z_dim=2, ngf=4, ndf=4, seed=2),
    dict(loss="WGAN-GP", arch="mlp", channels=3, z_dim=3, ngf=4, ndf=4, n_critic=2, seed=3),
    dict(loss="LSGAN-DRAGAN", arch="mlp", channels=2, z_dim=2, ngf=4, ndf=4, seed=4),
]
ALLOWED = (TypeError, ValueError, KeyError, swiftgan.TrainingDivergedError)
CALLS = {"tried": 0, "failed": 0}
DTYPES = ["float32"] * 6 + ["float64", "float16", "int32", "bool", "object"]


@st.composite
def arrays(draw, shape):
    """An array near `shape` (its exact shape most often), of a random dtype, layout and values."""
    if draw(st.integers(0, 3)) == 0:
        shape = tuple(draw(st.lists(st.integers(0, 5), min_size=0, max_size=5)))
    else:
        shape = (draw(st.sampled_from([shape[0], 0, 1, 2, 3])),) + tuple(shape[1:]) if shape else shape
    dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    values = rng.uniform(-1, 1, shape)
    kind = draw(st.sampled_from(["plain"] * 6 + ["wide", "nan", "inf", "huge"]))
    if values.size and kind != "plain":
        flat = values.reshape(-1)
        flat[rng.integers(0, flat.size)] = {"wide": 3.0, "nan": np.nan, "inf": -np.inf, "huge": 1e30}[kind]
    array = values.astype(dtype)
    layout = draw(st.sampled_from(["contiguous"] * 3 + ["reversed", "strided", "read-only", "fortran"]))
    if layout == "reversed" and array.ndim:
        array = array[::-1]
    elif layout == "strided" and array.ndim:
        array = np.repeat(array, 2, axis=0)[::2]
    elif layout == "read-only":
        array.flags.writeable = False
    elif layout == "fortran":
        array = np.asfortranarray(array)
    return array


def everything(gan):
    return {**gan.state_dict(), **gan.optimizer_state()}, gan.scalars


def same(a, b):
    return a[1] == b[1] and a[0].keys() == b[0].keys() and all(np.array_equal(a[0][k], b[0][k], equal_nan=True)
                                                               for k in a[0])


@st.composite
def calls(draw, model):
    """One call on a GAN described by `model` (its n_critic, z_dim, sample_shape and state_dict): (name, function
    of the GAN, a check of its result)."""
    k, z_dim, sample = model["n_critic"], model["z_dim"], model["sample_shape"]
    batch = draw(st.integers(2, 4))
    lead = (k, batch) if k > 1 and draw(st.booleans()) else (batch,)
    name = draw(st.sampled_from(["train"] * 4 + ["generate", "sample", "load", "scalars", "threads", "close"]))
    if name == "train":
        extra = {}
        for key, shape in [("z", lead + (z_dim,)), ("z_g", (batch, z_dim)), ("u", lead),
                           ("dragan_alpha", lead), ("dragan_noise", lead + sample)]:
            if draw(st.integers(0, 3)) == 0:
                extra[key] = draw(arrays(shape))
        real = draw(arrays(lead + sample))
        name = f"train real {real.dtype}{list(real.shape)} " + " ".join(f"{k} {v.dtype}{list(v.shape)}"
                                                                         for k, v in extra.items())
        return name, lambda g: g.train_step(real, **extra), lambda g, r, before: (
            int(g.scalars["iteration"]) == int(before[1]["iteration"]) + 1 and set(r) == set(swiftgan.gan._STAT_NAMES))
    if name == "generate":
        z = draw(arrays((batch, z_dim)))
        moderate = z.dtype == np.float32 and bool((np.abs(z) < 1e3).all())  # huge latents may overflow to inf
        return (f"generate {z.dtype}{list(z.shape)}", lambda g: g.generate(z), lambda g, r, before: (
            r.shape == (z.shape[0],) + sample and r.dtype == np.float32 and (not moderate or bool(np.isfinite(r).all()))))
    if name == "sample":
        n = draw(st.one_of(st.integers(-3, 6), st.just(1 << 21), st.just(2.0), st.just("3")))
        return f"sample {n!r}", lambda g: g.sample(n), lambda g, r, before: (
            r.shape == (n,) + sample and bool(np.isfinite(r).all()))
    if name == "load":
        state = dict(model["state"])
        keys = list(state)
        change = draw(st.sampled_from(["none", "drop", "add", "reshape", "dtype", "scale"]))
        key = draw(st.sampled_from(keys))
        if change == "drop":
            del state[key]
        elif change == "add":
            state["D.extra.weight"] = np.zeros(3, np.float32)
        elif change == "reshape":
            state[key] = np.zeros(state[key].size + 1, np.float32)
        elif change == "dtype":
            state[key] = state[key].astype(np.float64)
        elif change == "scale":
            state[key] = state[key] * 0.5
        strict = draw(st.booleans())
        return name, lambda g: g.load_state_dict(state, strict=strict), lambda g, r, before: all(
            np.array_equal(g.state_dict()[k], np.asarray(v, np.float32)) for k, v in state.items() if k in before[0])
    if name == "scalars":
        names = ["iteration", "optimizer_D.steps", "began.k", "rng.0", "skipped_steps", "bogus"]
        values = st.one_of(st.integers(-5, 2 ** 65), st.floats(allow_nan=True), st.sampled_from(["x", "", "1e3", "inf"]))
        given_ = draw(st.dictionaries(st.sampled_from(names), values, max_size=3))
        return name, lambda g: g.set_scalars(given_), lambda g, r, before: True
    if name == "threads":
        count = draw(st.one_of(st.integers(-2, 3), st.just(2000), st.just(1.5), st.none()))
        return name, lambda g: setattr(g, "threads", count), lambda g, r, before: True
    return name, lambda g: g.close(), lambda g, r, before: g.closed


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_random_calls_give_a_result_or_a_clean_error(data):
    setup = data.draw(st.sampled_from(SETUPS))
    with GAN(**setup) as gan, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # images outside [-1, 1]
        model = dict(n_critic=gan.n_critic, z_dim=gan.z_dim, sample_shape=gan.sample_shape, state=gan.state_dict())
        for _ in range(data.draw(st.integers(1, 8))):
            name, call, check = data.draw(calls(model))
            closed = gan.closed
            before = None if closed else everything(gan)
            CALLS["tried"] += 1
            try:
                result = call(gan)
            except ALLOWED as error:
                CALLS["failed"] += 1
                if closed:
                    assert isinstance(error, (ValueError, TypeError)), error
                    continue
                assert same(everything(gan), before), f"{name} failed with {error!r} and changed the GAN"
                assert str(error), f"{name}: {type(error).__name__} without a message"
                continue
            assert not closed or name == "close", f"{name} succeeded on a closed GAN"
            if not closed:
                assert check(gan, result, before), f"{name} returned a wrong result"


def test_report():
    print(f"\ncalls tried: {CALLS['tried']} ({CALLS['failed']} refused)")
    assert CALLS["tried"] >= 1000
