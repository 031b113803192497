from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from aigc_studio.errors import ParameterError
from aigc_studio.music.statistics import (
    FEATURES,
    compare_sets,
    estimated_key,
    histogram_overlap,
    key_agreement,
    key_clarity,
    kl_divergence,
    melody_notes,
    note_length_histogram,
    pitch_class_histogram,
    pitch_interval_histogram,
    pitch_range,
)

C_MAJOR = [(60, 1.0), (62, 1.0), (64, 1.0), (65, 1.0), (67, 1.0), (69, 1.0), (71, 1.0), (72, 2.0)]


def test_pitch_class_histogram_counts_octaves_together() -> None:
    hist = pitch_class_histogram([(60, 1.0), (None, 1.0), (72, 0.5), (61, 1.0), (71, 1.0)])
    assert hist.shape == (12,) and hist.sum() == 4
    assert hist[0] == 2 and hist[1] == 1 and hist[11] == 1


def test_interval_histogram_bins_and_out_of_range() -> None:
    hist = pitch_interval_histogram([(60, 1), (72, 1), (71, 1), (50, 1), (80, 1), (80, 1)])
    assert hist.shape == (27,) and hist.sum() == 5
    center = 13  # bin of interval 0
    assert hist[center + 12] == 1  # +12 fits
    assert hist[center - 1] == 1  # -1
    assert hist[0] == 1  # -21: leap down beyond an octave
    assert hist[26] == 1  # +30: leap up beyond an octave
    assert hist[center] == 1  # repeated note


def test_note_length_classes() -> None:
    hist = note_length_histogram(
        [(60, 1.0), (60, 1.5), (60, 1 / 3), (60, 8.0), (60, 0.26), (None, 3.0)]
    )
    # whole, half, quarter, 8th, 16th, dotted half, dotted quarter, dotted 8th, dotted 16th,
    # half-, quarter-, 8th-note triplets
    assert hist.tolist() == [1, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 1]


def test_pretty_midi_input_matches_the_pairs() -> None:
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)  # a beat is 0.5 s
    track = pretty_midi.Instrument(program=0)
    start = 0.0
    for pitch, beats in C_MAJOR:
        track.notes.append(pretty_midi.Note(90, pitch, start, start + 0.5 * beats))
        start += 0.5 * beats
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes.append(pretty_midi.Note(90, 36, 0.0, 0.5))
    midi.instruments += [drums, track]
    pitches, beats = melody_notes(midi)
    assert pitches.tolist() == [p for p, _ in C_MAJOR]
    np.testing.assert_allclose(beats, [b for _, b in C_MAJOR])
    np.testing.assert_array_equal(note_length_histogram(midi), note_length_histogram(C_MAJOR))


def test_pitch_range() -> None:
    assert pitch_range(C_MAJOR) == 12
    assert pitch_range([(None, 1.0)]) == 0


def test_overlap_and_kl() -> None:
    p, q = np.array([2.0, 2.0, 0.0]), np.array([0.0, 1.0, 1.0])
    assert histogram_overlap(p, p) == pytest.approx(1.0)
    assert histogram_overlap(p, q) == pytest.approx(0.5)
    assert histogram_overlap(np.array([1, 0]), np.array([0, 1])) == 0.0
    assert kl_divergence(p, 3 * p) == pytest.approx(0.0, abs=1e-12)
    forward, backward = kl_divergence(p, q), kl_divergence(q, p)
    assert np.isfinite(forward) and forward > 1.0  # q misses half of p's mass
    assert forward == pytest.approx(backward, rel=1e-6)  # this pair is a mirror image
    skewed = np.array([0.9, 0.1])
    assert kl_divergence(skewed, np.array([0.5, 0.5])) != pytest.approx(
        kl_divergence(np.array([0.5, 0.5]), skewed)
    )


def test_compare_sets() -> None:
    same = compare_sets([C_MAJOR, C_MAJOR[::-1]], [C_MAJOR[::-1], C_MAJOR])
    assert set(same) == set(FEATURES)
    for feature in FEATURES:
        assert same[feature]["overlap"] == pytest.approx(1.0)
        assert same[feature]["kl"] == pytest.approx(0.0, abs=1e-9)
    chromatic = [[(p, 0.25) for p in range(70, 95)]]
    different = compare_sets(chromatic, [C_MAJOR])
    assert different["pitch_class"]["overlap"] < 1.0
    assert different["note_length"]["overlap"] == 0.0  # sixteenths vs quarters and a half
    assert different["pitch_interval"]["kl"] > 1.0
    assert different["pitch_range"]["generated_mean"] == 24
    assert different["pitch_range"]["reference_mean"] == 12


def test_bad_input() -> None:
    with pytest.raises(ParameterError, match="empty"):
        compare_sets([], [C_MAJOR])
    with pytest.raises(ParameterError, match="differ in length"):
        histogram_overlap(np.ones(3), np.ones(4))
    with pytest.raises(ParameterError, match="non-negative"):
        kl_divergence(np.array([1.0, -1.0]), np.ones(2))
    with pytest.raises(ParameterError, match="eps"):
        kl_divergence(np.ones(2), np.ones(2), eps=0.0)
    with pytest.raises(ParameterError, match="positive beats"):
        pitch_class_histogram([(60, 0.0)])
    with pytest.raises(ParameterError, match="feature pitch_interval"):
        compare_sets([[(60, 1.0)]], [C_MAJOR])  # one note: no interval at all


def _scale_tune(tonic: int, steps: list[int]) -> list[tuple[int, float]]:
    """A tune that walks a scale and dwells on the tonic triad, ending on the tonic."""
    return [(60 + tonic + step, 1.0 if step % 12 in (0, 7) else 0.5) for step in steps]


MAJOR_WALK = [0, 2, 4, 5, 7, 4, 0, 7, 9, 7, 5, 4, 2, 0, 4, 7, 0]
MINOR_WALK = [0, 2, 3, 5, 7, 3, 0, 7, 8, 7, 5, 3, 2, 0, 3, 7, 0]


def test_estimated_key_finds_major_and_minor_tunes() -> None:
    assert estimated_key(_scale_tune(2, MAJOR_WALK)) == (2, "major")
    assert estimated_key(_scale_tune(9, MINOR_WALK)) == (9, "minor")
    with pytest.raises(ParameterError, match="without notes"):
        estimated_key([(None, 4.0)])


@pytest.mark.parametrize("finder", ["bellman-budge", "aarden-essen", "temperley-kostka-payne"])
def test_every_key_finder_hears_plain_scale_tunes(finder: str) -> None:
    assert estimated_key(_scale_tune(2, MAJOR_WALK), finder) == (2, "major")
    assert estimated_key(_scale_tune(9, MINOR_WALK), finder) == (9, "minor")


def test_an_unknown_key_finder_is_refused() -> None:
    with pytest.raises(ParameterError, match="finder"):
        estimated_key(_scale_tune(2, MAJOR_WALK), "by-ear")


def test_key_agreement_counts_each_way_of_missing_the_key() -> None:
    tunes = [_scale_tune(2, MAJOR_WALK), _scale_tune(9, MINOR_WALK), _scale_tune(7, MAJOR_WALK)]
    asked = [(2, "major"), (9, "major"), (0, "major")]  # right; wrong mode; wrong key
    result = key_agreement(tunes, asked)
    assert result["key"] == pytest.approx(1 / 3)
    assert result["tonic"] == pytest.approx(2 / 3)
    assert result["ends_on_tonic"] == pytest.approx(2 / 3)
    assert result["key_major"] == pytest.approx(1 / 3) and np.isnan(result["key_minor"])
    with pytest.raises(ParameterError, match="one key per melody"):
        key_agreement(tunes, asked[:2])


def test_key_clarity_prefers_the_key_a_melody_dwells_on() -> None:
    c_major = [(p, 1.0) for p in (60, 64, 67, 72, 62, 65, 71, 60, 67, 64, 60)]
    a_minor = [(p, 1.0) for p in (69, 72, 76, 69, 71, 74, 68, 69, 64, 72, 69)]
    assert key_clarity(c_major, (0, "major")) > 0
    assert key_clarity(c_major, (9, "minor")) < 0
    assert key_clarity(a_minor, (9, "minor")) > 0 > key_clarity(a_minor, (0, "major"))
    # Transposing melody and key together leaves the score unchanged.
    up = [(p + 5, d) for p, d in c_major]
    assert key_clarity(up, (5, "major")) == pytest.approx(key_clarity(c_major, (0, "major")))


def test_key_clarity_of_one_pitch_class_or_none_and_bad_keys() -> None:
    assert key_clarity([(60, 1.0), (72, 2.0), (None, 1.0)], (0, "major")) == -2.0
    assert key_clarity([], (0, "minor")) == -2.0
    for bad in [(12, "major"), (0, "dorian"), (-1, "minor")]:
        with pytest.raises(ParameterError, match="key"):
            key_clarity([(60, 1.0), (64, 1.0)], bad)
