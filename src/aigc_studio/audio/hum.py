"""Find and remove mains hum: a steady 50 or 60 Hz tone and its harmonics.

Hum comes from the power grid (50 Hz in most of the world, 60 Hz in the Americas and parts of
Asia) leaking into a recording through ground loops and unshielded cables. It is stationary, so
it shows as narrow peaks in the long-term spectrum at the mains frequency and its multiples:
:func:`detect_hum` measures how far those peaks rise above the neighbouring bins of a Welch
spectrum, and :func:`remove_hum` cuts them with a cascade of narrow IIR notch filters run
forwards and backwards (zero phase), leaving the rest of the spectrum alone.

This module handles hum only; broadband noise is :mod:`aigc_studio.audio.denoise`'s job. It
works on ``(channels, samples)`` arrays at any rate (8 kHz telephony to 96 kHz studio audio).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.signal

from aigc_studio.errors import ParameterError
from aigc_studio.media.checks import as_audio_array, check_sample_rate

#: Mains frequencies of the world's power grids, Hz.
MAINS_FREQUENCIES = (50.0, 60.0)
#: Harmonics examined and notched by default (buzz from rectifiers and dimmers reaches ~400 Hz).
DEFAULT_HARMONICS = 8
#: A harmonic counts as hum when its peak rises this far above the local spectral floor, dB (a
#: bin of noise does so with a probability under 1e-9, even from a single Welch segment).
DEFAULT_THRESHOLD_DB = 12.0
#: The local floor is this percentile of the bins around a harmonic: above the median, so that
#: a comb of lines (a click track, a buzzy bass note) lifts it and a harmonic must stand out
#: from neighbouring peaks, not just from the gaps between them.
FLOOR_PERCENTILE = 75.0
#: A hum line must also be this many times (3 dB) stronger than every other bin within 10 Hz:
#: a lone line, not one tooth of a comb (a metronome's spectrum has lines every 2 or 4 Hz).
DOMINANCE = 2.0
DOMINANCE_HZ = 10.0
#: Peaks weaker than this (power, -100 dBFS) are numerical dust, not hum.
MIN_HUM_POWER = 1e-10
#: Shortest signal whose spectrum resolves 50 from 60 Hz reliably, seconds.
MIN_SECONDS = 0.5
#: Target frequency resolution of the long-term spectrum, Hz.
RESOLUTION_HZ = 0.5
#: Length of each excerpt the long-term spectrum averages, seconds, and at most how many: long
#: recordings are sampled at evenly spaced excerpts, as hum is steady, keeping memory flat.
EXCERPT_SECONDS = 10.0
MAX_EXCERPTS = 12
#: Quality factor of each notch (centre / -3 dB width): 1 Hz wide at 50 Hz, 8 Hz at 400 Hz.
DEFAULT_Q = 50.0
#: Notches stay below this fraction of Nyquist, where a notch's response is still well formed.
NYQUIST_MARGIN = 0.95
#: Padding of the zero-phase filter, in time constants of the narrowest notch, so that the
#: filter's start-up transient decays (to exp(-8), -70 dB) before it reaches the signal.
PAD_TIME_CONSTANTS = 8.0
#: The notches run over this many seconds at a time (plus the padding on both sides), so that
#: their float64 working copies stay small on long recordings.
BLOCK_SECONDS = 60.0


@dataclass(frozen=True)
class Hum:
    """Mains hum found in a signal.

    Attributes
    ----------
    base_hz : float
        The grid's nominal frequency, 50.0 or 60.0.
    frequency_hz : float
        The measured fundamental (grids drift by a few tenths of a hertz), from the most
        prominent harmonic's interpolated peak.
    level_db : float
        How far the most prominent harmonic rises above the local spectral floor, dB.
    harmonics_hz : tuple of float
        Nominal frequencies of the harmonics that rose above the threshold.
    """

    base_hz: float
    frequency_hz: float
    level_db: float
    harmonics_hz: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the hum as plain JSON types."""
        values = asdict(self)
        values["harmonics_hz"] = list(self.harmonics_hz)
        return values


def detect_hum(
    audio: np.ndarray,
    sr: int,
    *,
    n_harmonics: int = DEFAULT_HARMONICS,
    threshold_db: float = DEFAULT_THRESHOLD_DB,
) -> Hum | None:
    """Detect 50 or 60 Hz mains hum from the long-term spectrum.

    The Welch power spectrum (0.5 Hz resolution or finer, averaged over channels and over up
    to 12 excerpts of 10 s) is searched near each multiple ``k * f0`` of both mains
    frequencies, within 1 % of the harmonic (grids drift). A peak's prominence is its power
    over the 75th percentile of the bins around it (within ``f0 / 2``), and it must also be
    twice as strong as any other bin within 10 Hz, so that one tooth of a comb of lines (a
    metronome's spectrum) does not pass for hum. A mains frequency is detected when its
    fundamental or second harmonic (what full-wave rectifiers leave) is prominent; when both
    frequencies qualify, the one whose prominent harmonics add up to more wins.

    Parameters
    ----------
    audio : np.ndarray
        float (channels, samples) or (samples,).
    sr : int
        Sample rate in Hz.
    n_harmonics : int
        Harmonics examined, 1-64 (those at or above 95 % of Nyquist are skipped).
    threshold_db : float
        Prominence a peak needs to count, dB, in (0, 60].

    Returns
    -------
    Hum or None
        The hum found, or None when there is none, the signal is silent, or it is shorter than
        0.5 s (too short to tell 50 from 60 Hz).

    Raises
    ------
    MediaError
        If the audio is malformed or holds NaN or infinite samples.
    ParameterError
        If ``sr``, ``n_harmonics`` or ``threshold_db`` is out of range.

    References
    ----------
    Welch, P. 1967, "The use of fast Fourier transform for the estimation of power spectra".

    Examples
    --------
    >>> t = np.arange(2 * 16000) / 16000
    >>> detect_hum(0.05 * np.sin(2 * np.pi * 50 * t), 16000).base_hz
    50.0
    """
    sr = check_sample_rate(sr)
    _check_harmonics(n_harmonics)
    if not 0.0 < threshold_db <= 60.0:
        raise ParameterError(f"threshold_db must be in (0, 60] dB, got {threshold_db!r}")
    data = as_audio_array(audio, what="audio")
    if data.shape[1] < MIN_SECONDS * sr:
        return None
    freqs, power = _long_term_spectrum(data, sr)
    best: tuple[float, Hum] | None = None
    for base in MAINS_FREQUENCIES:
        found = _score(freqs, power, base, n_harmonics, threshold_db, sr)
        if found is not None and (best is None or found[0] > best[0]):
            best = found
    return None if best is None else best[1]


def remove_hum(
    audio: np.ndarray,
    sr: int,
    frequency: float,
    *,
    n_harmonics: int = DEFAULT_HARMONICS,
    q: float = DEFAULT_Q,
) -> np.ndarray:
    """Notch out a hum frequency and its harmonics, zero phase.

    A cascade of second-order IIR notches (``scipy.signal.iirnotch``) at ``k * frequency`` for
    ``k = 1 .. n_harmonics`` below 95 % of Nyquist, run forwards and backwards
    (``sosfiltfilt``): no phase shift, twice the attenuation in dB. The signal is padded on
    both sides with copies of itself shifted by whole hum periods, eight time constants of the
    narrowest notch long, so the notches have settled on the hum before the first sample and
    the edges keep no burst of hum. Long signals go through in one-minute blocks, each with
    that much of its neighbours. Each notch is its centre frequency over ``q`` wide: a 440 Hz
    tone next to the 400 Hz notch of 50 Hz hum (its 8th harmonic) loses about 0.1 dB.

    Parameters
    ----------
    audio : np.ndarray
        float (channels, samples) or (samples,).
    sr : int
        Sample rate in Hz.
    frequency : float
        The hum's fundamental in Hz (``Hum.frequency_hz``), in (0, Nyquist).
    n_harmonics : int
        Notches, 1-64.
    q : float
        Quality factor of each notch (centre frequency over -3 dB width), 1-1000.

    Returns
    -------
    np.ndarray
        float32, the input's shape.

    Raises
    ------
    MediaError
        If the audio is malformed or holds NaN or infinite samples.
    ParameterError
        If ``sr``, ``frequency``, ``n_harmonics`` or ``q`` is out of range.

    References
    ----------
    Orfanidis, S. 1996, *Introduction to Signal Processing*, section 11.3 (notch filters).

    Examples
    --------
    >>> t = np.arange(16000) / 16000
    >>> hummed = np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 50 * t)
    >>> remove_hum(hummed, 16000, 50.0).shape
    (16000,)
    """
    sr = check_sample_rate(sr)
    _check_harmonics(n_harmonics)
    if isinstance(frequency, bool) or not 0.0 < float(frequency) < sr / 2:
        raise ParameterError(f"frequency must be in (0, {sr / 2:g}) Hz, got {frequency!r}")
    if not 1.0 <= q <= 1000.0:
        raise ParameterError(f"q must be in [1, 1000], got {q!r}")
    one_dimensional = np.ndim(audio) == 1
    data = as_audio_array(audio, what="audio")
    centres = [k * float(frequency) for k in range(1, n_harmonics + 1)]
    centres = [f for f in centres if f < NYQUIST_MARGIN * sr / 2]
    if not centres:
        return data[0].copy() if one_dimensional else data.copy()
    sos = np.vstack([scipy.signal.tf2sos(*scipy.signal.iirnotch(f, q, fs=sr)) for f in centres])
    # The narrowest notch (the fundamental's, width f/q) rings longest: 1 / (pi * width) s.
    context = math.ceil(PAD_TIME_CONSTANTS * q / (math.pi * centres[0]) * sr)
    block = max(context, int(BLOCK_SECONDS * sr))
    out = np.empty_like(data)
    for channel in range(data.shape[0]):
        out[channel] = _notch_channel(data[channel], sos, sr / float(frequency), context, block)
    return out[0] if one_dimensional else out


def _notch_channel(
    signal: np.ndarray, sos: np.ndarray, period: float, context: int, block: int
) -> np.ndarray:
    """Run the notches forwards and backwards over one channel, a block at a time.

    Each block is filtered with ``context`` samples of its neighbours on both sides, enough for
    the filters' start-up transients to die out (to ``exp(-8)``, -70 dB) before the block, so
    the blocks join seamlessly and memory stays flat; the signal's own ends are padded with
    copies of it shifted by whole hum periods.
    """
    n = signal.size
    before, after = _periodic_pads(signal, period, context)
    out = np.empty(n, dtype=np.float32)
    for start in range(0, n, block):
        stop = min(n, start + block)
        lo, hi = max(0, start - context), min(n, stop + context)
        pieces = [signal[lo:hi].astype(np.float64)]
        lead = 0
        if lo == 0:
            pieces.insert(0, before)
            lead = before.size
        if hi == n:
            pieces.append(after)
        filtered = scipy.signal.sosfiltfilt(sos, np.concatenate(pieces), padtype=None)
        offset = lead + start - lo
        out[start:stop] = filtered[offset : offset + stop - start]
    return out


def _periodic_pads(signal: np.ndarray, period: float, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Return what goes before and after a signal: itself, shifted by whole hum periods.

    The hum runs on through the padding in phase, so the notches have settled on it when the
    signal starts and nothing rings at the edges (a mirror image would flip the hum's phase at
    the junction and leave a decaying burst of hum there).
    """
    n = signal.size
    periods = max(1, math.ceil(length / period))
    if round(periods * period) > n:
        periods = math.floor(n / period)
    if periods == 0:  # shorter than one hum period: nothing to line up, pad with silence
        return np.zeros(length), np.zeros(length)
    shift = round(periods * period)
    pad = min(length, shift)
    before = signal[shift - pad : shift].astype(np.float64)
    after = signal[n - shift : n - shift + pad].astype(np.float64)
    return before, after


def _check_harmonics(n_harmonics: int) -> None:
    if isinstance(n_harmonics, bool) or not isinstance(n_harmonics, int | np.integer):
        raise ParameterError(f"n_harmonics must be an integer, got {n_harmonics!r}")
    if not 1 <= n_harmonics <= 64:
        raise ParameterError(f"n_harmonics must be in [1, 64], got {n_harmonics}")


def _long_term_spectrum(data: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the Welch power spectrum averaged over channels and evenly spaced excerpts."""
    n = data.shape[1]
    nperseg = min(n, 2 ** math.ceil(math.log2(sr / RESOLUTION_HZ)))
    length = max(nperseg, int(EXCERPT_SECONDS * sr))
    if n <= length:
        starts = np.array([0])
    else:
        count = n // length
        starts = np.unique(np.linspace(0, count - 1, min(count, MAX_EXCERPTS)).round()) * length
    total = None
    for start in starts.astype(int):
        freqs, power = scipy.signal.welch(
            data[:, start : start + length], fs=sr, nperseg=nperseg, scaling="spectrum", axis=-1
        )
        power = power.mean(axis=0)
        total = power if total is None else total + power
    return freqs, total / len(starts)


def _score(
    freqs: np.ndarray,
    power: np.ndarray,
    base: float,
    n_harmonics: int,
    threshold_db: float,
    sr: int,
) -> tuple[float, Hum] | None:
    """Return (score, hum) for one mains frequency, or None if it is not there."""
    df = float(freqs[1] - freqs[0])
    prominences: list[tuple[int, float, float]] = []  # (harmonic, prominence dB, peak Hz)
    for k in range(1, n_harmonics + 1):
        centre = k * base
        if centre >= NYQUIST_MARGIN * sr / 2:
            break
        tolerance = max(2.0 * df, 0.01 * centre)
        distance = np.abs(freqs - centre)
        band = np.flatnonzero(distance <= tolerance)
        around = (distance > tolerance + 2.0 * df) & (distance <= base / 2)
        if band.size == 0 or np.count_nonzero(around) < 4:
            continue  # too coarse a spectrum to judge this harmonic
        peak = int(band[np.argmax(power[band])])
        if peak in (band[0], band[-1]) or power[peak] < MIN_HUM_POWER:
            continue  # the band's maximum is the skirt of a peak outside it, or dust
        floor = float(np.percentile(power[around], FLOOR_PERCENTILE))
        nearby = around & (distance <= DOMINANCE_HZ)
        if nearby.any() and power[peak] < DOMINANCE * float(np.max(power[nearby])):
            continue  # one line of a comb (a click track's spectrum), not a lone hum line
        prominence = 10.0 * math.log10(power[peak] / max(floor, 1e-30))
        prominences.append((k, prominence, _interpolated_peak(freqs, power, peak)))
    strong = [p for p in prominences if p[1] >= threshold_db]
    if not any(k in (1, 2) for k, _, _ in strong):
        return None
    k, level, peak_hz = max(strong, key=lambda p: p[1])
    hum = Hum(
        base_hz=base,
        frequency_hz=round(peak_hz / k, 3),
        level_db=round(level, 2),
        harmonics_hz=tuple(h * base for h, _, _ in strong),
    )
    return sum(p[1] for p in strong), hum


def _interpolated_peak(freqs: np.ndarray, power: np.ndarray, peak: int) -> float:
    """Refine a peak's frequency by a parabola through the log powers of its three bins."""
    if not 0 < peak < len(power) - 1:
        return float(freqs[peak])
    left, centre, right = np.log(np.maximum(power[peak - 1 : peak + 2], 1e-30))
    denominator = left - 2.0 * centre + right
    offset = 0.5 * (left - right) / denominator if denominator < 0 else 0.0
    return float(freqs[peak] + np.clip(offset, -0.5, 0.5) * (freqs[1] - freqs[0]))
