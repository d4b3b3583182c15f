"""Bad input at every entry point of the Python API: each gets an exception of the right type whose message names
what was wrong and what was expected, and leaves the GAN exactly as it was (weights, optimizer state, moving
average, trainer scalars, random stream). Random inputs and call orders are tried in test_properties.py."""
import os

import numpy as np
import pytest

import swiftgan
from swiftgan import GAN

SMALL = dict(loss="RaSGAN-GP", image_size=32, channels=1, z_dim=8, ngf=4, ndf=4, seed=3, ema_decay=0.9)


def everything(gan):
    """All of a GAN's state: weights, optimizer moments and moving average, and the trainer's scalars (the random
    stream's words among them)."""
    return {**gan.state_dict(), **gan.optimizer_state()}, gan.scalars


def assert_unchanged(gan, before):
    tensors, scalars = everything(gan)
    assert scalars == before[1]
    for key, value in before[0].items():
        np.testing.assert_array_equal(tensors[key], value, err_msg=key)


@pytest.fixture
def gan():
    with GAN(**SMALL) as g:
        g.train_step(np.zeros((4, 1, 32, 32), np.float32))  # moments and moving average not zero
        yield g


def real(n=4, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 1, 32, 32)).astype(np.float32)


BAD_CALLS = {
    # arrays: rank, shape, channels, size
    "real of rank 3": (lambda g: g.train_step(np.zeros((4, 32, 32), np.float32)), ValueError,
                       r"real must have shape \[N, 1, 32, 32\], got \[4, 32, 32\]"),
    "real of 3 channels": (lambda g: g.train_step(np.zeros((4, 3, 32, 32), np.float32)), ValueError,
                           r"real must have shape \[N, 1, 32, 32\], got \[4, 3, 32, 32\]"),
    "real of 64 pixels": (lambda g: g.train_step(np.zeros((4, 1, 64, 64), np.float32)), ValueError,
                          r"got \[4, 1, 64, 64\]"),
    "real of no samples": (lambda g: g.train_step(np.zeros((0, 1, 32, 32), np.float32)), ValueError,
                           "real must hold at least 2 samples per batch, got 0"),
    "z of another batch": (lambda g: g.train_step(real(), z=np.zeros((5, 8), np.float32)), ValueError,
                           r"z must have shape \[4, 8\], got \[5, 8\]"),
    "z_g of rank 1": (lambda g: g.train_step(real(), z_g=np.zeros(8, np.float32)), ValueError,
                      r"z_g must have shape \[4, 8\], got \[8\]"),
    "u of rank 2": (lambda g: g.train_step(real(), u=np.zeros((4, 4), np.float32)), ValueError,
                    r"u must have shape \[4\], got \[4, 4\]"),
    "generate of no latents": (lambda g: g.generate(np.zeros((0, 8), np.float32)), ValueError,
                               "z must hold at least one latent, got 0"),
    "generate of wide latents": (lambda g: g.generate(np.zeros((2, 9), np.float32)), ValueError,
                                 r"z must have shape \[N, 8\], got \[2, 9\]"),
    # dtypes
    **{f"real of {dtype}": (lambda g, d=dtype: g.train_step(np.zeros((4, 1, 32, 32), d)), TypeError,
                            f"real must have dtype float32, got {np.dtype(dtype).name}")
       for dtype in ("float64", "float16", "int32", "int64", "uint8", "bool", "complex64", "object")},
    "z of float64": (lambda g: g.train_step(real(), z=np.zeros((4, 8))), TypeError, "z must have dtype float32, got float64"),
    "generate of int latents": (lambda g: g.generate(np.zeros((2, 8), np.int64)), TypeError,
                                "z must have dtype float32, got int64"),
    "real as a list": (lambda g: g.train_step([[0.0] * 4]), TypeError, "real must be a numpy.ndarray of float32, got list"),
    "real as a string": (lambda g: g.train_step("images"), TypeError, "real must be a numpy.ndarray of float32, got str"),
    # values
    "real with NaN": (lambda g: g.train_step(np.full((4, 1, 32, 32), np.nan, np.float32)), ValueError,
                      r"real holds 4096 non-finite value\(s\) \(NaN or inf\), the first at index \[0, 0, 0, 0\]"),
    "u with inf": (lambda g: g.train_step(real(), u=np.array([0, 1, np.inf, 0], np.float32)), ValueError,
                   r"u holds 1 non-finite value\(s\) \(NaN or inf\), the first at index \[2\]"),
    # absurd sizes: refused before any allocation (the views below take no memory)
    "sample of 2^40": (lambda g: g.sample(1 << 40), ValueError,
                       r"n asks for 1099511627776 samples, more than one call makes \(2\^20 = 1048576\)"),
    "generate of 2^21 latents": (lambda g: g.generate(np.broadcast_to(np.float32(0), (1 << 21, 8))), ValueError,
                                 r"z asks for 2097152 samples, more than one call makes"),
    "real of 2^31 images": (lambda g: g.train_step(np.broadcast_to(np.float32(0), (1 << 31, 1, 32, 32))), ValueError,
                            r"real holds 2199023255552 values \(shape \[2147483648, 1, 32, 32\]\), more than one call "
                            r"takes \(2\^31\)"),
    # arguments
    "sample of 0": (lambda g: g.sample(0), ValueError, "n must be at least 1, got 0"),
    "sample of -5": (lambda g: g.sample(-5), ValueError, "n must be at least 1, got -5"),
    "sample of 2.5": (lambda g: g.sample(2.5), TypeError, "n must be an int, got float"),
    "threads of -1": (lambda g: setattr(g, "threads", -1), ValueError, r"threads must be in \[1, 1024\]"),
    "threads of 'two'": (lambda g: setattr(g, "threads", "two"), TypeError, "threads must be an int, got str"),
    "a scalar of another name": (lambda g: g.set_scalars({"iteration": 9, "steps": 2}), ValueError,
                                 "unknown trainer scalar 'steps'; known: iteration"),
    "a scalar that is not a number": (lambda g: g.set_scalars({"began.k": "fast"}), ValueError,
                                      r"began.k must be a number in \[0, 1\], got 'fast'"),
    "a scalar out of its range": (lambda g: g.set_scalars({"began.k": 7}), ValueError,
                                  r"began.k must be a number in \[0, 1\], got '7'"),
    "a negative learning-rate factor": (lambda g: g.set_scalars({"began.lr_factor": -1}), ValueError,
                                        r"began.lr_factor must be a number in \[0, 1\], got '-1'"),
    "a negative convergence record": (lambda g: g.set_scalars({"began.best_m_global": "-0.5"}), ValueError,
                                      r"began.best_m_global must be a number ≥ 0 \(or inf\), got '-0.5'"),
    "a random stream of zeros": (lambda g: g.set_scalars({f"rng.{i}": 0 for i in range(4)}), ValueError,
                                 r"rng.0 to rng.3 cannot all be 0"),
    "a NaN scalar": (lambda g: g.set_scalars({"began.best_m_global": "nan"}), ValueError,
                     r"began.best_m_global must be a number ≥ 0 \(or inf\), got 'nan'"),
    # state dicts
    "a state_dict with a key missing": (lambda g: g.load_state_dict(dict(list(g.state_dict().items())[1:])), KeyError,
                                        r"state does not match the model: missing \['G.main.0.weight'\]"),
    "a state_dict with an unknown key": (lambda g: g.load_state_dict({**g.state_dict(), "D.extra": np.zeros(1)}),
                                         KeyError, r"unknown \['D.extra'\]"),
    "a state_dict of another architecture": (
        lambda g: g.load_state_dict(GAN(**{**SMALL, "ngf": 8}).state_dict()), ValueError,
        r"expected shape \[8, 16, 4, 4\], got \[8, 32, 4, 4\]"),
    "a state_dict of strings": (lambda g: g.load_state_dict({k: "x" for k in g.state_dict()}), TypeError,
                                r"G.main.0.weight: expected floating-point values \(float32\), got <U1"),
    "a state_dict of integers": (lambda g: g.load_state_dict({k: v.astype(np.int32) for k, v in g.state_dict().items()}),
                                 TypeError, r"G.main.0.weight: expected floating-point values \(float32\), got int32"),
    "a state_dict of booleans": (lambda g: g.load_state_dict({k: v > 0 for k, v in g.state_dict().items()}),
                                 TypeError, r"G.main.0.weight: expected floating-point values \(float32\), got bool"),
    "a state_dict with a NaN in its last tensor": (
        lambda g: g.load_state_dict({**g.state_dict(), "D.main.8.weight": np.full_like(g.state_dict()["D.main.8.weight"], np.nan)}),
        ValueError, r"D.main.8.weight: holds non-finite values \(NaN or ±inf\)"),
    "a state_dict that overflows float32": (
        lambda g: g.load_state_dict({**g.state_dict(), "G.main.0.weight": np.full(g.state_dict()["G.main.0.weight"].shape, 1e300)}),
        ValueError, r"G.main.0.weight: holds values beyond float32's range \(largest magnitude 1e\+300\), which overflow to inf"),
    "a state_dict with a negative running variance": (
        lambda g: g.load_state_dict({**g.state_dict(), "G.main.1.running_var": -np.ones_like(g.state_dict()["G.main.1.running_var"])}),
        ValueError, r"G.main.1.running_var: must be ≥ 0 \(a variance\), got -1.0 at flat index 0"),
}


@pytest.mark.parametrize("name", sorted(BAD_CALLS))
def test_a_bad_call_raises_its_type_with_a_message_and_changes_nothing(gan, name):
    call, error, message = BAD_CALLS[name]
    before = everything(gan)
    with pytest.raises(error, match=message):
        call(gan)
    assert_unchanged(gan, before)
    gan.train_step(real())  # and the GAN still trains


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(lerning_rate=1e-3), TypeError, r"unexpected keyword argument 'lerning_rate'; valid: loss, minimax, "),
    (dict(lr=1e-3), TypeError, r"unexpected keyword argument 'lr' \(did you mean 'lr_[dg]'\?\); valid: .*betas.*threads"),
    (dict(lr_d=0.0), ValueError, "lr_d must be a positive number, got '0.0'"),
    (dict(lr_g=float("nan")), ValueError, "lr_g must be a positive number, got 'nan'"),
    (dict(betas=(-0.1, 0.9)), ValueError, r"beta1_d must be a number in \[0, 1\), got '-0.1'"),
    (dict(betas=(0.5,)), ValueError, r"betas must be a sequence of 2 numbers, got \(0.5,\)"),
    (dict(ema_decay=1.0), ValueError, r"ema_decay must be a number in \[0, 1\), got '1.0'"),
    (dict(gp_weight=-1.0), ValueError, "gp_weight must be a number ≥ 0, got '-1.0'"),
    (dict(image_size=33), ValueError, r"image_size must be one of \[32, 64, 128, 256\] for arch 'dcgan', got 33"),
    (dict(image_size=1 << 20), ValueError, r"image_size must be an integer in \[1, 16384\], got '1048576'"),
    (dict(z_dim=0), ValueError, r"z_dim must be an integer in \[1, 65536\], got '0'"),
    (dict(channels=-1), ValueError, r"channels must be an integer in \[1, 4096\], got '-1'"),
    (dict(seed=-1), ValueError, r"seed must be an integer in \[0, 2⁶⁴\), got '-1'"),
    (dict(threads=0.5), TypeError, "threads must be an int, got float"),
    (dict(batch_norm_g="yes"), TypeError, r"batch_norm_g must be a bool \(True or False\), got str 'yes'"),
    (dict(batch_norm_g=1), TypeError, r"batch_norm_g must be a bool \(True or False\), got int 1"),
    (dict(reuse_fake=0.0), TypeError, r"reuse_fake must be a bool \(True or False\), got float 0.0"),
])
def test_bad_constructor_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        GAN(**{**SMALL, **kwargs})


@pytest.mark.parametrize("view", ["negative strides", "every other sample", "read-only", "Fortran order"])
def test_views_of_any_layout_are_accepted_and_give_the_contiguous_result(view):
    data = real(8, seed=1)
    z = np.random.default_rng(2).standard_normal((4, 8)).astype(np.float32)
    batch = {"negative strides": lambda: data[::-1][4:], "every other sample": lambda: data[::2],
             "Fortran order": lambda: np.asfortranarray(data[:4])}.get(view, lambda: data[:4].copy())()
    if view == "read-only":
        batch.flags.writeable = False
        z.flags.writeable = False
    with GAN(**SMALL) as a, GAN(**SMALL) as b:
        expected = a.train_step(np.ascontiguousarray(batch), z=np.ascontiguousarray(z))
        assert b.train_step(batch, z=z) == expected
        latents = z[::-1] if view == "negative strides" else z
        np.testing.assert_array_equal(b.generate(latents), a.generate(np.ascontiguousarray(latents)))


def test_files_that_do_not_exist_or_hold_no_images_or_wrong_yaml(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset '/nonexistent/x': no such file or folder, and not a known name"):
        swiftgan.load_dataset("/nonexistent/x")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "fake.png").write_text("not a PNG either")
    with pytest.raises(ValueError, match=r"no usable image among 1 image files \(.jpg, .jpeg, .png, .bmp, .webp\)"):
        swiftgan.load_dataset(str(tmp_path), image_size=32, channels=1)
    config = tmp_path / "c.yaml"
    for text, error, message in [
        ("iters: many\n", ValueError, "iters must be a positive int, got 'many'"),
        ("lr_d: fast\n", TypeError, "lr_d must be a number, got str"),
        ("- a\n- b\n", ValueError, "a config file must be a YAML mapping of options, got list"),
        ("iters: [\n", ValueError, r"c.yaml is not valid YAML: while parsing a flow node"),
        ("learning_rate: 0.1\n", ValueError, "unknown option 'learning_rate'"),
    ]:
        config.write_text(text)
        with pytest.raises(error, match=message):
            swiftgan.train(str(tmp_path / "run"), config=str(config), dataset="/nonexistent/x", progress=False)
        assert not os.path.exists(tmp_path / "run" / "config.yaml")
