"""Token datasets of four-voice chorales (soprano, alto, tenor, bass) for the harmonizer.

Vocabulary (:class:`ChoraleTokenizer`, 90 tokens)::

    0 PAD   1 BOS   2 EOS   3 HOLD   4 REST
    5..53   NOTE_36 .. NOTE_84        (MIDI pitch - 31)
    54..65  METER_2/4, METER_3/4, METER_4/4, METER_6/8, METER_9/8, METER_12/8, METER_3/8,
            METER_2/2, METER_3/2, METER_6/4, METER_5/4, METER_other
    66..89  KEY_0_major .. KEY_11_major, KEY_0_minor .. KEY_11_minor   (tonic pitch class)

The METER and KEY names are those of the melody vocabulary; their ids differ.

A chorale is a grid of eighth-note steps, four voices by ``T`` steps; each voice at each step
is a :class:`VoiceStep`: a note struck there (``NOTE_p``), a note held from the step before
(``HOLD``) or silence (``REST``). Step 0 is a downbeat: a pickup is padded with rests. The
sequence is the header ``BOS METER KEY PAD``, then one group of four tokens per
``t = -D .. T-1``, ``(S[t+D], A[t], T[t], B[t])`` with the lookahead ``D = LOOKAHEAD = 8``
(one 4/4 bar; voices outside ``[0, T)`` are REST), then ``EOS EOS EOS EOS``. The soprano runs a
bar ahead so that a model harmonizing a given melody, whose soprano tokens are imposed, sees
where the tune goes before it writes the lower voices. Every sequence is a multiple of 4 long,
so windows of a concatenated stream with a stride that is a multiple of 4 keep each token's
role (soprano, alto, tenor, bass) at its position modulo 4.

Quantization to eighths keeps what a chorale harmony needs and drops passing sixteenths: each
voice takes, at the start of each step, the note that sounds then (the highest of a chord, the
lowest in the bass), so a note keeps the eighth it starts on and a sixteenth that starts
between two eighths is dropped, the note before it held through (a dotted eighth and a
sixteenth become a quarter). Only a step that would otherwise be silent takes a note starting
in its second half. In music21's chorales no note that starts between two eighths lasts
longer than an eighth.

The source is music21's Bach chorales, the same 350 distinct files, piece ids and split as
the ``bach-melodies`` dataset (:func:`~aigc_studio.datasets.melody_tokens.prepare_bach_melodies`);
the 19 files without exactly four parts (instrumental parts, or a fifth voice) are skipped.
The train split is augmented with every transposition from -6 to +5 semitones that keeps all
four voices within MIDI 36-84 (the note range of the vocabulary).

This module encodes, decodes and prepares caches, and converts grids to and from MIDI and
music21 scores; it does not generate music (see :mod:`aigc_studio.music.harmonize`).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from aigc_studio.datasets.cache import write_cache
from aigc_studio.datasets.melody_tokens import bach_chorale_files
from aigc_studio.datasets.split import SPLITS, split_of
from aigc_studio.errors import MediaError, ParameterError

PAD, BOS, EOS, HOLD, REST = 0, 1, 2, 3, 4
NOTE_MIN, NOTE_MAX = 36, 84
NOTE_OFFSET = 5
#: Meter names of the METER tokens, in id order (as in the melody vocabulary).
METERS = ("2/4", "3/4", "4/4", "6/8", "9/8", "12/8", "3/8", "2/2", "3/2", "6/4", "5/4", "other")
METER_OFFSET = NOTE_OFFSET + NOTE_MAX - NOTE_MIN + 1
KEY_OFFSET = METER_OFFSET + len(METERS)
#: Modes of the KEY tokens: 12 major keys, then 12 minor keys, by tonic pitch class.
KEY_MODES = ("major", "minor")
VOCAB_SIZE = KEY_OFFSET + 12 * len(KEY_MODES)
#: Church modes folded into the two KEY modes (as in the melody vocabulary).
MODE_FAMILY = {
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
#: Steps the soprano runs ahead of the other voices in the sequence.
LOOKAHEAD = 8
#: Tokens per time step (one per voice), and of the header.
GROUP_SIZE = 4
HEADER_LENGTH = 4
VOICES = ("soprano", "alto", "tenor", "bass")
#: Grid of the quantization, steps per quarter note (eighth notes).
STEPS_PER_QUARTER = 2
#: Transpositions tried for the train split, in semitones.
TRANSPOSITIONS = tuple(range(-6, 6))

_PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_LETTER_PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_KEY_PATTERN = re.compile(r"^\s*([A-Ga-g])([#b\-]*)\s*([A-Za-z]*)\s*$")
_KEY_TOKEN_PATTERN = re.compile(r"^KEY_(\d+)_(major|minor)$")

ProgressCallback = Callable[[str, int, int], None]
#: A key: tonic pitch class (0 = C .. 11 = B) and "major" or "minor".
Key = tuple[int, str]


class VoiceStep(NamedTuple):
    """One voice at one eighth-note step.

    Attributes
    ----------
    pitch : int or None
        MIDI pitch sounding at the step, ``None`` for silence.
    onset : bool
        Whether the note is struck at this step (False: held from the step before). Always
        False for silence.
    """

    pitch: int | None
    onset: bool


#: Four voices (soprano, alto, tenor, bass), each a list of ``T`` steps.
Grid = list[list[VoiceStep]]

SILENCE = VoiceStep(None, False)


class Chorale(NamedTuple):
    """A chorale read from a score (see :func:`chorale_from_score`).

    Attributes
    ----------
    grid : Grid
        Soprano, alto, tenor and bass on the eighth-note grid, step 0 a downbeat.
    meter : str
        The first time signature, e.g. ``"3/4"``.
    key : tuple of (int, str)
        Tonic pitch class and ``"major"``/``"minor"``.
    pickup_steps : int
        Rest steps added before the first note so that step 0 is a downbeat.
    """

    grid: Grid
    meter: str
    key: Key
    pickup_steps: int


def parse_key(key: str | Key) -> Key:
    """Return ``(tonic pitch class, mode)`` of a key given by name or as a tuple.

    Parameters
    ----------
    key : str or tuple of (int, str)
        ``"G major"``, ``"f# minor"``, ``"Bb dorian"``, ``"B- major"`` (music21's flat), a token
        name such as ``"KEY_7_major"``, or ``(7, "major")``. The mode defaults to major; church
        modes fold to major (ionian, lydian, mixolydian) or minor (the others).

    Returns
    -------
    tuple of (int, str)

    Raises
    ------
    ParameterError
        If the key cannot be read.

    Examples
    --------
    >>> parse_key("F# minor"), parse_key("Bb"), parse_key((14, "dorian"))
    ((6, 'minor'), (10, 'major'), (2, 'minor'))
    """
    if isinstance(key, tuple):
        if len(key) != 2 or not isinstance(key[0], int | np.integer):
            raise ParameterError(f"key must be (tonic pitch class, mode), got {key!r}")
        tonic, mode = int(key[0]) % 12, str(key[1]).lower()
    elif isinstance(key, str) and (token := _KEY_TOKEN_PATTERN.match(key.strip())):
        tonic, mode = int(token.group(1)) % 12, token.group(2)
    elif isinstance(key, str) and (match := _KEY_PATTERN.match(key)):
        letter, accidentals, mode = match.groups()
        tonic = _LETTER_PITCH_CLASS[letter.upper()]
        tonic = (tonic + accidentals.count("#") - len(accidentals.replace("#", ""))) % 12
        mode = mode.lower() or "major"
    else:
        raise ParameterError(f"key must be like 'G major' or 'f# minor', got {key!r}")
    if mode not in MODE_FAMILY:
        raise ParameterError(f"key mode must be one of {sorted(MODE_FAMILY)}, got {mode!r}")
    return tonic, MODE_FAMILY[mode]


def key_name(key: str | Key) -> str:
    """Return a key's readable name, e.g. ``"F# minor"``."""
    tonic, mode = parse_key(key)
    return f"{_PITCH_CLASS_NAMES[tonic]} {mode}"


class ChoraleTokenizer:
    """Encode four-voice grids as tokens of the vocabulary in the module docstring and back.

    Examples
    --------
    >>> tok = ChoraleTokenizer()
    >>> grid = [[(72, True), (72, False)], [(67, True), (None, False)],
    ...         [(64, True), (64, True)], [(48, True), (50, True)]]
    >>> ids = tok.encode(grid, meter="4/4", key="C major")
    >>> len(ids), [tok.token_names[i] for i in ids[:9]]
    (48, ['BOS', 'METER_4/4', 'KEY_0_major', 'PAD', 'NOTE_72', 'REST', 'REST', 'REST', 'HOLD'])
    >>> tok.decode(ids)[0]
    [VoiceStep(pitch=72, onset=True), VoiceStep(pitch=72, onset=False)]
    >>> tok.decode(ids) == grid
    True
    """

    pad, bos, eos, hold, rest = PAD, BOS, EOS, HOLD, REST
    min_pitch, max_pitch = NOTE_MIN, NOTE_MAX
    lookahead = LOOKAHEAD

    @property
    def vocab_size(self) -> int:
        """Number of tokens (90)."""
        return VOCAB_SIZE

    @property
    def token_names(self) -> list[str]:
        """Name of every token id, e.g. ``token_names[5] == "NOTE_36"``."""
        names = ["PAD", "BOS", "EOS", "HOLD", "REST"]
        names += [f"NOTE_{pitch}" for pitch in range(NOTE_MIN, NOTE_MAX + 1)]
        names += [f"METER_{meter}" for meter in METERS]
        names += [f"KEY_{tonic}_{mode}" for mode in KEY_MODES for tonic in range(12)]
        return names

    def note_token(self, pitch: int) -> int:
        """Return the token of a MIDI pitch in [36, 84]."""
        if isinstance(pitch, bool) or not NOTE_MIN <= pitch <= NOTE_MAX:
            raise ParameterError(f"pitch must be in [{NOTE_MIN}, {NOTE_MAX}], got {pitch}")
        return NOTE_OFFSET + int(pitch) - NOTE_MIN

    def meter_token(self, meter: str) -> int:
        """Return the METER token of a time signature such as ``"3/4"`` (others: METER_other)."""
        if not isinstance(meter, str):
            raise ParameterError(f"meter must be a string such as '4/4', got {meter!r}")
        name = meter.strip().replace(" ", "")
        return METER_OFFSET + (METERS.index(name) if name in METERS else METERS.index("other"))

    def key_token(self, key: str | Key) -> int:
        """Return the KEY token of a key (see :func:`parse_key` for the accepted forms)."""
        tonic, mode = parse_key(key)
        return KEY_OFFSET + 12 * KEY_MODES.index(mode) + tonic

    def voice_tokens(self, steps: Sequence[tuple[int | None, bool]]) -> list[int]:
        """Return the NOTE/HOLD/REST token of each step of one voice.

        Raises
        ------
        ParameterError
            If a pitch is out of range, or a step holds a note that the step before does not
            sound (a hold after silence or after another pitch).
        """
        tokens = []
        previous: int | None = None
        for index, (pitch, onset) in enumerate(steps):
            if pitch is None:
                tokens.append(REST)
            elif onset:
                tokens.append(self.note_token(pitch))
            elif pitch == previous:
                tokens.append(HOLD)
            else:
                raise ParameterError(
                    f"step {index} holds pitch {pitch} but the step before sounds {previous}; "
                    "strike it (onset=True) instead"
                )
            previous = pitch
        return tokens

    def encode(
        self, grid: Sequence[Sequence[tuple[int | None, bool]]], *, meter: str, key: str | Key
    ) -> list[int]:
        """Encode a chorale: header, one group per step (soprano a bar ahead), EOS group.

        Parameters
        ----------
        grid : sequence of 4 sequences of (pitch or None, onset)
            Soprano, alto, tenor and bass, each ``T >= 1`` steps of :class:`VoiceStep` (or
            plain tuples). Pitches in [36, 84].
        meter : str
            Time signature, e.g. ``"4/4"``; unlisted ones become ``METER_other``.
        key : str or tuple of (int, str)
            See :func:`parse_key`.

        Returns
        -------
        list of int
            ``4 + 4 * (T + LOOKAHEAD) + 4`` tokens.

        Raises
        ------
        ParameterError
            If the grid does not have four voices of the same non-zero length, a pitch is out
            of range, or a hold follows silence or another pitch.
        """
        voices = _check_grid(grid)
        streams = [self.voice_tokens(voice) for voice in voices]
        steps = len(streams[0])
        tokens = [BOS, self.meter_token(meter), self.key_token(key), PAD]
        for group in range(steps + LOOKAHEAD):
            soprano_step, lower_step = group, group - LOOKAHEAD
            tokens.append(streams[0][soprano_step] if soprano_step < steps else REST)
            tokens += [stream[lower_step] if lower_step >= 0 else REST for stream in streams[1:]]
        tokens += [EOS] * GROUP_SIZE
        return tokens

    def decode(self, tokens: Iterable[int]) -> Grid:
        """Decode tokens into a grid; reads what a sampler produced without raising.

        A leading ``BOS`` starts a 4-token header, skipped whatever it holds; without one the
        tokens are groups from the start of a piece. Decoding stops before the first group that
        holds an ``EOS`` and drops an incomplete last group. The grid has ``groups - LOOKAHEAD``
        steps (soprano tokens beyond them are dropped). Out-of-grammar voice tokens are read
        leniently: a ``HOLD`` after silence, and any token other than NOTE/HOLD (PAD, BOS, a
        METER or KEY), are silence.

        Parameters
        ----------
        tokens : iterable of int

        Returns
        -------
        Grid
            Four lists of :class:`VoiceStep`, all of the same length (possibly 0).
        """
        ids = [int(t) for t in tokens]
        body = ids[HEADER_LENGTH:] if ids and ids[0] == BOS else ids
        groups = []
        for start in range(0, len(body) - GROUP_SIZE + 1, GROUP_SIZE):
            group = body[start : start + GROUP_SIZE]
            if EOS in group:
                break
            groups.append(group)
        steps = max(0, len(groups) - LOOKAHEAD)
        soprano = [group[0] for group in groups[:steps]]
        lower = [
            [group[voice] for group in groups[LOOKAHEAD : LOOKAHEAD + steps]]
            for voice in range(1, GROUP_SIZE)
        ]
        return [_decode_voice(stream) for stream in [soprano, *lower]]

    def header(self, tokens: Sequence[int]) -> tuple[str | None, Key | None]:
        """Return the meter (``"3/4"``) and key (``(7, "major")``) a sequence's header names.

        Either is None where the header is missing or holds another token there.
        """
        ids = [int(t) for t in tokens[:HEADER_LENGTH]]
        if not ids or ids[0] != BOS:
            return None, None
        meter = key = None
        if len(ids) > 1 and METER_OFFSET <= ids[1] < KEY_OFFSET:
            meter = METERS[ids[1] - METER_OFFSET]
        if len(ids) > 2 and KEY_OFFSET <= ids[2] < VOCAB_SIZE:
            index = ids[2] - KEY_OFFSET
            key = (index % 12, KEY_MODES[index // 12])
        return meter, key


def _decode_voice(stream: Sequence[int]) -> list[VoiceStep]:
    steps: list[VoiceStep] = []
    sounding: int | None = None
    for token in stream:
        if NOTE_OFFSET <= token < METER_OFFSET:
            sounding = token - NOTE_OFFSET + NOTE_MIN
            steps.append(VoiceStep(sounding, True))
        elif token == HOLD and sounding is not None:
            steps.append(VoiceStep(sounding, False))
        else:
            sounding = None
            steps.append(SILENCE)
    return steps


def _check_grid(grid: Sequence[Sequence[tuple[int | None, bool]]]) -> list[list[VoiceStep]]:
    if len(grid) != len(VOICES):
        raise ParameterError(f"grid must have 4 voices (S, A, T, B), got {len(grid)}")
    voices = [[VoiceStep(*step) for step in voice] for voice in grid]
    lengths = {len(voice) for voice in voices}
    if len(lengths) != 1 or 0 in lengths:
        raise ParameterError(
            f"grid voices must have the same number of steps, at least 1, got "
            f"{[len(v) for v in voices]}"
        )
    return voices


def notes_to_steps(
    notes: Iterable[tuple[float, float, int]],
    n_steps: int,
    *,
    origin: float = 0.0,
    prefer: str = "highest",
) -> list[VoiceStep]:
    """Reduce notes to one line on the eighth-note grid.

    Times are first rounded to sixteenths. At the start of each step the notes sounding then
    compete, the highest (or lowest) winning, a later start breaking ties; with none sounding,
    a note that starts in the step's second half takes it (see the module docstring). A step
    is an onset when its winner differs from the step before's.

    Parameters
    ----------
    notes : iterable of (start, end, pitch)
        Times in quarter notes.
    n_steps : int
        Length of the line, >= 0.
    origin : float
        Time of step 0, in quarter notes (negative to pad a pickup).
    prefer : {"highest", "lowest"}
        Which of simultaneous notes wins (the bass takes the lowest).

    Returns
    -------
    list of VoiceStep

    Raises
    ------
    ParameterError
        If ``n_steps`` is negative or ``prefer`` unknown.

    Examples
    --------
    A dotted eighth and a sixteenth become a quarter:

    >>> line = notes_to_steps([(0, 0.75, 60), (0.75, 1.0, 62), (1.0, 2.0, 64)], 4)
    >>> [(step.pitch, step.onset) for step in line]
    [(60, True), (60, False), (64, True), (64, False)]
    """
    if n_steps < 0:
        raise ParameterError(f"n_steps must be >= 0, got {n_steps}")
    if prefer not in ("highest", "lowest"):
        raise ParameterError(f"prefer must be 'highest' or 'lowest', got {prefer!r}")
    sixteenths_per_step = 4 // STEPS_PER_QUARTER
    rows = [
        (round((start - origin) * 4), round((end - origin) * 4), int(pitch))
        for start, end, pitch in notes
    ]
    if not rows:
        return [SILENCE] * n_steps
    starts = np.array([row[0] for row in rows])
    ends = np.maximum(np.array([row[1] for row in rows]), starts + 1)
    pitches = np.array([row[2] for row in rows])
    sign = 1 if prefer == "highest" else -1
    # One sort decides every competition: preferred pitch first, then the later start.
    rank = np.empty(len(rows), dtype=np.int64)
    rank[np.lexsort((-starts, -sign * pitches))] = np.arange(len(rows))
    line: list[VoiceStep] = []
    previous = -1
    for step in range(n_steps):
        time = step * sixteenths_per_step
        candidates = np.flatnonzero((starts <= time) & (ends > time))
        if candidates.size == 0:
            candidates = np.flatnonzero((starts > time) & (starts < time + sixteenths_per_step))
        if candidates.size == 0:
            line.append(SILENCE)
            previous = -1
            continue
        winner = int(candidates[np.argmin(rank[candidates])])
        line.append(VoiceStep(int(pitches[winner]), winner != previous))
        previous = winner
    return line


def _part_notes(part: Any, *, lowest: bool) -> list[tuple[float, float, int]]:
    notes = []
    for element in part.stripTies().flatten().notes:
        length = float(element.quarterLength)
        if length <= 0:  # grace notes take no time on the grid
            continue
        midi = [p.midi for p in element.pitches]
        start = float(element.offset)
        notes.append((start, start + length, min(midi) if lowest else max(midi)))
    return notes


def _pickup_quarters(part: Any) -> float:
    """Length of the silence before the first note of a part's first bar, in quarters."""
    measures = part.getElementsByClass("Measure")
    if not len(measures):
        return 0.0
    first = measures[0]
    padding = float(first.paddingLeft or 0.0)
    if padding > 0:
        return padding
    length, bar = float(first.duration.quarterLength), float(first.barDuration.quarterLength)
    return bar - length if first.number == 0 and 0 < length < bar else 0.0


def score_meter(score: Any) -> str:
    """Return the first time signature of a music21 score (``"4/4"``), else ``"other"``."""
    from music21 import meter

    signatures = score.recurse().getElementsByClass(meter.TimeSignature)
    return signatures[0].ratioString if len(signatures) else "other"


def score_key(score: Any) -> Key:
    """Return the key of a music21 score as (tonic pitch class, ``"major"`` or ``"minor"``).

    The first key signature decides, read as the melody datasets read it: a ``Key`` with a
    mode is taken as written (church modes folded, see :data:`MODE_FAMILY`); a bare
    ``KeySignature`` gives its major key or its relative minor, whichever music21's key
    analysis (``score.analyze("key")``, Aarden-Essen profiles) ranks higher; a score without
    a signature gets the analysis's best key.
    """
    from music21 import key as m21key

    notated = score.recurse().getElementsByClass(m21key.KeySignature).first()
    if isinstance(notated, m21key.Key):
        family = MODE_FAMILY.get(str(notated.mode).lower())
        if family is not None:
            return notated.tonic.pitchClass, family
    analysis = score.analyze("key")
    ranking = [
        (k.tonic.pitchClass, MODE_FAMILY.get(k.mode, "major"))
        for k in [analysis, *analysis.alternateInterpretations]
    ]
    if notated is None:
        return ranking[0]
    candidates = [(notated.asKey(mode).tonic.pitchClass, mode) for mode in KEY_MODES]
    return next((k for k in ranking if k in candidates), candidates[0])


def chorale_from_score(score: Any) -> Chorale:
    """Read a four-part music21 chorale score onto the eighth-note grid.

    The parts are taken in score order as soprano, alto, tenor and bass; ties are merged,
    chords give their highest note (the bass its lowest), and a pickup bar is padded with
    rests so that step 0 is a downbeat.

    Parameters
    ----------
    score : music21.stream.Score

    Returns
    -------
    Chorale

    Raises
    ------
    MediaError
        If the score does not have exactly four parts, a part has no notes, or a pitch is
        outside [36, 84].
    """
    parts = list(score.parts)
    if len(parts) != len(VOICES):
        names = ", ".join(str(p.partName) for p in parts)
        raise MediaError(f"has {len(parts)} parts ({names}), not exactly 4 (S, A, T, B)")
    pickup = round(_pickup_quarters(parts[0]) * STEPS_PER_QUARTER)
    origin = -pickup / STEPS_PER_QUARTER
    n_steps = pickup + math.ceil(float(score.highestTime) * STEPS_PER_QUARTER)
    grid = []
    for index, part in enumerate(parts):
        notes = _part_notes(part, lowest=index == len(VOICES) - 1)
        if not notes:
            raise MediaError(f"the {VOICES[index]} part has no notes")
        pitches = [pitch for _, _, pitch in notes]
        if min(pitches) < NOTE_MIN or max(pitches) > NOTE_MAX:
            raise MediaError(
                f"the {VOICES[index]} spans MIDI {min(pitches)}-{max(pitches)}, outside "
                f"{NOTE_MIN}-{NOTE_MAX}"
            )
        prefer = "lowest" if index == len(VOICES) - 1 else "highest"
        grid.append(notes_to_steps(notes, n_steps, origin=origin, prefer=prefer))
    return Chorale(grid, score_meter(score), score_key(score), pickup)


def fold_pitch(pitch: int, low: int = NOTE_MIN, high: int = NOTE_MAX) -> int:
    """Move a pitch by octaves into ``[low, high]`` (a range of at least an octave)."""
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return pitch


def soprano_steps_from_score(score: Any) -> list[VoiceStep]:
    """Return the soprano line of a music21 score on the eighth-note grid, step 0 a downbeat.

    The part named "Soprano" (else the first part), its highest notes where it has chords,
    pitches folded by octaves into [36, 84].
    """
    parts = list(score.parts) or [score]
    part = next((p for p in parts if "soprano" in str(p.partName or "").lower()), parts[0])
    notes = [(s, e, fold_pitch(p)) for s, e, p in _part_notes(part, lowest=False)]
    if not notes:
        return []
    pickup = round(_pickup_quarters(part) * STEPS_PER_QUARTER)
    n_steps = pickup + math.ceil(max(e for _, e, _ in notes) * STEPS_PER_QUARTER)
    return notes_to_steps(notes, n_steps, origin=-pickup / STEPS_PER_QUARTER)


def soprano_steps_from_midi(midi: Any) -> list[VoiceStep]:
    """Return the top line of a ``pretty_midi.PrettyMIDI`` on the eighth-note grid.

    For harmonizing a user's melody: every non-drum note competes, the highest wins at each
    step (see :func:`notes_to_steps`), pitches are folded by octaves into [36, 84]. Times go
    through MIDI ticks, so tempo changes do not matter; step 0 is the file's last downbeat at
    or before the first note (a pickup becomes leading rests).

    Returns
    -------
    list of VoiceStep
        Empty if the file has no pitched notes.
    """
    resolution = float(midi.resolution)

    def quarters(seconds: float) -> float:
        return midi.time_to_tick(seconds) / resolution

    notes = [
        (quarters(note.start), quarters(note.end), fold_pitch(note.pitch))
        for instrument in midi.instruments
        if not instrument.is_drum
        for note in instrument.notes
    ]
    if not notes:
        return []
    first = min(start for start, _, _ in notes)
    downbeats = [quarters(t) for t in midi.get_downbeats()]
    origin = max([b for b in downbeats if b <= first + 1e-6], default=0.0)
    origin = math.floor(origin * STEPS_PER_QUARTER + 1e-6) / STEPS_PER_QUARTER
    n_steps = math.ceil((max(end for _, end, _ in notes) - origin) * STEPS_PER_QUARTER - 1e-6)
    return notes_to_steps(notes, n_steps, origin=origin)


def midi_meter_and_key(midi: Any) -> tuple[str | None, Key | None]:
    """Return the first time and key signature of a ``pretty_midi.PrettyMIDI``, where present."""
    meter = key = None
    if midi.time_signature_changes:
        signature = midi.time_signature_changes[0]
        meter = f"{signature.numerator}/{signature.denominator}"
    if midi.key_signature_changes:
        number = int(midi.key_signature_changes[0].key_number)
        key = (number % 12, KEY_MODES[number // 12])
    return meter, key


def voices_to_pretty_midi(
    grid: Sequence[Sequence[tuple[int | None, bool]]],
    tempo: float = 80.0,
    *,
    program: int = 52,
    meter: str | None = None,
    key: str | Key | None = None,
    velocity: int = 80,
) -> Any:
    """Turn a four-voice grid into a ``pretty_midi.PrettyMIDI``, one instrument per voice.

    A note starts at an onset step and lasts through the steps that hold it.

    Parameters
    ----------
    grid : sequence of 4 sequences of (pitch or None, onset)
        Soprano, alto, tenor, bass (see :class:`VoiceStep`); a held step whose pitch differs
        from the step before is struck.
    tempo : float
        Quarter notes per minute, in (0, 1000].
    program : int
        General MIDI program of every voice, 0-127 (default 52, choir aahs).
    meter, key : optional
        Written as the file's time and key signature (``"3/4"``, ``"G major"``).
    velocity : int
        MIDI velocity of every note, 1-127.

    Returns
    -------
    pretty_midi.PrettyMIDI

    Raises
    ------
    ParameterError
        If the grid is malformed or a value is out of range.
    """
    import pretty_midi

    voices = _check_grid(grid)
    if not (math.isfinite(tempo) and 0 < tempo <= 1000):
        raise ParameterError(f"tempo must be in (0, 1000] quarter notes per minute, got {tempo}")
    if not 0 <= program <= 127:
        raise ParameterError(f"program must be in [0, 127], got {program}")
    if not 1 <= velocity <= 127:
        raise ParameterError(f"velocity must be in [1, 127], got {velocity}")
    seconds_per_step = 60.0 / tempo / STEPS_PER_QUARTER
    midi = pretty_midi.PrettyMIDI(initial_tempo=float(tempo))
    if meter is not None and re.fullmatch(r"\d+/\d+", meter):
        numerator, denominator = (int(x) for x in meter.split("/"))
        midi.time_signature_changes.append(pretty_midi.TimeSignature(numerator, denominator, 0.0))
    if key is not None:
        tonic, mode = parse_key(key)
        midi.key_signature_changes.append(
            pretty_midi.KeySignature(tonic + 12 * KEY_MODES.index(mode), 0.0)
        )
    for name, voice in zip(VOICES, voices, strict=True):
        instrument = pretty_midi.Instrument(program=program, name=name.capitalize())
        start: int | None = None
        for step in range(len(voice) + 1):
            pitch, onset = voice[step] if step < len(voice) else SILENCE
            previous = voice[step - 1].pitch if step > 0 else None
            continues = pitch is not None and not onset and pitch == previous
            if start is not None and not continues:
                instrument.notes.append(
                    pretty_midi.Note(
                        velocity, int(previous), start * seconds_per_step, step * seconds_per_step
                    )
                )
                start = None
            if pitch is not None and start is None:
                if not 0 <= pitch <= 127:
                    raise ParameterError(f"pitch must be a MIDI pitch in [0, 127], got {pitch}")
                start = step
        midi.instruments.append(instrument)
    return midi


def train_transpositions(grid: Sequence[Sequence[VoiceStep]]) -> list[int]:
    """Return the shifts (semitones, -6..5) that keep every voice within [36, 84], 0 first.

    The original key (0) is always included.
    """
    pitches = [step.pitch for voice in grid for step in voice if step.pitch is not None]
    if not pitches:
        return [0]
    lowest, highest = min(pitches), max(pitches)
    fitting = [
        s for s in TRANSPOSITIONS if s != 0 and lowest + s >= NOTE_MIN and highest + s <= NOTE_MAX
    ]
    return [0, *fitting]


def transpose_grid(grid: Sequence[Sequence[VoiceStep]], shift: int) -> Grid:
    """Return the grid moved by ``shift`` semitones (silence stays silence)."""
    return [
        [
            step if step.pitch is None else VoiceStep(step.pitch + shift, step.onset)
            for step in voice
        ]
        for voice in grid
    ]


def prepare_bach_chorales(
    out_root: str | os.PathLike[str],
    *,
    max_pieces: int | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Tokenize music21's four-part Bach chorales into a dataset cache.

    The pieces, their ids (``"bwv269"``) and their split
    (:func:`~aigc_studio.datasets.split.split_of` of the id) are those of ``bach-melodies``;
    pieces without exactly four parts are skipped and listed with the reason under the
    manifest's ``"skipped"``. Each split stores ``tokens`` (variable length, int32),
    ``item_id`` (``"bwv269"``, or ``"bwv269@+3"`` for a transposed copy) and ``transpose``
    (int16 semitones; non-zero only in train). The manifest records ``vocab_size`` (90),
    ``vocab`` (special ids and grid layout), ``labels["token_names"]`` and, in ``stats``,
    pieces, sequences, tokens and steps per split and the longest sequence.

    Parameters
    ----------
    out_root : str or PathLike
        The cache folder to write.
    max_pieces : int, optional
        Use only the first this many distinct chorale files (for tests); all by default.
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
    pieces: list[tuple[str, Chorale]] = []
    skipped: list[dict[str, str]] = []
    for done, name in enumerate(names, start=1):
        try:
            chorale = chorale_from_score(corpus.parse(name))
        except MediaError as exc:
            skipped.append({"file": name, "reason": str(exc)})
        except Exception as exc:  # music21 raises many kinds on odd files
            skipped.append({"file": name, "reason": f"{type(exc).__name__}: {exc}"})
        else:
            pieces.append((Path(name).name, chorale))
        if progress is not None:
            progress("tokenize bach chorales", done, len(names))
    if not pieces:
        reasons = f" (e.g. {skipped[0]['file']}: {skipped[0]['reason']})" if skipped else ""
        raise MediaError(f"bach-chorales: no readable chorale among {len(names)}{reasons}")
    params = {
        "source": "music21.corpus.chorales.Iterator (files with exactly 4 parts, S A T B)",
        "max_pieces": max_pieces,
        "augment": f"train: transpositions {TRANSPOSITIONS[0]}..{TRANSPOSITIONS[-1]} keeping "
        f"every voice within MIDI {NOTE_MIN}-{NOTE_MAX}",
        "quantization": "eighth notes; a sixteenth starting between eighths is dropped",
        "lookahead": LOOKAHEAD,
        "split": "split_of(piece id, valid_fraction=0.1, test_fraction=0.1)",
    }
    return _write_chorale_cache(out_root, pieces, params, skipped)


def _write_chorale_cache(
    out_root: str | os.PathLike[str],
    pieces: Sequence[tuple[str, Chorale]],
    params: dict[str, Any],
    skipped: list[dict[str, str]],
) -> Path:
    tokenizer = ChoraleTokenizer()
    columns: dict[str, dict[str, list]] = {
        split: {"tokens": [], "item_id": [], "transpose": []} for split in SPLITS
    }
    pieces_per_split = dict.fromkeys(SPLITS, 0)
    steps_per_split = dict.fromkeys(SPLITS, 0)
    for item_id, chorale in pieces:
        split = split_of(item_id)
        pieces_per_split[split] += 1
        steps_per_split[split] += len(chorale.grid[0])
        shifts = train_transpositions(chorale.grid) if split == "train" else [0]
        tonic, mode = chorale.key
        for shift in shifts:
            tokens = tokenizer.encode(
                transpose_grid(chorale.grid, shift),
                meter=chorale.meter,
                key=((tonic + shift) % 12, mode),
            )
            columns[split]["tokens"].append(np.asarray(tokens, dtype=np.int32))
            columns[split]["item_id"].append(item_id if shift == 0 else f"{item_id}@{shift:+d}")
            columns[split]["transpose"].append(shift)
    fields_by_split = {
        split: {
            "tokens": columns[split]["tokens"],
            "item_id": np.asarray(columns[split]["item_id"], dtype=str)
            if columns[split]["item_id"]
            else np.zeros(0, dtype="<U1"),
            "transpose": np.asarray(columns[split]["transpose"], dtype=np.int16),
        }
        for split in SPLITS
    }
    stats = {
        "pieces": pieces_per_split,
        "sequences": {split: len(columns[split]["tokens"]) for split in SPLITS},
        "tokens": {split: int(sum(len(t) for t in columns[split]["tokens"])) for split in SPLITS},
        "steps": steps_per_split,
        "longest_tokens": max(len(t) for split in SPLITS for t in columns[split]["tokens"]),
        "skipped": len(skipped),
    }
    return write_cache(
        out_root,
        "bach-chorales",
        params,
        fields_by_split,
        stats=stats,
        labels={"token_names": tokenizer.token_names},
        extra={
            "vocab_size": VOCAB_SIZE,
            "vocab": {
                "size": VOCAB_SIZE,
                "pad": PAD,
                "bos": BOS,
                "eos": EOS,
                "hold": HOLD,
                "rest": REST,
                "note_min": NOTE_MIN,
                "note_max": NOTE_MAX,
                "note_offset": NOTE_OFFSET,
                "meter_offset": METER_OFFSET,
                "key_offset": KEY_OFFSET,
                "steps_per_quarter": STEPS_PER_QUARTER,
                "lookahead": LOOKAHEAD,
                "group_size": GROUP_SIZE,
                "header_length": HEADER_LENGTH,
                "voices": list(VOICES),
            },
            "skipped": skipped,
        },
    )
