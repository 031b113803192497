"""Spectral distances between a reference recording and an estimate of it.

Full-reference metrics for reconstruction, vocoding and enhancement: the log-spectral distance
and a numpy multi-resolution STFT distance (the same quantities as the Parallel WaveGAN training
loss in :mod:`aigc_studio.models.spectral_losses`, so training and evaluation numbers agree).
Pure functions on numpy arrays; they score any system's output, ours or a peer's. They do not
align signals: a time shift counts as a difference.
"""

from __future__ import annotations

from collections.abc import Sequence

import librosa
import numpy as np

from aigc_studio.errors import ParameterError

#: Floor on the power spectrum for the log-spectral distance (-100 dB), so silence stays finite.
LSD_POWER_FLOOR = 1e-10
#: Floor on the squared magnitude in the STFT distance, as in Parallel WaveGAN's loss.
STFT_POWER_FLOOR = 1e-7


def _mono_pair(reference: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pair = []
    for name, x in (("reference", reference), ("estimate", estimate)):
        array = np.asarray(x, dtype=np.float64)
        if array.ndim == 2 and array.shape[0] == 1:
            array = array[0]
        if array.ndim != 1 or array.size == 0:
            raise ParameterError(f"{name} must be (samples,) or (1, samples), got {np.shape(x)}")
        if not np.all(np.isfinite(array)):
            raise ParameterError(f"{name} holds NaN or infinite samples")
        pair.append(array)
    # Trim to the shorter so that a vocoder's hop-rounded output can be compared directly.
    n = min(pair[0].size, pair[1].size)
    return pair[0][:n], pair[1][:n]


def _power(x: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    spec = librosa.stft(x, n_fft=n_fft, hop_length=hop_length, center=True, pad_mode="constant")
    return np.abs(spec) ** 2


def log_spectral_distance(
    reference: np.ndarray,
    estimate: np.ndarray,
    n_fft: int = 1024,
    hop_length: int = 256,
) -> float:
    """Log-spectral distance in dB: per frame, the RMS over frequency of the log-power difference.

    ``LSD = mean_t sqrt(mean_f (10 log10 P_ref(t, f) - 10 log10 P_est(t, f))^2)`` with power
    spectra from a Hann STFT floored at 1e-10 (-100 dB); the definition used for speech and
    audio super-resolution (e.g. Gray & Markel 1976; Kuleshov et al. 2017, "Audio super
    resolution using neural networks").

    Parameters
    ----------
    reference, estimate : np.ndarray
        Mono signals, (samples,) or (1, samples), at the same sample rate; the longer is trimmed
        to the shorter.
    n_fft, hop_length : int
        STFT size and hop, ``1 <= hop_length <= n_fft``.

    Returns
    -------
    float
        Non-negative dB; 0 for identical signals.

    Raises
    ------
    ParameterError
        If the signals are not mono or not finite, or a parameter is out of range.
    """
    if n_fft < 16 or not 1 <= hop_length <= n_fft:
        raise ParameterError(
            f"need n_fft >= 16 and 1 <= hop_length <= n_fft, got n_fft={n_fft}, "
            f"hop_length={hop_length}"
        )
    ref, est = _mono_pair(reference, estimate)
    ref_db = 10.0 * np.log10(np.maximum(_power(ref, n_fft, hop_length), LSD_POWER_FLOOR))
    est_db = 10.0 * np.log10(np.maximum(_power(est, n_fft, hop_length), LSD_POWER_FLOOR))
    per_frame = np.sqrt(np.mean((ref_db - est_db) ** 2, axis=0))
    return float(np.mean(per_frame))


def multi_resolution_stft_distance(
    reference: np.ndarray,
    estimate: np.ndarray,
    fft_sizes: Sequence[int] = (512, 1024, 2048),
) -> float:
    """Multi-resolution STFT distance: mean over resolutions of spectral convergence + log-mag L1.

    The Parallel WaveGAN auxiliary loss (Yamamoto et al. 2020) as a metric. At each FFT size
    (Hann window of the same length, hop a quarter of it, squared magnitude floored at 1e-7)::

        SC  = || |S_ref| - |S_est| ||_F / || |S_ref| ||_F
        MAG = mean | log|S_ref| - log|S_est| |

    and the result is ``mean(SC + MAG)`` over the sizes. With the default sizes it equals the sum
    of the two outputs of :class:`aigc_studio.models.spectral_losses.MultiResolutionSTFTLoss`.

    Parameters
    ----------
    reference, estimate : np.ndarray
        Mono signals, (samples,) or (1, samples); the longer is trimmed to the shorter.
    fft_sizes : sequence of int
        FFT sizes, each >= 16.

    Returns
    -------
    float
        Non-negative; 0 for identical signals.

    Raises
    ------
    ParameterError
        If the signals are not mono or not finite, or ``fft_sizes`` is empty or too small.
    """
    if not fft_sizes or any(n < 16 for n in fft_sizes):
        raise ParameterError(f"fft_sizes must be non-empty, each >= 16, got {fft_sizes}")
    ref, est = _mono_pair(reference, estimate)
    total = 0.0
    for n_fft in fft_sizes:
        ref_mag = np.sqrt(np.maximum(_power(ref, n_fft, n_fft // 4), STFT_POWER_FLOOR))
        est_mag = np.sqrt(np.maximum(_power(est, n_fft, n_fft // 4), STFT_POWER_FLOOR))
        sc = np.linalg.norm(ref_mag - est_mag) / np.linalg.norm(ref_mag)
        mag = np.mean(np.abs(np.log(ref_mag) - np.log(est_mag)))
        total += sc + mag
    return float(total / len(fft_sizes))
