"""Write one piece of music to every output the user named: MIDI, MusicXML or rendered audio.

The composition commands make a ``pretty_midi`` object and a way to build a music21 score; the
suffix of each ``-o`` path picks the writer (``.mid``; ``.musicxml``/``.xml``/``.mxl``; any
audio suffix, rendered with fluidsynth or the built-in synthesizer and loudness-normalized).
Each file gets its provenance embedded where the format has room and recorded in the library.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pretty_midi

from aigc_studio.cli.runtime import record_output, say, stderr
from aigc_studio.errors import ParameterError
from aigc_studio.music.scores import MIDI_SUFFIXES, MUSICXML_SUFFIXES

#: Audio suffixes a rendering may be written to.
AUDIO_OUTPUT_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


@dataclass
class RenderOptions:
    """How audio outputs are rendered (see ``aigc music render``)."""

    instrument: str | None = None
    method: str = "auto"
    target_lufs: float = -16.0
    true_peak: float = -1.0
    sr: int = 44_100


def check_output_paths(paths: Sequence[Path]) -> list[Path]:
    """Refuse an empty list, unknown suffixes and missing folders before any work is done."""
    if not paths:
        raise ParameterError("give at least one output with -o (.mid, .musicxml or .wav)")
    known = MIDI_SUFFIXES + MUSICXML_SUFFIXES + AUDIO_OUTPUT_SUFFIXES
    for path in paths:
        if path.suffix.lower() not in known:
            raise ParameterError(
                f"{path}: unknown output type {path.suffix or '(none)'}; use one of "
                f"{', '.join(known)}"
            )
        if not path.parent.exists():
            raise ParameterError(f"{path}: the folder {path.parent} does not exist")
        if path.is_dir():
            raise ParameterError(f"{path} is a folder; give a file name")
    return list(paths)


def write_music(
    paths: Sequence[Path],
    midi: pretty_midi.PrettyMIDI,
    make_score: Callable[[], Any],
    provenance_for: Callable[[str], Any],
    render: RenderOptions,
) -> None:
    """Write ``midi`` to each path by its suffix, with provenance.

    Parameters
    ----------
    paths : sequence of Path
        Checked with :func:`check_output_paths`.
    midi : pretty_midi.PrettyMIDI
        The music.
    make_score : callable
        Returns the music21 score for MusicXML outputs (built only when one is asked for).
    provenance_for : callable
        ``provenance_for(kind)`` returns the Provenance of an output of that kind
        (``"midi"``, ``"score"``, ``"audio"``).
    render : RenderOptions
        Rendering of audio outputs.
    """
    from aigc_studio.media import save_audio, save_midi
    from aigc_studio.music.rendering import RenderFallbackWarning, render_midi
    from aigc_studio.music.scores import write_musicxml

    for path in paths:
        suffix = path.suffix.lower()
        if suffix in MIDI_SUFFIXES:
            prov = provenance_for("midi")
            save_midi(path, midi, tags=prov.as_tags())
        elif suffix in MUSICXML_SUFFIXES:
            prov = provenance_for("score")
            write_musicxml(make_score(), path)
        else:
            prov = provenance_for("audio")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", RenderFallbackWarning)
                audio, rate, used = render_midi(
                    midi,
                    sr=render.sr,
                    instrument=render.instrument,
                    target_lufs=render.target_lufs,
                    true_peak_dbtp=render.true_peak,
                    method=render.method,
                )
            save_audio(path, audio, rate, tags=prov.as_tags())
            for warning in caught:
                stderr.print(f"note: {warning.message}", markup=False)
            say(f"rendered {path.name} with {used}")
        record_output(path, prov)
