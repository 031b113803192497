from __future__ import annotations

from pathlib import Path

import pretty_midi
import pytest

from aigc_studio.errors import MediaError
from aigc_studio.media import load_midi, read_midi_tags, save_midi


def scale_midi() -> pretty_midi.PrettyMIDI:
    midi = pretty_midi.PrettyMIDI(initial_tempo=100)
    piano = pretty_midi.Instrument(program=0)
    for i, pitch in enumerate([60, 62, 64, 65, 67]):
        piano.notes.append(
            pretty_midi.Note(velocity=90, pitch=pitch, start=i * 0.5, end=i * 0.5 + 0.4)
        )
    midi.instruments.append(piano)
    return midi


def test_round_trip_keeps_notes_and_tags(tmp_path: Path) -> None:
    path = save_midi(tmp_path / "scale.mid", scale_midi(), tags={"comment": '{"seed": 3}'})
    loaded = load_midi(path)
    assert [n.pitch for n in loaded.instruments[0].notes] == [60, 62, 64, 65, 67]
    assert loaded.instruments[0].notes[2].start == pytest.approx(1.0, abs=0.01)
    assert read_midi_tags(path) == {"comment": '{"seed": 3}'}


def test_saving_does_not_modify_the_object(tmp_path: Path) -> None:
    midi = scale_midi()
    save_midi(tmp_path / "a.mid", midi, tags={"x": "1"})
    assert midi.text_events == []


def test_empty_midi_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no notes"):
        save_midi(tmp_path / "empty.mid", pretty_midi.PrettyMIDI())
    assert not (tmp_path / "empty.mid").exists()


@pytest.mark.parametrize("content", [b"not midi at all", b"MThd\x00\x00\x00\x06\x00\x01"])
def test_corrupt_midi(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    with pytest.raises(MediaError, match="bad.mid"):
        load_midi(path)


def test_missing_midi(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no such file"):
        load_midi(tmp_path / "none.mid")
