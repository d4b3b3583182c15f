"""The metrics against direct computations with SciPy and NumPy on random features."""
import numpy as np
import pytest
from scipy import linalg
from scipy.spatial.distance import cdist

from swiftgan import metrics


def reference_fid(x, y):
    """pytorch-fid's formula: scipy's sqrtm of Σ₁Σ₂, real part, with its ε-offset retry."""
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(s1)) * 1e-6
        covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


@pytest.mark.parametrize("n, d, seed", [(400, 8, 0), (300, 32, 1), (2000, 64, 2), (50, 16, 3)])
def test_fid_matches_scipys_square_root(n, d, seed):
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    x = rng.standard_normal((n, d)) @ mix
    y = rng.standard_normal((n + 17, d)) @ (mix + 0.3 * rng.standard_normal((d, d)) / np.sqrt(d)) + 0.5
    assert metrics.fid(x, y) == pytest.approx(reference_fid(x, y), rel=1e-6, abs=1e-9)
    assert abs(metrics.fid(x, x)) < 1e-8 * np.trace(np.cov(x, rowvar=False))


def test_fid_of_gaussians_follows_the_closed_form_and_survives_singular_covariances():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((200_000, 4)), 2 + 3 * rng.standard_normal((200_000, 4))
    assert metrics.fid(x, y) == pytest.approx(4 * 2 ** 2 + 4 * (1 - 3) ** 2, rel=1e-2)  # |Δμ|² + Σ(σ₁ − σ₂)²
    few = rng.standard_normal((10, 40))  # 10 samples in 40 dimensions: rank-9 covariances
    value = metrics.fid(few, rng.standard_normal((12, 40)))
    assert np.isfinite(value) and value > 0


def reference_kid(x, y):
    """The unbiased MMD² with the cubic kernel, by explicit sums over pairs."""
    d, m = x.shape[1], len(x)
    k = lambda a, b: (a @ b / d + 1) ** 3
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_is_the_unbiased_cubic_kernel_mmd():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((40, 6)), rng.standard_normal((40, 6)) * 1.5 + 0.2
    mean, std = metrics.kernel_distance(x, y, subsets=4, subset_size=40)  # a subset is the whole set, permuted
    assert mean == pytest.approx(reference_kid(x, y), rel=1e-10) and std == pytest.approx(0, abs=1e-10)
    same_mean, _ = metrics.kernel_distance(x, rng.standard_normal((40, 6)), subsets=50, subset_size=30, seed=1)
    far_mean, far_std = metrics.kernel_distance(x, y + 3, subsets=50, subset_size=30, seed=1)
    assert abs(same_mean) < far_mean / 20 and far_std > 0


def reference_precision_recall(x, y, k):
    rx = np.sort(cdist(x, x), axis=1)[:, k]  # column 0 is the point itself
    ry = np.sort(cdist(y, y), axis=1)[:, k]
    precision = float((cdist(y, x) <= rx[None, :]).any(axis=1).mean())
    recall = float((cdist(x, y) <= ry[None, :]).any(axis=1).mean())
    return precision, recall


@pytest.mark.parametrize("seed", [6, 7, 8])
def test_precision_recall_match_brute_force_nearest_neighbours(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((300, 5))
    y = rng.standard_normal((250, 5)) * 0.6 + np.array([1.0, 0, 0, 0, 0])
    got = metrics.precision_recall(x, y, k=3)
    assert (got["precision"], got["recall"]) == pytest.approx(reference_precision_recall(x, y, 3), abs=1e-12)
    assert metrics.precision_recall(x, x) == {"precision": 1.0, "recall": 1.0}
    assert metrics.precision_recall(x, y + 100) == {"precision": 0.0, "recall": 0.0}


def test_bad_features_are_refused_with_the_argument_named():
    ok = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r"real_features must be features \[N, D\], got shape \[5\]"):
        metrics.kernel_distance(np.zeros(5), ok)
    with pytest.raises(ValueError, match=r"real_features must be features \[N, D\] with 2 ≤ N ≤ 2\^31, 1 ≤ D ≤ 2\^20, "
                                         r"got \[1, 3\]"):  # the core's check
        metrics.fid(np.zeros((1, 3)), ok)
    with pytest.raises(ValueError, match="fake_features holds non-finite values"):
        metrics.precision_recall(ok, np.full((5, 3), np.nan))
    for measure in (metrics.fid, metrics.precision_recall, metrics.kernel_distance):  # checked once, in the core
        with pytest.raises(ValueError, match="the feature sets differ in width: 3 and 4"):
            measure(ok, np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"k must be in \[1, 4\] for sets of 5 and 5, got 5"):
        metrics.precision_recall(ok, ok, k=5)
