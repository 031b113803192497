"""Token dataset of the folk tunes in music21's corpus, with style, meter and key headers.

Three abc collections ship with music21: the Essen folksong collection (Schaffrath 1995; 31
files, 8,514 mostly German and Chinese songs), O'Neill's *Music of Ireland* (1903, "O'Neill's
1850") and Ryan's *Mammoth Collection* (1883) of fiddle tunes. :func:`prepare_folk_melodies`
tokenizes every tune as a melody of :mod:`~aigc_studio.datasets.melody_tokens` with the header
``STYLE METER KEY``:

- style: ``folk`` for Essen; for O'Neill and Ryan ``reel`` in 4/4 or 2/2, ``jig`` in 6/8, 9/8
  or 12/8, ``fiddle`` otherwise (:func:`folk_style`);
- meter: the tune's first time signature (abc ``M:``), ``other`` outside the METER list;
- key: from the abc ``K:`` field. O'Neill and Ryan write the mode (``K:Ador``, ``K:Em``) and
  it is read as written. The Essen files name only the tonic (the EsAC convention: ``K:G``
  with the minor third written as an accidental), so the mode there is the better of major
  and minor at that tonic in music21's key analysis (:func:`~aigc_studio.datasets.
  melody_tokens.key_of_score` with ``notated_tonic=True``).

The files are read as abc 2.1, where an accidental holds to the end of its bar as the
transcribers meant (music21 reads abc as 1.3 by default, where it does not: ``_B2B2`` would be
B-flat, B). The melody is the first voice, quantized to sixteenth notes like the chorales (ties
merged, the top note of a chord, grace notes and chord symbols dropped). A tune whose rhythm
does not fit the grid (triplets, thirty-seconds) is rounded onto it, and skipped if more than
:data:`MAX_OFF_GRID` of its notes change length. Repeats are kept as written, not expanded.
Tunes listed twice (O'Neill files overlap: the same tune number in two files) and melodies
identical to an earlier one (the Essen test files repeat songs of the others) are skipped, so
that no melody is in two splits. This module prepares a cache; it does not generate music.

References
----------
Schaffrath, H. (1995). The Essen Folksong Collection. D. Huron (ed.), Center for Computer
Assisted Research in the Humanities, Stanford.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, NamedTuple

from aigc_studio.datasets.melody_tokens import (
    STEPS_PER_QUARTER,
    MelodyControls,
    MelodyPiece,
    first_meter,
    grid_steps,
    key_of_score,
    melody_events_from_notes,
    meter_of_token,
    meter_token,
    music21_part_notes,
    write_melody_cache,
)
from aigc_studio.datasets.split import SPLITS, split_of
from aigc_studio.errors import ParameterError

#: Source name -> folder of music21's corpus holding its abc files.
SOURCES = {"essen": "essenFolksong", "oneill": "oneills1850", "ryans": "ryansMammoth"}
#: Largest fraction of a tune's notes whose length may change on the sixteenth-note grid.
MAX_OFF_GRID = 0.1
#: The abc standard the files are read by: 2.1, where an accidental lasts to the end of its bar.
ABC_VERSION = (2, 1, 0)
REEL_METERS = frozenset({"4/4", "2/2"})
JIG_METERS = frozenset({"6/8", "9/8", "12/8"})

ProgressCallback = Callable[[str, int, int], None]

_REFERENCE = re.compile(r"^\s*X:\s*(\d+)")


class _FileTask(NamedTuple):
    """The tunes (abc ``X:`` numbers) to read from one file of one source."""

    source: str
    path: str
    numbers: list[int]


def folk_style(source: str, meter: str | None) -> str:
    """Return the style of a tune from its source and meter (see the module docstring).

    Parameters
    ----------
    source : {"essen", "oneill", "ryans"}
    meter : str or None
        The tune's time signature as a ratio string (``"6/8"``), ``None`` if it has none.

    Returns
    -------
    str
        ``"folk"``, ``"reel"``, ``"jig"`` or ``"fiddle"``.

    Raises
    ------
    ParameterError
        If ``source`` is unknown.

    Examples
    --------
    >>> folk_style("oneill", "6/8"), folk_style("ryans", "2/4"), folk_style("essen", "6/8")
    ('jig', 'fiddle', 'folk')
    """
    if source not in SOURCES:
        raise ParameterError(f"source must be one of {list(SOURCES)}, got {source!r}")
    if source == "essen":
        return "folk"
    if meter in REEL_METERS:
        return "reel"
    if meter in JIG_METERS:
        return "jig"
    return "fiddle"


def corpus_abc_files(source: str) -> list[Path]:
    """Return the abc files of a source in music21's corpus, sorted by name.

    Raises
    ------
    ParameterError
        If ``source`` is unknown.
    """
    from music21 import corpus

    if source not in SOURCES:
        raise ParameterError(f"source must be one of {list(SOURCES)}, got {source!r}")
    folder = SOURCES[source]
    paths = corpus.getPaths(fileExtensions=("abc",))
    return sorted((Path(p) for p in paths if Path(p).parent.name == folder), key=lambda p: p.name)


def reference_numbers(path: str | os.PathLike[str]) -> list[int]:
    """Return the tune numbers (``X:`` fields) of an abc file in file order."""
    text = Path(path).read_text(encoding="utf-8")
    return [int(m.group(1)) for m in map(_REFERENCE.match, text.splitlines()) if m]


def off_grid_fraction(notes: Sequence[tuple[float, float, int]]) -> float:
    """Return the fraction of notes whose length changes when rounded to sixteenth notes.

    Parameters
    ----------
    notes : sequence of (start, end, pitch)
        Times in quarter notes, as :func:`~aigc_studio.datasets.melody_tokens.
        music21_part_notes` returns them.

    Returns
    -------
    float
        In [0, 1]; 0 for no notes. A note rounded to no length counts as changed (it is given
        one step).

    Examples
    --------
    >>> off_grid_fraction([(0, 1, 60), (1, 4 / 3, 62), (4 / 3, 5 / 3, 64), (5 / 3, 2, 65)])
    0.75
    """
    if not notes:
        return 0.0
    changed = 0
    for start, end, _ in notes:
        exact = (end - start) * STEPS_PER_QUARTER
        first = grid_steps(start)
        rounded = max(grid_steps(end), first + 1) - first
        changed += abs(rounded - exact) > 1e-6
    return changed / len(notes)


def prepare_folk_melodies(
    out_root: str | os.PathLike[str],
    *,
    sources: Sequence[str] = ("essen", "oneill", "ryans"),
    max_pieces: int | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Tokenize the folk tunes of music21's corpus into a dataset cache.

    Item ids are ``"essen/<file stem>/<X>"``, ``"oneill/<X>"`` (the tune's number in
    O'Neill's book) and ``"ryans/<file stem>/<X>"``, with ``X`` the abc tune number; each
    decides the tune's split (:func:`~aigc_studio.datasets.split.split_of`). The cache has the
    fields of :func:`~aigc_studio.datasets.melody_tokens.prepare_bach_melodies` plus ``style``
    (the style name of each item); the train split holds transposed copies with their KEY
    moved. The manifest's ``stats`` add the tunes per source and split (``"sources"``), per
    style and split (``"styles"``), per meter and mode, and the skipped tunes per kind
    (``"skipped"``); the manifest's ``"skipped"`` lists each with its file and reason.

    Parsing is slow (music21's abc reader): the 11,582 tunes took 19 minutes in one process on
    a busy 2-core machine. Files are read in parallel by ``workers`` processes.

    Parameters
    ----------
    out_root : str or PathLike
        The cache folder to write.
    sources : sequence of str
        Which of ``"essen"``, ``"oneill"``, ``"ryans"`` to read, in this order.
    max_pieces : int, optional
        Read only the first this many tunes (sources in order, files by name, tunes in file
        order; for tests); all by default.
    workers : int, optional
        Processes parsing files, 1-32; default the smaller of 2 and the CPUs available. With 1
        the files are parsed in this process.
    progress : callable, optional
        Called as ``progress(description, done, total)`` after each file.

    Returns
    -------
    Path
        ``out_root``.

    Raises
    ------
    ParameterError
        If ``sources`` is empty or names an unknown source, or ``max_pieces`` or ``workers``
        is out of range.
    MediaError
        If no tune can be read.
    """
    sources = list(sources)
    unknown = [s for s in sources if s not in SOURCES]
    if not sources or unknown or len(set(sources)) != len(sources):
        raise ParameterError(
            f"sources must be distinct names among {list(SOURCES)}, got {sources!r}"
        )
    if max_pieces is not None and max_pieces < 1:
        raise ParameterError(f"max_pieces must be at least 1, got {max_pieces}")
    if workers is None:
        workers = min(2, _available_cpus())
    if not 1 <= workers <= 32:
        raise ParameterError(f"workers must be in [1, 32], got {workers}")

    tasks, skipped = _plan(sources, max_pieces)
    results = _read_all(tasks, workers, progress)
    pieces: list[MelodyPiece] = []
    first_of_melody: dict[tuple, str] = {}
    sources_per_split = {source: dict.fromkeys(SPLITS, 0) for source in sources}
    for task, outcome in zip(tasks, results, strict=True):
        for result in outcome:
            if isinstance(result, dict):
                skipped.append(result)
                continue
            melody = tuple(result.events)
            if melody in first_of_melody:
                skipped.append(
                    _skip(
                        task,
                        result.item_id,
                        "duplicate",
                        f"same melody as {first_of_melody[melody]}",
                    )
                )
                continue
            first_of_melody[melody] = result.item_id
            pieces.append(result)
            sources_per_split[task.source][split_of(result.item_id)] += 1
    params = {
        "sources": sources,
        "max_pieces": max_pieces,
        "corpus": {source: f"music21 corpus/{SOURCES[source]}" for source in sources},
        "melody": "first voice, top note of chords, grace notes dropped, repeats as written",
        "max_off_grid": MAX_OFF_GRID,
        "style": "essen: folk; oneill/ryans: reel (4/4, 2/2), jig (6/8, 9/8, 12/8), fiddle",
        "key": "abc K: (essen: tonic only, mode by music21's key analysis)",
    }
    stats = {
        "sources": sources_per_split,
        "skipped": dict(Counter(entry["kind"] for entry in skipped).most_common()),
    }
    return write_melody_cache(
        out_root, "folk-melodies", pieces, params, skipped, style_field=True, stats=stats
    )


def _available_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _plan(sources: Sequence[str], max_pieces: int | None) -> tuple[list[_FileTask], list[dict]]:
    """List the tunes to read per file, skipping O'Neill numbers already met in earlier files."""
    tasks: list[_FileTask] = []
    skipped: list[dict[str, str]] = []
    remaining = max_pieces
    first_file: dict[int, str] = {}
    for source in sources:
        for path in corpus_abc_files(source):
            numbers = []
            for number in reference_numbers(path):
                if remaining is not None and remaining <= 0:
                    break
                if source == "oneill":
                    if number in first_file:
                        task = _FileTask(source, str(path), [])
                        reason = f"tune {number} already read from {first_file[number]}"
                        skipped.append(_skip(task, _item_id(task, number), "duplicate", reason))
                        continue
                    first_file[number] = path.name
                numbers.append(number)
                if remaining is not None:
                    remaining -= 1
            if numbers:
                tasks.append(_FileTask(source, str(path), numbers))
    return tasks, skipped


def _read_all(
    tasks: Sequence[_FileTask], workers: int, progress: ProgressCallback | None
) -> list[list[MelodyPiece | dict[str, str]]]:
    """Read every file's tunes, in parallel processes when ``workers > 1``; in task order."""
    results: list[list[MelodyPiece | dict[str, str]]] = [[] for _ in tasks]

    def report(done: int) -> None:
        if progress is not None:
            progress("parse folk tunes", done, len(tasks))

    if workers == 1 or len(tasks) == 1:
        for index, task in enumerate(tasks):
            results[index] = _read_file(task)
            report(index + 1)
        return results
    # The longest files first, so that no worker is left with a long file at the end.
    order = sorted(range(len(tasks)), key=lambda i: -len(tasks[i].numbers))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(_read_file, tasks[i]): i for i in order}
        for done, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()
            report(done)
    return results


def _read_file(task: _FileTask) -> list[MelodyPiece | dict[str, str]]:
    """Parse the tunes of one abc file; a tune music21 cannot read is skipped with the reason."""
    from music21 import abcFormat
    from music21.abcFormat import translate

    try:
        # These collections follow standard notation, where an accidental holds to the end of
        # its bar; music21 does that only for abc 2.x (for 1.x, its default, it does not).
        handler = abcFormat.ABCHandler(abcVersion=ABC_VERSION)
        handler.process(Path(task.path).read_text(encoding="utf-8"))
        tunes = handler.splitByReferenceNumber()
    except Exception as exc:  # music21 raises many kinds on odd files
        reason = f"{type(exc).__name__}: {exc}"
        return [_skip(task, _item_id(task, n), "unreadable", reason) for n in task.numbers]
    results: list[MelodyPiece | dict[str, str]] = []
    for number in task.numbers:
        item_id = _item_id(task, number)
        if number not in tunes:
            results.append(_skip(task, item_id, "unreadable", f"music21 finds no tune X:{number}"))
            continue
        try:
            results.append(
                _tune_piece(task.source, item_id, translate.abcToStreamScore(tunes[number]))
            )
        except _UnusableTuneError as skip:
            results.append(_skip(task, item_id, skip.kind, str(skip)))
        except Exception as exc:  # music21 raises many kinds on odd tunes
            results.append(_skip(task, item_id, "unreadable", f"{type(exc).__name__}: {exc}"))
    return results


class _UnusableTuneError(Exception):
    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind


def _tune_piece(source: str, item_id: str, score: Any) -> MelodyPiece:
    parts = list(score.parts)
    part = parts[0] if parts else score
    notes = music21_part_notes(part)
    if not notes:
        raise _UnusableTuneError("no notes", "no notes")
    changed = off_grid_fraction(notes)
    if changed > MAX_OFF_GRID:
        raise _UnusableTuneError(
            "off grid", f"{changed:.0%} of the notes change length on the sixteenth-note grid"
        )
    bar_starts = [float(m.offset) for m in part.getElementsByClass("Measure")]
    events = melody_events_from_notes(notes, bar_starts)
    meter = meter_of_token(meter_token(first_meter(part)))
    key = key_of_score(score, notated_tonic=source == "essen")
    return MelodyPiece(item_id, events, MelodyControls(folk_style(source, meter), meter, key))


def _item_id(task: _FileTask, number: int) -> str:
    if task.source == "oneill":
        return f"oneill/{number}"
    return f"{task.source}/{Path(task.path).stem}/{number}"


def _skip(task: _FileTask, item_id: str, kind: str, reason: str) -> dict[str, str]:
    file = f"{SOURCES[task.source]}/{Path(task.path).name}"
    return {"file": file, "item_id": item_id, "kind": kind, "reason": reason}
