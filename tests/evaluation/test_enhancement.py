from __future__ import annotations

import numpy as np
import pytest

from aigc_studio.errors import ParameterError
from aigc_studio.evaluation.enhancement import si_sdr, si_sdr_improvement


def test_si_sdr_of_orthogonal_noise_at_a_known_ratio() -> None:
    t = np.arange(4000)
    clean = np.sin(2 * np.pi * t / 40)
    noise = 0.1 * np.cos(2 * np.pi * t / 40)  # orthogonal over whole periods
    assert si_sdr(clean, clean + noise) == pytest.approx(20.0, abs=1e-6)
    assert si_sdr(clean, 3 * (clean + noise)) == pytest.approx(20.0, abs=1e-6)


def test_improvement_is_the_difference_and_positive_for_less_noise() -> None:
    rng = np.random.default_rng(0)
    clean = rng.standard_normal(8000)
    noise = rng.standard_normal(8000)
    noisy, better = clean + noise, clean + 0.1 * noise
    gain = si_sdr_improvement(clean, noisy, better)
    assert gain == pytest.approx(si_sdr(clean, better) - si_sdr(clean, noisy))
    assert gain == pytest.approx(20.0, abs=0.5)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ParameterError, match="lengths"):
        si_sdr(np.zeros(10), np.zeros(11))
    with pytest.raises(ParameterError, match="NaN"):
        si_sdr(np.array([0.0, np.nan]), np.zeros(2))
    with pytest.raises(ParameterError):
        si_sdr(np.zeros((2, 10)), np.zeros((2, 10)))
