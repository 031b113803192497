"""Melodies and chorales as MIDI and MusicXML, and melodies read back from MIDI files.

The composer works on :class:`~aigc_studio.datasets.melody_tokens.MelodyEvent` lists and the
harmonizer on four-voice step grids; this module turns them into ``pretty_midi`` objects (with
time and key signatures, for any sequencer) and into music21 scores written as MusicXML (bars,
ties and key signature done by music21, so the file opens in MuseScore), and reads a user's
melody file back into events with its meter and key. It does not compose or render audio.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pretty_midi

from aigc_studio.datasets.melody_tokens import MelodyEvent, midi_top_line_events
from aigc_studio.errors import MediaError, ParameterError
from aigc_studio.media.atomic import atomic_output

#: Suffixes written as MusicXML.
MUSICXML_SUFFIXES = (".musicxml", ".xml", ".mxl")
#: Suffixes written as Standard MIDI Files.
MIDI_SUFFIXES = (".mid", ".midi")
_MODES = ("major", "minor")


def check_tempo(tempo: float) -> float:
    """Return ``tempo`` (quarter notes per minute) if it is in [20, 400], else raise."""
    if not 20.0 <= tempo <= 400.0:
        raise ParameterError(f"tempo must be in [20, 400] quarter notes per minute, got {tempo}")
    return float(tempo)


def melody_to_midi(
    events: Sequence[MelodyEvent],
    *,
    tempo: float = 100.0,
    meter: str | None = None,
    key: tuple[int, str] | None = None,
    program: int = 0,
    velocity: int = 90,
) -> pretty_midi.PrettyMIDI:
    """Turn a melody into a one-track ``PrettyMIDI`` (notes joined across bar lines).

    Parameters
    ----------
    events : sequence of MelodyEvent
        Notes and rests in order. A note split at a bar line by the tokenizer (the same pitch
        again right after ``bar_start``) is written as one longer note.
    tempo : float
        Quarter notes per minute.
    meter : str, optional
        Written as a time signature (``"6/8"``).
    key : (int, str), optional
        Tonic pitch class and mode, written as a key signature.
    program : int
        General MIDI program (0 = piano).
    velocity : int
        MIDI velocity of every note.

    Returns
    -------
    pretty_midi.PrettyMIDI
    """
    seconds_per_quarter = 60.0 / check_tempo(tempo)
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    instrument = pretty_midi.Instrument(program=program, name="melody")
    time = 0.0
    for event in events:
        length = event.duration * seconds_per_quarter
        if event.pitch is not None:
            last = instrument.notes[-1] if instrument.notes else None
            tied = (
                last is not None
                and event.bar_start
                and last.pitch == event.pitch
                and abs(last.end - time) < 1e-6
            )
            if tied:
                last.end = time + length
            else:
                instrument.notes.append(
                    pretty_midi.Note(velocity, int(event.pitch), time, time + length)
                )
        time += length
    midi.instruments.append(instrument)
    _add_signatures(midi, meter, key)
    return midi


def _add_signatures(midi: pretty_midi.PrettyMIDI, meter: str | None, key: Any) -> None:
    if meter and meter != "other":
        numerator, denominator = (int(part) for part in meter.split("/"))
        midi.time_signature_changes.append(pretty_midi.TimeSignature(numerator, denominator, 0.0))
    if key is not None:
        tonic, mode = key
        midi.key_signature_changes.append(
            pretty_midi.KeySignature(int(tonic) % 12 + 12 * _MODES.index(mode), 0.0)
        )


def melody_from_midi(
    midi: pretty_midi.PrettyMIDI,
) -> tuple[list[MelodyEvent], str, tuple[int, str]]:
    """Read the top line of a MIDI file as a melody, with its meter and key.

    The meter is the file's first time signature (4/4 when it has none); the key is the file's
    first key signature, or else estimated from the melody with the Krumhansl-Schmuckler
    algorithm (music21's ``analyze("key")``).

    Returns
    -------
    events : list of MelodyEvent
    meter : str
    key : (int, str)

    Raises
    ------
    MediaError
        If the file has no notes.
    """
    events = midi_top_line_events(midi)
    if not any(event.pitch is not None for event in events):
        raise MediaError("the MIDI file has no notes to read a melody from")
    meter = "4/4"
    if midi.time_signature_changes:
        signature = midi.time_signature_changes[0]
        meter = f"{signature.numerator}/{signature.denominator}"
    if midi.key_signature_changes:
        number = int(midi.key_signature_changes[0].key_number)
        return events, meter, (number % 12, _MODES[number // 12])
    return events, meter, estimate_key(events)


def estimate_key(events: Sequence[MelodyEvent]) -> tuple[int, str]:
    """Estimate a melody's key with music21's Krumhansl-Schmuckler key finder."""
    from music21 import note, stream

    part = stream.Part()
    for event in events:
        if event.pitch is not None:
            part.append(note.Note(event.pitch, quarterLength=event.duration))
    found = part.analyze("key")
    mode = "minor" if found.mode == "minor" else "major"
    return found.tonic.pitchClass, mode


def melody_to_score(
    events: Sequence[MelodyEvent],
    *,
    meter: str | None,
    key: tuple[int, str] | None,
    tempo: float,
    title: str = "AIGC Studio melody",
) -> Any:
    """Build a music21 ``Score`` of one melody (bars, ties and beams made by music21)."""
    from music21 import note, stream

    part = stream.Part()
    part.partName = "Melody"
    for event in events:
        length = event.duration
        element = (
            note.Rest(quarterLength=length)
            if event.pitch is None
            else note.Note(event.pitch, quarterLength=length)
        )
        part.append(element)
    return _score([part], meter=meter, key=key, tempo=tempo, title=title)


def chorale_to_score(
    grid: Sequence[Sequence[tuple[int | None, bool]]],
    *,
    meter: str | None,
    key: tuple[int, str] | None,
    tempo: float,
    title: str = "AIGC Studio chorale",
) -> Any:
    """Build a four-part music21 ``Score`` (SATB) from an eighth-note step grid."""
    from music21 import clef, note, stream

    names = ("Soprano", "Alto", "Tenor", "Bass")
    parts = []
    for voice, steps in enumerate(grid):
        part = stream.Part()
        part.partName = names[voice]
        part.append(clef.BassClef() if voice >= 2 else clef.TrebleClef())
        current: Any = None
        for pitch, onset in steps:
            continues = (
                current is not None
                and not onset
                and pitch is not None
                and isinstance(current, note.Note)
                and current.pitch.midi == pitch
            )
            both_rests = pitch is None and isinstance(current, note.Rest)
            if continues or both_rests:
                current.quarterLength += 0.5
                continue
            current = (
                note.Rest(quarterLength=0.5)
                if pitch is None
                else note.Note(pitch, quarterLength=0.5)
            )
            part.append(current)
        parts.append(part)
    return _score(parts, meter=meter, key=key, tempo=tempo, title=title)


def _score(parts: list[Any], *, meter: str | None, key: Any, tempo: float, title: str) -> Any:
    from music21 import key as m21key
    from music21 import metadata, stream
    from music21 import meter as m21meter
    from music21 import tempo as m21tempo

    score = stream.Score()
    score.metadata = metadata.Metadata(title=title, composer="AIGC Studio")
    for number, part in enumerate(parts):
        if number == 0:
            part.insert(0, m21tempo.MetronomeMark(number=check_tempo(tempo)))
        if meter and meter != "other":
            part.insert(0, m21meter.TimeSignature(meter))
        if key is not None:
            tonic, mode = key
            part.insert(0, m21key.Key(pretty_midi.note_number_to_name(60 + tonic)[:-1], mode))
        score.insert(0, part.makeNotation())
    return score


def write_musicxml(score: Any, path: str | os.PathLike[str]) -> Path:
    """Write a music21 score as MusicXML (``.mxl``: compressed) atomically.

    Raises
    ------
    MediaError
        If music21 cannot write the score.
    """
    path = Path(path)
    fmt = "mxl" if path.suffix.lower() == ".mxl" else "musicxml"
    with atomic_output(path) as tmp, tempfile.TemporaryDirectory() as scratch:
        try:
            written = Path(score.write(fmt, fp=Path(scratch) / f"score{path.suffix}"))
        except Exception as exc:  # music21 raises many kinds
            raise MediaError(f"{path}: music21 could not write the score: {exc}") from exc
        Path(tmp).write_bytes(written.read_bytes())
    return path
