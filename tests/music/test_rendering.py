from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from aigc_studio.dsp import measure_loudness
from aigc_studio.errors import MediaError, ParameterError, ToolMissingError
from aigc_studio.music.rendering import (
    INSTRUMENTS,
    RENDERERS,
    RenderFallbackWarning,
    choose_method,
    render_midi,
    with_program,
)
from aigc_studio.system_tools import find_soundfont

SR = 16_000
HAS_FLUIDSYNTH = shutil.which("fluidsynth") is not None and find_soundfont() is not None


def tune(program: int = 0, pitches: tuple[int, ...] = (60, 64, 67, 72), step: float = 0.4):
    midi = pretty_midi.PrettyMIDI()
    track = pretty_midi.Instrument(program=program)
    track.notes += [
        pretty_midi.Note(90, p, i * step, (i + 1) * step) for i, p in enumerate(pitches)
    ]
    midi.instruments.append(track)
    return midi


@pytest.fixture
def no_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH without fluidsynth and no soundfont."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("AIGC_SOUNDFONT", str(tmp_path / "missing.sf2"))


def test_synth_render_is_normalized_stereo() -> None:
    audio, sr, used = render_midi(tune(), sr=SR, method="synth", target_lufs=-20.0)
    assert sr == SR and audio.shape[0] == 2 and audio.dtype == np.float32
    assert audio.shape[1] >= int(1.6 * SR)  # four 0.4 s notes plus their release
    report = measure_loudness(audio, sr)
    assert report.integrated_lufs == pytest.approx(-20.0, abs=0.3)
    assert report.true_peak_dbtp <= -1.0 + 0.05
    assert used == "synth (built-in synthesizer)"


def test_true_peak_ceiling_wins_over_target() -> None:
    audio, sr, _ = render_midi(tune(), sr=SR, method="synth", target_lufs=0.0, true_peak_dbtp=-6.0)
    report = measure_loudness(audio, sr)
    assert report.true_peak_dbtp <= -6.0 + 0.05 and report.integrated_lufs < -3.0


def test_instrument_applies_to_every_track_but_not_the_input() -> None:
    midi = tune(program=0)
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes.append(pretty_midi.Note(100, 36, 0.0, 0.1))
    midi.instruments.append(drums)
    changed = with_program(midi, INSTRUMENTS["flute"])
    assert [t.program for t in changed.instruments] == [73, 0]
    assert midi.instruments[0].program == 0
    piano, _, _ = render_midi(tune(), sr=SR, method="synth")
    flute, _, _ = render_midi(tune(), sr=SR, method="synth", instrument="flute")
    assert not np.allclose(piano[:, : flute.shape[1]], flute[:, : piano.shape[1]], atol=1e-3)


def test_a_short_note_is_padded_for_loudness_measurement() -> None:
    audio, sr, _ = render_midi(tune(pitches=(69,), step=0.05), sr=SR, method="synth")
    assert audio.shape[1] >= sr // 2 and np.isfinite(audio).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sr": 100}, "sr must be"),
        ({"sr": 10_000_000}, "sr must be"),
        ({"sr": 44100.5}, "sr must be"),
        ({"instrument": "kazoo"}, "instrument must be one of"),
        ({"method": "theremin"}, "method must be one of"),
        ({"target_lufs": 5.0}, "target_lufs"),
        ({"true_peak_dbtp": -40.0}, "true_peak_dbtp"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        render_midi(tune(), **{"method": "synth", **kwargs})


def test_bad_music_is_refused() -> None:
    with pytest.raises(MediaError, match="no notes"):
        render_midi(pretty_midi.PrettyMIDI(), method="synth")
    too_long = tune()
    too_long.instruments[0].notes.append(pretty_midi.Note(80, 60, 1850.0, 1851.0))
    with pytest.raises(MediaError, match="30 min"):
        render_midi(too_long, method="synth")
    silent = tune()
    for note in silent.instruments[0].notes:
        note.velocity = 0
    with pytest.raises(MediaError, match="silence"):
        render_midi(silent, sr=SR, method="synth")
    with pytest.raises(ParameterError, match="PrettyMIDI"):
        render_midi("tune.mid", method="synth")  # type: ignore[arg-type]


def test_a_registered_renderer_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(midi: pretty_midi.PrettyMIDI, sr: int, *, soundfont: object = None):
        t = np.arange(int(midi.get_end_time() * sr)) / sr
        tone = 0.1 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
        return np.stack([tone, tone]), "fake (a sine)"

    monkeypatch.setitem(RENDERERS, "fake", fake)
    audio, _, used = render_midi(tune(), sr=SR, method="fake")
    assert used == "fake (a sine)" and audio.shape == (2, int(1.6 * SR))


def test_auto_falls_back_to_synth_with_a_note(no_tools: None) -> None:
    method, note = choose_method()
    assert method == "synth" and note is not None and "fluidsynth is not installed" in note
    with pytest.warns(RenderFallbackWarning, match="apt-get install fluidsynth"):
        _, _, used = render_midi(tune(), sr=SR)
    assert used.startswith("synth (built-in synthesizer: fluidsynth is not installed")


def test_explicit_fluidsynth_without_it_is_a_clear_error(no_tools: None) -> None:
    with pytest.raises(ToolMissingError, match="fluidsynth is not installed"):
        render_midi(tune(), sr=SR, method="fluidsynth")


@pytest.mark.skipif(not shutil.which("fluidsynth"), reason="fluidsynth is not installed")
def test_auto_names_a_missing_soundfont(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIGC_SOUNDFONT", str(tmp_path / "missing.sf2"))
    method, note = choose_method()
    assert method == "synth" and note is not None and "soundfont" in note
    with pytest.raises(MediaError, match="no such soundfont"):
        render_midi(tune(), sr=SR, method="fluidsynth", soundfont=tmp_path / "missing.sf2")


@pytest.mark.skipif(not HAS_FLUIDSYNTH, reason="fluidsynth or a GM soundfont is not installed")
def test_fluidsynth_render() -> None:
    midi = tune(pitches=(69, 69, 69, 69))
    audio, sr, used = render_midi(midi, sr=22_050, instrument="flute", target_lufs=-18.0)
    assert used.startswith("fluidsynth (") and used.endswith(".sf2)")
    assert audio.shape[0] == 2 and audio.shape[1] >= int(1.6 * sr)
    assert measure_loudness(audio, sr).integrated_lufs == pytest.approx(-18.0, abs=0.5)
    mono = audio.mean(axis=0)[: int(1.5 * sr)]
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    peak_hz = np.fft.rfftfreq(len(mono), 1 / sr)[np.argmax(spectrum)]
    assert peak_hz == pytest.approx(440.0, abs=5.0)  # a flute A4
