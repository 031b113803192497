from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aigc_studio.audio.analysis import (
    analyze_audio,
    bs1770_channels,
    estimate_snr,
    loudness_range,
)
from aigc_studio.dsp.loudness import measure_loudness
from aigc_studio.dsp.synthesis import colored_noise
from aigc_studio.errors import MediaError, ParameterError

SR = 16_000


def _speech_like(seconds: float, sr: int = SR) -> np.ndarray:
    """Harmonic syllables with pauses between them."""
    t = np.arange(int(seconds * sr)) / sr
    voiced = sum(0.5**k * np.sin(2 * np.pi * 150 * k * t) for k in range(1, 8))
    return (0.2 * voiced * (np.sin(2 * np.pi * 1.5 * t) > 0.2)).astype(np.float32)


def _click_track(bpm: float, seconds: float = 8.0, sr: int = 22_050) -> np.ndarray:
    clicks = np.zeros(int(seconds * sr), np.float32)
    burst = (np.hanning(400)[200:] * np.sin(np.arange(200) * 0.6)).astype(np.float32)
    for start in range(0, clicks.size - 200, round(sr * 60 / bpm)):
        clicks[start : start + 200] = 0.8 * burst
    return clicks


def test_the_tempo_of_a_120_bpm_click_track() -> None:
    result = analyze_audio(_click_track(120.0), 22_050)
    assert result.tempo_bpm == pytest.approx(120.0, abs=2.0)
    intervals = np.diff(result.beat_times)
    assert len(result.beat_times) >= 12
    assert np.median(intervals) == pytest.approx(0.5, abs=0.03)
    assert result.hum_hz is None  # a click track's comb of lines is not hum


def test_snr_orders_a_clean_and_a_noisy_take() -> None:
    clean = _speech_like(4.0)
    noise = colored_noise(4.0, SR, color="pink", seed=1)[: clean.size]
    slightly, very = clean + 0.01 * noise, clean + 0.2 * noise
    snrs = [estimate_snr(x[np.newaxis], SR) for x in (clean, slightly, very)]
    assert snrs[0] > snrs[1] > snrs[2]
    assert snrs[1] - snrs[2] > 20  # 26 dB more noise
    # Steady signal without pauses: nothing to tell noise from signal by.
    assert abs(estimate_snr(noise[np.newaxis], SR)) < 3


@pytest.mark.parametrize(
    ("first_dbfs", "second_dbfs", "expected_lu"), [(-20, -30, 10), (-20, -15, 5), (-40, -20, 20)]
)
def test_loudness_range_of_ebu_tech_3342_test_signals(
    first_dbfs: float, second_dbfs: float, expected_lu: float
) -> None:
    # Tech 3342 test cases 1-3: a stereo 1 kHz sine, 20 s at one level then 20 s at another.
    sr = 48_000
    t = np.arange(20 * sr) / sr
    sine = np.sin(2 * np.pi * 1000 * t)
    mono = np.concatenate([10 ** (first_dbfs / 20) * sine, 10 ** (second_dbfs / 20) * sine])
    lra = loudness_range(np.stack([mono, mono]).astype(np.float32), sr)
    assert lra == pytest.approx(expected_lu, abs=1.0)  # the tolerance Tech 3342 allows


def test_loudness_range_of_steady_noise_is_small_and_short_input_has_none() -> None:
    noise = colored_noise(10.0, SR, color="pink")[np.newaxis]
    assert loudness_range(noise, SR) < 1.0
    assert loudness_range(noise[:, : 2 * SR], SR) is None
    assert loudness_range(np.zeros((1, 5 * SR), np.float32), SR) is None


def test_a_file_with_hum_and_clipping(tmp_path: Path) -> None:
    t = np.arange(5 * SR) / SR
    take = np.clip(_speech_like(5.0) + 0.03 * np.sin(2 * np.pi * 60 * t), -0.12, 0.12)
    path = tmp_path / "take.wav"
    sf.write(path, np.stack([take, 0.5 * take]).T, SR, subtype="FLOAT")
    result = analyze_audio(path, tempo=False)
    assert result.path == str(path)
    assert (result.duration_s, result.sample_rate, result.channels) == (5.0, SR, 2)
    assert result.hum_hz == 60.0 and result.hum_level_db > 20
    assert result.clipping_fraction > 0.01
    expected = measure_loudness(np.stack([take, 0.5 * take]).astype(np.float32), SR)
    assert result.integrated_lufs == pytest.approx(expected.integrated_lufs, abs=1e-6)
    assert result.true_peak_dbtp == pytest.approx(expected.true_peak_dbtp, abs=1e-6)
    assert result.tempo_bpm is None and result.beat_times == ()
    values = result.to_dict()
    assert json.loads(json.dumps(values, allow_nan=False)) == values


def test_silence_is_measured_as_silence() -> None:
    result = analyze_audio(np.zeros((2, 5 * SR), np.float32), SR)
    assert result.integrated_lufs == float("-inf") and result.true_peak_dbtp == float("-inf")
    assert result.snr_db is None and result.loudness_range_lu is None
    assert result.tempo_bpm is None and result.hum_hz is None
    assert result.clipping_fraction == 0.0
    values = result.to_dict()
    assert values["integrated_lufs"] is None and values["true_peak_dbtp"] is None
    json.dumps(values, allow_nan=False)


def test_a_clip_shorter_than_a_frame_reports_what_it_can() -> None:
    result = analyze_audio(np.full(10, 0.5, np.float32), SR)
    assert result.duration_s == pytest.approx(10 / SR)
    assert result.integrated_lufs is None and result.loudness_range_lu is None
    assert result.snr_db is None and result.tempo_bpm is None
    assert result.sample_peak_dbfs == pytest.approx(20 * np.log10(0.5), abs=1e-4)


@pytest.mark.parametrize("sr", [8_000, 96_000])
def test_telephone_and_studio_rates(sr: int) -> None:
    t = np.arange(3 * sr) / sr
    take = _speech_like(3.0, sr) + 0.02 * np.sin(2 * np.pi * 50 * t)
    result = analyze_audio(take.astype(np.float32), sr, tempo=False)
    assert result.sample_rate == sr and result.hum_hz == 50.0
    assert -40 < result.integrated_lufs < -10 and result.snr_db is not None


def test_5_1_is_measured_without_its_lfe_and_7_1_is_refused() -> None:
    front = _speech_like(2.0)
    lfe = 0.9 * np.sin(2 * np.pi * 40 * np.arange(front.size) / SR)
    surround = np.stack([front, front, front, lfe, front, front]).astype(np.float32)
    assert bs1770_channels(surround).shape == (5, front.size)
    result = analyze_audio(surround, SR, tempo=False)
    without_lfe = measure_loudness(surround[[0, 1, 2, 4, 5]], SR).integrated_lufs
    assert result.integrated_lufs == pytest.approx(without_lfe)
    assert result.sample_peak_dbfs == pytest.approx(20 * np.log10(0.9), abs=1e-3)
    with pytest.raises(MediaError, match="mix it down"):
        analyze_audio(np.zeros((8, SR), np.float32), SR)


def test_bad_input_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="NaN"):
        analyze_audio(np.array([0.1, np.nan] * 100, np.float32), SR)
    with pytest.raises(ParameterError, match="sr is required"):
        analyze_audio(np.zeros(SR, np.float32))
    path = tmp_path / "take.wav"
    sf.write(path, np.zeros(SR), SR)
    with pytest.raises(ParameterError, match="only for arrays"):
        analyze_audio(path, 16_000)
    with pytest.raises(MediaError, match="no such file"):
        analyze_audio(tmp_path / "missing.wav")
