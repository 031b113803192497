from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc_studio.dsp import colored_noise, harmonic_tone
from aigc_studio.errors import ParameterError
from aigc_studio.evaluation.spectral import log_spectral_distance, multi_resolution_stft_distance
from aigc_studio.models.spectral_losses import MultiResolutionSTFTLoss

SR = 16_000


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return harmonic_tone(220.0, 0.5, SR) + 0.1 * colored_noise(0.5, SR, color="pink", seed=0)


def _noisy(clean: np.ndarray, level: float) -> np.ndarray:
    return clean + level * colored_noise(0.5, SR, seed=7)


def test_zero_for_identical(clean: np.ndarray) -> None:
    assert log_spectral_distance(clean, clean.copy()) == 0.0
    assert multi_resolution_stft_distance(clean, clean.copy()) == 0.0


def test_grow_with_noise(clean: np.ndarray) -> None:
    levels = (0.01, 0.1, 1.0)
    lsd = [log_spectral_distance(clean, _noisy(clean, lv)) for lv in levels]
    mrs = [multi_resolution_stft_distance(clean, _noisy(clean, lv)) for lv in levels]
    assert 0 < lsd[0] < lsd[1] < lsd[2]
    assert 0 < mrs[0] < mrs[1] < mrs[2]


def test_gain_error_in_db(clean: np.ndarray) -> None:
    # halving the amplitude lowers every bin by 6.02 dB (up to the -100 dB floor)
    assert log_spectral_distance(clean, 0.5 * clean) == pytest.approx(6.02, abs=0.05)


def test_trims_to_shorter_and_accepts_channel_axis(clean: np.ndarray) -> None:
    estimate = _noisy(clean, 0.1)
    padded = np.concatenate([estimate, np.ones(300, dtype=np.float32)])
    assert log_spectral_distance(clean[None], padded) == pytest.approx(
        log_spectral_distance(clean, estimate)
    )


def test_mrstft_distance_equals_training_loss(clean: np.ndarray) -> None:
    estimate = _noisy(clean, 0.1)
    sc, mag = MultiResolutionSTFTLoss()(
        torch.from_numpy(estimate.astype(np.float64))[None],
        torch.from_numpy(clean.astype(np.float64))[None],
    )
    assert multi_resolution_stft_distance(clean, estimate) == pytest.approx(
        float(sc + mag), rel=1e-6
    )


def test_bad_arguments(clean: np.ndarray) -> None:
    with pytest.raises(ParameterError, match="reference"):
        log_spectral_distance(np.stack([clean, clean]), clean)
    with pytest.raises(ParameterError, match="hop_length"):
        log_spectral_distance(clean, clean, hop_length=0)
    with pytest.raises(ParameterError, match="fft_sizes"):
        multi_resolution_stft_distance(clean, clean, fft_sizes=())
