from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aigc_studio.audio.declip import detect_clipping, repair_clipping
from aigc_studio.dsp.synthesis import colored_noise, harmonic_tone
from aigc_studio.errors import MediaError, ParameterError

SR = 16_000


def _sine(frequency: float = 440.0, amplitude: float = 0.8, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def test_a_sine_clipped_at_60_percent_is_found_with_its_fraction() -> None:
    sine = _sine()
    clipped = np.clip(sine, -0.48, 0.48)
    report = detect_clipping(clipped)
    assert report.detected
    # |sin| > 0.6 for 1 - 2 asin(0.6) / pi of the time.
    assert report.fraction == pytest.approx(1 - 2 * np.arcsin(0.6) / np.pi, abs=0.02)
    assert report.level == pytest.approx(0.48)
    assert report.plateaus == pytest.approx(2 * 440, abs=4)  # one per half cycle


def test_repair_brings_the_sine_back() -> None:
    sine = _sine()
    clipped = np.clip(sine, -0.48, 0.48)
    repaired = repair_clipping(clipped)
    assert repaired.shape == clipped.shape and repaired.dtype == np.float32
    assert _rms(clipped - sine) / _rms(repaired - sine) > 5
    assert repaired.max() > 0.48 + 0.2 and repaired.min() < -0.48 - 0.2
    assert not detect_clipping(repaired).detected


def test_light_clipping_of_a_low_tone_is_repaired_almost_exactly() -> None:
    sine = _sine(100.0)
    clipped = np.clip(sine, -0.76, 0.76)
    assert _rms(clipped - sine) / _rms(repair_clipping(clipped) - sine) > 50


@pytest.mark.parametrize(
    "signal",
    [
        _sine(amplitude=0.9),
        _sine(50.0, amplitude=0.5),
        harmonic_tone(220.0, 1.0, SR),
        colored_noise(1.0, SR, color="pink"),
        np.zeros(SR, np.float32),
    ],
    ids=["sine", "low sine", "harmonic tone", "pink noise", "silence"],
)
def test_unclipped_signals_are_returned_unchanged(signal: np.ndarray) -> None:
    assert not detect_clipping(signal).detected
    assert detect_clipping(signal).fraction == 0.0
    assert np.array_equal(repair_clipping(signal), signal)


def test_channels_and_polarities_are_judged_separately() -> None:
    sine = _sine()
    # Left clipped on its positive side only (as an offset stage does), right not at all.
    stereo = np.stack([np.minimum(sine, 0.5), 0.5 * sine])
    report = detect_clipping(stereo)
    assert report.detected and report.level == pytest.approx(0.5)
    assert report.fraction == pytest.approx(0.5 * (0.5 - np.arcsin(0.5 / 0.8) / np.pi), abs=0.02)
    repaired = repair_clipping(stereo)
    assert np.array_equal(repaired[1], stereo[1])
    assert repaired[0].max() > 0.7 and repaired[0].min() == stereo[0].min()


def test_full_scale_clipping_survives_a_16_bit_file(tmp_path: Path) -> None:
    path = tmp_path / "hot.wav"
    sf.write(path, np.clip(1.6 * _sine(), -1.0, 1.0), SR, subtype="PCM_16")
    audio, _ = sf.read(path, dtype="float32")
    assert detect_clipping(audio).detected
    assert repair_clipping(audio).max() > 1.0  # beyond full scale: the caller reduces the gain


def test_a_plateau_at_the_very_start_is_left_alone() -> None:
    sine = _sine()
    clipped = np.clip(sine, -0.48, 0.48)
    clipped[:10] = 0.48  # nothing to interpolate from on its left
    repaired = repair_clipping(clipped)
    assert np.array_equal(repaired[:10], clipped[:10])
    assert repaired.max() > 0.6


def test_bad_input_and_parameters_are_refused() -> None:
    with pytest.raises(MediaError, match="NaN"):
        detect_clipping(np.array([0.1, np.nan, 0.2], np.float32))
    with pytest.raises(ParameterError, match="tolerance"):
        repair_clipping(_sine(), tolerance=0.5)
    with pytest.raises(ParameterError, match="min_run"):
        detect_clipping(_sine(), min_run=1)
