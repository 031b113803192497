from __future__ import annotations

import numpy as np
import pytest

from aigc_studio.audio.hum import detect_hum, remove_hum
from aigc_studio.dsp.synthesis import colored_noise
from aigc_studio.errors import MediaError, ParameterError

SR = 16_000


def _hummed(base: float, sr: int = SR, seconds: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """A 440 Hz tone over faint pink noise, and the same with hum at base, 2 base and 3 base."""
    t = np.arange(int(seconds * sr)) / sr
    clean = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.02 * colored_noise(seconds, sr, color="pink")
    hum = sum(0.05 / k * np.sin(2 * np.pi * k * base * t + k) for k in (1, 2, 3))
    return clean.astype(np.float32), (clean + hum).astype(np.float32)


def _level_db(x: np.ndarray, sr: int, frequency: float) -> float:
    """Level of the spectral line at ``frequency`` (Hann-windowed FFT of the whole signal)."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    centre = round(frequency * x.size / sr)
    return float(20 * np.log10(spectrum[centre - 2 : centre + 3].max()))


def test_50_hz_hum_is_found_as_50_not_60() -> None:
    _, hummed = _hummed(50.0)
    hum = detect_hum(hummed, SR)
    assert hum is not None
    assert hum.base_hz == 50.0
    assert hum.frequency_hz == pytest.approx(50.0, abs=0.05)
    assert {50.0, 100.0, 150.0} <= set(hum.harmonics_hz)
    assert hum.level_db > 20


@pytest.mark.parametrize(("base", "sr"), [(50.0, 8_000), (60.0, 16_000), (60.0, 96_000)])
def test_the_grid_frequency_is_told_apart_at_any_rate(base: float, sr: int) -> None:
    _, hummed = _hummed(base, sr, seconds=2.0)
    hum = detect_hum(hummed, sr)
    assert hum is not None and hum.base_hz == base


def test_removal_cuts_the_hum_by_20_db_and_keeps_the_tone() -> None:
    _, hummed = _hummed(50.0)
    out = remove_hum(hummed, SR, detect_hum(hummed, SR).frequency_hz)
    assert out.shape == hummed.shape and out.dtype == np.float32
    for frequency in (50.0, 100.0, 150.0):
        assert _level_db(hummed, SR, frequency) - _level_db(out, SR, frequency) > 20
    assert abs(_level_db(hummed, SR, 440.0) - _level_db(out, SR, 440.0)) < 1.0


def test_no_burst_of_hum_is_left_at_the_edges() -> None:
    # The filter is padded with whole hum periods: the first and last 200 ms are as clean as
    # the middle (a mirrored pad would leave hum ringing out there).
    clean, hummed = _hummed(60.0)
    out = remove_hum(hummed, SR, 60.0, n_harmonics=3)
    reference = remove_hum(clean, SR, 60.0, n_harmonics=3)
    hum = hummed - clean
    edge = SR // 5
    for part in (slice(0, edge), slice(-edge, None)):
        residual = np.std(out[part] - reference[part]) / np.std(hum[part])
        assert 20 * np.log10(residual) < -20


def test_blocks_join_seamlessly(monkeypatch: pytest.MonkeyPatch) -> None:
    _, hummed = _hummed(50.0, seconds=10.0)
    whole = remove_hum(hummed, SR, 50.0)
    monkeypatch.setattr("aigc_studio.audio.hum.BLOCK_SECONDS", 1.0)  # 2.5 s blocks (the padding)
    np.testing.assert_allclose(remove_hum(hummed, SR, 50.0), whole, atol=1e-4)


def test_channels_are_filtered_independently() -> None:
    clean, hummed = _hummed(50.0)
    stereo = np.stack([hummed, clean])
    out = remove_hum(stereo, SR, 50.0)
    assert out.shape == stereo.shape
    assert _level_db(hummed, SR, 50.0) - _level_db(out[0], SR, 50.0) > 20
    np.testing.assert_allclose(out[1], remove_hum(clean, SR, 50.0), atol=1e-6)


def test_hum_in_one_channel_of_a_stereo_file_is_found() -> None:
    clean, hummed = _hummed(60.0)
    assert detect_hum(np.stack([clean, hummed]), SR).base_hz == 60.0


def test_click_tracks_noise_tones_silence_and_short_clips_have_no_hum() -> None:
    t = np.arange(8 * SR) / SR
    signals = {
        "pink noise": colored_noise(8.0, SR, color="pink"),
        "white noise": colored_noise(8.0, SR, seed=3),
        "440 Hz tone": 0.3 * np.sin(2 * np.pi * 440 * t),
        "silence": np.zeros(8 * SR),
        "too short": _hummed(50.0, seconds=0.3)[1],
    }
    for bpm in (120, 240):  # combs of lines every 2 and 4 Hz, with teeth at 50 and 60 Hz
        clicks = np.zeros(8 * SR)
        clicks[:: round(SR * 60 / bpm)] = 0.9
        signals[f"{bpm} BPM clicks"] = clicks
    found = {name: detect_hum(x.astype(np.float32), SR) for name, x in signals.items()}
    assert found == dict.fromkeys(signals)


def test_one_dimensional_input_keeps_its_shape() -> None:
    _, hummed = _hummed(50.0, seconds=1.0)
    assert remove_hum(hummed, SR, 50.0).shape == hummed.shape


@pytest.mark.parametrize(
    "kwargs",
    [{"frequency": 0.0}, {"frequency": 8000.0}, {"n_harmonics": 0}, {"q": 0.5}],
)
def test_bad_removal_parameters_are_refused(kwargs: dict) -> None:
    options = {"frequency": 50.0, **kwargs}
    with pytest.raises(ParameterError):
        remove_hum(np.zeros(SR, np.float32), SR, **options)


def test_bad_input_is_refused() -> None:
    bad = np.full(SR, np.nan, np.float32)
    with pytest.raises(MediaError, match="NaN"):
        detect_hum(bad, SR)
    with pytest.raises(ParameterError, match="threshold_db"):
        detect_hum(np.zeros(SR, np.float32), SR, threshold_db=0.0)
    with pytest.raises(ParameterError, match="sr"):
        detect_hum(np.zeros(SR, np.float32), 100)
