from __future__ import annotations

import numpy as np
import pytest

from aigc_studio.errors import ParameterError
from aigc_studio.evaluation.distributions import (
    feature_statistics,
    frechet_distance,
    number_of_statistically_different_bins,
)


def _gaussian(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)) + shift


def test_ndb_small_for_same_distribution() -> None:
    result = number_of_statistically_different_bins(
        _gaussian(2000, 6, 0), _gaussian(2000, 6, 1), n_bins=20, seed=0
    )
    assert result["ndb"] <= 2
    assert result["ndb_over_k"] == result["ndb"] / 20
    assert 0.0 <= result["js"] < 0.01


def test_ndb_large_for_shifted_distribution() -> None:
    result = number_of_statistically_different_bins(
        _gaussian(2000, 6, 0), _gaussian(2000, 6, 1, shift=0.5), n_bins=20, seed=0
    )
    assert result["ndb"] >= 10
    assert result["js"] > 0.05


def test_ndb_mode_collapse_and_determinism() -> None:
    real = _gaussian(1000, 2, 0)
    collapsed = _gaussian(500, 2, 1) * 0.05 + real[0]
    first = number_of_statistically_different_bins(real, collapsed, n_bins=10, seed=3)
    again = number_of_statistically_different_bins(real, collapsed, n_bins=10, seed=3)
    assert first == again
    assert first["ndb"] >= 9  # one bin holds everything, the others are empty


def test_frechet_distance_zero_for_same_and_mean_shift_for_shifted() -> None:
    real = _gaussian(5000, 4, 0)
    assert frechet_distance(real, real) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(real, _gaussian(5000, 4, 1)) < 0.02
    shift = np.array([1.0, -0.5, 2.0, 0.0])
    assert frechet_distance(real, _gaussian(5000, 4, 1) + shift) == pytest.approx(
        shift @ shift, rel=0.05
    )


def test_frechet_distance_counts_covariance_difference() -> None:
    real = _gaussian(5000, 3, 0)
    scaled = _gaussian(5000, 3, 1) * 2.0
    # for isotropic covariances I and 4I: tr(I + 4I - 2 * 2I) = D
    assert frechet_distance(real, scaled) == pytest.approx(3.0, rel=0.1)


def test_frechet_distance_survives_singular_covariance() -> None:
    real = _gaussian(200, 4, 0)
    real[:, 3] = 0.0
    value = frechet_distance(real, real + 1.0)
    assert np.isfinite(value) and value == pytest.approx(4.0, rel=0.01)


def test_feature_statistics() -> None:
    x = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    mu, sigma = feature_statistics(x)
    np.testing.assert_allclose(mu, [2.0, 3.0])
    np.testing.assert_allclose(sigma, [[4.0, 4.0], [4.0, 4.0]])
    mu1, sigma1 = feature_statistics(np.arange(4.0)[:, None])
    assert sigma1.shape == (1, 1)


def test_bad_arguments() -> None:
    with pytest.raises(ParameterError, match="feature size"):
        frechet_distance(_gaussian(10, 2, 0), _gaussian(10, 3, 0))
    with pytest.raises(ParameterError, match="n_bins"):
        number_of_statistically_different_bins(_gaussian(10, 2, 0), _gaussian(10, 2, 1), n_bins=11)
    with pytest.raises(ParameterError, match=r"\(N, D\)"):
        feature_statistics(np.zeros(5))
