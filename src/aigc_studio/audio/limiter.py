"""Keep a signal's true peak under a ceiling with a smooth, look-ahead gain: a peak limiter.

Loudness normalization often needs more gain than the loudest peaks allow; reducing the gain
instead (what :func:`aigc_studio.dsp.loudness.normalize_loudness` does) leaves the programme
quieter than asked. This limiter turns down only the moments around the peaks. It sees the
whole signal at once, so its "look-ahead" costs no latency: the gain starts to fall before each
peak and is back at unity soon after. Peaks are measured on the 4x oversampled signal, as the
true-peak meter of ITU-R BS.1770-4 Annex 2 does, so peaks between samples are caught too.

This is a mastering-style peak limiter for whole files, not a compressor (it does not change
the loudness of quiet passages) and not a streaming processor.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.ndimage
import scipy.signal

from aigc_studio.errors import ParameterError
from aigc_studio.media.checks import as_audio_array, check_sample_rate

#: Oversampling of the peak detector (BS.1770-4 Annex 2 specifies 4x at 48 kHz).
OVERSAMPLE = 4
#: Samples the oversampling filter reaches on each side (its 81 taps at 4x cover 10 samples).
FILTER_REACH = 16
#: The envelope is computed this many samples at a time, keeping the oversampled copy small.
BLOCK = 1 << 16
#: Default time the gain takes to fall before a peak (and to rise back after the hold), s.
DEFAULT_ATTACK_S = 0.005
#: Default time the gain stays down after a peak before rising, s (so that the gain does not
#: flutter on a run of peaks, which would distort low frequencies).
DEFAULT_HOLD_S = 0.05


def limit_true_peak(
    audio: np.ndarray,
    sr: int,
    *,
    ceiling_dbtp: float = -1.0,
    attack_s: float = DEFAULT_ATTACK_S,
    hold_s: float = DEFAULT_HOLD_S,
) -> tuple[np.ndarray, float]:
    """Limit the true peak of a signal to a ceiling with a smooth look-ahead gain.

    The gain each sample needs is ``ceiling / peak``, where the peak is the largest magnitude
    over the channels (the gain is linked, so the stereo image does not move) of the 4x
    oversampled signal between the sample and its neighbours. With ``r = attack / 4``, that
    requirement is spread to its minimum over ``[n - 2r - hold, n + 2r]`` and smoothed by a
    triangular window ``4r`` wide; every sample the triangle averages is then at most the gain
    the peak needs, so the smooth gain never lets a peak through. The gain falls over
    ``attack`` before a peak, stays down for ``hold`` after it and rises back over ``attack``.

    Parameters
    ----------
    audio : np.ndarray
        float (channels, samples) or (samples,).
    sr : int
        Sample rate in Hz.
    ceiling_dbtp : float
        Highest true peak allowed, dBTP, in [-20, 0].
    attack_s : float
        Time the gain takes to fall before a peak (and to rise after the hold), seconds, in
        [0.0005, 0.05].
    hold_s : float
        Time the gain stays down after a peak, seconds, in [0, 1].

    Returns
    -------
    audio : np.ndarray
        float32 of the input's shape (the input itself, copied, where no peak exceeds the
        ceiling).
    reduction_db : float
        The largest gain reduction applied, dB (0 when nothing was limited).

    Raises
    ------
    MediaError
        If the audio is malformed or holds NaN or infinite samples.
    ParameterError
        If a parameter is out of range.

    References
    ----------
    ITU-R BS.1770-4, Annex 2 (true-peak measurement by oversampling); Giannoulis, D., Massberg,
    M. and Reiss, J. D. 2012, "Digital dynamic range compressor design — a tutorial and
    analysis", JAES 60(6) (the limiter as a gain computer followed by gain smoothing).

    Examples
    --------
    >>> loud = 1.5 * np.sin(2 * np.pi * 440 * np.arange(48000) / 48000)
    >>> limited, reduction = limit_true_peak(loud, 48000, ceiling_dbtp=-1.0)
    >>> bool(np.max(np.abs(limited)) <= 10 ** (-1 / 20)), round(reduction, 1)
    (True, 4.5)
    """
    sr = check_sample_rate(sr)
    if not -20.0 <= ceiling_dbtp <= 0.0:
        raise ParameterError(f"ceiling_dbtp must be in [-20, 0] dBTP, got {ceiling_dbtp!r}")
    if not 0.0005 <= attack_s <= 0.05:
        raise ParameterError(f"attack_s must be in [0.0005, 0.05] s, got {attack_s!r}")
    if not 0.0 <= hold_s <= 1.0:
        raise ParameterError(f"hold_s must be in [0, 1] s, got {hold_s!r}")
    one_dimensional = np.ndim(audio) == 1
    data = as_audio_array(audio, what="audio")
    ceiling = 10.0 ** (ceiling_dbtp / 20.0)
    peaks = oversampled_envelope(data)
    needed = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-30)).astype(np.float32)
    if float(needed.min()) >= 1.0:
        return (data[0].copy() if one_dimensional else data.copy()), 0.0
    ramp = max(1, round(attack_s * sr / 4))
    hold = 2 * round(hold_s * sr / 2)  # even, so that the shifted window below stays whole
    size = 4 * ramp + hold + 1
    # origin = hold / 2 places the window at [n - 2 ramp - hold, n + 2 ramp].
    gain = scipy.ndimage.minimum_filter1d(needed, size, mode="nearest", origin=hold // 2)
    for _ in range(2):  # two boxcars: a triangle, so the gain's slope has no corners either
        gain = scipy.ndimage.uniform_filter1d(gain, 2 * ramp + 1, mode="nearest")
    # The bound holds exactly in real numbers; float rounding may lift it by an ulp.
    gain = np.minimum(gain, needed)
    out = data * gain[np.newaxis, :]
    reduction_db = -20.0 * math.log10(float(gain.min()))
    return (out[0] if one_dimensional else out), reduction_db


def oversampled_envelope(audio: np.ndarray) -> np.ndarray:
    """Return, per sample, the largest magnitude over channels of the 4x oversampled signal.

    Each sample's value covers the oversampled points from the previous sample to the next, so
    a peak between two samples shows on both of them.

    Parameters
    ----------
    audio : np.ndarray
        float32 (channels, samples).

    Returns
    -------
    np.ndarray
        float32 (samples,).

    References
    ----------
    ITU-R BS.1770-4, Annex 2: true peak by 4x polyphase oversampling.
    """
    channels, n = audio.shape
    following = np.empty(n, dtype=np.float32)  # peak over [n, n + 1)
    for start in range(0, n, BLOCK):
        stop = min(n, start + BLOCK)
        lo, hi = max(0, start - FILTER_REACH), min(n, stop + FILTER_REACH)
        up = scipy.signal.resample_poly(audio[:, lo:hi], OVERSAMPLE, 1, axis=-1)
        up = np.abs(up[:, (start - lo) * OVERSAMPLE : (stop - lo) * OVERSAMPLE])
        between = up.reshape(channels, stop - start, OVERSAMPLE).max(axis=(0, 2))
        following[start:stop] = np.maximum(between, np.abs(audio[:, start:stop]).max(axis=0))
    preceding = np.concatenate([following[:1], following[:-1]])
    return np.maximum(following, preceding)
