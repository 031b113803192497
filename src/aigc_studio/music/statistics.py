"""Statistics of melody sets after mgeval: pitch-class, interval and note-length histograms, range.

Yang & Lerch (2018) evaluate a generative music model by comparing the distribution of simple
musical features over its outputs with that over real music. This module computes four of their
features per melody — the pitch-class histogram (12 bins), the pitch-interval histogram (25 bins
for -12..+12 semitones plus one bin each for larger leaps down and up), the note-length histogram
(the 12 mgeval length classes) and the pitch range — and compares two sets feature by feature
with the overlap and the Kullback-Leibler divergence of their pooled histograms.

That comparison is a simplification of the paper's, which estimates the distributions of
intra-set and inter-set distances between pieces with kernel density estimation and reports the
overlapping area and KL divergence of those densities; pooled histograms need no bandwidth and
are stable on small sets, which is what the studio's benchmark tables need. The numbers are
therefore comparable between our own models, not with the paper's tables.

A melody is either a sequence of ``(pitch, duration in beats)`` pairs (``pitch`` ``None`` for a
rest; longer tuples such as :class:`~aigc_studio.datasets.melody_tokens.MelodyEvent` are read
by their first two fields) or a ``pretty_midi.PrettyMIDI`` whose non-drum notes are taken in
onset order (higher note first on equal onsets). This module does not generate or play music.

References
----------
Yang, L.-C. & Lerch, A. (2018). On the evaluation of generative models in music. *Neural
Computing and Applications* 32, 4773-4784. Reference implementation:
github.com/RichardYang40148/mgeval.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from aigc_studio.errors import ParameterError

#: Key finders of :func:`estimated_key`: name -> class in ``music21.analysis.discrete``.
KEY_FINDERS = {
    "krumhansl-schmuckler": "KrumhanslSchmuckler",
    "bellman-budge": "BellmanBudge",
    "aarden-essen": "AardenEssen",
    "temperley-kostka-payne": "TemperleyKostkaPayne",
}
#: The two modes of the key profiles, in the row order of :func:`_key_profiles`.
_KEY_MODES = ("major", "minor")
#: Largest interval (semitones) with a bin of its own; larger leaps share an out-of-range bin.
MAX_INTERVAL = 12
#: The 12 note-length classes of mgeval, in beats (quarter notes): whole, half, quarter,
#: eighth, sixteenth; dotted half, quarter, eighth, sixteenth; half, quarter, eighth triplets.
NOTE_LENGTH_CLASSES: tuple[float, ...] = (
    4.0, 2.0, 1.0, 0.5, 0.25, 3.0, 1.5, 0.75, 0.375, 4 / 3, 2 / 3, 1 / 3,
)  # fmt: skip
#: Pitch ranges (semitones) with a bin of their own in set comparisons; wider share the last.
MAX_RANGE_BIN = 48
#: Features compared by :func:`compare_sets`.
FEATURES = ("pitch_class", "pitch_interval", "note_length", "pitch_range")

Melody = Any  # Sequence[tuple[int | None, float, ...]] | pretty_midi.PrettyMIDI


def melody_notes(melody: Melody) -> tuple[np.ndarray, np.ndarray]:
    """Return a melody's note pitches and durations in beats, rests dropped.

    Parameters
    ----------
    melody : sequence of (pitch or None, beats, ...) or pretty_midi.PrettyMIDI
        See the module docstring.

    Returns
    -------
    pitches : np.ndarray
        int64 MIDI pitches in order.
    beats : np.ndarray
        float64 durations in beats (quarter notes), same length.

    Raises
    ------
    ParameterError
        If an entry is malformed, a pitch is outside 0-127, or a duration is not positive.
    """
    if hasattr(melody, "instruments") and hasattr(melody, "time_to_tick"):
        notes = sorted(
            (note for track in melody.instruments if not track.is_drum for note in track.notes),
            key=lambda note: (note.start, -note.pitch),
        )
        resolution = float(melody.resolution)
        pitches = np.array([note.pitch for note in notes], dtype=np.int64)
        beats = np.array(
            [
                (melody.time_to_tick(note.end) - melody.time_to_tick(note.start)) / resolution
                for note in notes
            ],
            dtype=np.float64,
        )
        keep = beats > 0  # zero-length notes (grace notes quantized away) carry no length
        return pitches[keep], beats[keep]
    pitch_list: list[int] = []
    beat_list: list[float] = []
    for entry in melody:
        try:
            pitch, duration = entry[0], float(entry[1])
        except (TypeError, IndexError, ValueError) as exc:
            raise ParameterError(
                f"a melody entry must be (pitch or None, duration in beats), got {entry!r}"
            ) from exc
        if not duration > 0:
            raise ParameterError(f"durations must be positive beats, got {duration}")
        if pitch is None:
            continue
        if not 0 <= int(pitch) <= 127:
            raise ParameterError(f"pitches must be MIDI pitches in [0, 127], got {pitch}")
        pitch_list.append(int(pitch))
        beat_list.append(duration)
    return np.asarray(pitch_list, dtype=np.int64), np.asarray(beat_list, dtype=np.float64)


def estimated_key(melody: Melody, finder: str = "krumhansl-schmuckler") -> tuple[int, str]:
    """Return the key a listener would hear, by a key-profile key-finding algorithm.

    music21's key finders correlate the melody's duration-weighted pitch-class distribution
    with a major and a minor profile at every tonic. The default is Krumhansl–Schmuckler
    (Krumhansl 1990's probe-tone profiles). Church modes are not told apart: a dorian tune
    reads as its relative major or minor.

    Parameters
    ----------
    melody : sequence of (pitch or None, beats, ...) or pretty_midi.PrettyMIDI
        See the module docstring.
    finder : str
        One of :data:`KEY_FINDERS`: ``"krumhansl-schmuckler"``, ``"bellman-budge"`` (Bellman
        2005's chord-based profiles), ``"aarden-essen"`` (Aarden 2003, from folk songs) or
        ``"temperley-kostka-payne"`` (Temperley 2007).

    Returns
    -------
    tuple
        ``(tonic pitch class 0-11, "major" or "minor")``.

    Raises
    ------
    ParameterError
        If the melody has no notes or the finder is unknown.
    """
    from music21 import analysis, note, stream

    if finder not in KEY_FINDERS:
        raise ParameterError(f"finder must be one of {', '.join(KEY_FINDERS)}, got {finder!r}")
    pitches, beats = melody_notes(melody)
    if pitches.size == 0:
        raise ParameterError("a melody without notes has no key")
    notes = stream.Stream()
    for pitch, length in zip(pitches, beats, strict=True):
        notes.append(note.Note(int(pitch), quarterLength=float(length)))
    found = getattr(analysis.discrete, KEY_FINDERS[finder])().getSolution(notes)
    return int(found.tonic.pitchClass), str(found.mode)


def key_clarity(melody: Melody, key: tuple[int, str]) -> float:
    """Return how clearly a melody states a key: its profile fit minus the best rival key's.

    The melody's duration-weighted pitch-class histogram is correlated with the
    Temperley–Kostka–Payne key profile (Temperley 2007, from the excerpts of Kostka and Payne's
    *Tonal Harmony*; music21's ``TemperleyKostkaPayne``) rotated to each of the 24 keys; the
    result is the correlation with ``key`` minus the highest correlation with any other key.
    Positive: ``key`` is the best fit, by that margin; negative: another key fits better. A
    profile other than Krumhansl–Schmuckler's (:func:`estimated_key`), so that choosing
    melodies by this score and measuring them by that one are not the same test; of the
    profiles music21 holds it picked, among drafts of our melody model, those that the other
    key finders also heard in the asked key most often (see the README).

    Parameters
    ----------
    melody : sequence of (pitch or None, beats, ...) or pretty_midi.PrettyMIDI
        See the module docstring.
    key : (int, str)
        Tonic pitch class 0-11 and ``"major"`` or ``"minor"``.

    Returns
    -------
    float
        In [-2, 2]; -2 for a melody of fewer than two pitch classes (no key is stated).

    Raises
    ------
    ParameterError
        If the key is not a tonic 0-11 with major or minor.

    Examples
    --------
    >>> scale = [(p, 1.0) for p in (60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60)]
    >>> key_clarity(scale, (0, "major")) > 0 > key_clarity(scale, (9, "minor"))
    True
    """
    tonic, mode = key
    if mode not in _KEY_MODES or isinstance(tonic, bool) or not 0 <= int(tonic) < 12:
        raise ParameterError(f"key must be (tonic 0-11, 'major' or 'minor'), got {key!r}")
    pitches, beats = melody_notes(melody)
    histogram = np.bincount(pitches % 12, weights=beats, minlength=12)
    if np.count_nonzero(histogram) < 2:
        return -2.0
    centred = histogram - histogram.mean()
    correlations = _key_profiles() @ (centred / np.linalg.norm(centred))  # (mode, tonic)
    asked = (_KEY_MODES.index(mode), int(tonic))
    rivals = correlations.copy()
    rivals[asked] = -np.inf
    return float(correlations[asked] - rivals.max())


@functools.cache
def _key_profiles() -> np.ndarray:
    """Return the key profiles at every tonic, centred, unit norm: (mode, tonic, 12)."""
    from music21.analysis.discrete import TemperleyKostkaPayne

    finder = TemperleyKostkaPayne()
    rows = []
    for mode in _KEY_MODES:
        weights = np.asarray(finder.getWeights(mode), dtype=np.float64)
        rotated = np.stack([np.roll(weights, tonic) for tonic in range(12)])
        rotated -= rotated.mean(axis=1, keepdims=True)
        rows.append(rotated / np.linalg.norm(rotated, axis=1, keepdims=True))
    return np.stack(rows)


def key_agreement(
    melodies: Sequence[Melody],
    keys: Sequence[tuple[int, str]],
    finder: str = "krumhansl-schmuckler",
) -> dict[str, float]:
    """Measure how well melodies keep the keys they were asked for (or are labelled with).

    Parameters
    ----------
    melodies : sequence of melodies
        See the module docstring; each needs at least one note.
    keys : sequence of (tonic pitch class, "major" or "minor")
        The key of each melody.
    finder : str
        The key finder of :func:`estimated_key` that hears them.

    Returns
    -------
    dict
        ``key``: fraction whose :func:`estimated_key` is the asked key; ``tonic``: fraction
        with the right tonic, either mode; ``ends_on_tonic``: fraction whose last note is the
        tonic; ``key_major`` / ``key_minor``: ``key`` among the melodies asked for each mode
        (NaN where there are none).

    Raises
    ------
    ParameterError
        If the lengths differ or a melody has no notes.
    """
    if len(melodies) != len(keys) or not melodies:
        raise ParameterError(
            f"need one key per melody and at least one melody, got {len(melodies)} melodies "
            f"and {len(keys)} keys"
        )
    found = [estimated_key(m, finder) for m in melodies]
    last = [int(melody_notes(m)[0][-1]) % 12 for m in melodies]
    right = np.array([f == (k[0], k[1]) for f, k in zip(found, keys, strict=True)])
    modes = np.array([k[1] for k in keys])

    def share(mask: np.ndarray) -> float:
        return float(right[mask].mean()) if mask.any() else float("nan")

    return {
        "key": float(right.mean()),
        "tonic": float(np.mean([f[0] == k[0] for f, k in zip(found, keys, strict=True)])),
        "ends_on_tonic": float(np.mean([n == k[0] for n, k in zip(last, keys, strict=True)])),
        "key_major": share(modes == "major"),
        "key_minor": share(modes == "minor"),
    }


def pitch_class_histogram(melody: Melody) -> np.ndarray:
    """Return the counts of the 12 pitch classes (C, C#, ..., B) of a melody's notes.

    Returns
    -------
    np.ndarray
        float64, shape (12,), raw counts (normalize with :func:`normalized`).

    Examples
    --------
    >>> pitch_class_histogram([(60, 1.0), (72, 1.0), (67, 0.5)])[[0, 7]]
    array([2., 1.])
    """
    pitches, _ = melody_notes(melody)
    return np.bincount(pitches % 12, minlength=12).astype(np.float64)


def pitch_interval_histogram(melody: Melody) -> np.ndarray:
    """Return the counts of intervals between successive notes, in 27 bins.

    Bin 0 holds leaps down of more than an octave, bins 1-25 the intervals -12..+12 semitones,
    bin 26 leaps up of more than an octave.

    Returns
    -------
    np.ndarray
        float64, shape (27,), raw counts.

    Examples
    --------
    >>> hist = pitch_interval_histogram([(60, 1), (62, 1), (60, 1), (80, 1)])
    >>> hist[[1 + 12 + 2, 1 + 12 - 2, 26]].tolist()  # +2, -2, and +20 (beyond an octave)
    [1.0, 1.0, 1.0]
    """
    pitches, _ = melody_notes(melody)
    steps = np.diff(pitches)
    bins = np.clip(steps, -MAX_INTERVAL - 1, MAX_INTERVAL + 1) + MAX_INTERVAL + 1
    return np.bincount(bins, minlength=2 * MAX_INTERVAL + 3).astype(np.float64)


def note_length_histogram(melody: Melody) -> np.ndarray:
    """Return the counts of note lengths in the 12 mgeval classes (:data:`NOTE_LENGTH_CLASSES`).

    Each note goes to the class nearest its length in beats (on a log scale, so that a note
    between a half and a whole is judged by ratio); notes longer than a whole note count as whole
    notes, as in mgeval.

    Returns
    -------
    np.ndarray
        float64, shape (12,), raw counts.
    """
    _, beats = melody_notes(melody)
    classes = np.log2(np.asarray(NOTE_LENGTH_CLASSES))
    nearest = np.argmin(np.abs(np.log2(beats)[:, np.newaxis] - classes[np.newaxis, :]), axis=1)
    return np.bincount(nearest, minlength=len(NOTE_LENGTH_CLASSES)).astype(np.float64)


def pitch_range(melody: Melody) -> int:
    """Return the distance in semitones between a melody's highest and lowest note (0 if none)."""
    pitches, _ = melody_notes(melody)
    return int(pitches.max() - pitches.min()) if pitches.size else 0


def pitch_range_histogram(melodies: Sequence[Melody]) -> np.ndarray:
    """Return the counts of per-melody pitch ranges over a set, bins 0..47 and 48+ semitones."""
    ranges = np.array([min(pitch_range(m), MAX_RANGE_BIN) for m in melodies], dtype=np.int64)
    return np.bincount(ranges, minlength=MAX_RANGE_BIN + 1).astype(np.float64)


def normalized(histogram: np.ndarray) -> np.ndarray:
    """Return a histogram scaled to sum 1.

    Raises
    ------
    ParameterError
        If it is empty, holds negative or non-finite values, or sums to 0.
    """
    h = np.asarray(histogram, dtype=np.float64)
    if h.ndim != 1 or h.size == 0:
        raise ParameterError(f"a histogram must be a non-empty 1-D array, got shape {h.shape}")
    if not np.all(np.isfinite(h)) or np.any(h < 0):
        raise ParameterError("a histogram must hold finite, non-negative counts")
    total = h.sum()
    if total <= 0:
        raise ParameterError("a histogram must have a positive total (is the melody set empty?)")
    return h / total


def histogram_overlap(p: np.ndarray, q: np.ndarray) -> float:
    """Return the overlap of two histograms: the sum of bin-wise minima after normalization.

    1 for identical distributions, 0 for disjoint ones (Swain & Ballard 1991, "Color indexing",
    the histogram intersection; the discrete counterpart of the overlapping area of Yang & Lerch
    2018).

    Raises
    ------
    ParameterError
        If the histograms differ in length or are invalid (see :func:`normalized`).

    Examples
    --------
    >>> histogram_overlap(np.array([1, 1, 0]), np.array([0, 1, 1]))
    0.5
    """
    p, q = _pair(p, q)
    return float(np.minimum(p, q).sum())


def kl_divergence(p: np.ndarray, q: np.ndarray, eps: float = 1e-6) -> float:
    """Return the Kullback-Leibler divergence KL(p ‖ q) in nats, smoothed by ``eps``.

    Both histograms are normalized, ``eps`` is added to every bin of both and they are
    normalized again, so that a bin empty in ``q`` costs a large but finite amount.

    Parameters
    ----------
    p, q : np.ndarray
        Histograms (counts or probabilities) of the same length.
    eps : float
        Smoothing mass per bin, in (0, 1).

    Raises
    ------
    ParameterError
        If ``eps`` is out of range or the histograms are invalid.

    References
    ----------
    Kullback, S. & Leibler, R. A. (1951). On information and sufficiency. *Ann. Math. Statist.*
    22(1), 79-86.

    Examples
    --------
    >>> round(kl_divergence(np.array([1.0, 1.0]), np.array([1.0, 1.0])), 12)
    0.0
    """
    if not 0 < eps < 1:
        raise ParameterError(f"eps must be in (0, 1), got {eps}")
    p, q = _pair(p, q)
    p = (p + eps) / (1 + eps * p.size)
    q = (q + eps) / (1 + eps * q.size)
    return float(np.sum(p * np.log(p / q)))


def set_histograms(melodies: Sequence[Melody]) -> dict[str, np.ndarray]:
    """Return the pooled (summed over melodies) raw histogram of each feature of a set.

    Returns
    -------
    dict of str to np.ndarray
        Keys of :data:`FEATURES`.

    Raises
    ------
    ParameterError
        If ``melodies`` is empty.
    """
    if len(melodies) == 0:
        raise ParameterError("the melody set is empty")
    return {
        "pitch_class": np.sum([pitch_class_histogram(m) for m in melodies], axis=0),
        "pitch_interval": np.sum([pitch_interval_histogram(m) for m in melodies], axis=0),
        "note_length": np.sum([note_length_histogram(m) for m in melodies], axis=0),
        "pitch_range": pitch_range_histogram(melodies),
    }


def compare_sets(
    generated: Sequence[Melody], reference: Sequence[Melody], *, eps: float = 1e-6
) -> dict[str, dict[str, float]]:
    """Compare the feature distributions of generated melodies with those of reference melodies.

    Parameters
    ----------
    generated, reference : sequence of melodies
        See the module docstring.
    eps : float
        Smoothing of :func:`kl_divergence`.

    Returns
    -------
    dict
        For each feature of :data:`FEATURES`: ``{"overlap": histogram_overlap,
        "kl": KL(reference ‖ generated)}`` (the KL direction penalizes generated music that
        misses what the reference does), and for ``"pitch_range"`` also the mean range of each
        set (``"generated_mean"``, ``"reference_mean"``, semitones).

    Raises
    ------
    ParameterError
        If a set is empty or holds no notes for a feature (e.g. only one-note melodies give no
        intervals).

    References
    ----------
    Yang, L.-C. & Lerch, A. (2018). On the evaluation of generative models in music.
    """
    ours, theirs = set_histograms(generated), set_histograms(reference)
    result: dict[str, dict[str, float]] = {}
    for feature in FEATURES:
        try:
            result[feature] = {
                "overlap": histogram_overlap(ours[feature], theirs[feature]),
                "kl": kl_divergence(theirs[feature], ours[feature], eps),
            }
        except ParameterError as exc:
            raise ParameterError(f"feature {feature}: {exc}") from exc
    result["pitch_range"]["generated_mean"] = float(np.mean([pitch_range(m) for m in generated]))
    result["pitch_range"]["reference_mean"] = float(np.mean([pitch_range(m) for m in reference]))
    return result


def _pair(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, q = normalized(p), normalized(q)
    if p.shape != q.shape:
        raise ParameterError(f"histograms differ in length: {p.size} and {q.size}")
    return p, q
