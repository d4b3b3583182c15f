"""A NaN never ruins a run silently: inputs with NaN/inf are refused before the core, a step whose loss,
gradient or update is not finite is never applied (TrainingDivergedError, or skipped and counted), and
`swiftgan train` stops with a checkpoint of the last good state."""
import os
import warnings

import numpy as np
import pytest

import swiftgan
from swiftgan import GAN, TrainingDivergedError

SMALL = dict(image_size=32, channels=1, z_dim=8, ngf=4, ndf=4, seed=3)
RUNAWAY = dict(loss="LSGAN", optimizer="sgd", lr_d=1e4, lr_g=1e4)  # weights run off within a few steps


def batch(seed=0, n=4):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 1, 32, 32)).astype(np.float32)


def everything(gan):
    """The GAN's whole state: weights, moments, the trainer's scalars (iteration, RNG, ...)."""
    return {**gan.state_dict(), **gan.optimizer_state()}, gan.scalars


def assert_same(a, b):
    assert a[1] == b[1]
    assert a[0].keys() == b[0].keys()
    for key in a[0]:
        np.testing.assert_array_equal(a[0][key], b[0][key], err_msg=key)


@pytest.mark.parametrize("name, value", [("real", np.nan), ("real", np.inf), ("z", -np.inf), ("u", np.nan)])
def test_inputs_with_nan_or_inf_are_refused_before_the_core(name, value):
    with GAN("RaSGAN-GP", **SMALL) as gan:
        gan.train_step(batch(1))
        before = everything(gan)
        inputs = dict(real=batch(2), z=np.zeros((4, 8), np.float32), u=np.full(4, 0.5, np.float32))
        inputs[name].flat[3] = value
        with pytest.raises(ValueError, match=rf"^{name} holds 1 non-finite value\(s\) \(NaN or inf\), the first at index "):
            gan.train_step(**inputs)
        assert_same(everything(gan), before)


def images_in(low, high):
    x = np.zeros((4, 1, 32, 32), np.float32)
    x[0, 0, 0, :2] = low, high
    return x


def test_images_outside_minus_one_to_one_warn_once_and_fail_when_strict():
    with GAN("RaSGAN", **SMALL) as gan:
        with pytest.warns(UserWarning, match=r"real holds values in \[-1, 2\], outside \[-1, 1\]"):
            gan.train_step(images_in(-1, 2))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            gan.train_step(images_in(-5, 5))  # warned once per GAN
            gan.train_step(images_in(-1, 1))
    with GAN("RaSGAN", strict=True, **SMALL) as gan:
        before = everything(gan)
        with pytest.raises(ValueError, match=r"real holds values in \[-3, 3\], outside \[-1, 1\]"):
            gan.train_step(images_in(-3, 3))
        assert_same(everything(gan), before)
    with GAN("RaSGAN", arch="mlp", channels=2, z_dim=2, ngf=8, ndf=8) as points, warnings.catch_warnings():
        warnings.simplefilter("error")  # points (the MLP) may lie anywhere
        points.train_step(np.full((4, 2), 5, np.float32))


def test_a_diverging_step_raises_and_is_not_applied():
    with GAN(**RUNAWAY, **SMALL) as gan:
        error = None
        for step in range(30):
            before = everything(gan)
            try:
                gan.train_step(batch(step))
            except TrainingDivergedError as caught:  # the name `caught` is unbound after the except block
                error = caught
                break
        assert error is not None, "LSGAN with SGD at lr 1e4 should diverge within 30 iterations"
        assert isinstance(error, swiftgan.SwiftGANError)
        message = str(error)
        assert message.startswith(f"iteration {gan.iteration + 1}, ") and " is not finite; " in message
        assert "Try lower learning rates (lr_d, lr_g)" in message
        if "nothing of this iteration was applied" in message:
            assert_same(everything(gan), before)
        for key, value in {**gan.state_dict(), **gan.optimizer_state()}.items():
            assert np.isfinite(value).all(), key


def test_skip_counts_iterations_and_keeps_every_weight_finite():
    with GAN(**RUNAWAY, non_finite="skip", **SMALL) as gan:
        stats = [gan.train_step(batch(step)) for step in range(30)]
        assert stats[-1]["skipped_steps"] > 0
        assert gan.iteration == 30 and int(gan.scalars["skipped_steps"]) == stats[-1]["skipped_steps"]
        for key, value in gan.state_dict().items():
            assert np.isfinite(value).all(), key


def test_swiftgan_train_stops_on_divergence_with_a_checkpoint_of_the_last_good_state(tmp_path, capsys):
    from swiftgan import cli

    data = tmp_path / "bars.npy"
    np.save(data, np.clip(np.random.default_rng(0).standard_normal((64, 1, 32, 32)), -1, 1).astype(np.float32))
    out = tmp_path / "run"
    code = cli.main(["train", "--dataset", str(data), "--loss", "LSGAN", "--optimizer", "sgd", "--lr-d", "10000",
                     "--lr-g", "10000", "--ngf", "4", "--ndf", "4", "--z-dim", "8", "--batch-size", "8", "--iters", "40",
                     "--save-every", "1000", "--no-tensorboard", "--no-morph", "--no-progress", "--out", str(out)])
    error = capsys.readouterr().err
    assert code == 1
    assert "is not finite" in error and "The last good state (iteration" in error
    run = swiftgan.load_run(str(out))
    assert 0 < run.iteration < 40
    assert list(run.metrics["iteration"]) == list(range(1, run.iteration + 1))  # a row for every applied iteration
    with run.gan() as gan:
        for key, value in gan.state_dict().items():
            assert np.isfinite(value).all(), key
    assert os.path.isfile(os.path.join(run.path, "checkpoint", "trainer.json"))


def test_one_huge_pixel_is_refused_with_everything_unchanged():
    """The issue's case: one value of 1e30 kept the losses finite and left non-finite state behind (a batch
    norm's running variance). Now the step is refused and nothing of it is applied."""
    x = batch(0, n=16)
    x[0, 0, 0, 0] = 1e30
    with GAN("RaSGAN", image_size=32, channels=1, z_dim=16, ngf=8, ndf=8, seed=0) as gan:
        before = everything(gan)
        with pytest.warns(UserWarning, match="outside"), pytest.raises(TrainingDivergedError,
                                                                        match=r"^iteration 1, the critic step: D\."):
            gan.train_step(x)
        assert_same(everything(gan), before)
