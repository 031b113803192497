from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from aigc_studio.audio.denoise import (
    SilentInputWarning,
    denoise,
    denoise_file,
    load_denoiser,
    trained_denoiser,
)
from aigc_studio.errors import MediaError, ParameterError, ToolMissingError
from aigc_studio.models.denoiser import DenoiserConfig, GRUDenoiser

SR = 16_000


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _fixed_gain_model(bias: float) -> GRUDenoiser:
    """A tiny denoiser whose gains are sigmoid(bias) everywhere: ~1 passes, ~0 mutes."""
    torch.manual_seed(0)
    model = GRUDenoiser(DenoiserConfig(hidden_size=8, gru_layers=1, n_bands=16))
    with torch.no_grad():
        model.output_layer.weight.zero_()
        model.output_layer.bias.fill_(bias)
    return model.eval()


def _tone(freq: float, sr: int, seconds: float = 1.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _noisy(channels: int = 1, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    tone = _tone(300.0, SR, seconds) * (np.arange(int(seconds * SR)) % SR < SR // 2)
    return np.stack(
        [tone + 0.03 * rng.standard_normal(tone.size).astype(np.float32) for _ in range(channels)]
    )


def test_gate_keeps_shape_and_treats_channels_independently() -> None:
    stereo = _noisy(2)
    stereo[1] *= 0.5
    out = denoise(stereo, SR, method="gate")
    assert out.shape == stereo.shape and out.dtype == np.float32
    np.testing.assert_allclose(out[1], denoise(stereo[1], SR, method="gate"), atol=1e-6)
    mono = denoise(stereo[0], SR, method="gate")
    assert mono.ndim == 1
    quiet = slice(int(1.5 * SR), 2 * SR)  # tone off, noise on
    assert np.mean(mono[quiet] ** 2) < 0.3 * np.mean(stereo[0, quiet] ** 2)


def test_six_channels_at_8_and_96_khz() -> None:
    for sr in (8000, 96_000):
        audio = np.random.default_rng(1).normal(0, 0.05, (6, sr // 2)).astype(np.float32)
        out = denoise(audio, sr, method="gate")
        assert out.shape == audio.shape and np.isfinite(out).all()


def test_net_resamples_to_the_model_rate_and_back() -> None:
    passing = _fixed_gain_model(20.0)  # gains ~1: the path itself must be transparent
    sr = 44_100
    low = _tone(1000.0, sr)
    out = denoise(np.stack([low, 0.5 * low]), sr, model=passing)
    assert out.shape == (2, sr)
    middle = slice(sr // 10, -sr // 10)
    np.testing.assert_allclose(out[0, middle], low[middle], atol=2e-3)
    np.testing.assert_allclose(out[1, middle], 0.5 * low[middle], atol=2e-3)
    high = denoise(_tone(12_000.0, sr), sr, model=passing)  # above the model's 8 kHz band
    assert np.sqrt(np.mean(high[middle] ** 2)) < 0.01


def test_net_gains_and_strength_blend() -> None:
    muting = _fixed_gain_model(-20.0)
    audio = _noisy()[0]
    assert np.sqrt(np.mean(denoise(audio, SR, model=muting) ** 2)) < 1e-3
    half = denoise(audio, SR, model=muting, strength=0.5)
    ratio = np.sqrt(np.mean(half[SR // 10 :] ** 2) / np.mean(audio[SR // 10 :] ** 2))
    assert ratio == pytest.approx(0.5, abs=0.05)
    np.testing.assert_array_equal(denoise(audio, SR, model=muting, strength=0.0), audio)


def test_dc_offset_is_removed() -> None:
    audio = _noisy()[0] + 0.4
    out = denoise(audio, SR, model=_fixed_gain_model(20.0))
    assert abs(float(out[SR:].mean())) < 0.01


def test_silence_is_returned_unchanged_with_a_note() -> None:
    silence = np.zeros((2, SR), np.float32)
    with pytest.warns(SilentInputWarning, match="silence"):
        out = denoise(silence, SR, method="gate")
    np.testing.assert_array_equal(out, silence)


@pytest.mark.parametrize(
    ("audio", "match"),
    [
        (np.full(100, 0.1, np.float32), "shorter than one"),
        (np.array([0.1] * 999 + [np.nan] * 1000, np.float32), "NaN"),
        (np.zeros((2, 3, 4), np.float32), "shape"),
    ],
)
def test_bad_audio_is_refused(audio: np.ndarray, match: str) -> None:
    with pytest.raises(MediaError, match=match):
        denoise(audio, SR, method="gate")


def test_bad_options_are_refused() -> None:
    audio = _noisy()[0]
    with pytest.raises(ParameterError, match="strength"):
        denoise(audio, SR, method="gate", strength=1.5)
    with pytest.raises(ParameterError, match="method"):
        denoise(audio, SR, method="wiener")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="sr"):
        denoise(audio, 0, method="gate")


def test_net_without_shipped_weights_says_how_to_get_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("aigc_studio.weights.shipped_weights", lambda name: None)
    with pytest.raises(ToolMissingError, match="make weights-denoiser-speech"):
        denoise(_noisy()[0], SR)
    with pytest.raises(ToolMissingError):
        trained_denoiser()


def test_load_denoiser_refuses_other_models(tmp_path: Path) -> None:
    model = _fixed_gain_model(0.0)
    assert load_denoiser(model) is model
    from aigc_studio.errors import ConfigError

    with pytest.raises(ConfigError):
        load_denoiser(tmp_path / "nothing-here")


def test_file_in_blocks_equals_array_and_keeps_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The package exports the function under the module's name: reach the module itself.
    monkeypatch.setattr(sys.modules["aigc_studio.audio.denoise"], "BLOCK_SECONDS", 0.1)
    sr = 22_050
    rng = np.random.default_rng(3)
    audio = (0.2 * rng.standard_normal((2, sr))).astype(np.float32)
    source = tmp_path / "in.wav"
    sf.write(source, audio.T, sr, subtype="FLOAT")
    model = _fixed_gain_model(0.5)
    progress: list[tuple[float, float | None]] = []
    denoise_file(
        source,
        tmp_path / "out.wav",
        model=model,
        tags={"comment": "x"},
        on_progress=lambda d, t: progress.append((d, t)),
    )
    written, rate = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)
    info = sf.info(tmp_path / "out.wav")
    assert rate == sr and written.shape == (sr, 2) and info.subtype == "FLOAT"
    np.testing.assert_allclose(written.T, denoise(audio, sr, model=model), atol=1e-5)
    assert len(progress) >= 10 and progress[-1][0] == pytest.approx(1.0)
    flac = denoise_file(source, tmp_path / "out.flac", method="gate")
    assert sf.info(flac).frames == sr and sf.info(flac).subtype == "PCM_24"


def test_file_errors_leave_no_output(tmp_path: Path) -> None:
    bad = tmp_path / "nan.wav"
    data = np.full((SR, 1), 0.1, np.float32)
    data[SR // 2] = np.nan
    sf.write(bad, data, SR, subtype="FLOAT")
    with pytest.raises(MediaError, match="NaN"):
        denoise_file(bad, tmp_path / "out.wav", method="gate")
    assert not list(tmp_path.glob("out*")) and not list(tmp_path.glob(".out*"))
    short = tmp_path / "short.wav"
    sf.write(short, np.full(50, 0.1), SR)
    with pytest.raises(MediaError, match="shorter"):
        denoise_file(short, tmp_path / "out.wav", method="gate")


def test_silent_file_is_copied_with_a_note(tmp_path: Path) -> None:
    source = tmp_path / "silent.wav"
    sf.write(source, np.zeros(SR), SR)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        denoise_file(source, tmp_path / "out.wav", method="gate")
    assert any(issubclass(w.category, SilentInputWarning) for w in caught)
    assert np.all(sf.read(tmp_path / "out.wav")[0] == 0)
