from __future__ import annotations

import numpy as np
import pytest

from aigc_studio.audio.limiter import limit_true_peak, oversampled_envelope
from aigc_studio.dsp.loudness import true_peak
from aigc_studio.dsp.synthesis import colored_noise
from aigc_studio.errors import ParameterError

SR = 48_000


def _db(linear: float) -> float:
    return float(20 * np.log10(linear))


def test_the_true_peak_ends_at_the_ceiling() -> None:
    noise = np.stack([colored_noise(3.0, SR, color="pink", seed=s) for s in (1, 2)]) * 5
    noise[:, SR : SR + 200] *= 3  # a burst far above the rest
    limited, reduction = limit_true_peak(noise, SR, ceiling_dbtp=-1.0)
    assert limited.shape == noise.shape and limited.dtype == np.float32
    assert _db(true_peak(limited, SR)) <= -1.0 + 1e-3
    assert reduction == pytest.approx(_db(true_peak(noise, SR)) + 1.0, abs=0.1)


def test_only_the_moments_around_a_peak_are_turned_down() -> None:
    t = np.arange(2 * SR) / SR
    tone = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    tone[SR : SR + 48] += 0.9  # a 1 ms click in the middle
    limited, _ = limit_true_peak(tone, SR, ceiling_dbtp=-6.0, attack_s=0.005, hold_s=0.05)
    gain = np.abs(limited) / np.maximum(np.abs(tone), 1e-9)
    untouched = np.abs(tone) > 0.01
    # 5 ms of ramp before the click; 50 ms of hold and 5 ms of ramp after it.
    before, after = slice(0, SR - int(0.0055 * SR)), slice(SR + 48 + int(0.0555 * SR), None)
    for part in (before, after):
        assert np.allclose(gain[part][untouched[part]], 1.0, atol=1e-6)
    assert gain[SR : SR + 48].max() < 0.6
    assert gain[SR - int(0.0045 * SR)] < 1.0 and gain[SR + 48 + int(0.0545 * SR)] < 1.0


def test_peaks_between_samples_are_caught() -> None:
    # A quarter-rate sine at 45 degrees: every sample is at 0.707 of a crest that falls between.
    n = np.arange(SR)
    sine = np.sin(np.pi / 2 * n + np.pi / 4).astype(np.float32)
    assert np.abs(sine).max() < 0.75 and true_peak(sine[np.newaxis], SR) > 0.95
    assert oversampled_envelope(sine[np.newaxis])[100:-100].min() > 0.95
    limited, _ = limit_true_peak(sine, SR, ceiling_dbtp=-3.0)
    assert _db(true_peak(limited[np.newaxis], SR)) <= -3.0 + 1e-3


def test_a_signal_under_the_ceiling_is_returned_unchanged() -> None:
    quiet = colored_noise(1.0, SR, seed=4)
    limited, reduction = limit_true_peak(quiet, SR, ceiling_dbtp=-1.0)
    assert reduction == 0.0 and np.array_equal(limited, quiet)


@pytest.mark.parametrize(
    "kwargs", [{"ceiling_dbtp": 1.0}, {"attack_s": 0.0}, {"hold_s": -0.1}, {"ceiling_dbtp": -30.0}]
)
def test_bad_parameters_are_refused(kwargs: dict) -> None:
    with pytest.raises(ParameterError):
        limit_true_peak(np.zeros(SR, np.float32), SR, **kwargs)
