"""Token datasets of monophonic melodies for the autoregressive and VAE melody models.

Vocabulary (:class:`MelodyTokenizer`, 82 tokens)::

    0 PAD   1 BOS   2 EOS   3 BAR
    4..64   NOTE_36 .. NOTE_96      (MIDI pitch - 32)
    65      REST
    66..81  DUR_1 .. DUR_16         (duration in sixteenth notes)

A melody is ``BOS``, then per event an optional ``BAR`` (the event starts a bar), a ``NOTE_p``
or ``REST`` token and its duration, then ``EOS``. A duration is one ``DUR`` token, or several
whose values add up when it is longer than a whole note (``DUR_16 DUR_4`` = 5 quarters).
Durations are quantized to sixteenth notes; a note held across a bar line is split there and
struck again after the ``BAR`` (the vocabulary has no tie).

Two sources: the Bach chorales of music21's corpus (the soprano line of each of the 350
distinct chorale files, as in the melody models of Hadjeres et al. 2017, DeepBach, which use
the same corpus), and a folder of MIDI files (the top line of each file). The train split is
augmented with every transposition (up to a tritone each way) that keeps the melody within
MIDI 48-84; valid and test keep the original key only, so that their scores are comparable.

This module encodes and prepares caches; it does not generate music.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
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
VOCAB_SIZE = DUR_OFFSET + MAX_DUR
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
    """

    pad, bos, eos, bar, rest = PAD, BOS, EOS, BAR, REST
    min_pitch, max_pitch = NOTE_MIN, NOTE_MAX

    @property
    def vocab_size(self) -> int:
        """Number of tokens (82)."""
        return VOCAB_SIZE

    @property
    def token_names(self) -> list[str]:
        """Name of every token id, e.g. ``token_names[4] == "NOTE_36"``."""
        names = ["PAD", "BOS", "EOS", "BAR"]
        names += [f"NOTE_{pitch}" for pitch in range(NOTE_MIN, NOTE_MAX + 1)]
        names.append("REST")
        names += [f"DUR_{steps}" for steps in range(1, MAX_DUR + 1)]
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
        add_bos_eos: bool = True,
    ) -> list[int]:
        """Encode a melody.

        Parameters
        ----------
        events : iterable of (pitch or None, duration in quarters, bar_start)
            Notes (MIDI pitch 36-96) and rests (``None``) in order.
        add_bos_eos : bool
            Wrap the tokens in BOS ... EOS.

        Returns
        -------
        list of int

        Raises
        ------
        ParameterError
            If a pitch is outside [36, 96] or a duration shorter than a sixteenth.
        """
        tokens = [BOS] if add_bos_eos else []
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

        Tokens a sampler may produce out of grammar are dropped rather than raised on: a
        ``DUR`` without a note before it, a note without a ``DUR`` after it, PAD and BOS.

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
            elif DUR_OFFSET <= token < VOCAB_SIZE and open_event:
                steps += token - DUR_OFFSET + 1
        close()
        return events


def melody_events_from_notes(
    notes: Iterable[tuple[float, float, int]],
    bar_starts: Iterable[float],
) -> list[MelodyEvent]:
    """Reduce notes to their top line on a sixteenth-note grid and cut it at bar lines.

    At every grid step the highest sounding note wins ("skyline"); a change of the winning
    note starts a new event, so does a bar line. Silence between notes becomes rests; the
    melody begins at the bar holding its first note and ends with its last note.

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
        first = int(round(start * STEPS_PER_QUARTER))
        last = max(int(round(end * STEPS_PER_QUARTER)), first + 1)
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
    bars = sorted({int(round(b * STEPS_PER_QUARTER)) for b in bar_starts})
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


def soprano_events(score: Any) -> list[MelodyEvent]:
    """Return the soprano line of a music21 chorale score as events.

    The part named "Soprano" (else the first part) with ties merged; bar lines are its measures.
    """
    parts = list(score.parts)
    if not parts:
        return []
    part = next((p for p in parts if "soprano" in str(p.partName or "").lower()), parts[0])
    bar_starts = [float(m.offset) for m in part.getElementsByClass("Measure")]
    notes = []
    for element in part.stripTies().flatten().notes:
        length = float(element.quarterLength)
        if length <= 0:  # grace notes take no time on the grid
            continue
        pitch = max(p.midi for p in element.pitches)
        start = float(element.offset)
        notes.append((start, start + length, pitch))
    return melody_events_from_notes(notes, bar_starts)


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


def prepare_bach_melodies(
    out_root: str | os.PathLike[str],
    *,
    max_pieces: int | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Tokenize the soprano lines of music21's Bach chorales into a dataset cache.

    The 371 chorales of ``music21.corpus.chorales.Iterator`` (Riemenschneider order) hold 350
    distinct files; each file is one piece with item id its BWV name (``"bwv269"``,
    ``"bwv153.1"``), split by :func:`~aigc_studio.datasets.split.split_of` of that id. Each
    split stores ``tokens`` (variable length, int32, with ``tokens_offsets``), ``item_id``
    (``"bwv269"``, or ``"bwv269@+3"`` for a transposed copy) and ``transpose`` (int16
    semitones; non-zero only in train, see the module docstring). The manifest records
    ``vocab_size`` (82), ``vocab`` (special token ids), ``labels["token_names"]`` and, in
    ``stats``, the token and piece counts per split.

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

    if max_pieces is not None and max_pieces < 1:
        raise ParameterError(f"max_pieces must be at least 1, got {max_pieces}")
    names = list(
        dict.fromkeys(
            corpus.chorales.Iterator(numberingSystem="riemenschneider", returnType="filename")
        )
    )
    if max_pieces is not None:
        names = names[:max_pieces]
    pieces: list[tuple[str, list[MelodyEvent]]] = []
    skipped: list[dict[str, str]] = []
    for done, name in enumerate(names, start=1):
        item_id = Path(name).name
        try:
            events = soprano_events(corpus.parse(name))
        except Exception as exc:  # music21 raises many kinds on odd files
            skipped.append({"file": name, "reason": f"{type(exc).__name__}: {exc}"})
        else:
            if events:
                pieces.append((item_id, events))
            else:
                skipped.append({"file": name, "reason": "no notes in the soprano part"})
        if progress is not None:
            progress("tokenize bach chorales", done, len(names))
    params = {
        "source": "music21.corpus.chorales.Iterator (soprano part)",
        "max_pieces": max_pieces,
    }
    return _write_token_cache(out_root, "bach-melodies", pieces, params, skipped)


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

    The cache has the fields of :func:`prepare_bach_melodies`; the item id is the file's path
    relative to the folder, which also decides its split. Unreadable files are listed under the
    manifest's ``"skipped"``.

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
    pieces: list[tuple[str, list[MelodyEvent]]] = []
    skipped: list[dict[str, str]] = []
    for done, path in enumerate(files, start=1):
        relative = path.relative_to(source).as_posix()
        try:
            events = midi_top_line_events(load_midi(path))
        except MediaError as exc:
            skipped.append({"file": relative, "reason": str(exc)})
        else:
            if events:
                pieces.append((relative, events))
            else:
                skipped.append({"file": relative, "reason": "no pitched notes"})
        if progress is not None:
            progress(f"tokenize {source.name}", done, len(files))
    params = {"source_dir": str(source.resolve()), "source": "top line of each MIDI file"}
    return _write_token_cache(out_root, source.name or "midi-folder", pieces, params, skipped)


def _write_token_cache(
    out_root: str | os.PathLike[str],
    name: str,
    pieces: Sequence[tuple[str, list[MelodyEvent]]],
    params: dict[str, Any],
    skipped: list[dict[str, str]],
) -> Path:
    if not pieces:
        reasons = f" (e.g. {skipped[0]['file']}: {skipped[0]['reason']})" if skipped else ""
        raise MediaError(f"{name}: no readable melody among {len(skipped)} piece(s){reasons}")
    tokenizer = MelodyTokenizer()
    columns: dict[str, dict[str, list]] = {
        split: {"tokens": [], "item_id": [], "transpose": []} for split in SPLITS
    }
    pieces_per_split = dict.fromkeys(SPLITS, 0)
    for item_id, events in pieces:
        split = split_of(item_id)
        pieces_per_split[split] += 1
        shifts = train_transpositions(events) if split == "train" else [0]
        for shift in shifts:
            moved = transpose_events(events, shift)
            columns[split]["tokens"].append(np.asarray(tokenizer.encode(moved), dtype=np.int32))
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
    token_counts = {split: int(sum(len(t) for t in columns[split]["tokens"])) for split in SPLITS}
    params = {
        **params,
        "augment": f"train: transpositions {TRANSPOSITIONS[0]}..{TRANSPOSITIONS[-1]} "
        f"within MIDI {AUGMENT_LOW}-{AUGMENT_HIGH}",
        "quantization": "sixteenth notes",
        "split": "split_of(piece id, valid_fraction=0.1, test_fraction=0.1)",
    }
    return write_cache(
        out_root,
        name,
        params,
        fields_by_split,
        stats={"tokens": token_counts, "pieces": pieces_per_split},
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
                "steps_per_quarter": STEPS_PER_QUARTER,
            },
            "skipped": skipped,
        },
    )


def _fold_pitch(pitch: int) -> int:
    while pitch < NOTE_MIN:
        pitch += 12
    while pitch > NOTE_MAX:
        pitch -= 12
    return pitch
