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

    shipped = {
        "neural-instrument",
        "vocoder-instrument",
        "denoiser-speech",
        "melody-folk",
        "chorale-harmonizer",
        "melody-vae",
        "melody-vae-2bar",
    }
    assert shipped <= set(list_shipped_weights())
    for name in shipped:
        folder = shipped_weights(name)
        config = json.loads((folder / "config.json").read_text())
        assert config["metrics"]["split"] == "test"
        assert (folder / "model.safetensors").stat().st_size < 10 * 2**20


def test_neural_instrument_plays_the_pitch_it_is_asked_for() -> None:
    model = load_trained("neural-instrument")
    result = model.generate(2, seed=0, labels=[57, 69])
    assert result["mel"].shape == (2, 128, 64)
    features = model.task.state["features"]
    for renderer, expected in (("auto", "vocoder:"), ("griffin-lim", "griffin-lim")):
        audio, how = render_mel(result["mel"], features, vocoder=renderer)
        assert how.startswith(expected)  # auto: the shipped vocoder, whose feature matches
        estimates = [estimate_pitch(note, 16000) for note in audio]
        assert estimates[0] == pytest.approx(57, abs=0.5)
        assert estimates[1] == pytest.approx(69, abs=0.5)
    assert render_mel(result["mel"], features)[1].startswith("vocoder:")  # the default


def test_shipped_vocoder_turns_a_spectrogram_into_a_note() -> None:
    from aigc_studio.dsp import harmonic_tone, log_mel_spectrogram

    tone = harmonic_tone(440.0, 1.0, 16000)[np.newaxis]
    mel = log_mel_spectrogram(tone, 16000, n_fft=1024, hop_length=256, n_mels=128, fmax=8000.0)
    generator = load_trained("vocoder-instrument").modules["generator"]
    audio = generator.synthesize(mel[0])
    assert audio.shape == (1, mel.shape[-1] * 256)
    assert estimate_pitch(audio[0], 16000) == pytest.approx(69, abs=0.5)


def test_shipped_denoiser_cleans_a_noisy_voice() -> None:
    from aigc_studio.audio.denoise import denoise, trained_denoiser
    from aigc_studio.dsp import colored_noise, harmonic_tone
    from aigc_studio.evaluation.enhancement import si_sdr

    sr = 16000
    # A voice stand-in: a gliding harmonic tone with syllable-like bursts.
    voice = np.concatenate([harmonic_tone(f, 0.25, sr) for f in (140, 160, 180, 150) * 2])
    voice *= 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * 3 * np.arange(voice.size) / sr))
    noise = np.resize(colored_noise(voice.size / sr, sr, color="white", seed=1), voice.size)
    noisy = (voice + noise * np.sqrt((voice**2).mean() / (noise**2).mean())).astype(np.float32)
    cleaned = denoise(noisy[None], sr, model=trained_denoiser())[0]
    assert si_sdr(voice, cleaned) > si_sdr(voice, noisy) + 3.0


def test_shipped_melody_model_composes_whole_bars_checked_for_copies() -> None:
    from aigc_studio.music.compose import compose_melody
    from aigc_studio.music.copy_check import corpus_index
    from aigc_studio.music.prompt import CompositionControls
    from aigc_studio.weights import shipped_weights

    model = load_trained("melody-folk")
    index = corpus_index(shipped_weights("melody-folk") / "copy-index.npz")
    controls = CompositionControls("jig", 7, "major", "6/8", 120.0, 8, 1.0)
    result = compose_melody(model, controls, seed=0, copy_index=index)
    assert sum(e.bar_start for e in result.events) == 8
    assert sum(e.duration for e in result.events) == pytest.approx(8 * 3.0)
    assert result.copy_report["length_notes"] <= 12


def test_shipped_harmonizer_keeps_the_soprano() -> None:
    from aigc_studio.datasets.chorale_tokens import VoiceStep
    from aigc_studio.music.harmonize import harmonize

    melody = [67, 67, 69, 71, 72, 71, 69, 67, 67, 66, 67, 69, 71, 71, 67, 67]
    soprano = [VoiceStep(p, True) for p in melody]
    grid = harmonize(soprano, load_trained("chorale-harmonizer"), meter="4/4", key=(7, "major"))
    assert [step.pitch for step in grid[0]] == melody
    bass = [step.pitch for step in grid[3] if step.pitch is not None]
    assert bass and max(bass) < min(melody)  # the bass sits below the tune


@pytest.mark.parametrize("name", ["melody-vae", "melody-vae-2bar"])
def test_shipped_melody_vae_makes_variations(name: str) -> None:
    from aigc_studio.datasets.melody_tokens import MelodyEvent
    from aigc_studio.music.variation import vary_melody

    vae = load_trained(name).modules["model"]
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    theme = [MelodyEvent(p, 0.5, i % 8 == 0) for i, p in enumerate(scale * 4)]
    variations = vary_melody(vae, theme, 3, spread=0.5, seed=0)
    assert len(variations) == 3
    assert all(any(e.pitch is not None for e in v) for v in variations)
