"""Two-dimensional toy data for comparing GAN objectives: a ring of Gaussians and its metrics."""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from .core import losses


def ring_centres(modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """The `modes` centres evenly spaced on a circle of `radius`, float64 [modes, 2]."""
    angles = 2 * np.pi * np.arange(modes) / modes
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)


def ring_of_gaussians(n: int, rng: Optional[np.random.Generator] = None, modes: int = 8, radius: float = 2.0,
                      std: float = 0.02) -> np.ndarray:
    """`n` samples, float32 [n, 2], of an equal mixture of N(centre, std²·I) over the ring's centres."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = rng if rng is not None else np.random.default_rng()
    centres = ring_centres(modes, radius)
    picks = rng.integers(0, modes, n)
    return (centres[picks] + std * rng.standard_normal((n, 2))).astype(np.float32)


def mode_statistics(samples: np.ndarray, modes: int = 8, radius: float = 2.0, std: float = 0.02,
                    min_share: float = 0.01) -> Dict[str, float]:
    """How well `samples` [N, 2] cover the ring: a sample is of high quality when it lies within 3·std of
    its nearest centre; a mode is covered when at least `min_share` of all samples are high-quality
    samples of it. Returns {"modes_covered", "high_quality", "centre_distance"}: a count, a fraction, and the
    median distance of a sample to its nearest centre (2 for points at the ring's centre; 0 on the modes)."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[1] != 2:
        raise ValueError(f"samples must have shape [N, 2], got {list(samples.shape)}")
    distances = np.linalg.norm(samples[:, None, :] - ring_centres(modes, radius)[None], axis=2)
    nearest, close = distances.argmin(axis=1), distances.min(axis=1) < 3 * std
    counts = np.bincount(nearest[close], minlength=modes)
    return {"modes_covered": int((counts >= min_share * len(samples)).sum()), "high_quality": float(close.mean()),
            "centre_distance": float(np.median(distances.min(axis=1)))}


def train_on_ring(loss: str, iterations: int = 2000, batch_size: int = 512, data_seed: int = 0,
                  n_samples: int = 2000, **options) -> Dict[str, float]:
    """Trains `GAN(loss=loss, arch="mlp", channels=2, **options)` on the ring of 8 Gaussians for `iterations`
    (one fresh batch of `batch_size` points per critic step, drawn with `data_seed`) and returns
    `mode_statistics` of `n_samples` samples of the trained generator (its moving average, with `ema_decay`)."""
    from .gan import GAN

    rng = np.random.default_rng(data_seed)
    with GAN(loss=loss, arch="mlp", channels=2, **options) as gan:
        k = gan.n_critic
        for _ in range(iterations):
            points = ring_of_gaussians(batch_size * k, rng)
            gan.train_step(points if k == 1 else points.reshape(k, batch_size, 2))
        return mode_statistics(gan.sample(n_samples))


# The settings every loss trains the ring with (the short test, benchmarks/toy_ring.py and reference/toy.py), and
# each loss's own, found by the sweeps the test's docstring describes.
TOY = dict(z_dim=4, ngf=128, ndf=128, lr_d=7e-4, lr_g=7e-4, ema_decay=0.99, seed=1)
SLOWER = dict(z_dim=2, lr_d=5e-4, lr_g=5e-4)
FASTER = dict(lr_d=1e-3, lr_g=1e-3)
DRAGAN_ON_POINTS = dict(dragan_weight=1.0, dragan_clip=False)
LOSS_SETTINGS = {
    "RLSGAN": FASTER,
    "DRAGAN": {**FASTER, **DRAGAN_ON_POINTS},
    "RaDRAGAN": DRAGAN_ON_POINTS,
    "RaSGAN": SLOWER,
    "RcHingeGAN": SLOWER,
    "EBGAN": dict(ebgan_margin=0.5, pt_weight=1.0),
    "WGAN": {**SLOWER, "clip": 0.05, "lr_g": 2e-3},
    "WGAN-GP": SLOWER,
    "WGAN-LP": SLOWER,
}
PRESET_LOSSES = {"WGAN", "WGAN-GP", "WGAN-LP"}  # their optimizer settings come from the preset


def toy_losses():
    """Every loss of the catalogue, and the WGAN penalties, as the ring is trained with them."""
    return list(losses()) + ["WGAN-GP", "WGAN-LP"]


def settings_for(loss: str) -> Dict[str, object]:
    """The `GAN` options `loss` trains the ring with."""
    settings = {**TOY, **LOSS_SETTINGS.get(loss, {})}
    if loss not in PRESET_LOSSES:
        settings.setdefault("betas", (0.5, 0.9))
    return settings
