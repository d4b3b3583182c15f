"""Sample-quality metrics between two sets of features (one row per image, in a classifier's feature space): FID,
KID and improved precision/recall, computed by the Swift core (`SampleQuality`, C ABI `sg_metrics_*`) in float64.

- `frechet_distance`: ‖μ₁ − μ₂‖² + Tr Σ₁ + Tr Σ₂ − 2 Tr √(Σ₁Σ₂), with the reference implementation's
  conventions (covariances with N − 1; when the square root is not finite, ε = 1e-6 added to both diagonals and
  tried again). Tr √(Σ₁Σ₂) is computed stably as Σ √λᵢ over the eigenvalues of the symmetric √Σ₁ Σ₂ √Σ₁ (the
  same eigenvalues as Σ₁Σ₂; LAPACK's dsyevd), negative rounding clipped to 0, so no complex square root arises.
- `kernel_distance` (KID): the unbiased MMD² with the cubic polynomial kernel k(x, y) = (x·y / d + 1)³, averaged
  over random subsets (drawn here with a seeded NumPy generator), with its standard deviation.
- `precision_recall` (Kynkäänniemi et al. 2019): a sample is on a set's manifold when it lies within the distance
  from some point of the set to that point's k-th nearest neighbour (k = 3); precision is the share of generated
  samples on the real manifold, recall the share of real samples on the generated one.

They compute on the calling thread's share of the core's threads: as many as the last GAN or feature network call
made from this thread used (the default count before any). Like everything in the core, a figure is bit-identical
for the same thread count; across counts it may differ in the last digits (BLAS sums in another order).
"""
from __future__ import annotations

from typing import Dict, Tuple

import numpy as np

from . import _native


def _features(x: np.ndarray, name: str) -> np.ndarray:
    """`x` as C-contiguous float64 [N, D]; the core checks N, D and the values, and that two sets' widths agree."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be features [N, D], got shape {list(x.shape)}")
    return x


def _pair(real_features: np.ndarray, fake_features: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    return _features(real_features, "real_features"), _features(fake_features, "fake_features")


def feature_statistics(features: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The mean [D] and covariance [D, D] (with N − 1) of features [N, D], float64."""
    x = _features(features, "features")
    mean, covariance = np.empty(x.shape[1]), np.empty((x.shape[1], x.shape[1]))
    _native.metrics_statistics(x, mean, covariance)
    return mean, covariance


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """The Fréchet distance between N(μ₁, Σ₁) and N(μ₂, Σ₂) (FID when they are feature statistics)."""
    mu1, mu2 = (np.ascontiguousarray(np.atleast_1d(m), dtype=np.float64) for m in (mu1, mu2))
    sigma1, sigma2 = (np.ascontiguousarray(np.atleast_2d(s), dtype=np.float64) for s in (sigma1, sigma2))
    return _native.metrics_frechet(mu1, sigma1, mu2, sigma2, float(eps))


def fid(real_features: np.ndarray, fake_features: np.ndarray) -> float:
    """FID between two feature sets [N, D] and [M, D]."""
    return _native.metrics_fid(*_pair(real_features, fake_features))


def kernel_distance(real_features: np.ndarray, fake_features: np.ndarray, subsets: int = 100,
                    subset_size: int = 1000, seed: int = 0) -> Tuple[float, float]:
    """KID: the mean and standard deviation over `subsets` random subsets (of min(subset_size, N, M) samples of
    each set, drawn without replacement with `seed`) of the unbiased MMD² with k(x, y) = (x·y / d + 1)³."""
    x, y = _pair(real_features, fake_features)
    m, rows = min(subset_size, len(x), len(y)), max(int(subsets), 0)  # the core checks subsets and m
    rng = np.random.default_rng(seed)
    real_index, fake_index = np.zeros((rows, m), np.int64), np.zeros((rows, m), np.int64)
    for i in range(rows):
        real_index[i] = rng.choice(len(x), m, replace=False)
        fake_index[i] = rng.choice(len(y), m, replace=False)
    values = np.empty(rows)
    _native.metrics_kernel_distances(x, y, real_index, fake_index, values, int(subsets))
    return float(values.mean()), float(values.std())


def precision_recall(real_features: np.ndarray, fake_features: np.ndarray, k: int = 3) -> Dict[str, float]:
    """Improved precision and recall (k-NN manifolds): {"precision", "recall"}."""
    x, y = _pair(real_features, fake_features)
    precision, recall = _native.metrics_precision_recall(x, y, int(k))
    return {"precision": precision, "recall": recall}


def all_metrics(real_features: np.ndarray, fake_features: np.ndarray, kid_subsets: int = 100,
                kid_subset_size: int = 1000, k: int = 3, seed: int = 0) -> Dict[str, float]:
    """FID, KID (mean, std), precision and recall of two feature sets, by name."""
    kid, kid_std = kernel_distance(real_features, fake_features, kid_subsets, kid_subset_size, seed)
    return {"fid": fid(real_features, fake_features), "kid": kid, "kid_std": kid_std,
            **precision_recall(real_features, fake_features, k)}


__all__ = ["feature_statistics", "frechet_distance", "fid", "kernel_distance", "precision_recall", "all_metrics"]
