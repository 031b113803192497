from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from aigc_studio.errors import ParameterError
from aigc_studio.music.synthesizer import synthesize_midi, timbre_for

SR = 16_000


def one_track(program: int, notes: list[tuple[int, float, float, int]], *, drum: bool = False):
    midi = pretty_midi.PrettyMIDI()
    track = pretty_midi.Instrument(program=program, is_drum=drum)
    track.notes += [pretty_midi.Note(v, p, s, e) for p, s, e, v in notes]
    midi.instruments.append(track)
    return midi, track


def dominant_hz(signal: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.fft.rfftfreq(len(signal), 1 / sr)[np.argmax(spectrum)])


def test_timbres_follow_general_midi_families() -> None:
    assert timbre_for(0).name == "piano"
    assert timbre_for(41).name == "bowed"  # viola
    assert timbre_for(46).name == "pluck"  # harp
    assert timbre_for(52).name == "voice"  # choir aahs
    assert timbre_for(73).name == "flute"
    assert timbre_for(33).name == "bass"
    with pytest.raises(ParameterError, match="program"):
        timbre_for(128)


@pytest.mark.parametrize("program", [0, 19, 40, 73])
def test_note_sounds_at_its_pitch(program: int) -> None:
    midi, _ = one_track(program, [(69, 0.0, 1.0, 100)])
    audio = synthesize_midi(midi, SR)
    assert audio.shape[0] == 2 and audio.dtype == np.float32
    assert dominant_hz(audio[0, : SR // 2], SR) == pytest.approx(440.0, abs=4.0)


def test_velocity_sets_gain() -> None:
    loud = synthesize_midi(one_track(19, [(60, 0.0, 0.5, 120)])[0], SR)
    soft = synthesize_midi(one_track(19, [(60, 0.0, 0.5, 60)])[0], SR)
    ratio = np.sqrt(np.mean(loud**2) / np.mean(soft**2))
    assert ratio == pytest.approx(4.0, rel=0.05)  # amplitude (v / 127) ** 2


def test_piano_decays_while_organ_sustains() -> None:
    def late_to_early(program: int) -> float:
        audio = synthesize_midi(one_track(program, [(60, 0.0, 3.0, 100)])[0], SR)[0]
        early, late = audio[SR // 10 : SR // 2], audio[int(2.4 * SR) : int(2.9 * SR)]
        return float(np.sqrt(np.mean(late**2) / np.mean(early**2)))

    assert late_to_early(0) < 0.2
    assert late_to_early(19) > 0.9


def test_no_harmonic_above_nyquist() -> None:
    # An organ's 2nd harmonic of C7 (4186 Hz) is above 8 kHz / 2: only the fundamental remains.
    midi, _ = one_track(19, [(96, 0.0, 0.5, 100)])
    audio = synthesize_midi(midi, 8_000)[0, 400:3600]
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio)))) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / 8_000)
    near = np.abs(freqs - 2093.0) < 30
    assert spectrum[near].sum() / spectrum.sum() > 0.99


def test_pan_and_volume_controllers() -> None:
    midi, track = one_track(19, [(60, 0.0, 0.5, 100)])
    track.control_changes.append(pretty_midi.ControlChange(10, 0, 0.0))  # hard left
    audio = synthesize_midi(midi, SR)
    assert np.max(np.abs(audio[1])) < 1e-6 < np.max(np.abs(audio[0]))
    track.control_changes.append(pretty_midi.ControlChange(7, 50, 0.0))
    quieter = synthesize_midi(midi, SR)
    assert np.max(np.abs(quieter[0])) < 0.5 * np.max(np.abs(audio[0]))


def test_sustain_pedal_holds_notes() -> None:
    midi, track = one_track(19, [(60, 0.0, 0.2, 100)])
    dry = synthesize_midi(midi, SR)
    track.control_changes += [
        pretty_midi.ControlChange(64, 127, 0.0),
        pretty_midi.ControlChange(64, 0, 1.5),
    ]
    held = synthesize_midi(midi, SR)
    at_one_second = slice(SR, SR + 800)
    assert dry.shape[1] < SR  # without the pedal the note is over well before 1 s
    assert np.max(np.abs(held[0, at_one_second])) > 0.01


def test_drums_are_rendered_deterministically() -> None:
    midi, _ = one_track(
        0, [(36, 0.0, 0.1, 100), (38, 0.5, 0.6, 100), (42, 1.0, 1.1, 90)], drum=True
    )
    first, second = synthesize_midi(midi, SR), synthesize_midi(midi, SR)
    assert np.max(np.abs(first)) > 0.01
    np.testing.assert_array_equal(first, second)
    kick = first[0, : SR // 10]
    assert dominant_hz(kick, SR) < 160  # a kick is low
