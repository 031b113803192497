"""Read and write Standard MIDI Files through pretty_midi.

The studio stores provenance in a MIDI text meta event at time zero (pretty_midi's ``Text``
events are written to the first track), which every sequencer preserves and ignores.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pretty_midi

from aigc_studio.errors import MediaError
from aigc_studio.media.atomic import atomic_output
from aigc_studio.media.checks import existing_file

#: Text events starting with this prefix carry studio tags (``name=value``).
TAG_PREFIX = "aigc:"


def load_midi(path: str | os.PathLike[str]) -> pretty_midi.PrettyMIDI:
    """Load a Standard MIDI File.

    Parameters
    ----------
    path : str or PathLike
        A ``.mid``/``.midi`` file.

    Returns
    -------
    pretty_midi.PrettyMIDI

    Raises
    ------
    MediaError
        If the file is missing, empty, not MIDI, corrupt, or holds no notes.
    """
    file = existing_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pretty_midi warns on odd but valid meta events
            midi = pretty_midi.PrettyMIDI(str(file))
    except Exception as exc:
        first = str(exc).strip().splitlines()
        reason = first[0] if first else type(exc).__name__
        raise MediaError(f"{file}: not a valid MIDI file ({reason})") from exc
    if not any(instrument.notes for instrument in midi.instruments):
        raise MediaError(f"{file}: MIDI file holds no notes")
    return midi


def save_midi(
    path: str | os.PathLike[str],
    midi: pretty_midi.PrettyMIDI,
    *,
    tags: dict[str, str] | None = None,
) -> Path:
    """Write a MIDI file atomically, embedding ``tags`` as text meta events at time zero.

    Parameters
    ----------
    path : str or PathLike
        Destination ``.mid`` file.
    midi : pretty_midi.PrettyMIDI
        The music; it is not modified (tags go into a copy of its text events).
    tags : dict of str to str, optional
        Written as ``aigc:name=value`` text events; read back with :func:`read_midi_tags`.

    Returns
    -------
    Path

    Raises
    ------
    MediaError
        If the object holds no notes or writing fails.
    """
    out = Path(path)
    if not any(instrument.notes for instrument in midi.instruments):
        raise MediaError(f"{out}: refusing to write a MIDI file with no notes")
    original_events = list(midi.text_events)
    midi.text_events = [
        event for event in original_events if not event.text.startswith(TAG_PREFIX)
    ] + [pretty_midi.Text(f"{TAG_PREFIX}{k}={v}", 0.0) for k, v in (tags or {}).items()]
    try:
        with atomic_output(out) as tmp:
            midi.write(str(tmp))
    except MediaError:
        raise
    except Exception as exc:
        raise MediaError(f"{out}: cannot write MIDI ({exc})") from exc
    finally:
        midi.text_events = original_events
    return out


def read_midi_tags(path: str | os.PathLike[str]) -> dict[str, str]:
    """Return the studio tags embedded in a MIDI file by :func:`save_midi`.

    Raises
    ------
    MediaError
        If the file is not valid MIDI.
    """
    midi = load_midi(path)
    tags: dict[str, str] = {}
    for event in midi.text_events:
        if event.text.startswith(TAG_PREFIX) and "=" in event.text:
            name, _, value = event.text[len(TAG_PREFIX) :].partition("=")
            tags[name] = value
    return tags
