"""Describe a recording with numbers: loudness, loudness range, peaks, noise, clipping, hum, tempo.

:func:`analyze_audio` gathers what a creator checks before publishing or restoring a file:
integrated loudness and true peak (ITU-R BS.1770-4, through :mod:`aigc_studio.dsp.loudness`),
loudness range (EBU Tech 3342, :func:`loudness_range`), an estimate of the signal-to-noise ratio
that needs no clean reference (:func:`estimate_snr`), the clipping and hum detectors of
:mod:`~aigc_studio.audio.declip` and :mod:`~aigc_studio.audio.hum`, and the tempo and beats
(:func:`estimate_tempo`, librosa's dynamic-programming beat tracker).

It measures; it changes nothing. Repairs are :mod:`aigc_studio.audio.enhance`'s job.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aigc_studio.errors import MediaError, ParameterError

#: Longest recording analysed (the whole signal is held in memory), hours.
MAX_HOURS = 2.0
#: BS.1770-4 channel weights for L, R, C, Ls, Rs (the LFE channel is not measured).
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)
#: Index of the LFE channel of 5.1 audio in WAV / SMPTE order (L, R, C, LFE, Ls, Rs).
LFE_INDEX = 3
#: BS.1770 loudness of a block from its weighted mean square: -0.691 + 10 log10(z).
LOUDNESS_OFFSET = -0.691
#: EBU Tech 3342: 3 s short-term windows every 0.1 s, gated at -70 LUFS and 20 LU below the
#: windows' mean, range from the 10th to the 95th percentile.
SHORT_TERM_SECONDS = 3.0
SHORT_TERM_HOP_SECONDS = 0.1
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -20.0
RANGE_PERCENTILES = (10.0, 95.0)
#: SNR estimate: frame length (s), and the percentiles of frame power read as the noise floor
#: and as the active signal.
SNR_FRAME_SECONDS = 0.03
SNR_NOISE_PERCENTILE = 10.0
SNR_ACTIVE_PERCENTILE = 95.0
#: Fewest frames the SNR estimate needs to have percentiles worth the name.
SNR_MIN_FRAMES = 10
#: Frame powers are floored here (-120 dBFS), so digital silence gives a finite SNR.
POWER_FLOOR = 1e-12
#: Tempo: the rate the beat tracker runs at, the shortest signal it is asked about (s), and how
#: far an inter-beat interval may stray from the median to count in the tempo (a skipped or
#: doubled beat does not).
TEMPO_SR = 22_050
MIN_TEMPO_SECONDS = 4.0
BEAT_INTERVAL_TOLERANCE = 0.1


@dataclass(frozen=True)
class AudioAnalysis:
    """Measurements of one recording.

    Attributes
    ----------
    path : str or None
        The file analysed, or None for an array.
    duration_s : float
        Length in seconds.
    sample_rate : int
        Hz.
    channels : int
        Channel count.
    integrated_lufs : float or None
        Gated integrated loudness (BS.1770-4), LUFS; ``-inf`` for silence, None when shorter
        than one 400 ms gating block.
    loudness_range_lu : float or None
        Loudness range (EBU Tech 3342), LU; None when shorter than 3 s or below the gates.
    true_peak_dbtp : float
        True peak (4x oversampled), dBTP; ``-inf`` for silence.
    sample_peak_dbfs : float
        Largest sample, dBFS; ``-inf`` for silence.
    snr_db : float or None
        Estimated signal-to-noise ratio (:func:`estimate_snr`), dB; None for silence or fewer
        than ten 30 ms frames.
    clipping_fraction : float
        Fraction of samples on clipped plateaus (:func:`~aigc_studio.audio.declip.detect_clipping`).
    hum_hz : float or None
        Mains frequency of detected hum, 50.0 or 60.0, or None.
    hum_level_db : float or None
        How far the hum rises above the spectral floor, dB, or None.
    tempo_bpm : float or None
        Tempo in beats per minute; None when shorter than 4 s or without beats.
    beat_times : tuple of float
        Beat positions in seconds.
    """

    path: str | None
    duration_s: float
    sample_rate: int
    channels: int
    integrated_lufs: float | None
    loudness_range_lu: float | None
    true_peak_dbtp: float
    sample_peak_dbfs: float
    snr_db: float | None
    clipping_fraction: float
    hum_hz: float | None
    hum_level_db: float | None
    tempo_bpm: float | None
    beat_times: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the analysis as JSON types: floats rounded to 0.001, ``-inf`` as None."""

        def plain(value: Any) -> Any:
            if isinstance(value, float):
                return round(value, 3) if math.isfinite(value) else None
            if isinstance(value, tuple):
                return [plain(v) for v in value]
            return value

        return {key: plain(value) for key, value in asdict(self).items()}


def analyze_audio(
    source: str | os.PathLike[str] | np.ndarray,
    sr: int | None = None,
    *,
    tempo: bool = True,
) -> AudioAnalysis:
    """Measure loudness, loudness range, peaks, SNR, clipping, hum and tempo of a recording.

    Parameters
    ----------
    source : str, PathLike or np.ndarray
        An audio or video file (anything :func:`aigc_studio.media.load_audio` reads), or a
        float (channels, samples) / (samples,) array.
    sr : int, optional
        The array's sample rate; required for an array, not allowed with a file.
    tempo : bool
        Track tempo and beats (the slowest measurement; skip it for speech).

    Returns
    -------
    AudioAnalysis
        Measurements a signal is too short or too quiet for are None (see its attributes).

    Raises
    ------
    MediaError
        If the file is unreadable or longer than 2 hours, or the audio is empty, holds NaN or
        infinite samples, or has more than 6 channels (BS.1770 metering here covers mono to
        5.1; mix down first).
    ParameterError
        If ``sr`` is missing for an array, given for a file, or out of range.

    Examples
    --------
    >>> clicks = np.zeros(8 * 22050, np.float32)
    >>> clicks[:: 22050 // 2] = 0.9
    >>> round(analyze_audio(clicks, 22050).tempo_bpm)  # doctest: +SKIP
    120
    """
    from aigc_studio.audio.declip import detect_clipping
    from aigc_studio.audio.hum import detect_hum
    from aigc_studio.dsp.loudness import MIN_MEASURABLE_SECONDS, measure_loudness, true_peak
    from aigc_studio.media.checks import as_audio_array, check_sample_rate

    path: str | None = None
    if isinstance(source, np.ndarray):
        if sr is None:
            raise ParameterError("sr is required when analysing an array")
        rate = check_sample_rate(sr)
        data = as_audio_array(source, what="audio")
    else:
        if sr is not None:
            raise ParameterError("sr is only for arrays; a file's own rate is used")
        from aigc_studio.media import load_audio

        path = str(source)
        data, rate = load_audio(Path(source), max_hours=MAX_HOURS)
    measured = bs1770_channels(data)
    duration = data.shape[1] / rate
    integrated: float | None = None
    if duration >= MIN_MEASURABLE_SECONDS:
        integrated = measure_loudness(measured, rate).integrated_lufs
    peak = float(np.max(np.abs(data)))
    true = true_peak(data, rate)
    hum = detect_hum(data, rate)
    beats: tuple[float | None, tuple[float, ...]] = (None, ())
    if tempo:
        beats = estimate_tempo(data, rate)
    return AudioAnalysis(
        path=path,
        duration_s=duration,
        sample_rate=rate,
        channels=data.shape[0],
        integrated_lufs=integrated,
        loudness_range_lu=loudness_range(data, rate),
        true_peak_dbtp=_db(true),
        sample_peak_dbfs=_db(peak),
        snr_db=estimate_snr(data, rate),
        clipping_fraction=detect_clipping(data).fraction,
        hum_hz=hum.base_hz if hum else None,
        hum_level_db=hum.level_db if hum else None,
        tempo_bpm=beats[0],
        beat_times=beats[1],
    )


def bs1770_channels(audio: np.ndarray) -> np.ndarray:
    """Return the channels BS.1770 loudness is measured on.

    Mono to 5.0 are measured whole (in the order L, R, C, Ls, Rs); 5.1 drops its LFE channel,
    the fourth in WAV / SMPTE order, which BS.1770 leaves out of the sum.

    Parameters
    ----------
    audio : np.ndarray
        (channels, samples).

    Returns
    -------
    np.ndarray
        (channels, samples), at most 5 channels (a view, not a copy).

    Raises
    ------
    MediaError
        If the audio has more than 6 channels.

    References
    ----------
    ITU-R BS.1770-4, section 2.3 (channel weights; the LFE channel is not included).
    """
    channels = audio.shape[0]
    if channels <= len(CHANNEL_WEIGHTS):
        return audio
    if channels == 6:
        return audio[[i for i in range(6) if i != LFE_INDEX]]
    raise MediaError(
        f"{channels}-channel audio: loudness is measured here for mono to 5.1 only; "
        "mix it down first (aigc audio convert --mono)"
    )


def loudness_range(audio: np.ndarray, sr: int) -> float | None:
    """Loudness range (LRA) in LU, after EBU Tech 3342.

    The signal is K-weighted (BS.1770-4's two filters) and its short-term loudness measured in
    3 s windows every 0.1 s (channels weighted as in BS.1770, the LFE left out). Windows below
    -70 LUFS are dropped, then those more than 20 LU below the energy mean of the rest; the
    range is the spread between the 10th and the 95th percentile of what remains: how far the
    programme's loudness moves, ignoring brief outliers and fades.

    Parameters
    ----------
    audio : np.ndarray
        float (channels, samples), at most 6 channels (see :func:`bs1770_channels`).
    sr : int
        Sample rate in Hz.

    Returns
    -------
    float or None
        LRA in LU; None when the signal is shorter than 3 s or every window is gated out.

    References
    ----------
    EBU Tech 3342 v4 (2023), "Loudness Range: a measure to supplement EBU R 128 loudness
    normalisation"; ITU-R BS.1770-4 (K-weighting, channel weights).

    Examples
    --------
    >>> t = np.arange(20 * 48000) / 48000
    >>> steps = np.where(t < 10, 0.01, 0.1) * np.sin(2 * np.pi * 1000 * t)
    >>> round(loudness_range(steps[np.newaxis], 48000))
    20
    """
    from pyloudnorm import IIRfilter

    measured = bs1770_channels(np.atleast_2d(audio))
    hop = max(1, round(SHORT_TERM_HOP_SECONDS * sr))
    per_window = round(SHORT_TERM_SECONDS / SHORT_TERM_HOP_SECONDS)
    hops = measured.shape[1] // hop
    if hops < per_window:
        return None
    # The K-weighting filters of BS.1770-4: a +4 dB high shelf and a 38 Hz high-pass.
    shelf = IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sr, "high_shelf")
    highpass = IIRfilter(0.0, 0.5, 38.0, sr, "high_pass")
    energy = np.zeros(hops)
    for channel, weight in zip(measured, CHANNEL_WEIGHTS, strict=False):
        weighted = highpass.apply_filter(shelf.apply_filter(channel.astype(np.float64)))
        energy += weight * np.sum(weighted[: hops * hop].reshape(hops, hop) ** 2, axis=1)
    running = np.concatenate([[0.0], np.cumsum(energy)])
    mean_square = (running[per_window:] - running[:-per_window]) / (per_window * hop)
    with np.errstate(divide="ignore"):
        short_term = LOUDNESS_OFFSET + 10.0 * np.log10(mean_square)
    above = short_term[short_term >= ABSOLUTE_GATE_LUFS]
    if above.size == 0:
        return None
    relative = 10.0 * np.log10(np.mean(10.0 ** (above / 10.0))) + RELATIVE_GATE_LU
    gated = above[above >= relative]
    low, high = np.percentile(gated, RANGE_PERCENTILES)
    return float(high - low)


def estimate_snr(audio: np.ndarray, sr: int) -> float | None:
    """Estimate the signal-to-noise ratio without a clean reference, from frame energies.

    The power of 30 ms frames (mean over channels) is sorted: the 10th percentile is taken as
    the noise floor (the pauses every recording of speech or music has), the 95th as the
    active level, and the SNR is ``(active - noise) / noise`` in dB. This is the
    energy-percentile estimate of voice activity detection and of WADA-style blind SNR
    estimators, and shares their limit: a signal without quieter stretches (steady music, or
    steady noise only) reads near 0 dB, as steady signal and steady noise cannot be told apart
    by their energy. Frames are floored at -120 dBFS, so a noiseless recording with digitally
    silent pauses reads about 120 dB above its level's distance from full scale.

    Parameters
    ----------
    audio : np.ndarray
        float (channels, samples).
    sr : int
        Sample rate in Hz.

    Returns
    -------
    float or None
        Estimated SNR in dB; None for silence or a signal shorter than ten frames.

    References
    ----------
    Kim, C. and Stern, R. M. 2008, "Robust signal-to-noise ratio estimation based on waveform
    amplitude distribution analysis" (WADA-SNR), Interspeech; Martin, R. 2001, "Noise power
    spectral density estimation based on optimal smoothing and minimum statistics" (a noise
    floor from low percentiles of power).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> bursts = np.repeat(rng.integers(0, 2, 40), 1600) * np.sin(np.arange(64000) / 3)
    >>> round(estimate_snr(bursts + 0.01 * rng.standard_normal(64000), 16000))
    37
    """
    data = np.atleast_2d(audio)
    frame = max(1, round(SNR_FRAME_SECONDS * sr))
    frames = data.shape[1] // frame
    if frames < SNR_MIN_FRAMES:
        return None
    power = np.zeros(frames)
    for channel in data:  # one channel at a time keeps the float64 copy small
        samples = channel[: frames * frame].astype(np.float64)
        power += np.mean(np.square(samples).reshape(frames, frame), axis=1) / data.shape[0]
    noise, active = np.percentile(power, [SNR_NOISE_PERCENTILE, SNR_ACTIVE_PERCENTILE])
    if active < POWER_FLOOR:
        return None
    noise = max(float(noise), POWER_FLOOR)
    # A steady signal has active close to noise; stop at -30 dB rather than at log10(0).
    signal = max(float(active) - noise, 1e-3 * noise)
    return 10.0 * math.log10(signal / noise)


def estimate_tempo(audio: np.ndarray, sr: int) -> tuple[float | None, tuple[float, ...]]:
    """Estimate the tempo and the beat times with librosa's beat tracker.

    The channels are mixed to mono and resampled to 22.05 kHz (the rate the tracker's onset
    detector is tuned for); ``librosa.beat.beat_track`` finds the beats by dynamic programming
    (Ellis 2007). Its tempo is quantized to the onset frames (117.5 or 123.0 rather than 120
    BPM), so the tempo reported is refined from the tracked beats: 60 over their mean interval,
    counting only intervals within 10 % of the median (a skipped or doubled beat would skew it).

    Parameters
    ----------
    audio : np.ndarray
        float (channels, samples).
    sr : int
        Sample rate in Hz.

    Returns
    -------
    tempo_bpm : float or None
        None when the signal is shorter than 4 s, silent, or has fewer than two beats.
    beat_times : tuple of float
        Beat positions in seconds.

    References
    ----------
    Ellis, D. P. W. 2007, "Beat tracking by dynamic programming", Journal of New Music
    Research 36(1).
    """
    import librosa

    from aigc_studio.media import resample_audio

    data = np.atleast_2d(audio)
    if data.shape[1] < MIN_TEMPO_SECONDS * sr or float(np.max(np.abs(data))) < 1e-6:
        return None, ()
    mono = resample_audio(data.mean(axis=0, keepdims=True), sr, TEMPO_SR)[0]
    _, times = librosa.beat.beat_track(y=mono, sr=TEMPO_SR, units="time")
    times = np.asarray(times, dtype=float)
    if times.size < 2:
        return None, ()
    intervals = np.diff(times)
    median = float(np.median(intervals))
    steady = intervals[np.abs(intervals - median) <= BEAT_INTERVAL_TOLERANCE * median]
    return 60.0 / float(np.mean(steady)), tuple(float(t) for t in times)


def _db(linear: float) -> float:
    return 20.0 * math.log10(linear) if linear > 0 else float("-inf")
