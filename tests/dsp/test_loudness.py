from __future__ import annotations

import numpy as np
import pytest

from aigc_studio.dsp import measure_loudness, normalize_loudness
from aigc_studio.dsp.loudness import true_peak
from aigc_studio.errors import ParameterError

SR = 48_000


def tone(freq: float = 997.0, amplitude: float = 0.1, seconds: float = 3.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)[np.newaxis]


def test_full_scale_997hz_sine_reads_minus_3_lufs() -> None:
    # BS.1770-4: a 0 dBFS 997 Hz sine in one channel reads -3.01 LKFS.
    report = measure_loudness(tone(amplitude=1.0), SR)
    assert report.integrated_lufs == pytest.approx(-3.01, abs=0.05)


def test_normalize_reaches_target_when_peak_allows() -> None:
    scaled, gain = normalize_loudness(
        tone(amplitude=0.01), SR, target_lufs=-23.0, true_peak_dbtp=-1.0
    )
    assert measure_loudness(scaled, SR).integrated_lufs == pytest.approx(-23.0, abs=0.1)
    assert gain > 0


def test_true_peak_ceiling_wins_over_target() -> None:
    # A click train is loud in peak but quiet in loudness: the ceiling must hold.
    clicks = np.zeros((1, 3 * SR), np.float32)
    clicks[0, :: SR // 10] = 0.5
    scaled, _ = normalize_loudness(clicks, SR, target_lufs=-10.0, true_peak_dbtp=-1.0)
    assert 20 * np.log10(true_peak(scaled, SR)) <= -1.0 + 1e-3


def test_true_peak_exceeds_sample_peak_for_intersample_peaks() -> None:
    # fs/4 sine with 45 degree phase: every sample is at 0.707 of the real peak.
    n = np.arange(4800)
    x = np.sin(2 * np.pi * n / 4 + np.pi / 4).astype(np.float32)[np.newaxis]
    assert true_peak(x, SR) > 0.95 and np.max(np.abs(x)) < 0.72


@pytest.mark.parametrize(("target", "peak"), [(5.0, -1.0), (-90.0, -1.0), (-16.0, 3.0)])
def test_absurd_targets(target: float, peak: float) -> None:
    with pytest.raises(ParameterError):
        normalize_loudness(tone(), SR, target, peak)


def test_silence_cannot_be_normalized() -> None:
    with pytest.raises(ParameterError, match="silent"):
        normalize_loudness(np.zeros((1, SR), np.float32), SR)


def test_too_short_to_measure() -> None:
    with pytest.raises(ParameterError, match="at least"):
        measure_loudness(tone(seconds=0.1), SR)
