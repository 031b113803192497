"""Loudness measurement and normalization after ITU-R BS.1770-4 / EBU R 128.

Integrated loudness and loudness range come from pyloudnorm (a faithful BS.1770-4 meter); true
peak is estimated by 4x oversampling as BS.1770-4 Annex 2 describes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pyloudnorm
import scipy.signal

from aigc_studio.errors import ParameterError

#: BS.1770 gating needs at least one 400 ms block.
MIN_MEASURABLE_SECONDS = 0.4


@dataclass(frozen=True)
class LoudnessReport:
    """Loudness of a signal.

    Attributes
    ----------
    integrated_lufs : float
        Gated integrated loudness (LUFS); ``-inf`` for digital silence.
    true_peak_dbtp : float
        Estimated true peak (dBTP), 4x oversampled.
    sample_peak_dbfs : float
        Largest absolute sample (dBFS).
    """

    integrated_lufs: float
    true_peak_dbtp: float
    sample_peak_dbfs: float

    def to_dict(self) -> dict[str, float]:
        """Return the report as a plain dict."""
        return asdict(self)


def true_peak(audio: np.ndarray, sr: int, oversample: int = 4) -> float:
    """Estimate the true peak (linear) by polyphase oversampling, ITU-R BS.1770-4 Annex 2.

    Parameters
    ----------
    audio : np.ndarray
        (channels, samples) float audio.
    sr : int
        Sample rate (unused by the estimate itself; kept for a uniform signature).
    oversample : int
        Oversampling factor; 4 is what BS.1770-4 specifies for 48 kHz.

    Returns
    -------
    float
        Peak absolute value of the oversampled signal.
    """
    del sr
    if audio.shape[-1] < 8:
        return float(np.max(np.abs(audio)))
    upsampled = scipy.signal.resample_poly(audio, oversample, 1, axis=-1)
    return float(max(np.max(np.abs(upsampled)), np.max(np.abs(audio))))


def measure_loudness(audio: np.ndarray, sr: int) -> LoudnessReport:
    """Measure integrated loudness and peaks of (channels, samples) audio.

    Parameters
    ----------
    audio : np.ndarray
        float32 (channels, samples).
    sr : int
        Sample rate in Hz.

    Returns
    -------
    LoudnessReport

    Raises
    ------
    ParameterError
        If the signal is shorter than one 400 ms gating block.

    References
    ----------
    ITU-R BS.1770-4, "Algorithms to measure audio programme loudness and true-peak audio level".
    """
    if audio.shape[-1] < MIN_MEASURABLE_SECONDS * sr:
        raise ParameterError(
            f"loudness needs at least {MIN_MEASURABLE_SECONDS} s of audio, "
            f"got {audio.shape[-1] / sr:.3f} s"
        )
    meter = pyloudnorm.Meter(sr)
    with np.errstate(divide="ignore"):
        integrated = float(meter.integrated_loudness(audio.T.astype(np.float64)))
        peak = float(np.max(np.abs(audio)))
        tp = true_peak(audio, sr)
        return LoudnessReport(
            integrated_lufs=integrated,
            true_peak_dbtp=float(20 * np.log10(tp)) if tp > 0 else float("-inf"),
            sample_peak_dbfs=float(20 * np.log10(peak)) if peak > 0 else float("-inf"),
        )


def normalize_loudness(
    audio: np.ndarray,
    sr: int,
    target_lufs: float = -16.0,
    true_peak_dbtp: float = -1.0,
) -> tuple[np.ndarray, float]:
    """Scale audio to a target integrated loudness without exceeding a true-peak ceiling.

    The gain that reaches ``target_lufs`` is applied; if the result would peak above
    ``true_peak_dbtp``, the gain is reduced to respect the ceiling instead (so the output may be
    quieter than the target; a limiter that keeps the target lives in ``aigc_studio.audio``).

    Parameters
    ----------
    audio : np.ndarray
        float32 (channels, samples).
    sr : int
        Sample rate.
    target_lufs : float
        Target integrated loudness in LUFS, -70 to 0 (streaming services use -14 to -16).
    true_peak_dbtp : float
        Ceiling for the true peak in dBTP, -20 to 0.

    Returns
    -------
    audio : np.ndarray
        The scaled signal.
    gain_db : float
        The gain applied.

    Raises
    ------
    ParameterError
        If a target is out of range, or the signal is silent or too short to measure.
    """
    if not -70.0 <= target_lufs <= 0.0:
        raise ParameterError(f"target_lufs must be in [-70, 0] LUFS, got {target_lufs}")
    if not -20.0 <= true_peak_dbtp <= 0.0:
        raise ParameterError(f"true_peak_dbtp must be in [-20, 0] dBTP, got {true_peak_dbtp}")
    report = measure_loudness(audio, sr)
    if not np.isfinite(report.integrated_lufs):
        raise ParameterError("cannot normalize loudness: the signal is silent")
    gain_db = target_lufs - report.integrated_lufs
    headroom_db = true_peak_dbtp - report.true_peak_dbtp
    gain_db = min(gain_db, headroom_db)
    scaled = audio * np.float32(10 ** (gain_db / 20))
    return scaled.astype(np.float32), float(gain_db)
