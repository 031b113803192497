from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from aigc_studio.audio.denoise import SilentInputWarning
from aigc_studio.audio.enhance import STEPS, enhance, enhance_file
from aigc_studio.dsp.loudness import measure_loudness, true_peak
from aigc_studio.dsp.synthesis import colored_noise, melody_signal
from aigc_studio.errors import MediaError, ParameterError, ToolMissingError
from aigc_studio.media import read_audio_tags
from aigc_studio.models.denoiser import DenoiserConfig, GRUDenoiser

SR = 16_000


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _damaged(sr: int = SR, seconds: float = 4.0, channels: int = 2) -> np.ndarray:
    """A melody with pauses, clipped, over 50 Hz hum and hiss: everything enhance repairs."""
    pitches = [(60, 64, 67, 72)[i % 4] for i in range(int(seconds / 0.5))]
    melody = melody_signal(pitches, 0.5, sr)[: int(seconds * sr)]
    t = np.arange(melody.size) / sr
    take = (
        0.4 * melody * (np.sin(2 * np.pi * 0.75 * t) > -0.3)
        + 0.02 * np.sin(2 * np.pi * 50 * t)
        + 0.005 * colored_noise(seconds, sr, seed=2)[: melody.size]
    )
    take = np.clip(take, -0.15, 0.15)
    return np.stack([take * (1 - 0.2 * c) for c in range(channels)]).astype(np.float32)


def _level_db(x: np.ndarray, sr: int, frequency: float) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    centre = round(frequency * x.size / sr)
    return float(20 * np.log10(spectrum[centre - 2 : centre + 3].max()))


def _check_loudness(out: np.ndarray, sr: int, target: float, ceiling: float) -> None:
    report = measure_loudness(out, sr)
    assert abs(report.integrated_lufs - target) <= 0.5
    assert report.true_peak_dbtp <= ceiling + 0.1


def test_enhance_repairs_clipping_removes_hum_denoises_and_reaches_the_target() -> None:
    take = _damaged()
    out, report = enhance(take, SR, denoise_method="gate")
    assert out.shape == take.shape and out.dtype == np.float32
    assert report.clipping.detected and report.clipping.fraction > 0.01
    assert report.hum is not None and report.hum.base_hz == 50.0
    assert report.denoise_method == "gate"
    assert not report.notes
    _check_loudness(out, SR, -16.0, -1.0)
    assert report.loudness_after_lufs == pytest.approx(-16.0, abs=0.5)
    assert report.true_peak_after_dbtp <= -1.0 + 0.1
    assert report.loudness_before_lufs == pytest.approx(
        measure_loudness(take, SR).integrated_lufs, abs=1e-6
    )
    # Hum is gone relative to the music, whatever the gain.
    before = _level_db(take[0], SR, 50.0) - _level_db(take[0], SR, 261.6)
    after = _level_db(out[0], SR, 50.0) - _level_db(out[0], SR, 261.6)
    assert before - after > 20
    assert "repaired clipping" in report.summary() and "50 Hz hum" in report.summary()


def test_the_limiter_keeps_the_target_when_peaks_would_exceed_the_ceiling() -> None:
    # Pink noise with clicks every 0.5 s: -14 LUFS needs more gain than the clicks allow.
    noise = np.stack([colored_noise(4.0, SR, color="pink", seed=s) for s in (1, 2)]) * 0.3
    noise[:, :: SR // 2] = 0.3
    out, report = enhance(noise, SR, target_lufs=-14.0, true_peak_db=-1.0, denoise_method=None)
    assert report.limiter_reduction_db > 3.0
    assert not report.notes
    _check_loudness(out, SR, -14.0, -1.0)
    # -10 LUFS would need more than 12 dB of limiting: the ceiling holds and the report says so.
    out, report = enhance(noise, SR, target_lufs=-10.0, true_peak_db=-1.0, denoise_method=None)
    assert report.limiter_reduction_db == pytest.approx(12.0, abs=0.1)
    assert "12 dB" in report.notes[0]
    assert measure_loudness(out, SR).true_peak_dbtp <= -1.0 + 0.1


def test_method_none_only_scales_a_clean_signal() -> None:
    t = np.arange(2 * SR) / SR
    tone = (0.05 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[np.newaxis]
    out, report = enhance(tone, SR, target_lufs=-20.0, denoise_method=None)
    assert report.denoise_method is None and report.hum is None
    assert not report.clipping.detected and report.limiter_reduction_db == 0.0
    np.testing.assert_allclose(out, tone * 10 ** (report.gain_db / 20), rtol=1e-5)
    _check_loudness(out, SR, -20.0, -1.0)


@pytest.mark.parametrize("sr", [8_000, 96_000])
def test_telephone_and_studio_rates(sr: int) -> None:
    take = _damaged(sr, seconds=2.0, channels=1)[0]
    out, report = enhance(take, sr, target_lufs=-18.0, true_peak_db=-2.0, denoise_method="gate")
    assert out.shape == take.shape
    assert report.hum is not None and report.hum.base_hz == 50.0
    _check_loudness(out[np.newaxis], sr, -18.0, -2.0)


def test_5_1_is_measured_without_its_lfe() -> None:
    take = _damaged(seconds=2.0, channels=5)
    lfe = 0.9 * np.sin(2 * np.pi * 40 * np.arange(take.shape[1]) / SR).astype(np.float32)
    surround = np.concatenate([take[:3], lfe[np.newaxis], take[3:]])
    out, report = enhance(surround, SR, denoise_method="gate")
    assert out.shape == (6, take.shape[1])
    measured = measure_loudness(out[[0, 1, 2, 4, 5]], SR)
    assert measured.integrated_lufs == pytest.approx(-16.0, abs=0.5)
    assert 20 * np.log10(true_peak(out, SR)) <= -1.0 + 0.1  # the LFE counts for the peak
    assert report.true_peak_after_dbtp == pytest.approx(20 * np.log10(true_peak(out, SR)))


def test_the_learned_denoiser_path_runs_with_a_given_model() -> None:
    torch.manual_seed(0)
    model = GRUDenoiser(DenoiserConfig(hidden_size=8, gru_layers=1, n_bands=16))
    with torch.no_grad():  # gains of sigmoid(6) ~ 1 everywhere: passes the signal
        model.output_layer.weight.zero_()
        model.output_layer.bias.fill_(6.0)
    out, report = enhance(_damaged(seconds=2.0), SR, denoise_method="net", model=model.eval())
    assert report.denoise_method == "net"
    _check_loudness(out, SR, -16.0, -1.0)


def test_a_missing_denoiser_fails_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("aigc_studio.weights.shipped_weights", lambda name: None)
    steps: list[str] = []
    with pytest.raises(ToolMissingError, match="method='gate'"):
        enhance(_damaged(seconds=1.0), SR, on_progress=lambda s, d, t: steps.append(s))
    assert steps == []


def test_impulsive_material_is_not_crushed_to_reach_the_target() -> None:
    clicks = np.zeros((1, 3 * SR), np.float32)
    clicks[0, :: SR // 4] = 0.9
    out, report = enhance(clicks, SR, denoise_method=None)
    assert report.limiter_reduction_db == 0.0
    assert report.notes and "target not reached" in report.notes[0]
    assert 20 * np.log10(true_peak(out, SR)) <= -1.0 + 0.1
    np.testing.assert_allclose(out, clicks * 10 ** (report.gain_db / 20), rtol=1e-5)


def test_steps_are_reported_in_order() -> None:
    seen: list[tuple[str, int]] = []
    enhance(
        _damaged(seconds=1.0),
        SR,
        denoise_method="gate",
        on_progress=lambda s, d, t: seen.append((s, d)),
    )
    assert [step for step, _ in seen[:4]] == list(STEPS)
    assert [done for _, done in seen] == [0, 1, 2, 3, 4]


def test_silence_is_returned_unchanged_with_a_note() -> None:
    silence = np.zeros((2, SR), np.float32)
    with pytest.warns(SilentInputWarning):
        out, report = enhance(silence, SR, denoise_method="gate")
    assert np.array_equal(out, silence)
    assert report.notes and report.to_dict()["loudness_after_lufs"] is None


def test_a_signal_under_the_gate_keeps_its_level() -> None:
    whisper = 1e-5 * colored_noise(1.0, SR, seed=5)
    out, report = enhance(whisper, SR, denoise_method=None)
    assert report.gain_db == 0.0 and "-70 LUFS" in report.notes[0]
    np.testing.assert_allclose(out, whisper, atol=1e-9)


@pytest.mark.parametrize(
    ("audio", "match"),
    [
        (np.full((1, SR), np.nan, np.float32), "NaN"),
        (np.full((1, SR // 10), 0.1, np.float32), "at least 400 ms"),
        (np.full((8, SR), 0.1, np.float32), "5.1"),
        (np.zeros((2, 0), np.float32), "no samples"),
    ],
    ids=["nan", "shorter than a loudness block", "7.1", "empty"],
)
def test_bad_audio_is_refused(audio: np.ndarray, match: str) -> None:
    with pytest.raises(MediaError, match=match):
        enhance(audio, SR, denoise_method="gate")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"target_lufs": 5.0}, "target_lufs"),
        ({"target_lufs": -90.0}, "target_lufs"),
        ({"true_peak_db": -30.0}, "true_peak_db"),
        ({"denoise_method": "wiener"}, "denoise_method"),
        ({"strength": 1.5}, "strength"),
    ],
)
def test_absurd_options_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        enhance(_damaged(seconds=1.0), SR, **{"denoise_method": "gate", **kwargs})


def test_enhance_file_writes_the_result_with_tags(tmp_path: Path) -> None:
    source, target = tmp_path / "take.flac", tmp_path / "out.wav"
    sf.write(source, _damaged().T, SR)
    report = enhance_file(
        source, target, denoise_method="gate", target_lufs=-18.0, tags={"comment": "prov"}
    )
    audio, rate = sf.read(target, dtype="float32", always_2d=True)
    assert (audio.shape, rate) == ((4 * SR, 2), SR)
    assert sf.info(target).subtype == "PCM_24"
    assert read_audio_tags(target)["comment"] == "prov"
    assert report.hum is not None
    _check_loudness(audio.T, SR, -18.0, -1.0)


def test_a_float_wav_stays_float(tmp_path: Path) -> None:
    source, target = tmp_path / "take.wav", tmp_path / "out.wav"
    sf.write(source, _damaged(seconds=1.0).T, SR, subtype="FLOAT")
    enhance_file(source, target, denoise_method=None)
    assert sf.info(target).subtype == "FLOAT"


def test_a_bad_file_leaves_no_output(tmp_path: Path) -> None:
    source, target = tmp_path / "broken.wav", tmp_path / "out.wav"
    audio = _damaged(seconds=1.0)
    audio[0, 100] = np.nan
    sf.write(source, audio.T, SR, subtype="FLOAT")
    with pytest.raises(MediaError, match="NaN"):
        enhance_file(source, target, denoise_method="gate")
    assert not target.exists() and list(tmp_path.iterdir()) == [source]


def test_a_silent_file_is_copied_with_a_warning(tmp_path: Path) -> None:
    source, target = tmp_path / "silent.wav", tmp_path / "out.wav"
    sf.write(source, np.zeros(SR), SR)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enhance_file(source, target, denoise_method="gate")
    assert any(issubclass(w.category, SilentInputWarning) for w in caught)
    assert np.array_equal(sf.read(target)[0], np.zeros(SR))
