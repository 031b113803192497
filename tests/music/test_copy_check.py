from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aigc_studio.datasets.cache import load_split
from aigc_studio.datasets.melody_tokens import MelodyTokenizer
from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.music.copy_check import (
    IntervalIndex,
    build_corpus_index,
    corpus_index,
    intervals_of,
    longest_shared_run,
    sample_original,
)


def training_tunes(root: Path) -> dict[str, list[int]]:
    """The untransposed train tunes of a token cache, as pitch lists (rests dropped)."""
    data = load_split(root, "train")
    tokenizer = MelodyTokenizer()
    tunes = {}
    for i, item_id in enumerate(data["item_id"]):
        if data["transpose"][i] == 0:
            offsets = data["tokens_offsets"]
            events = tokenizer.decode(data["tokens"][offsets[i] : offsets[i + 1]])
            tunes[str(item_id)] = [e.pitch for e in events if e.pitch is not None]
    return tunes


def merged(pitches: list[int]) -> list[int]:
    return [p for i, p in enumerate(pitches) if i == 0 or p != pitches[i - 1]]


def brute_force(query: np.ndarray, tunes: list[np.ndarray]) -> int:
    """Longest common run of intervals, by checking every pair of start positions."""
    best = 0
    for tune in tunes:
        for i in range(len(query)):
            for j in range(len(tune)):
                k = 0
                while i + k < len(query) and j + k < len(tune) and query[i + k] == tune[j + k]:
                    k += 1
                best = max(best, k)
    return best


@pytest.fixture(scope="module")
def bach_index(tiny_bach: Path) -> IntervalIndex:
    return build_corpus_index(tiny_bach)


def test_index_holds_each_piece_once(bach_index: IntervalIndex) -> None:
    # 6 chorales; the train split's transposed copies are left out.
    assert len(bach_index) == 6
    assert not any("@" in str(i) for i in bach_index.source_ids)


def test_verbatim_training_tune_is_caught_whole(tiny_bach: Path, bach_index: IntervalIndex) -> None:
    for source_id, pitches in training_tunes(tiny_bach).items():
        report = longest_shared_run(pitches, bach_index)
        assert report.length_notes == len(merged(pitches))
        assert (report.source_id, report.position, report.source_position) == (source_id, 0, 0)


def test_transposed_copy_is_caught(tiny_bach: Path, bach_index: IntervalIndex) -> None:
    source_id, pitches = sorted(training_tunes(tiny_bach).items())[0]
    moved = [p - 5 for p in pitches[10:40]]
    report = longest_shared_run(moved, bach_index)
    assert report.source_id == source_id
    assert report.length_notes == len(merged(pitches[10:40]))
    assert report.source_position == len(merged(pitches[:11])) - 1


def test_random_melody_shares_only_short_runs(bach_index: IntervalIndex) -> None:
    rng = np.random.default_rng(3)
    for _ in range(5):
        walk = 66 + np.cumsum(rng.choice([-7, -4, -3, 3, 4, 6, 8], size=48))
        report = longest_shared_run(list(np.clip(walk, 40, 90)), bach_index)
        assert report.length_notes <= 6


def test_one_altered_note_splits_the_run(tiny_bach: Path, bach_index: IntervalIndex) -> None:
    source_id, pitches = sorted(training_tunes(tiny_bach).items())[1]
    melody = merged(pitches)
    j = len(melody) // 2
    melody[j] = (
        melody[j] + 1 if melody[j] + 1 not in (melody[j - 1], melody[j + 1]) else melody[j] - 1
    )
    report = longest_shared_run(melody, bach_index)
    assert report.source_id == source_id
    # Intervals j-1 and j change: the runs left are notes 0..j-1 and j+1..end.
    assert report.length_notes == max(j, len(melody) - j - 1) < len(melody)


def test_rests_are_ignored() -> None:
    index = IntervalIndex([("a", [60, 62, 64, 65, 67])], min_length=4)
    assert longest_shared_run([70, None, 72, None, 74, 75], index).length_notes == 4


def test_repeats_are_merged_unless_asked_not_to() -> None:
    tune = [60, 62, 62, 64, 65, 67]
    assert intervals_of(tune).tolist() == [2, 2, 1, 2]
    assert intervals_of(tune, merge_repeats=False).tolist() == [2, 0, 2, 1, 2]
    split = [60, 62, 64, 64, 65, 67]  # the same tune, a note split elsewhere
    assert longest_shared_run(split, IntervalIndex([("a", tune)])).length_notes == 5
    exact = IntervalIndex([("a", tune)], merge_repeats=False)
    assert longest_shared_run(split, exact).length_notes == 0  # no run of 5 survives


@pytest.mark.parametrize("min_length", [2, 5, 10])
def test_matches_brute_force(min_length: int) -> None:
    rng = np.random.default_rng(min_length)
    steps = np.array([-2, -1, 1, 2])
    tunes = [list(60 + np.cumsum(rng.choice(steps, size=60))) for _ in range(8)]
    index = IntervalIndex([(f"t{i}", t) for i, t in enumerate(tunes)], min_length=min_length)
    corpus = [np.diff(t) for t in tunes]
    for _ in range(20):
        # Half the queries splice a piece of a tune into random notes.
        query = list(60 + np.cumsum(rng.choice(steps, size=40)))
        if rng.random() < 0.5:
            tune = tunes[rng.integers(8)]
            start, length = int(rng.integers(0, 40)), int(rng.integers(3, 20))
            offset = query[10] - tune[start]
            query[10 : 10 + length] = [p + offset for p in tune[start : start + length]]
        expected = brute_force(np.diff(query), corpus) + 1
        report = longest_shared_run(query, index)
        assert report.length_notes == (expected if expected >= min_length else 0)
        if report.source_id is not None:
            tune = tunes[int(report.source_id[1:])]
            a, b, n = report.position, report.source_position, report.length_notes
            assert np.array_equal(np.diff(query[a : a + n]), np.diff(tune[b : b + n]))


def test_save_and_load(tmp_path: Path, bach_index: IntervalIndex, tiny_bach: Path) -> None:
    path = bach_index.save(tmp_path / "index.npz")
    loaded = IntervalIndex.load(path)
    assert path.stat().st_size < 20_000
    assert loaded.min_length == bach_index.min_length and list(loaded.source_ids) == list(
        bach_index.source_ids
    )
    pitches = next(iter(training_tunes(tiny_bach).values()))
    assert longest_shared_run(pitches, loaded) == longest_shared_run(pitches, bach_index)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not an index")
    with pytest.raises(ConfigError, match="not a readable"):
        IntervalIndex.load(junk)


def test_corpus_index_is_cached_in_the_corpus(tiny_bach: Path) -> None:
    first = corpus_index(tiny_bach, min_length=6)
    assert (tiny_bach / "copy-index-min6.npz").is_file() and first.min_length == 6
    assert len(corpus_index(tiny_bach / "copy-index-min6.npz")) == 6
    with pytest.raises(ConfigError, match="aigc data prepare"):
        corpus_index("no-such-dataset")


def test_bad_arguments() -> None:
    with pytest.raises(ParameterError, match="min_length"):
        IntervalIndex([], min_length=1)
    with pytest.raises(ParameterError, match="MIDI pitches"):
        IntervalIndex([("a", [60, 200])])
    empty = IntervalIndex([])
    assert longest_shared_run([60, 62, 64, 65, 67], empty).length_notes == 0


def test_sample_original_takes_the_best_original_candidate_of_a_draw() -> None:
    tune = [60, 62, 64, 65, 67, 69, 71, 72, 74]
    index = IntervalIndex([("tune", tune)])
    original = [60, 61, 60, 59, 60, 62, 59, 58, 66]
    other = [72, 71, 69, 67, 65, 64, 62, 60, 59]
    drawn, seed, report = sample_original(
        lambda seed: [tune, original, other], list, index, seed=5, max_shared=4, max_attempts=1
    )
    assert (drawn, seed) == (original, 5) and report is not None
    unchecked = sample_original(
        lambda seed: [tune, original], list, None, seed=5, max_shared=4, max_attempts=1
    )
    assert unchecked == (tune, 5, None)


def test_sample_original_resamples_until_a_draw_is_original() -> None:
    tune = [60, 62, 64, 65, 67, 69, 71, 72, 74]
    index = IntervalIndex([("tune", tune)])
    candidates = {0: tune, 1: tune, 2: [60, 61, 60, 59, 60, 62, 59, 58, 66]}

    def draw(seed: int) -> list[list[int]]:
        return [candidates[seed]]

    drawn, seed, report = sample_original(draw, list, index, seed=0, max_shared=4, max_attempts=3)
    assert seed == 2 and drawn == candidates[2]
    assert report is not None and report.length_notes <= 4
    with pytest.raises(ParameterError, match="every one of 2 melodies.*9 notes with tune"):
        sample_original(draw, list, index, seed=0, max_shared=4, max_attempts=2)
    assert sample_original(draw, list, None, seed=1, max_shared=4, max_attempts=1) == (
        tune,
        1,
        None,
    )
    with pytest.raises(ParameterError, match="max_shared"):
        sample_original(draw, list, index, seed=0, max_shared=2, max_attempts=1)
