"""Find and repair hard clipping: flat runs of samples stuck at the signal's peak.

A recording driven past full scale (or past a converter's or a plug-in's ceiling) keeps the
samples that would have gone beyond it at the ceiling, so each overdriven wave crest becomes a
flat plateau. :func:`detect_clipping` finds the plateaus: runs of two or more consecutive samples
equal, within a tiny tolerance, to a channel's positive or negative peak. :func:`repair_clipping`
redraws each plateau with a cubic spline through the good samples on both sides, and keeps the
redrawn crest beyond the old ceiling, where the true wave must have been.

Only exact plateaus, as digital clipping leaves them, are found: clipping that was dithered,
resampled or lossy-encoded afterwards (an MP3 of a clipped master) no longer has them. Soft
saturation and limiting are not clipping in this sense and are left alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.interpolate import CubicSpline

from aigc_studio.errors import ParameterError
from aigc_studio.media.checks import as_audio_array

#: Samples within this fraction of the peak count as at the peak (about 8 float32 steps, so an
#: exact plateau survives a gain change; a natural crest differs from its neighbours by more).
DEFAULT_TOLERANCE = 1e-6
#: A plateau is at least this many samples long.
MIN_RUN = 2
#: A signal is called clipped when it has at least this many plateaus: a natural waveform can
#: touch its own peak twice in a row once or twice, but not over and over.
MIN_PLATEAUS = 3
#: Peaks below this (-120 dBFS) are silence, where every sample is "at the peak".
SILENCE_PEAK = 1e-6
#: Plateaus are repaired a stretch of this many samples at a time.
STRETCH = 1 << 16
#: Each stretch's spline also takes the samples this far beyond its plateaus: a fixed margin
#: plus a few lengths of the longest plateau, so that long plateaus see enough good samples.
MARGIN = 64
CONTEXT_RUNS = 4


@dataclass(frozen=True)
class Clipping:
    """Hard clipping found in a signal.

    Attributes
    ----------
    fraction : float
        Clipped samples over all samples (all channels); 0 when not clipped.
    clipped_samples : int
        Samples on plateaus.
    plateaus : int
        Number of plateaus (runs of clipped samples).
    level : float
        The highest ceiling found (linear, over channels and polarities); 0 when not clipped.
    """

    fraction: float
    clipped_samples: int
    plateaus: int
    level: float

    @property
    def detected(self) -> bool:
        """Whether the signal is clipped."""
        return self.plateaus > 0

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON types."""
        return {**asdict(self), "detected": self.detected}


def detect_clipping(
    audio: np.ndarray, *, tolerance: float = DEFAULT_TOLERANCE, min_run: int = MIN_RUN
) -> Clipping:
    """Detect hard clipping: plateaus of samples at a channel's peak.

    Each channel's positive and negative peaks are examined separately (a DC offset or an
    asymmetric stage clips the two sides at different levels). A plateau is a run of at least
    ``min_run`` consecutive samples within ``tolerance * peak`` of the peak; the signal counts
    as clipped when it holds at least three plateaus.

    Parameters
    ----------
    audio : np.ndarray
        float (channels, samples) or (samples,).
    tolerance : float
        Relative distance from the peak that still counts as at the peak, in [0, 0.01].
    min_run : int
        Shortest plateau in samples, 2-64.

    Returns
    -------
    Clipping
        ``fraction`` 0 and ``detected`` False for an unclipped or silent signal.

    Raises
    ------
    MediaError
        If the audio is malformed or holds NaN or infinite samples.
    ParameterError
        If ``tolerance`` or ``min_run`` is out of range.

    References
    ----------
    Abel, J. S. and Smith, J. O. 1991, "Restoring a clipped signal", ICASSP (clipped samples
    are those at the saturation level; their true values lie beyond it).

    Examples
    --------
    >>> wave = np.sin(2 * np.pi * np.arange(1600) / 40)
    >>> detect_clipping(np.clip(wave, -0.6, 0.6)).detected
    True
    >>> detect_clipping(wave).detected
    False
    """
    _check_options(tolerance, min_run)
    data = as_audio_array(audio, what="audio")
    runs = _plateaus(data, tolerance, min_run)
    if len(runs) < MIN_PLATEAUS:
        return Clipping(fraction=0.0, clipped_samples=0, plateaus=0, level=0.0)
    clipped = sum(end - start for _, _, start, end, _ in runs)
    return Clipping(
        fraction=clipped / data.size,
        clipped_samples=int(clipped),
        plateaus=len(runs),
        level=float(max(level for *_, level in runs)),
    )


def repair_clipping(
    audio: np.ndarray, *, tolerance: float = DEFAULT_TOLERANCE, min_run: int = MIN_RUN
) -> np.ndarray:
    """Redraw clipped plateaus by cubic-spline interpolation from the good samples around them.

    A cubic spline (``scipy.interpolate.CubicSpline``) is fitted through the unclipped samples
    around the plateaus and evaluated across them. The true wave lay beyond the ceiling wherever the
    converter held it there, so the redrawn samples are kept at least at the ceiling: the
    repaired crests rise above the old clip level, and the output can exceed full scale (reduce
    the gain, or let :func:`aigc_studio.audio.enhance.enhance` do it). Plateaus at the very
    start or end of the signal, without good samples on both sides, are left as they are.

    Parameters
    ----------
    audio : np.ndarray
        float (channels, samples) or (samples,).
    tolerance, min_run
        As in :func:`detect_clipping`.

    Returns
    -------
    np.ndarray
        float32 of the input's shape; an unchanged copy when the signal is not clipped.

    Raises
    ------
    MediaError
        If the audio is malformed or holds NaN or infinite samples.
    ParameterError
        If ``tolerance`` or ``min_run`` is out of range.

    References
    ----------
    Abel, J. S. and Smith, J. O. 1991, "Restoring a clipped signal", ICASSP; the spline
    interpolation of missing samples is the classical method their constrained one improves on.

    Examples
    --------
    >>> wave = np.sin(2 * np.pi * np.arange(1600) / 40)
    >>> float(np.max(repair_clipping(np.clip(wave, -0.6, 0.6)))) > 0.6
    True
    """
    _check_options(tolerance, min_run)
    one_dimensional = np.ndim(audio) == 1
    data = as_audio_array(audio, what="audio")
    out = data.copy()
    runs = _plateaus(data, tolerance, min_run)
    if len(runs) >= MIN_PLATEAUS:
        for channel in range(data.shape[0]):
            own = [run for run in runs if run[0] == channel]
            if own:
                out[channel] = _repair_channel(data[channel], own)
    return out[0] if one_dimensional else out


def _check_options(tolerance: float, min_run: int) -> None:
    if not 0.0 <= tolerance <= 0.01:
        raise ParameterError(f"tolerance must be in [0, 0.01], got {tolerance!r}")
    if isinstance(min_run, bool) or not isinstance(min_run, int | np.integer):
        raise ParameterError(f"min_run must be an integer, got {min_run!r}")
    if not 2 <= min_run <= 64:
        raise ParameterError(f"min_run must be in [2, 64] samples, got {min_run}")


def _plateaus(
    data: np.ndarray, tolerance: float, min_run: int
) -> list[tuple[int, int, int, int, float]]:
    """Return (channel, sign, start, end, level) of every plateau, ``end`` exclusive."""
    runs: list[tuple[int, int, int, int, float]] = []
    for channel, samples in enumerate(data):
        for sign, level in ((1, float(samples.max())), (-1, -float(samples.min()))):
            if level < SILENCE_PEAK:
                continue
            threshold = level * (1.0 - tolerance)
            at_peak = samples >= threshold if sign > 0 else samples <= -threshold
            # Boolean masks and the (few) boundaries only: memory stays at a byte per sample.
            changes = np.flatnonzero(at_peak[1:] != at_peak[:-1]) + 1
            bounds = np.concatenate([[0], changes, [samples.size]])
            first = 0 if at_peak[0] else 1
            starts, ends = bounds[first:-1:2], bounds[first + 1 :: 2]
            long_enough = ends - starts >= min_run
            runs.extend(
                (channel, sign, int(s), int(e), level)
                for s, e in zip(starts[long_enough], ends[long_enough], strict=True)
            )
    return runs


def _repair_channel(
    samples: np.ndarray, runs: list[tuple[int, int, int, int, float]]
) -> np.ndarray:
    """Redraw one channel's plateaus from the unclipped samples around them.

    One spline goes through all good samples of a stretch of the signal (a spline's dependence
    on a knot fades by about 3.7 times per knot, so far knots do not matter), stretch by
    stretch, which keeps long files fast and memory flat.
    """
    out = samples.copy()
    clipped = np.zeros(samples.size, dtype=bool)
    for _, _, start, end, _ in runs:
        clipped[start:end] = True
    runs = sorted(runs, key=lambda run: run[2])
    first = 0
    while first < len(runs):
        last = first
        while last + 1 < len(runs) and runs[last + 1][2] < runs[first][2] + STRETCH:
            last += 1
        group = runs[first : last + 1]
        longest = max(end - start for _, _, start, end, _ in group)
        margin = MARGIN + CONTEXT_RUNS * longest
        lo, hi = max(0, group[0][2] - margin), min(samples.size, group[-1][3] + margin)
        good = lo + np.flatnonzero(~clipped[lo:hi])
        if good.size >= 4:
            spline = CubicSpline(good, samples[good].astype(np.float64))
            for _, sign, start, end, level in group:
                if start <= good[0] or end > good[-1]:
                    continue  # at the signal's edge: nothing to interpolate from on one side
                curve = spline(np.arange(start, end))
                # Clipping consistency: the true samples lay at or beyond the ceiling.
                out[start:end] = sign * np.maximum(sign * curve, level)
        first = last + 1
    return out
