"""The models shipped in ``aigc_studio/weights`` load and do their job."""

from __future__ import annotations

import numpy as np
import pytest

from aigc_studio.evaluation.pitch import estimate_pitch
from aigc_studio.training import load_trained
from aigc_studio.training.mel_rendering import render_mel
from aigc_studio.weights import list_shipped_weights


def test_both_generative_core_models_are_shipped_with_their_metrics() -> None:
    import json

    from aigc_studio.weights import shipped_weights

    assert {"neural-instrument", "vocoder-instrument"} <= set(list_shipped_weights())
    for name in ("neural-instrument", "vocoder-instrument"):
        folder = shipped_weights(name)
        config = json.loads((folder / "config.json").read_text())
        assert config["metrics"]["split"] == "test"
        assert (folder / "model.safetensors").stat().st_size < 10 * 2**20


def test_neural_instrument_plays_the_pitch_it_is_asked_for() -> None:
    model = load_trained("neural-instrument")
    result = model.generate(2, seed=0, labels=[57, 69])
    assert result["mel"].shape == (2, 128, 64)
    audio, how = render_mel(result["mel"], model.task.state["features"])
    assert how == "griffin-lim"
    estimates = [estimate_pitch(note, 16000) for note in audio]
    assert estimates[0] == pytest.approx(57, abs=0.5)
    assert estimates[1] == pytest.approx(69, abs=0.5)


def test_shipped_vocoder_turns_a_spectrogram_into_a_note() -> None:
    from aigc_studio.dsp import harmonic_tone, log_mel_spectrogram

    tone = harmonic_tone(440.0, 1.0, 16000)[np.newaxis]
    mel = log_mel_spectrogram(tone, 16000, n_fft=1024, hop_length=256, n_mels=128, fmax=8000.0)
    generator = load_trained("vocoder-instrument").modules["generator"]
    audio = generator.synthesize(mel[0])
    assert audio.shape == (1, mel.shape[-1] * 256)
    assert estimate_pitch(audio[0], 16000) == pytest.approx(69, abs=0.5)
