"""Distances between the distributions of real and generated feature vectors.

The number of statistically different bins (NDB, Richardson & Weiss 2018) and the Fréchet
distance (Heusel et al. 2017) compare two sets of feature vectors, one row per clip. Which
features is the caller's choice and must be named with the result: the studio's benchmarks use,
for example, the per-clip mean and standard deviation over frames of the log-mel spectrogram
(2 x n_mels values). These functions do not extract features and do not use a pretrained network,
so the Fréchet distance here is "FID-like", not FID or FAD (which fix an Inception or VGGish
embedding).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
from scipy.cluster.vq import kmeans2
from scipy.stats import norm

from aigc_studio.errors import ParameterError


def _check_features(x: np.ndarray, name: str, min_rows: int = 2) -> np.ndarray:
    array = np.asarray(x, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < min_rows or array.shape[1] < 1:
        raise ParameterError(
            f"{name} must be (N, D) with N >= {min_rows} and D >= 1, got shape {np.shape(x)}"
        )
    if not np.all(np.isfinite(array)):
        raise ParameterError(f"{name} holds NaN or infinite values")
    return array


def _nearest(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    # Squared distances via |a|^2 - 2ab + |b|^2: (N, K) without an (N, K, D) intermediate.
    d2 = (
        np.sum(points**2, axis=1, keepdims=True)
        - 2.0 * points @ centroids.T
        + np.sum(centroids**2, axis=1)
    )
    return np.argmin(d2, axis=1)


def number_of_statistically_different_bins(
    real: np.ndarray,
    generated: np.ndarray,
    n_bins: int = 50,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, float | int]:
    """Count the k-means bins whose share of generated samples differs significantly from real.

    Richardson & Weiss 2018, "On GANs and GMMs" (NDB): cluster the real samples into ``n_bins``
    cells with k-means (k-means++ seeding, fixed ``seed``), assign both sets to the nearest
    centroid, and run a two-sided two-proportion z-test per bin at significance ``alpha``,
    ``z = (p_r - p_g) / sqrt(p (1 - p) (1/N + 1/M))`` with the pooled proportion ``p``. Also
    reports the Jensen-Shannon divergence (natural log) between the two bin histograms, as in the
    authors' code. Features should be on comparable scales (standardize them first if not); about
    10 or more real samples per bin give stable bins.

    Parameters
    ----------
    real : np.ndarray
        (N, D) real feature vectors; they define the bins.
    generated : np.ndarray
        (M, D) generated feature vectors.
    n_bins : int
        Number of k-means bins, 2 to N.
    alpha : float
        Significance level of each test, in (0, 1).
    seed : int
        Seed of the k-means initialization.

    Returns
    -------
    dict
        ``ndb`` (int, bins that differ), ``ndb_over_k`` (float, ``ndb / n_bins``; about ``alpha``
        for a perfect model), ``js`` (float, in [0, ln 2]).

    Raises
    ------
    ParameterError
        If the arrays have the wrong shapes or a parameter is out of range.
    """
    real = _check_features(real, "real")
    generated = _check_features(generated, "generated", min_rows=1)
    if real.shape[1] != generated.shape[1]:
        raise ParameterError(
            f"real and generated need the same feature size, got {real.shape[1]} and "
            f"{generated.shape[1]}"
        )
    if not 2 <= n_bins <= real.shape[0]:
        raise ParameterError(f"n_bins must be in [2, N={real.shape[0]}], got {n_bins}")
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha}")
    centroids, _ = kmeans2(real, n_bins, iter=50, minit="++", seed=seed, missing="warn")
    n, m = real.shape[0], generated.shape[0]
    p_real = np.bincount(_nearest(real, centroids), minlength=n_bins) / n
    p_gen = np.bincount(_nearest(generated, centroids), minlength=n_bins) / m
    pooled = (p_real * n + p_gen * m) / (n + m)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n + 1 / m))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (p_real - p_gen) / se, 0.0)
    p_values = 2.0 * norm.sf(np.abs(z))
    ndb = int(np.count_nonzero(p_values < alpha))
    return {"ndb": ndb, "ndb_over_k": ndb / n_bins, "js": _jensen_shannon(p_real, p_gen)}


def _jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    mid = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log(a[mask] / mid[mask])))

    return max(0.0, 0.5 * (kl(p) + kl(q)))


def feature_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the mean (D,) and the unbiased covariance (D, D) of feature vectors (N, D).

    These are the Gaussian statistics the Fréchet distance compares (Heusel et al. 2017).

    Raises
    ------
    ParameterError
        If ``x`` is not (N, D) with N >= 2, or holds non-finite values.
    """
    array = _check_features(x, "x")
    return array.mean(axis=0), np.atleast_2d(np.cov(array, rowvar=False))


def frechet_distance(real: np.ndarray, generated: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors.

    ``||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))``: the formula of the Fréchet
    Inception Distance (Heusel et al. 2017, "GANs trained by a two time-scale update rule
    converge to a local Nash equilibrium"), on whatever features the caller passes; the studio's
    benchmarks name theirs (e.g. mean/std-pooled log-mel frames). The matrix square root is
    ``scipy.linalg.sqrtm``; as in the reference implementation, a small multiple of the identity is
    added to both covariances when the product is singular, and the imaginary part that rounding
    leaves in the square root is dropped.

    Parameters
    ----------
    real : np.ndarray
        (N, D) feature vectors, N >= 2.
    generated : np.ndarray
        (M, D) feature vectors, M >= 2.

    Returns
    -------
    float
        Non-negative; 0 for identical statistics. In squared feature units.

    Raises
    ------
    ParameterError
        If the arrays have the wrong shapes or non-finite values.
    """
    real = _check_features(real, "real")
    generated = _check_features(generated, "generated")
    if real.shape[1] != generated.shape[1]:
        raise ParameterError(
            f"real and generated need the same feature size, got {real.shape[1]} and "
            f"{generated.shape[1]}"
        )
    mu_r, sigma_r = feature_statistics(real)
    mu_g, sigma_g = feature_statistics(generated)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(sigma_r @ sigma_g)
    singular = any(issubclass(w.category, scipy.linalg.LinAlgWarning) for w in caught)
    if singular or not np.all(np.isfinite(covmean)):
        # Constant features or fewer samples than dimensions make the product singular.
        offset = np.eye(sigma_r.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((sigma_r + offset) @ (sigma_g + offset))
    covmean = np.real(covmean)
    diff = mu_r - mu_g
    distance = diff @ diff + np.trace(sigma_r) + np.trace(sigma_g) - 2.0 * np.trace(covmean)
    return float(max(distance, 0.0))
