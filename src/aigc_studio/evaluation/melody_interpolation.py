"""How smoothly a sequence of melodies morphs from its first melody to its last.

Roberts et al. (2018) judge latent interpolations between melodies by the Hamming
distance of each step to the two endpoints: a good interpolation moves away from the first
melody and towards the last in small steps, and each step is itself a plausible melody. This
module measures that on any list of melodies — the studio's melody VAE or a peer such as
Magenta's MusicVAE, after converting its notes — as pure functions; it does not interpolate,
decode or judge musical quality beyond well-formedness.

A melody is a sequence of ``(pitch, duration in quarter notes, ...)`` tuples, ``pitch`` a MIDI
number or ``None`` for a rest (extra fields such as ``bar_start`` are ignored), as in
:mod:`aigc_studio.music.statistics`. It is read on a grid of ``steps_per_quarter`` steps per
quarter note, each step in one of three kinds of state: a rest, the onset of pitch ``p``, or
pitch ``p`` held from an earlier step (so re-striking a note differs from holding it, as in
MusicVAE's melody encoding).

References
----------
Roberts, A., Engel, J., Raffel, C., Hawthorne, C. & Eck, D. (2018). A Hierarchical Latent
Vector Model for Learning Long-Term Structure in Music. ICML.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from aigc_studio.errors import ParameterError

__all__ = ["interpolation_smoothness", "melody_distance", "melody_grid_states"]

Melody = Sequence[tuple[Any, ...]]

#: State of a silent grid step; an onset of pitch ``p`` is ``p``, a held ``p`` is ``p + HELD``.
REST_STATE = -1
HELD = 128
#: How far (in steps) an onset or duration may lie from the grid and still count as on it.
_GRID_TOLERANCE = 1e-6


def _steps(melody: Melody, steps_per_quarter: int) -> list[tuple[Any, float, float]]:
    """Return ``(pitch, onset, end)`` per event in (unrounded) grid steps."""
    out = []
    position = 0.0
    for index, event in enumerate(melody):
        if len(event) < 2:
            raise ParameterError(f"melody events must be (pitch, duration, ...); event {index}")
        duration = float(event[1])
        if not math.isfinite(duration) or duration < 0:
            raise ParameterError(f"event {index}: duration must be >= 0, got {duration}")
        start = position * steps_per_quarter
        position += duration
        out.append((event[0], start, position * steps_per_quarter))
    return out


def melody_grid_states(melody: Melody, *, steps_per_quarter: int = 4) -> np.ndarray:
    """Return the state of every grid step of a melody.

    Parameters
    ----------
    melody : sequence of (pitch or None, duration in quarters, ...)
        See the module docstring.
    steps_per_quarter : int
        Grid resolution, >= 1 (4: sixteenth notes). Onsets are rounded to the nearest step; a
        note shorter than half a step vanishes.

    Returns
    -------
    np.ndarray
        int64 ``(steps,)``: ``REST_STATE`` (-1), a pitch at its onset, or ``pitch + 128`` while
        held.

    Raises
    ------
    ParameterError
        If ``steps_per_quarter`` is below 1 or an event is malformed.

    Examples
    --------
    >>> melody_grid_states([(60, 0.5), (None, 0.25), (62, 0.25)])
    array([ 60, 188,  -1,  62])
    """
    if steps_per_quarter < 1:
        raise ParameterError(f"steps_per_quarter must be >= 1, got {steps_per_quarter}")
    events = _steps(melody, steps_per_quarter)
    length = int(round(events[-1][2])) if events else 0
    states = np.full(length, REST_STATE, dtype=np.int64)
    for pitch, start, end in events:
        first, last = int(round(start)), int(round(end))
        if pitch is None or last <= first:
            continue
        states[first] = int(pitch)
        states[first + 1 : last] = int(pitch) + HELD
    return states


def melody_distance(a: Melody, b: Melody, *, steps_per_quarter: int = 4) -> float:
    """Return the normalized Hamming distance between two melodies on a grid.

    The fraction of grid steps whose states (rest, onset of a pitch, held pitch) differ; the
    shorter melody is padded with rests to the longer one's length. 0 for identical melodies,
    1 when no step agrees; two empty melodies are at distance 0.

    Parameters
    ----------
    a, b : sequence of (pitch or None, duration in quarters, ...)
        The melodies.
    steps_per_quarter : int
        Grid resolution, >= 1.

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ParameterError
        If ``steps_per_quarter`` is below 1 or an event is malformed.

    Examples
    --------
    >>> melody_distance([(60, 1.0)], [(60, 0.5), (62, 0.5)])
    0.5
    """
    x = melody_grid_states(a, steps_per_quarter=steps_per_quarter)
    y = melody_grid_states(b, steps_per_quarter=steps_per_quarter)
    length = max(len(x), len(y))
    if length == 0:
        return 0.0
    x = np.pad(x, (0, length - len(x)), constant_values=REST_STATE)
    y = np.pad(y, (0, length - len(y)), constant_values=REST_STATE)
    return float(np.mean(x != y))


def _is_well_formed(melody: Melody, length: int, steps_per_quarter: int) -> bool:
    events = _steps(melody, steps_per_quarter)
    has_note = False
    for pitch, start, end in events:
        on_grid = (
            abs(start - round(start)) < _GRID_TOLERANCE and abs(end - round(end)) < _GRID_TOLERANCE
        )
        if not on_grid or end - start < 1 - _GRID_TOLERANCE:
            return False
        if pitch is not None:
            if not (isinstance(pitch, int | np.integer) and 0 <= int(pitch) <= 127):
                return False
            has_note = True
    return has_note and int(round(events[-1][2])) == length


def interpolation_smoothness(
    melodies: Sequence[Melody], *, steps_per_quarter: int = 4
) -> dict[str, float]:
    """Score an interpolation path ``m_0 .. m_{S-1}`` between two melodies.

    With ``d`` the :func:`melody_distance`, ``d_i = d(m_i, m_{i+1})`` the steps and
    ``D = d(m_0, m_{S-1})`` the distance between the endpoints:

    - ``endpoint_distance``: ``D``;
    - ``step_distance_mean`` and ``step_distance_max``: mean and largest ``d_i``; for an even
      walk both are near ``D / (S - 1)``, and a large maximum is an abrupt jump;
    - ``path_ratio``: ``sum(d_i) / D``, at least 1 (``d`` is a metric); 1 means every step
      only moves towards the last melody, larger values mean detours. 1 when all melodies are
      equal, ``inf`` when the endpoints are equal but the path is not;
    - ``monotonic_fraction``: fraction of the ``S - 1`` steps along which the distance from
      ``m_0`` does not decrease and the distance to ``m_{S-1}`` does not increase (Roberts et
      al. 2018 show such monotone curves for latent, not data-space, interpolation);
    - ``well_formed``: fraction of the ``S`` melodies that hold at least one note, whose every
      event starts and ends on the grid and lasts at least one step, whose pitches are MIDI
      numbers 0..127, and that span as many steps as ``m_0``. A decoder that emits nothing or
      drifts off the grid or in length fails it.

    Parameters
    ----------
    melodies : sequence of melodies
        The path, endpoints included (at least 2).
    steps_per_quarter : int
        Grid resolution, >= 1.

    Returns
    -------
    dict of str to float
        The six figures above.

    Raises
    ------
    ParameterError
        If fewer than 2 melodies are given, ``steps_per_quarter`` is below 1 or an event is
        malformed.

    Examples
    --------
    >>> a, b = [(60, 1.0), (62, 1.0)], [(64, 1.0), (65, 1.0)]
    >>> middle = [(60, 1.0), (65, 1.0)]
    >>> interpolation_smoothness([a, middle, b])["path_ratio"]
    1.0
    """
    if len(melodies) < 2:
        raise ParameterError(f"melodies must hold at least 2 melodies, got {len(melodies)}")
    if steps_per_quarter < 1:
        raise ParameterError(f"steps_per_quarter must be >= 1, got {steps_per_quarter}")

    def distance(x: Melody, y: Melody) -> float:
        return melody_distance(x, y, steps_per_quarter=steps_per_quarter)

    first, last = melodies[0], melodies[-1]
    steps = np.array([distance(x, y) for x, y in zip(melodies[:-1], melodies[1:], strict=True)])
    from_first = np.array([distance(first, m) for m in melodies])
    to_last = np.array([distance(m, last) for m in melodies])
    endpoint = float(from_first[-1])
    total = float(steps.sum())
    # An unmoving path is perfectly direct; one that returns to where it started is not.
    path_ratio = math.inf if endpoint == 0 and total > 0 else total / endpoint if total else 1.0
    monotonic = (np.diff(from_first) >= 0) & (np.diff(to_last) <= 0)
    length = len(melody_grid_states(first, steps_per_quarter=steps_per_quarter))
    well_formed = [_is_well_formed(m, length, steps_per_quarter) for m in melodies]
    return {
        "endpoint_distance": endpoint,
        "step_distance_mean": float(steps.mean()),
        "step_distance_max": float(steps.max()),
        "path_ratio": path_ratio,
        "monotonic_fraction": float(monotonic.mean()),
        "well_formed": float(np.mean(well_formed)),
    }
