"""Token datasets of monophonic melodies for the autoregressive and VAE melody models.

Vocabulary (:class:`MelodyTokenizer`, 123 tokens)::

    0 PAD   1 BOS   2 EOS   3 BAR
    4..64    NOTE_36 .. NOTE_96      (MIDI pitch - 32)
    65       REST
    66..81   DUR_1 .. DUR_16         (duration in sixteenth notes)
    82..86   STYLE_folk STYLE_reel STYLE_jig STYLE_fiddle STYLE_chorale
    87..98   METER_2/4 METER_3/4 METER_4/4 METER_6/8 METER_9/8 METER_12/8 METER_3/8
             METER_2/2 METER_3/2 METER_6/4 METER_5/4 METER_other
    99..110  KEY_0_major .. KEY_11_major   (tonic pitch class, 0 = C)
    111..122 KEY_0_minor .. KEY_11_minor

A melody is ``BOS``, then an optional header of three control tokens ``STYLE METER KEY``, then
per event an optional ``BAR`` (the event starts a bar), a ``NOTE_p`` or ``REST`` token and its
duration, then ``EOS``. A duration is one ``DUR`` token, or several whose values add up when it
is longer than a whole note (``DUR_16 DUR_4`` = 5 quarters). Durations are quantized to
sixteenth notes; a note held across a bar line is split there and struck again after the
``BAR`` (the vocabulary has no tie). Church modes fold into the two KEY modes by their third
(ionian, lydian, mixolydian: major; aeolian, dorian, phrygian, locrian: minor); meters outside
the list are ``METER_other``. The ids below 82 are those of the first, header-less vocabulary.

Two sources here: the Bach chorales of music21's corpus (the soprano line of each of the 350
distinct chorale files, as in the melody models of Hadjeres et al. 2017, DeepBach, which use
the same corpus; header ``STYLE_chorale``, the soprano's meter, the chorale's key), and a
folder of MIDI files (the top line of each file, no header). The folk tunes of music21's corpus
are in :mod:`~aigc_studio.datasets.folk_melodies`. The train split is augmented with every
transposition (up to a tritone each way) that keeps the melody within MIDI 48-84, its KEY token
moved along; valid and test keep the original key only, so that their scores are comparable.

This module encodes and prepares caches; it does not generate music.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from aigc_studio.datasets.cache import write_cache
from aigc_studio.datasets.split import SPLITS, split_of
from aigc_studio.errors import MediaError, ParameterError

PAD, BOS, EOS, BAR = 0, 1, 2, 3
NOTE_MIN, NOTE_MAX = 36, 96
NOTE_OFFSET = 4
REST = NOTE_OFFSET + NOTE_MAX - NOTE_MIN + 1
DUR_OFFSET = REST + 1
MAX_DUR = 16
#: Control tokens, in id order after the durations (see the module docstring).
STYLES = ("folk", "reel", "jig", "fiddle", "chorale")
METERS = ("2/4", "3/4", "4/4", "6/8", "9/8", "12/8", "3/8", "2/2", "3/2", "6/4", "5/4", "other")
MODES = ("major", "minor")
STYLE_OFFSET = DUR_OFFSET + MAX_DUR
METER_OFFSET = STYLE_OFFSET + len(STYLES)
KEY_OFFSET = METER_OFFSET + len(METERS)
VOCAB_SIZE = KEY_OFFSET + 12 * len(MODES)
#: Mode names (abc, music21) and the KEY mode they fold into: the third above the tonic decides.
MODE_FAMILIES = {
    "major": "major",
    "ionian": "major",
    "lydian": "major",
    "mixolydian": "major",
    "minor": "minor",
    "aeolian": "minor",
    "dorian": "minor",
    "phrygian": "minor",
    "locrian": "minor",
}
#: Range the train-split transpositions must stay in.
AUGMENT_LOW, AUGMENT_HIGH = 48, 84
#: Transpositions tried, in semitones: the 12 keys, the original's nearest octave.
TRANSPOSITIONS = tuple(range(-6, 6))
#: Grid of the quantization, steps per quarter note.
STEPS_PER_QUARTER = 4
MIDI_SUFFIXES = (".mid", ".midi")

ProgressCallback = Callable[[str, int, int], None]


class MelodyEvent(NamedTuple):
    """One note or rest of a melody.

    Attributes
    ----------
    pitch : int or None
        MIDI pitch, ``None`` for a rest.
    duration : float
        Length in quarter notes.
    bar_start : bool
        Whether a bar begins with this event.
    """

    pitch: int | None
    duration: float
    bar_start: bool


class MelodyControls(NamedTuple):
    """The header of a melody: style, meter and key (each ``None`` where absent).

    Attributes
    ----------
    style : str or None
        One of :data:`STYLES`.
    meter : str or None
        One of :data:`METERS` (``"other"`` for a meter outside the list).
    key : (int, str) or None
        Tonic pitch class (0 = C .. 11 = B) and ``"major"`` or ``"minor"``.
    """

    style: str | None
    meter: str | None
    key: tuple[int, str] | None

    def transposed(self, shift: int) -> MelodyControls:
        """Return the controls of the melody moved by ``shift`` semitones (the tonic moves)."""
        if self.key is None:
            return self
        tonic, mode = self.key
        return self._replace(key=((tonic + shift) % 12, mode))


class MelodyPiece(NamedTuple):
    """One melody to tokenize into a cache: its id, events and header (``None``: no header)."""

    item_id: str
    events: list[MelodyEvent]
    controls: MelodyControls | None = None


def style_token(style: str) -> int:
    """Return the STYLE token of a style name, one of :data:`STYLES`.

    Raises
    ------
    ParameterError
        If the style is not in :data:`STYLES`.
    """
    if style not in STYLES:
        raise ParameterError(f"style must be one of {list(STYLES)}, got {style!r}")
    return STYLE_OFFSET + STYLES.index(style)


def style_of_token(token: int) -> str:
    """Return the style name of a STYLE token.

    Raises
    ------
    ParameterError
        If ``token`` is not a STYLE token (82-86).
    """
    index = int(token) - STYLE_OFFSET
    if not 0 <= index < len(STYLES):
        raise ParameterError(
            f"token must be a STYLE token in [{STYLE_OFFSET}, {METER_OFFSET - 1}], got {token}"
        )
    return STYLES[index]


def meter_token(meter: str | None) -> int:
    """Return the METER token of a time signature given as a music21 ratio string.

    Parameters
    ----------
    meter : str or None
        ``"6/8"``, ``"2/2"``, ... (music21's ``TimeSignature.ratioString``; spaces are ignored).
        A meter not in :data:`METERS`, or ``None`` (no time signature), gives ``METER_other``.

    Returns
    -------
    int

    Examples
    --------
    >>> meter_token("6/8") - METER_OFFSET, meter_token("7/8") == meter_token("other")
    (3, True)
    """
    name = "other" if meter is None else str(meter).replace(" ", "")
    return METER_OFFSET + (METERS.index(name) if name in METERS else len(METERS) - 1)


def meter_of_token(token: int) -> str:
    """Return the meter (``"6/8"``, ..., ``"other"``) of a METER token.

    Raises
    ------
    ParameterError
        If ``token`` is not a METER token (87-98).
    """
    index = int(token) - METER_OFFSET
    if not 0 <= index < len(METERS):
        raise ParameterError(
            f"token must be a METER token in [{METER_OFFSET}, {KEY_OFFSET - 1}], got {token}"
        )
    return METERS[index]


def mode_family(mode: str) -> str:
    """Return ``"major"`` or ``"minor"`` for a mode name, by the third above its tonic.

    Parameters
    ----------
    mode : str
        ``"major"``, ``"minor"`` or a church mode (``"dorian"``, ``"Mixolydian"``, ...).

    Raises
    ------
    ParameterError
        If the mode is not one of :data:`MODE_FAMILIES`.
    """
    family = MODE_FAMILIES.get(str(mode).lower())
    if family is None:
        raise ParameterError(f"mode must be one of {sorted(MODE_FAMILIES)}, got {mode!r}")
    return family


def key_token(tonic: int, mode: str) -> int:
    """Return the KEY token of a key.

    Parameters
    ----------
    tonic : int
        Tonic pitch class, 0 (C) to 11 (B).
    mode : {"major", "minor"}
        Fold church modes first with :func:`mode_family`.

    Returns
    -------
    int

    Raises
    ------
    ParameterError
        If ``tonic`` is outside [0, 11] or ``mode`` is not major or minor.

    Examples
    --------
    >>> key_token(7, "major") - KEY_OFFSET, key_token(9, "minor") - KEY_OFFSET
    (7, 21)
    """
    if isinstance(tonic, bool) or not isinstance(tonic, int | np.integer) or not 0 <= tonic <= 11:
        raise ParameterError(f"tonic must be a pitch class in [0, 11], got {tonic!r}")
    if mode not in MODES:
        raise ParameterError(f"mode must be one of {list(MODES)}, got {mode!r}")
    return KEY_OFFSET + 12 * MODES.index(mode) + int(tonic)


def key_of_token(token: int) -> tuple[int, str]:
    """Return the (tonic pitch class, mode) of a KEY token.

    Raises
    ------
    ParameterError
        If ``token`` is not a KEY token (99-122).
    """
    index = int(token) - KEY_OFFSET
    if not 0 <= index < 12 * len(MODES):
        raise ParameterError(
            f"token must be a KEY token in [{KEY_OFFSET}, {VOCAB_SIZE - 1}], got {token}"
        )
    return index % 12, MODES[index // 12]


def is_control_token(token: int) -> bool:
    """Return whether a token is a STYLE, METER or KEY token."""
    return STYLE_OFFSET <= int(token) < VOCAB_SIZE


def controls_of(tokens: Iterable[int]) -> MelodyControls:
    """Read the header of a token sequence.

    The header is the run of control tokens after the leading ``BOS`` (and any ``PAD``); a
    control missing from it is ``None``.

    Parameters
    ----------
    tokens : iterable of int

    Returns
    -------
    MelodyControls
        ``(style, meter, key)``, e.g. ``("jig", "6/8", (7, "major"))``.

    Examples
    --------
    >>> tokens = MelodyTokenizer().encode([(67, 1.5, True)], style="jig", meter="6/8",
    ...                                   key=(7, "major"))
    >>> controls_of(tokens)
    MelodyControls(style='jig', meter='6/8', key=(7, 'major'))
    """
    style = meter = key = None
    in_header = False
    for token in (int(t) for t in tokens):
        if token in (PAD, BOS) and not in_header:
            continue
        in_header = True
        if STYLE_OFFSET <= token < METER_OFFSET:
            style = style_of_token(token)
        elif METER_OFFSET <= token < KEY_OFFSET:
            meter = meter_of_token(token)
        elif KEY_OFFSET <= token < VOCAB_SIZE:
            key = key_of_token(token)
        else:
            break
    return MelodyControls(style, meter, key)


class MelodyTokenizer:
    """Encode melodies as tokens of the vocabulary in the module docstring and decode them.

    Examples
    --------
    >>> tok = MelodyTokenizer()
    >>> ids = tok.encode([(60, 1.0, True), (None, 0.5, False), (62, 5.0, False)])
    >>> [tok.token_names[i] for i in ids]
    ['BOS', 'BAR', 'NOTE_60', 'DUR_4', 'REST', 'DUR_2', 'NOTE_62', 'DUR_16', 'DUR_4', 'EOS']
    >>> tok.decode(ids)[2]
    MelodyEvent(pitch=62, duration=5.0, bar_start=False)
    >>> ids = tok.encode([(62, 3.0, True)], style="folk", meter="3/4", key=(2, "minor"))
    >>> [tok.token_names[i] for i in ids]
    ['BOS', 'STYLE_folk', 'METER_3/4', 'KEY_2_minor', 'BAR', 'NOTE_62', 'DUR_12', 'EOS']
    """

    pad, bos, eos, bar, rest = PAD, BOS, EOS, BAR, REST
    min_pitch, max_pitch = NOTE_MIN, NOTE_MAX

    @property
    def vocab_size(self) -> int:
        """Number of tokens (123)."""
        return VOCAB_SIZE

    @property
    def token_names(self) -> list[str]:
        """Name of every token id: ``token_names[4] == "NOTE_36"``, ``[99] == "KEY_0_major"``."""
        names = ["PAD", "BOS", "EOS", "BAR"]
        names += [f"NOTE_{pitch}" for pitch in range(NOTE_MIN, NOTE_MAX + 1)]
        names.append("REST")
        names += [f"DUR_{steps}" for steps in range(1, MAX_DUR + 1)]
        names += [f"STYLE_{style}" for style in STYLES]
        names += [f"METER_{meter}" for meter in METERS]
        names += [f"KEY_{tonic}_{mode}" for mode in MODES for tonic in range(12)]
        return names

    def note_token(self, pitch: int) -> int:
        """Return the token of a MIDI pitch in [36, 96]."""
        if not NOTE_MIN <= pitch <= NOTE_MAX:
            raise ParameterError(f"pitch must be in [{NOTE_MIN}, {NOTE_MAX}], got {pitch}")
        return NOTE_OFFSET + pitch - NOTE_MIN

    def duration_tokens(self, duration: float) -> list[int]:
        """Return the DUR tokens of a duration in quarter notes (rounded to sixteenths)."""
        steps = int(round(duration * STEPS_PER_QUARTER))
        if steps < 1:
            raise ParameterError(f"duration must be at least a sixteenth (0.25), got {duration}")
        tokens = [DUR_OFFSET + MAX_DUR - 1] * (steps // MAX_DUR)
        if steps % MAX_DUR:
            tokens.append(DUR_OFFSET + steps % MAX_DUR - 1)
        return tokens

    def encode(
        self,
        events: Iterable[tuple[int | None, float, bool]],
        *,
        style: str | None = None,
        meter: str | None = None,
        key: tuple[int, str] | None = None,
        add_bos_eos: bool = True,
    ) -> list[int]:
        """Encode a melody, with the header ``STYLE METER KEY`` when its controls are given.

        Parameters
        ----------
        events : iterable of (pitch or None, duration in quarters, bar_start)
            Notes (MIDI pitch 36-96) and rests (``None``) in order.
        style : str, optional
            One of :data:`STYLES`.
        meter : str, optional
            A music21 ratio string (``"6/8"``); one not in :data:`METERS` is written
            ``METER_other`` (see :func:`meter_token`).
        key : (int, str), optional
            Tonic pitch class (0-11) and ``"major"`` or ``"minor"``.
        add_bos_eos : bool
            Wrap the tokens in BOS ... EOS (the header follows BOS).

        Returns
        -------
        list of int

        Raises
        ------
        ParameterError
            If a pitch is outside [36, 96], a duration shorter than a sixteenth, a control is
            not in the vocabulary, or only some of ``style``, ``meter`` and ``key`` are given.
        """
        controls = {"style": style, "meter": meter, "key": key}
        given = [name for name, value in controls.items() if value is not None]
        if given and len(given) < len(controls):
            raise ParameterError(
                f"style, meter and key go together in the header; got only {', '.join(given)}"
            )
        tokens = [BOS] if add_bos_eos else []
        if style is not None and meter is not None and key is not None:
            tokens += [style_token(style), meter_token(meter), key_token(*key)]
        for pitch, duration, bar_start in events:
            if bar_start:
                tokens.append(BAR)
            tokens.append(REST if pitch is None else self.note_token(int(pitch)))
            tokens.extend(self.duration_tokens(duration))
        if add_bos_eos:
            tokens.append(EOS)
        return tokens

    def decode(self, tokens: Iterable[int]) -> list[MelodyEvent]:
        """Decode tokens into events; stops at EOS and skips what cannot be read.

        Control tokens (the header) are skipped, and so are tokens a sampler may produce out
        of grammar rather than raised on: a ``DUR`` without a note before it, a note without a
        ``DUR`` after it, PAD and BOS.

        Parameters
        ----------
        tokens : iterable of int

        Returns
        -------
        list of MelodyEvent
        """
        events: list[MelodyEvent] = []
        pending_bar = False
        pitch: int | None = None
        steps = 0
        open_event = False

        def close() -> None:
            nonlocal open_event, steps, pending_bar
            if open_event and steps > 0:
                events.append(MelodyEvent(pitch, steps / STEPS_PER_QUARTER, pending_bar))
                pending_bar = False
            open_event, steps = False, 0

        for token in (int(t) for t in tokens):
            if token == EOS:
                break
            if token == BAR:
                close()
                pending_bar = True
            elif NOTE_OFFSET <= token <= REST:
                close()
                pitch = None if token == REST else token - NOTE_OFFSET + NOTE_MIN
                open_event = True
            elif DUR_OFFSET <= token < DUR_OFFSET + MAX_DUR and open_event:
                steps += token - DUR_OFFSET + 1
        close()
        return events


def grid_steps(quarters: float) -> int:
    """Round a time in quarter notes to the sixteenth-note grid, in steps; halves round up.

    Rounding halves one way (not to even, as :func:`round` does) keeps the lengths of notes
    that all sit half a step off the grid, as they do after a stray thirty-second note.

    Examples
    --------
    >>> [grid_steps(t) for t in (0.625, 0.875, 1.125, 0.1)]
    [3, 4, 5, 0]
    """
    return math.floor(quarters * STEPS_PER_QUARTER + 0.5)


def melody_events_from_notes(
    notes: Iterable[tuple[float, float, int]],
    bar_starts: Iterable[float],
) -> list[MelodyEvent]:
    """Reduce notes to their top line on a sixteenth-note grid and cut it at bar lines.

    Times are rounded by :func:`grid_steps`. At every grid step the highest sounding note
    wins ("skyline"); a change of the winning note starts a new event, so does a bar line.
    Silence between notes becomes rests; the melody begins at the bar holding its first note
    and ends with its last note.

    Parameters
    ----------
    notes : iterable of (start, end, pitch)
        Times in quarter notes; pitches are folded by octaves into [36, 96].
    bar_starts : iterable of float
        Bar-line positions in quarter notes.

    Returns
    -------
    list of MelodyEvent
        Empty if there are no notes.
    """
    quantized = []
    for start, end, pitch in notes:
        first = grid_steps(start)
        last = max(grid_steps(end), first + 1)
        quantized.append((first, last, _fold_pitch(int(pitch))))
    if not quantized:
        return []
    length = max(last for _, last, _ in quantized)
    owner = np.full(length, -1, dtype=np.int64)
    top = np.full(length, -1, dtype=np.int64)
    # Lower notes first, so that higher ones overwrite them; ties broken by start.
    order = sorted(range(len(quantized)), key=lambda i: (quantized[i][2], quantized[i][0]))
    for index in order:
        first, last, pitch = quantized[index]
        owner[first:last] = index
        top[first:last] = pitch
    bars = sorted({grid_steps(b) for b in bar_starts})
    first_onset = min(first for first, _, _ in quantized)
    begin = max([b for b in bars if b <= first_onset], default=first_onset)
    bar_set = set(bars)
    events: list[MelodyEvent] = []
    run_start = begin
    for step in range(begin + 1, length + 1):
        boundary = step == length or step in bar_set or owner[step] != owner[step - 1]
        # Consecutive rest steps (owner -1) merge; only bar lines cut them.
        if step < length and owner[step] == -1 and owner[step - 1] == -1 and step not in bar_set:
            boundary = False
        if boundary:
            pitch = int(top[run_start])
            events.append(
                MelodyEvent(
                    None if pitch < 0 else pitch,
                    (step - run_start) / STEPS_PER_QUARTER,
                    run_start in bar_set,
                )
            )
            run_start = step
    return events


def train_transpositions(
    events: Sequence[MelodyEvent], low: int = AUGMENT_LOW, high: int = AUGMENT_HIGH
) -> list[int]:
    """Return the shifts (semitones, -6..5) that keep a melody within [low, high], 0 first.

    The original key (0) is always included, even when the melody itself leaves the range.
    """
    pitches = [e.pitch for e in events if e.pitch is not None]
    if not pitches:
        return [0]
    lowest, highest = min(pitches), max(pitches)
    fitting = [s for s in TRANSPOSITIONS if s != 0 and lowest + s >= low and highest + s <= high]
    return [0, *fitting]


def transpose_events(events: Sequence[MelodyEvent], shift: int) -> list[MelodyEvent]:
    """Return the melody moved by ``shift`` semitones (rests stay rests)."""
    return [e._replace(pitch=None if e.pitch is None else e.pitch + shift) for e in events]


def music21_part_notes(part: Any) -> list[tuple[float, float, int]]:
    """Return the notes of a music21 part as (start, end, MIDI pitch), times in quarter notes.

    Tied notes are merged, a chord gives its top note, grace notes (no duration) and chord
    symbols are dropped.
    """
    notes = []
    for element in part.stripTies().flatten().notes:
        length = float(element.quarterLength)
        # Grace notes take no time on the grid; chord symbols are not played by the melody.
        if length <= 0 or "Harmony" in element.classes:
            continue
        pitch = max(p.midi for p in element.pitches)
        start = float(element.offset)
        notes.append((start, start + length, pitch))
    return notes


def music21_part_events(part: Any) -> list[MelodyEvent]:
    """Return a music21 part as events: :func:`music21_part_notes`, cut at its measures."""
    bar_starts = [float(m.offset) for m in part.getElementsByClass("Measure")]
    return melody_events_from_notes(music21_part_notes(part), bar_starts)


def soprano_part(score: Any) -> Any:
    """Return the part named "Soprano" of a music21 score, else its first part (None if none)."""
    parts = list(score.parts)
    if not parts:
        return None
    return next((p for p in parts if "soprano" in str(p.partName or "").lower()), parts[0])


def soprano_events(score: Any) -> list[MelodyEvent]:
    """Return the soprano line of a music21 chorale score as events.

    The part named "Soprano" (else the first part) with ties merged; bar lines are its measures.
    """
    part = soprano_part(score)
    return [] if part is None else music21_part_events(part)


def first_meter(stream: Any) -> str | None:
    """Return the ratio string (``"6/8"``) of the first time signature in a music21 stream.

    ``None`` when it has none. :func:`meter_token` maps both to a METER token, and
    ``meter_of_token(meter_token(...))`` to a name of :data:`METERS`.
    """
    from music21 import meter

    signature = stream.recurse().getElementsByClass(meter.TimeSignature).first()
    return None if signature is None else str(signature.ratioString)


def key_of_score(score: Any, *, notated_tonic: bool = False) -> tuple[int, str]:
    """Return the key of a music21 score as (tonic pitch class, ``"major"`` or ``"minor"``).

    The first key signature of the score decides, read in one of three ways:

    - a ``Key`` with a mode (MusicXML ``<mode>``, abc ``K:Ador``): its tonic, the mode folded
      by :func:`mode_family`;
    - ``notated_tonic=True``: its tonic is taken as notated and only the mode is asked of
      music21's key analysis (``score.analyze("key")``), for corpora whose key field names the
      tonic but not the mode (the Essen collection, see
      :mod:`~aigc_studio.datasets.folk_melodies`);
    - a bare ``KeySignature``: the signature's major or minor key, whichever the analysis
      ranks higher.

    A score without any key signature gets the analysis's best key. The analysis is music21's
    default, the Aarden-Essen weighted key profiles (Aarden 2003) over the whole score.

    Parameters
    ----------
    score : music21.stream.Score
        A score with notes.
    notated_tonic : bool
        Trust only the tonic of the key signature (see above).

    Returns
    -------
    (int, str)
    """
    from music21 import key

    notated = score.recurse().getElementsByClass(key.KeySignature).first()
    if isinstance(notated, key.Key) and not notated_tonic:
        family = MODE_FAMILIES.get(str(notated.mode).lower())
        if family is not None:
            return notated.tonic.pitchClass, family
    analysis = score.analyze("key")
    ranking = [
        (k.tonic.pitchClass, MODE_FAMILIES.get(k.mode, "major"))
        for k in [analysis, *analysis.alternateInterpretations]
    ]
    if notated is None:
        return ranking[0]
    if notated_tonic and isinstance(notated, key.Key):
        tonic = notated.tonic.pitchClass
        candidates = [(tonic, "major"), (tonic, "minor")]
    else:
        candidates = [(notated.asKey(mode).tonic.pitchClass, mode) for mode in ("major", "minor")]
    return next((k for k in ranking if k in candidates), candidates[0])


def midi_top_line_events(midi: Any) -> list[MelodyEvent]:
    """Return the highest-note line of a ``pretty_midi.PrettyMIDI`` (drums ignored) as events.

    Times are converted to quarter notes through MIDI ticks (so tempo changes do not matter);
    bar lines are the file's downbeats.
    """
    resolution = float(midi.resolution)

    def quarters(seconds: float) -> float:
        return midi.time_to_tick(seconds) / resolution

    notes = [
        (quarters(note.start), quarters(note.end), note.pitch)
        for instrument in midi.instruments
        if not instrument.is_drum
        for note in instrument.notes
    ]
    bar_starts = [quarters(t) for t in midi.get_downbeats()]
    return melody_events_from_notes(notes, bar_starts)


def bach_chorale_files(max_pieces: int | None = None) -> list[str]:
    """Return the distinct Bach chorale files of music21's corpus, in Riemenschneider order.

    The 371 numbered chorales hold 350 distinct files (some chorales share one); both chorale
    datasets (melodies and four-part) read them from here, so they hold the same pieces.

    Raises
    ------
    ParameterError
        If ``max_pieces`` is below 1.
    """
    from music21 import corpus

    if max_pieces is not None and max_pieces < 1:
        raise ParameterError(f"max_pieces must be at least 1, got {max_pieces}")
    names = list(
        dict.fromkeys(
            corpus.chorales.Iterator(numberingSystem="riemenschneider", returnType="filename")
        )
    )
    return names if max_pieces is None else names[:max_pieces]


def prepare_bach_melodies(
    out_root: str | os.PathLike[str],
    *,
    max_pieces: int | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Tokenize the soprano lines of music21's Bach chorales into a dataset cache.

    The 371 chorales of ``music21.corpus.chorales.Iterator`` (Riemenschneider order) hold 350
    distinct files; each file is one piece with item id its BWV name (``"bwv269"``,
    ``"bwv153.1"``), split by :func:`~aigc_studio.datasets.split.split_of` of that id. Every
    melody has the header ``STYLE_chorale``, the METER of the soprano part's first time
    signature and the KEY of :func:`key_of_score` (the encoded key and mode; where the file
    gives a bare key signature, its major or minor key by music21's analysis). The cache is
    written by :func:`write_melody_cache`: each split stores ``tokens`` (variable length,
    int32, with ``tokens_offsets``), ``item_id`` (``"bwv269"``, or ``"bwv269@+3"`` for a
    transposed copy) and ``transpose`` (int16 semitones; non-zero only in train, see the
    module docstring). The manifest records ``vocab_size`` (123), ``vocab`` (special token
    ids and offsets), ``labels["token_names"]`` and, in ``stats``, the token and piece counts
    per split and the pieces per style, meter and mode.

    Parameters
    ----------
    out_root : str or PathLike
        The cache folder to write.
    max_pieces : int, optional
        Use only the first this many distinct chorales (for tests); all by default.
    progress : callable, optional
        Called as ``progress(description, done, total)`` after each chorale.

    Returns
    -------
    Path
        ``out_root``.

    Raises
    ------
    ParameterError
        If ``max_pieces`` is below 1.
    MediaError
        If no chorale can be read.
    """
    from music21 import corpus

    names = bach_chorale_files(max_pieces)
    pieces: list[MelodyPiece] = []
    skipped: list[dict[str, str]] = []
    for done, name in enumerate(names, start=1):
        item_id = Path(name).name
        try:
            piece = _chorale_piece(item_id, corpus.parse(name))
        except Exception as exc:  # music21 raises many kinds on odd files
            skipped.append({"file": name, "reason": f"{type(exc).__name__}: {exc}"})
        else:
            if piece is not None:
                pieces.append(piece)
            else:
                skipped.append({"file": name, "reason": "no notes in the soprano part"})
        if progress is not None:
            progress("tokenize bach chorales", done, len(names))
    params = {
        "source": "music21.corpus.chorales.Iterator (soprano part)",
        "header": "STYLE_chorale, the soprano's first time signature, key_of_score(score)",
        "max_pieces": max_pieces,
    }
    return write_melody_cache(out_root, "bach-melodies", pieces, params, skipped)


def _chorale_piece(item_id: str, score: Any) -> MelodyPiece | None:
    part = soprano_part(score)
    events = [] if part is None else music21_part_events(part)
    if not events:
        return None
    meter = meter_of_token(meter_token(first_meter(part)))
    return MelodyPiece(item_id, events, MelodyControls("chorale", meter, key_of_score(score)))


def find_midi_files(source_dir: str | os.PathLike[str]) -> list[Path]:
    """Return the ``.mid``/``.midi`` files under a folder, recursively, sorted.

    Raises
    ------
    ParameterError
        If ``source_dir`` is not a folder.
    """
    folder = Path(source_dir)
    if not folder.is_dir():
        raise ParameterError(f"source_dir must be a folder, got {folder}")
    found = [
        path
        for path in folder.rglob("*")
        if path.is_file()
        and path.suffix.lower() in MIDI_SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def prepare_midi_folder_tokens(
    source_dir: str | os.PathLike[str],
    out_root: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
) -> Path:
    """Tokenize the top line of every MIDI file in a folder into a dataset cache.

    The cache has the fields of :func:`prepare_bach_melodies` but no header (a MIDI file says
    nothing of its style, and its key and meter events are often missing or wrong); the item
    id is the file's path relative to the folder, which also decides its split. Unreadable
    files are listed under the manifest's ``"skipped"``.

    Parameters
    ----------
    source_dir : str or PathLike
        Folder of ``.mid``/``.midi`` files, searched recursively.
    out_root : str or PathLike
        The cache folder to write.
    progress : callable, optional
        Called as ``progress(description, done, total)`` after each file.

    Returns
    -------
    Path
        ``out_root``.

    Raises
    ------
    ParameterError
        If ``source_dir`` is not a folder.
    MediaError
        If no file holds a readable melody.
    """
    from aigc_studio.media import load_midi

    source = Path(source_dir)
    files = find_midi_files(source)
    pieces: list[MelodyPiece] = []
    skipped: list[dict[str, str]] = []
    for done, path in enumerate(files, start=1):
        relative = path.relative_to(source).as_posix()
        try:
            events = midi_top_line_events(load_midi(path))
        except MediaError as exc:
            skipped.append({"file": relative, "reason": str(exc)})
        else:
            if events:
                pieces.append(MelodyPiece(relative, events))
            else:
                skipped.append({"file": relative, "reason": "no pitched notes"})
        if progress is not None:
            progress(f"tokenize {source.name}", done, len(files))
    params = {"source_dir": str(source.resolve()), "source": "top line of each MIDI file"}
    return write_melody_cache(out_root, source.name or "midi-folder", pieces, params, skipped)


def write_melody_cache(
    out_root: str | os.PathLike[str],
    name: str,
    pieces: Sequence[MelodyPiece],
    params: Mapping[str, Any],
    skipped: Sequence[Mapping[str, str]],
    *,
    style_field: bool = False,
    stats: Mapping[str, Any] | None = None,
) -> Path:
    """Tokenize melodies into a dataset cache, augmenting the train split by transposition.

    Each piece goes to the split :func:`~aigc_studio.datasets.split.split_of` its id gives; in
    train, every shift of :func:`train_transpositions` adds a copy with id ``"<id>@+3"`` (the
    header's KEY moved along, :meth:`MelodyControls.transposed`). Each split stores ``tokens``
    (variable length, int32, with ``tokens_offsets``), ``item_id`` and ``transpose`` (int16
    semitones), and with ``style_field`` also ``style`` (the piece's style name).

    Parameters
    ----------
    out_root : str or PathLike
        The cache folder to write.
    name : str
        Dataset name for the manifest.
    pieces : sequence of MelodyPiece
        The melodies, with their header controls or ``None`` for no header.
    params : mapping
        How the cache was made, recorded in the manifest (the augmentation, quantization and
        split rules are added).
    skipped : sequence of mapping
        Pieces left out and why, recorded under the manifest's ``"skipped"``.
    style_field : bool
        Store each item's style (every piece must then have controls with a style).
    stats : mapping, optional
        More manifest statistics, beside the token and piece counts per split and, for pieces
        with headers, the pieces per style and split, per meter and per mode.

    Returns
    -------
    Path
        ``out_root``.

    Raises
    ------
    MediaError
        If there are no pieces.
    ParameterError
        If ``style_field`` is set and a piece has no style.
    """
    if not pieces:
        reasons = f" (e.g. {skipped[0]['file']}: {skipped[0]['reason']})" if skipped else ""
        raise MediaError(f"{name}: no readable melody among {len(skipped)} piece(s){reasons}")
    if style_field and any(p.controls is None or p.controls.style is None for p in pieces):
        raise ParameterError("style_field needs a style in every piece's controls")
    tokenizer = MelodyTokenizer()
    columns: dict[str, dict[str, list]] = {
        split: {"tokens": [], "item_id": [], "transpose": [], "style": []} for split in SPLITS
    }
    pieces_per_split = dict.fromkeys(SPLITS, 0)
    styles: dict[str, dict[str, int]] = {}
    meters: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    for item_id, events, controls in pieces:
        split = split_of(item_id)
        pieces_per_split[split] += 1
        if controls is not None:
            per_split = styles.setdefault(str(controls.style), dict.fromkeys(SPLITS, 0))
            per_split[split] += 1
            meters[str(controls.meter if controls.meter in METERS else "other")] += 1
            modes[controls.key[1] if controls.key is not None else "none"] += 1
        shifts = train_transpositions(events) if split == "train" else [0]
        for shift in shifts:
            moved = transpose_events(events, shift)
            header = {} if controls is None else controls.transposed(shift)._asdict()
            tokens = tokenizer.encode(moved, **header)
            columns[split]["tokens"].append(np.asarray(tokens, dtype=np.int32))
            columns[split]["item_id"].append(item_id if shift == 0 else f"{item_id}@{shift:+d}")
            columns[split]["transpose"].append(shift)
            columns[split]["style"].append("" if controls is None else str(controls.style))
    fields_by_split = {
        split: {
            "tokens": columns[split]["tokens"],
            "item_id": _string_array(columns[split]["item_id"]),
            "transpose": np.asarray(columns[split]["transpose"], dtype=np.int16),
            **({"style": _string_array(columns[split]["style"])} if style_field else {}),
        }
        for split in SPLITS
    }
    token_counts = {split: int(sum(len(t) for t in columns[split]["tokens"])) for split in SPLITS}
    params = {
        **params,
        "augment": f"train: transpositions {TRANSPOSITIONS[0]}..{TRANSPOSITIONS[-1]} "
        f"within MIDI {AUGMENT_LOW}-{AUGMENT_HIGH}",
        "quantization": "sixteenth notes",
        "split": "split_of(piece id, valid_fraction=0.1, test_fraction=0.1)",
    }
    all_stats: dict[str, Any] = {"tokens": token_counts, "pieces": pieces_per_split}
    if styles:
        all_stats.update(styles=styles, meters=dict(meters.most_common()), modes=dict(modes))
    return write_cache(
        out_root,
        name,
        params,
        fields_by_split,
        stats={**all_stats, **(stats or {})},
        labels={"token_names": tokenizer.token_names},
        extra={
            "vocab_size": tokenizer.vocab_size,
            "vocab": {
                "size": tokenizer.vocab_size,
                "pad": PAD,
                "bos": BOS,
                "eos": EOS,
                "bar": BAR,
                "rest": REST,
                "note_min": NOTE_MIN,
                "note_max": NOTE_MAX,
                "dur_offset": DUR_OFFSET,
                "style_offset": STYLE_OFFSET,
                "meter_offset": METER_OFFSET,
                "key_offset": KEY_OFFSET,
                "steps_per_quarter": STEPS_PER_QUARTER,
            },
            "skipped": list(skipped),
        },
    )


def _string_array(values: Sequence[str]) -> np.ndarray:
    return np.asarray(values, dtype=str) if values else np.zeros(0, dtype="<U1")


def _fold_pitch(pitch: int) -> int:
    while pitch < NOTE_MIN:
        pitch += 12
    while pitch > NOTE_MAX:
        pitch -= 12
    return pitch
