"""Sample-quality metrics between two sets of features (one row per image, in a classifier's feature space): FID,
KID and improved precision/recall. Float64 throughout; NumPy only.

- `frechet_distance`: ‖μ₁ − μ₂‖² + Tr Σ₁ + Tr Σ₂ − 2 Tr √(Σ₁Σ₂), with the reference implementation's
  conventions (covariances with N − 1; when the square root is not finite, ε = 1e-6 added to both diagonals and
  tried again). Tr √(Σ₁Σ₂) is computed stably as Σ √λᵢ over the eigenvalues of the symmetric √Σ₁ Σ₂ √Σ₁ (the
  same eigenvalues as Σ₁Σ₂), negative rounding clipped to 0, so no complex square root arises.
- `kernel_distance` (KID): the unbiased MMD² with the cubic polynomial kernel k(x, y) = (x·y / d + 1)³, averaged
  over random subsets, with its standard deviation.
- `precision_recall` (Kynkäänniemi et al. 2019): a sample is on a set's manifold when it lies within the distance
  from some point of the set to that point's k-th nearest neighbour (k = 3); precision is the share of generated
  samples on the real manifold, recall the share of real samples on the generated one.
"""
from __future__ import annotations

from typing import Dict, Tuple

import numpy as np


def _features(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"{name} must be features [N, D] with N ≥ 2, got shape {list(x.shape)}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} holds non-finite values")
    return x


def feature_statistics(features: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The mean [D] and covariance [D, D] (with N − 1) of features [N, D], float64."""
    x = _features(features, "features")
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr √(Σ₁Σ₂) for symmetric positive semi-definite Σ₁, Σ₂: Σ √λ over the eigenvalues of √Σ₁ Σ₂ √Σ₁."""
    values, vectors = np.linalg.eigh(sigma1)
    root1 = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(np.clip(eigenvalues, 0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """The Fréchet distance between N(μ₁, Σ₁) and N(μ₂, Σ₂) (FID when they are feature statistics)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"the statistics disagree in shape: means {list(mu1.shape)} and {list(mu2.shape)}, "
                         f"covariances {list(sigma1.shape)} and {list(sigma2.shape)}")
    diff = mu1 - mu2
    try:
        trace = _trace_sqrt_product(sigma1, sigma2)
        if not np.isfinite(trace):
            raise np.linalg.LinAlgError("non-finite square root")
    except np.linalg.LinAlgError:  # the reference's retry: a small offset on both diagonals
        offset = np.eye(sigma1.shape[0]) * eps
        trace = _trace_sqrt_product(sigma1 + offset, sigma2 + offset)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace)


def fid(real_features: np.ndarray, fake_features: np.ndarray) -> float:
    """FID between two feature sets [N, D] and [M, D]."""
    return frechet_distance(*feature_statistics(real_features), *feature_statistics(fake_features))


def kernel_distance(real_features: np.ndarray, fake_features: np.ndarray, subsets: int = 100,
                    subset_size: int = 1000, seed: int = 0) -> Tuple[float, float]:
    """KID: the mean and standard deviation over `subsets` random subsets (of min(subset_size, N, M) samples of
    each set, drawn without replacement with `seed`) of the unbiased MMD² with k(x, y) = (x·y / d + 1)³."""
    x, y = _features(real_features, "real_features"), _features(fake_features, "fake_features")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"the feature sets differ in width: {x.shape[1]} and {y.shape[1]}")
    if subsets < 1:
        raise ValueError(f"subsets must be at least 1, got {subsets}")
    m = min(subset_size, len(x), len(y))
    d = x.shape[1]
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        a = x[rng.choice(len(x), m, replace=False)]
        b = y[rng.choice(len(y), m, replace=False)]
        kxx, kyy, kxy = (a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3
        values[i] = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                     - 2 * kxy.mean())
    return float(values.mean()), float(values.std())


def _kth_neighbour_radii(x: np.ndarray, k: int, block: int) -> np.ndarray:
    """For each row of x, the distance to its k-th nearest other row."""
    radii = np.empty(len(x))
    squares = (x * x).sum(axis=1)
    for start in range(0, len(x), block):
        part = x[start:start + block]
        d2 = squares[start:start + block, None] + squares[None, :] - 2 * part @ x.T
        d2[np.arange(len(part)), np.arange(start, start + len(part))] = np.inf  # not itself
        radii[start:start + len(part)] = np.sqrt(np.clip(np.partition(d2, k - 1, axis=1)[:, k - 1], 0, None))
    return radii


def _share_on_manifold(points: np.ndarray, manifold: np.ndarray, radii: np.ndarray, block: int) -> float:
    """The share of `points` within radii[i] of some manifold[i]."""
    inside = 0
    squares = (manifold * manifold).sum(axis=1)
    for start in range(0, len(points), block):
        part = points[start:start + block]
        d2 = (part * part).sum(axis=1)[:, None] + squares[None, :] - 2 * part @ manifold.T
        inside += int((np.sqrt(np.clip(d2, 0, None)) <= radii[None, :]).any(axis=1).sum())
    return inside / len(points)


def precision_recall(real_features: np.ndarray, fake_features: np.ndarray, k: int = 3,
                     block: int = 1024) -> Dict[str, float]:
    """Improved precision and recall (k-NN manifolds): {"precision", "recall"}."""
    x, y = _features(real_features, "real_features"), _features(fake_features, "fake_features")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"the feature sets differ in width: {x.shape[1]} and {y.shape[1]}")
    if not 1 <= k < min(len(x), len(y)):
        raise ValueError(f"k must be in [1, {min(len(x), len(y)) - 1}] for sets of {len(x)} and {len(y)}, got {k}")
    real_radii, fake_radii = _kth_neighbour_radii(x, k, block), _kth_neighbour_radii(y, k, block)
    return {"precision": _share_on_manifold(y, x, real_radii, block),
            "recall": _share_on_manifold(x, y, fake_radii, block)}


def all_metrics(real_features: np.ndarray, fake_features: np.ndarray, kid_subsets: int = 100,
                kid_subset_size: int = 1000, k: int = 3, seed: int = 0) -> Dict[str, float]:
    """FID, KID (mean, std), precision and recall of two feature sets, by name."""
    kid, kid_std = kernel_distance(real_features, fake_features, kid_subsets, kid_subset_size, seed)
    return {"fid": fid(real_features, fake_features), "kid": kid, "kid_std": kid_std,
            **precision_recall(real_features, fake_features, k)}


__all__ = ["feature_statistics", "frechet_distance", "fid", "kernel_distance", "precision_recall", "all_metrics"]
