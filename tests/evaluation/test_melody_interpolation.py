from __future__ import annotations

import math

import numpy as np
import pytest

from aigc_studio.errors import ParameterError
from aigc_studio.evaluation.melody_interpolation import (
    interpolation_smoothness,
    melody_distance,
    melody_grid_states,
)

A = [(60, 1.0), (62, 1.0), (64, 1.0), (65, 1.0)]
B = [(72, 1.0), (71, 1.0), (69, 1.0), (67, 1.0)]


def test_grid_states_tell_onsets_holds_and_rests_apart() -> None:
    states = melody_grid_states([(60, 0.5, True), (None, 0.25, False), (60, 0.25, False)])
    np.testing.assert_array_equal(states, [60, 188, -1, 60])
    with pytest.raises(ParameterError, match="steps_per_quarter"):
        melody_grid_states(A, steps_per_quarter=0)


def test_distance_is_the_fraction_of_differing_steps() -> None:
    assert melody_distance(A, A) == 0.0
    assert melody_distance(A, B) == 1.0
    # Striking a note again differs from holding it, at one step of eight.
    assert melody_distance([(60, 2.0)], [(60, 1.0), (60, 1.0)]) == pytest.approx(1 / 8)
    # The shorter melody is padded with rest: half of A is missing.
    assert melody_distance(A, A[:2]) == pytest.approx(0.5)
    assert melody_distance([], []) == 0.0


def test_a_direct_path_scores_better_than_a_detour() -> None:
    middle = A[:2] + B[2:]
    direct = interpolation_smoothness([A, middle, B])
    assert direct["endpoint_distance"] == 1.0
    assert direct["path_ratio"] == pytest.approx(1.0)
    assert direct["step_distance_mean"] == direct["step_distance_max"] == pytest.approx(0.5)
    assert direct["monotonic_fraction"] == 1.0 and direct["well_formed"] == 1.0

    elsewhere = [(50, 1.0), (50, 1.0), (50, 1.0), (50, 1.0)]
    detour = interpolation_smoothness([A, middle, elsewhere, middle, B])
    assert detour["path_ratio"] > 2.0
    assert detour["monotonic_fraction"] == pytest.approx(0.5)
    assert detour["step_distance_max"] == 1.0


def test_well_formed_needs_notes_on_the_grid_and_the_same_length() -> None:
    silent = [(None, 4.0)]
    off_grid = [(60, 1.1), (62, 2.9)]
    short = A[:3]
    scores = interpolation_smoothness([A, silent, off_grid, short, B])
    assert scores["well_formed"] == pytest.approx(2 / 5)


def test_paths_that_stand_still_or_come_back() -> None:
    assert interpolation_smoothness([A, A, A])["path_ratio"] == 1.0
    assert math.isinf(interpolation_smoothness([A, B, A])["path_ratio"])
    with pytest.raises(ParameterError, match="at least 2"):
        interpolation_smoothness([A])
