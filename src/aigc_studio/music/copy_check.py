"""Respect for the source: the longest run of notes a melody shares with a training tune.

A generated melody that repeats a long passage of a training tune is a copy, whatever key it is
in. :func:`longest_shared_run` finds the longest run of consecutive notes of a melody whose
*interval* sequence (semitone steps between successive notes, so the comparison is
transposition-invariant; rests and durations are ignored) occurs in any tune of an
:class:`IntervalIndex`, and reports which tune and where. By default repeated pitches are merged
into one note first: the melody tokenizer splits a note held across a bar line into two, at bar
lines that differ between a corpus tune and a copy of it in another meter or with another
upbeat, and a copy with a rhythm changed by splitting or tying notes is still a copy.
:func:`build_corpus_index` builds the index from a prepared melody token cache (the Bach chorale
sopranos); an index saves to and loads from a compact ``.npz``.

The measure follows the melodic-similarity practice of music plagiarism studies, which compare
transposition-invariant pitch-interval sequences (Müllensiefen & Pendzich 2009, "Court decisions
on music plagiarism and the predictive value of similarity algorithms", *Musicae Scientiae*
13(1)); the maximal exact match is the simplest of them. This module does not decide what counts
as copying (the caller sets the allowed length) and does not generate music.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from aigc_studio.errors import ConfigError, MediaError, ParameterError

#: Default shortest run the index finds, in notes (4 intervals): shorter runs are commonplace.
DEFAULT_MIN_LENGTH = 5
#: Seeds are at most this many intervals, packed 8 bits each into one int64 key.
MAX_SEED_INTERVALS = 7
#: Separates tunes in the concatenated interval array (no real interval is this large), so that
#: no match runs from one tune into the next.
_CORPUS_GAP = np.int16(1000)
#: Ends the query intervals; differs from ``_CORPUS_GAP`` so that the two never match.
_QUERY_END = np.int16(-1000)
#: Version of the ``.npz`` layout written by :meth:`IntervalIndex.save`.
INDEX_FORMAT_VERSION = 1


@dataclass(frozen=True)
class CopyReport:
    """The longest run of notes a melody shares with an indexed tune.

    Attributes
    ----------
    length_notes : int
        Notes in the run (intervals + 1); 0 when no run of at least the index's ``min_length``
        notes is shared. Notes are counted without rests and, when the index merges repeats,
        with each repeated pitch counted once (as are the positions below).
    source_id : str or None
        Id of the tune that holds the run (the first such tune in index order on ties).
    position : int
        Index of the run's first note among the melody's notes (rests not counted); -1 if none.
    source_position : int
        Index of the run's first note among the source tune's notes; -1 if none.
    min_length : int
        The index's detection floor in notes.
    """

    length_notes: int
    source_id: str | None
    position: int
    source_position: int
    min_length: int

    def to_dict(self) -> dict[str, int | str | None]:
        """Return the report as plain JSON-able data."""
        return {
            "length_notes": self.length_notes,
            "source_id": self.source_id,
            "position": self.position,
            "source_position": self.source_position,
            "min_length": self.min_length,
        }


class IntervalIndex:
    """Every transposition-invariant interval n-gram of a set of tunes, with its source.

    Tunes are stored as their interval sequences, concatenated with a separator; every window of
    ``min(min_length - 1, 7)`` intervals (the *seed*) is packed into one integer key and the keys
    are sorted, so all tunes holding a given seed are found by binary search.

    Parameters
    ----------
    melodies : iterable of (source id, pitches)
        Each tune as MIDI pitches in order; ``None`` entries (rests) are skipped. Tunes with fewer
        than two notes hold no interval and are kept only by id.
    min_length : int
        Shortest shared run, in notes (2-64), that :func:`longest_shared_run` reports.
    merge_repeats : bool
        Merge consecutive notes of one pitch into one note, in the tunes and in every query
        (see the module docstring).

    Raises
    ------
    ParameterError
        If ``min_length`` is out of range or a pitch is not in 0-127.

    Examples
    --------
    >>> index = IntervalIndex([("tune", [60, 62, 64, 65, 67, 69])], min_length=4)
    >>> longest_shared_run([50, 52, 53, 55, 57], index).length_notes  # a transposed copy
    5
    """

    def __init__(
        self,
        melodies: Iterable[tuple[str, Sequence[int | None]]],
        *,
        min_length: int = DEFAULT_MIN_LENGTH,
        merge_repeats: bool = True,
    ) -> None:
        if isinstance(min_length, bool) or not isinstance(min_length, int | np.integer):
            raise ParameterError(f"min_length must be an integer, got {min_length!r}")
        if not 2 <= min_length <= 64:
            raise ParameterError(f"min_length must be in [2, 64] notes, got {min_length}")
        ids: list[str] = []
        parts: list[np.ndarray] = []
        for source_id, pitches in melodies:
            ids.append(str(source_id))
            parts.append(intervals_of(pitches, merge_repeats=merge_repeats))
        lengths = np.array([len(part) for part in parts], dtype=np.int64)
        # Tune i's intervals start at starts[i]; one separator follows every tune.
        starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]).astype(np.int64)
        self._init_arrays(
            np.concatenate([np.append(p, _CORPUS_GAP) for p in parts]).astype(np.int16)
            if parts
            else np.zeros(0, np.int16),
            starts,
            np.asarray(ids, dtype=str) if ids else np.zeros(0, dtype="<U1"),
            int(min_length),
            bool(merge_repeats),
        )

    def _init_arrays(
        self,
        intervals: np.ndarray,
        starts: np.ndarray,
        ids: np.ndarray,
        min_length: int,
        merge_repeats: bool,
    ) -> None:
        self.min_length = min_length
        self.merge_repeats = merge_repeats
        self.intervals = intervals
        self.tune_starts = starts
        self.source_ids = ids
        self.seed_length = min(min_length - 1, MAX_SEED_INTERVALS)
        keys, positions = _seed_keys(intervals, self.seed_length)
        order = np.argsort(keys, kind="stable")
        self._keys, self._positions = keys[order], positions[order]

    def __len__(self) -> int:
        """Return the number of tunes."""
        return len(self.source_ids)

    @property
    def n_intervals(self) -> int:
        """Number of intervals indexed (all tunes)."""
        return int(len(self.intervals) - len(self.source_ids))

    def occurrences(self, seed: np.ndarray) -> np.ndarray:
        """Return the positions (in the concatenated intervals) where ``seed`` begins.

        Parameters
        ----------
        seed : np.ndarray
            ``seed_length`` intervals.
        """
        key = _pack(np.asarray(seed, dtype=np.int64)[np.newaxis, :])[0]
        lo, hi = np.searchsorted(self._keys, [key, key + 1])
        return self._positions[lo:hi]

    def tune_of(self, positions: np.ndarray) -> np.ndarray:
        """Return the tune number of each position in the concatenated intervals."""
        return np.searchsorted(self.tune_starts, positions, side="right") - 1

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the index to a compressed ``.npz`` (no pickles), atomically.

        Only the intervals, tune offsets, ids and ``min_length`` are stored; the sorted seed
        keys are rebuilt on load (milliseconds), which keeps the file small.

        Returns
        -------
        Path
        """
        from aigc_studio.media import atomic_output

        out = Path(path)
        with atomic_output(out) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(
                handle,
                format_version=np.int64(INDEX_FORMAT_VERSION),
                min_length=np.int64(self.min_length),
                merge_repeats=np.bool_(self.merge_repeats),
                intervals=self.intervals,
                tune_starts=self.tune_starts,
                source_ids=self.source_ids,
            )
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> IntervalIndex:
        """Read an index written by :meth:`save`.

        Raises
        ------
        ConfigError
            If the file is missing, not an index, or of another format version.
        """
        file = Path(path)
        try:
            with np.load(file, allow_pickle=False) as data:
                version = int(data["format_version"])
                if version != INDEX_FORMAT_VERSION:
                    raise ConfigError(
                        f"{file}: copy-check index format {version}, expected "
                        f"{INDEX_FORMAT_VERSION}; build it again"
                    )
                arrays = {
                    name: np.asarray(data[name])
                    for name in ("intervals", "tune_starts", "source_ids")
                }
                min_length = int(data["min_length"])
                merge_repeats = bool(data["merge_repeats"])
        except ConfigError:
            raise
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(f"{file}: not a readable copy-check index ({exc})") from exc
        if len(arrays["tune_starts"]) != len(arrays["source_ids"]):
            raise ConfigError(f"{file}: corrupt copy-check index (tune counts disagree)")
        index = cls.__new__(cls)
        index._init_arrays(
            arrays["intervals"].astype(np.int16),
            arrays["tune_starts"].astype(np.int64),
            arrays["source_ids"],
            min_length,
            merge_repeats,
        )
        return index


def intervals_of(pitches: Sequence[int | None], *, merge_repeats: bool = True) -> np.ndarray:
    """Return the semitone steps between successive notes, rests (``None``) skipped.

    Parameters
    ----------
    pitches : sequence of int or None
        MIDI pitches in order, ``None`` for rests.
    merge_repeats : bool
        Merge consecutive notes of one pitch first (so no step is 0).

    Returns
    -------
    np.ndarray
        int16 steps, one fewer than the (merged) notes.

    Raises
    ------
    ParameterError
        If a pitch is not an integer MIDI pitch in 0-127.
    """
    notes = [p for p in pitches if p is not None]
    array = np.asarray(notes, dtype=np.int64)
    if array.size and (array.min() < 0 or array.max() > 127):
        raise ParameterError(
            f"pitches must be MIDI pitches in [0, 127], got {array.min()}..{array.max()}"
        )
    steps = np.diff(array)
    return (steps[steps != 0] if merge_repeats else steps).astype(np.int16)


def longest_shared_run(melody_pitches: Sequence[int | None], index: IntervalIndex) -> CopyReport:
    """Find the longest run of consecutive notes whose intervals occur in an indexed tune.

    Algorithm: every window of ``seed_length`` intervals of the melody is looked up in the
    index's sorted seed keys (binary search); each hit that cannot be extended to the left (a
    left-extensible hit is part of a longer match found from an earlier window) is extended to
    the right in lock-step, all hits at once in numpy, until the intervals differ or a tune or
    the melody ends. The longest extension is the answer, exactly: any shared run of at least
    ``min_length`` notes contains a seed at its start, and the extension finds its full length.
    Runs shorter than ``min_length`` notes are not looked for.

    Complexity: O(m log N) for the lookups (m melody notes, N indexed intervals) plus
    O(h + L) numpy steps for the extension (h hits, L the longest run), O(h * L) element
    operations in the worst case; memory O(h).

    Parameters
    ----------
    melody_pitches : sequence of int or None
        MIDI pitches in order; ``None`` (a rest) is skipped; repeats are merged if the index
        merges them.
    index : IntervalIndex
        The tunes to compare against.

    Returns
    -------
    CopyReport
        The longest run; on ties, the earliest in the melody, then the first tune in the index.

    Raises
    ------
    ParameterError
        If a pitch is not in 0-127.

    References
    ----------
    Müllensiefen, D. & Pendzich, M. (2009). Court decisions on music plagiarism and the
    predictive value of similarity algorithms. *Musicae Scientiae* 13(1), 257-295.
    """
    query = intervals_of(melody_pitches, merge_repeats=index.merge_repeats)
    none = CopyReport(0, None, -1, -1, index.min_length)
    k = index.seed_length
    if len(query) < index.min_length - 1 or len(index.intervals) == 0:
        return none
    windows = np.lib.stride_tricks.sliding_window_view(query.astype(np.int64), k)
    keys = _pack(windows)
    lo = np.searchsorted(index._keys, keys, side="left")
    hi = np.searchsorted(index._keys, keys, side="right")
    counts = hi - lo
    if not counts.any():
        return none
    starts_q = np.repeat(np.arange(len(keys)), counts)
    # The j-th hit of window w sits at lo[w] + j in the sorted keys.
    rank = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    starts_c = index._positions[np.repeat(lo, counts) + rank]
    padded_q = np.append(query, _QUERY_END)
    corpus = index.intervals
    # Hits whose previous intervals also agree are suffixes of a longer match: drop them.
    has_left = (starts_q > 0) & (starts_c > 0)
    left_equal = np.zeros(len(starts_q), dtype=bool)
    left_equal[has_left] = padded_q[starts_q[has_left] - 1] == corpus[starts_c[has_left] - 1]
    starts_q, starts_c = starts_q[~left_equal], starts_c[~left_equal]
    length = np.full(len(starts_q), k, dtype=np.int64)
    active = np.ones(len(starts_q), dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        # The separators make both reads safe: the corpus ends with _CORPUS_GAP, the query
        # with _QUERY_END, and neither equals any interval or the other.
        same = padded_q[starts_q[idx] + length[idx]] == corpus[starts_c[idx] + length[idx]]
        length[idx[same]] += 1
        active[idx[~same]] = False
    intervals_needed = index.min_length - 1
    best_length = int(length.max())
    if best_length < intervals_needed:
        return none
    candidates = np.flatnonzero(length == best_length)
    tunes = index.tune_of(starts_c[candidates])
    best = candidates[np.lexsort((tunes, starts_q[candidates]))[0]]
    tune = int(index.tune_of(starts_c[best : best + 1])[0])
    return CopyReport(
        length_notes=best_length + 1,
        source_id=str(index.source_ids[tune]),
        position=int(starts_q[best]),
        source_position=int(starts_c[best] - index.tune_starts[tune]),
        min_length=index.min_length,
    )


Drawn = TypeVar("Drawn")


def sample_original(
    draw: Callable[[int], Sequence[Drawn]],
    pitches: Callable[[Drawn], Sequence[int | None]],
    index: IntervalIndex | None,
    *,
    seed: int,
    max_shared: int,
    max_attempts: int,
    what: str = "melodies",
) -> tuple[Drawn, int, CopyReport | None]:
    """Draw with seeds ``seed``, ``seed + 1``, ... until a draw holds an original candidate.

    The resampling half of the copy check: each draw gives one or more candidates, best first;
    each candidate's melody (``pitches(candidate)``) is looked up with
    :func:`longest_shared_run`, and the first that shares a run of at most ``max_shared``
    notes with an indexed tune is returned. With ``index=None`` the first candidate of the
    first draw is returned unchecked.

    Parameters
    ----------
    draw : callable
        Makes the candidates of one attempt from a seed, best first (at least one).
    pitches : callable
        The pitches of a candidate that are checked (rests as ``None``).
    index : IntervalIndex or None
        The training corpus, or None to skip the check.
    seed : int
        Seed of the first draw.
    max_shared : int
        Longest shared run allowed, in notes (at least 3).
    max_attempts : int
        Draws before giving up, in [1, 100].
    what : str
        What is drawn, plural, for the error message.

    Returns
    -------
    tuple
        ``(candidate, the seed of its draw, its CopyReport or None when unchecked)``.

    Raises
    ------
    ParameterError
        If the limits are absurd, or every candidate copies more than allowed (the message
        names the closest one's source tune).
    """
    if not 1 <= max_attempts <= 100:
        raise ParameterError(f"max_attempts must be in [1, 100], got {max_attempts}")
    if max_shared < 3:
        raise ParameterError(f"max_shared must be at least 3 notes, got {max_shared}")
    best: CopyReport | None = None
    for attempt in range(max_attempts):
        candidates = draw(seed + attempt)
        if not candidates:
            raise ValueError("draw gave no candidate")
        if index is None:
            return candidates[0], seed + attempt, None
        for candidate in candidates:
            report = longest_shared_run(pitches(candidate), index)
            if report.length_notes <= max_shared:
                return candidate, seed + attempt, report
            if best is None or report.length_notes < best.length_notes:
                best = report
    assert best is not None
    raise ParameterError(
        f"every one of {max_attempts} {what} shared more than {max_shared} notes with a "
        f"training tune (best: {best.length_notes} notes with {best.source_id}); raise "
        "--temperature, try another --seed, or pass --allow-copying"
    )


def build_corpus_index(
    token_cache_root: str | os.PathLike[str],
    *,
    min_length: int = DEFAULT_MIN_LENGTH,
    merge_repeats: bool = True,
) -> IntervalIndex:
    """Index every tune of a melody token cache (all splits, original keys only).

    The train split's transposed copies (``transpose != 0``, ids ``"bwv269@+3"``) are skipped:
    the index is transposition-invariant, so they would only repeat their original.

    Parameters
    ----------
    token_cache_root : str or PathLike
        A cache made by :func:`aigc_studio.datasets.melody_tokens.prepare_bach_melodies` or
        ``prepare_midi_folder_tokens``.
    min_length : int
        Shortest shared run reported, in notes.
    merge_repeats : bool
        Merge repeated pitches (see :class:`IntervalIndex`).

    Returns
    -------
    IntervalIndex
        One tune per piece, with the piece's item id (``"bwv269"``) as source id.

    Raises
    ------
    ConfigError
        If there is no cache at ``token_cache_root`` or it lacks the ``tokens``/``item_id``
        fields.
    """
    from aigc_studio.datasets.cache import load_split, read_manifest
    from aigc_studio.datasets.melody_tokens import MelodyTokenizer
    from aigc_studio.datasets.split import SPLITS

    manifest = read_manifest(token_cache_root)
    wanted = ["tokens", "item_id"] + (["transpose"] if "transpose" in manifest["fields"] else [])
    tokenizer = MelodyTokenizer()
    melodies: list[tuple[str, list[int | None]]] = []
    for split in SPLITS:
        data = load_split(token_cache_root, split, wanted)
        offsets, tokens = data["tokens_offsets"], data["tokens"]
        for i, item_id in enumerate(data["item_id"]):
            transposed = int(data["transpose"][i]) != 0 if "transpose" in data else "@" in item_id
            if transposed:
                continue
            events = tokenizer.decode(tokens[int(offsets[i]) : int(offsets[i + 1])])
            melodies.append((str(item_id), [e.pitch for e in events]))
    return IntervalIndex(melodies, min_length=min_length, merge_repeats=merge_repeats)


def corpus_index(
    corpus: str | os.PathLike[str], *, min_length: int = DEFAULT_MIN_LENGTH
) -> IntervalIndex:
    """Return the index of a corpus, building it once and caching it beside the corpus.

    Parameters
    ----------
    corpus : str or PathLike
        A ``.npz`` index written by :meth:`IntervalIndex.save` (used as it is, whatever
        ``min_length`` says), a melody token cache folder, or the name of a prepared dataset
        (``"bach-melodies"``, found under ``$AIGC_HOME/datasets``).
    min_length : int
        Shortest shared run reported, in notes.

    Returns
    -------
    IntervalIndex

    Raises
    ------
    ConfigError
        If the corpus is not prepared (the message names the ``aigc data prepare`` command) or
        the index file is unreadable.

    Notes
    -----
    The index of a cache folder is kept in it as ``copy-index-min<N>.npz``. Preparing the
    dataset again replaces the whole folder, so a cached index never outlives its corpus.
    """
    path = Path(corpus)
    if path.suffix == ".npz":
        if not path.is_file():
            raise ConfigError(f"{path}: no such copy-check index")
        return IntervalIndex.load(path)
    if not path.is_dir():
        from aigc_studio.datasets.cache import default_dataset_root

        path = default_dataset_root(str(corpus))
    cached = path / f"copy-index-min{min_length}.npz"
    if cached.is_file():
        index = IntervalIndex.load(cached)
        if index.min_length == min_length and index.merge_repeats:
            return index
    index = build_corpus_index(path, min_length=min_length)
    # A read-only corpus folder only costs a rebuild next time.
    with contextlib.suppress(MediaError, OSError):
        index.save(cached)
    return index


def _seed_keys(intervals: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the packed key and start position of every seed that stays inside one tune."""
    if len(intervals) < k:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(intervals.astype(np.int64), k)
    inside = ~(windows == _CORPUS_GAP).any(axis=1)
    positions = np.flatnonzero(inside)
    return _pack(windows[positions]), positions.astype(np.int64)


def _pack(windows: np.ndarray) -> np.ndarray:
    """Pack rows of up to 7 intervals in [-127, 127] into one int64 each (8 bits per interval)."""
    shifted = windows + 127  # 0..254
    weights = np.left_shift(np.int64(1), 8 * np.arange(windows.shape[1], dtype=np.int64))
    return shifted @ weights
