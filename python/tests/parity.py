"""Shared helpers to compare SwiftGAN with the PyTorch reference at the parity tolerances."""
import numpy as np

import swiftgan
from swiftgan import _native

STATS = ["d_loss", "g_loss", "d_real", "d_fake", "penalty", "k", "m_global"]
LOSS_RTOL = 1e-4
# What rounding can do to the branches of kinked functions (DataParallelTests.roundingFlips, roundingMargin): move
# at most 2 elements of the first call that differs, one of whose inputs in one of the runs lay within 1e-4 of the
# call's RMS of its kink.
ROUNDING_FLIPS = 2
ROUNDING_MARGIN = 1e-4
ARCH_KEYS = ("arch", "ae_code", "layer_norm_d", "selu", "batch_norm_g", "batch_norm_d", "upsample_conv", "spectral_norm_d", "spectral_norm_g")


def branch_log() -> np.ndarray:
    """The calling thread's branch log (`_native.branch_log_set_enabled`): one row per kinked kernel call,
    (elements, branch sum, nearest input to a kink in units of the call's RMS input)."""
    rows = [line.split("\t") for line in _native.branch_log_read().splitlines()]
    return np.array([[float(v) for v in row] for row in rows], np.float64).reshape(-1, 3)


def make_gan(cfg, loss, optimizer, opts, options=None):
    """A GAN configured exactly like the reference run: every option explicit, so no loss preset applies."""
    options = options or {}
    kwargs = dict(loss=loss, image_size=cfg["image_size"], channels=cfg["channels"], z_dim=cfg["z_dim"], pack=cfg.get("pack", 1),
                  ngf=cfg["ngf"], ndf=cfg["ndf"], optimizer=optimizer, lr_d=opts["lr"], lr_g=opts["lr"],
                  n_critic=options.get("n_critic", 1), clip=options.get("clip", 0.0),
                  minimax=options.get("minimax", False), lsgan_targets=tuple(options.get("lsgan_targets", (0, 1, 1))),
                  **{k: v for k, v in options.items() if k in ARCH_KEYS or k == "began_lambda_k"})
    if optimizer == "adam":
        kwargs.update(betas=tuple(opts["betas"]), eps=opts["eps"])
    if optimizer == "rmsprop":
        kwargs.update(rmsprop_alpha=opts["alpha"], eps=opts["eps"])
    return swiftgan.GAN(**kwargs)


def assert_stats_close(got, expected, where, mean_rtol=LOSS_RTOL, mean_atol=1e-6):
    """Losses and the penalty within rtol 1e-4; the critic means within `mean_rtol` / `mean_atol`.

    After an Adam step a gradient entry within rounding of zero can flip the sign of its lr·sign(g)
    update (one entry in thousands, observed), and an inert parameter (zero gradient in exact
    arithmetic) moves by ±lr on noise; a relativistic critic's output bias is such a parameter and
    shifts every critic value alike, which the losses do not see but the critic means do. Callers
    pass mean_rtol=1e-3 and mean_atol=2·lr·iteration for Adam's later iterations.
    """
    for k, name in enumerate(STATS):
        rtol = mean_rtol if name in ("d_real", "d_fake") else LOSS_RTOL
        atol = mean_atol if name in ("d_real", "d_fake") else 1e-6 if name in ("penalty", "k", "m_global") else 0.0
        np.testing.assert_allclose(got[name], expected[k], rtol=rtol, atol=atol, err_msg=f"{where}: {name}")


def assert_gradients_close(got, expected, where, inert=(), kinked=False):
    """rtol 1e-4, atol 1e-5 × the tensor's largest absolute gradient.

    `inert` names tensors whose gradient is zero in exact arithmetic (found by the fixture writer in
    float64: a conv bias right before batch norm, the output bias of a relativistic critic); both sides
    then hold rounding noise only, and SwiftGAN's must stay below 1e-4 × its network's largest gradient.

    `kinked` (BEGAN): an L1 energy has a kink at every zero residual, where float32 rounding can flip the sign
    of a pixel's subgradient (PyTorch's own float32 G gradients are 8e-3 of max off float64 there; SwiftGAN's
    1.8e-5). As for Adam's sign flips, at least 99.9% of a tensor's entries must be within the tolerance and
    none beyond 10 times it.
    """
    assert sorted(got) == sorted(expected), where
    scale = {net: max(float(np.abs(v).max()) for k, v in expected.items() if k.startswith(net)) for net in ("D.", "G.")}
    for name, want in expected.items():
        if name in inert:
            noise = float(np.abs(got[name]).max())
            assert noise < 1e-4 * scale[name[:2]], f"{where}: grad {name} should vanish, is {noise}"
            continue
        tolerance = 1e-4 * np.abs(want) + 1e-5 * float(np.abs(want).max())
        if kinked:
            ratio = np.abs(got[name] - want) / tolerance
            assert (ratio <= 1).mean() >= 0.999 and ratio.max() <= 10, \
                f"{where}: grad {name}: {(ratio > 1).sum()} of {ratio.size} entries off, worst {ratio.max():.2f}× the tolerance"
            continue
        np.testing.assert_allclose(got[name], want, rtol=1e-4, atol=1e-5 * float(np.abs(want).max()),
                                   err_msg=f"{where}: grad {name}")


def assert_sgd_weights_close(got, expected, where):
    """Every parameter and buffer within rtol 1e-4 / atol 1e-6."""
    assert list(got) == list(expected), where
    for name, want in expected.items():
        np.testing.assert_allclose(got[name], want, rtol=1e-4, atol=1e-6, err_msg=f"{where}: {name}")


ADAM_UPDATE_RTOL = 0.05  # the largest relative update error, in norm, of one Adam tensor (see below)


def assert_adam_weights_close(got, expected, init, lr, iterations, where, inert=(), inert_dependent=()):
    """No entry off by more than 2·lr per iteration, and every tensor's update within 5% of float64's in norm:
    ‖(w − w₀) − (w₆₄ − w₀)‖ ≤ 0.05·‖w₆₄ − w₀‖.

    Adam's first updates are lr·sign(g), later ones lr·m̂/√v̂ entry by entry: an entry whose gradient lies within
    rounding of zero may flip sign and move by up to 2·lr, and where a float32 rounding lands a pre-activation on
    the other side of a (leaky) ReLU's kink, which happens on some processors and not on others, the gradient moves
    by a small structured amount that flips every entry smaller than it. Which entries flip depends on the kernels
    the processor runs, so entries are not counted one by one (a rule of 99.9% of entries failed on AVX-512
    OpenBLAS kernels for packed RaLSGAN-R1: 329 of 9,872 entries flipped, the update 2.7% off in norm). A correct
    engine's update is within 0.06% of float64's in norm on every other Adam fixture and within 2.7% on that one,
    under every cell of `.ci/isa-matrix`; a wrong gradient (a sign, a term, a mean) moves most entries by lr and
    misses by tens of percent or more. The SGD runs carry the strict, entry-by-entry verdict on the engine.

    `inert` parameters (zero gradient in exact arithmetic, see `assert_gradients_close`) move by ±lr on
    noise, so they count only for the 2·lr bound; `inert_dependent` state (a batch norm's running mean
    fed by an inert bias), found by the fixture writer in float64, follows that noise and is only
    checked to be finite.
    """
    assert list(got) == list(expected), where
    for name in inert_dependent:
        assert np.all(np.isfinite(got[name])), f"{where}: {name} is not finite"
    kept = [k for k in expected if k not in inert_dependent]
    a = np.concatenate([got[k].ravel() for k in kept])
    b = np.concatenate([expected[k].ravel() for k in kept])
    worst = float(np.abs(a - b).max())
    assert worst <= 2 * lr * iterations, f"{where}: an entry is off by {worst} > 2·lr·{iterations}"
    for name in kept:
        if name in inert:
            continue
        start = np.asarray(init[name], np.float64)
        want = np.asarray(expected[name], np.float64) - start
        error = float(np.linalg.norm(np.asarray(got[name], np.float64) - start - want))
        scale = float(np.linalg.norm(want))
        assert error <= ADAM_UPDATE_RTOL * scale + 1e-7, \
            f"{where}: {name}'s update is {error / max(scale, 1e-30):.3g} of float64's off in norm (> {ADAM_UPDATE_RTOL})"
