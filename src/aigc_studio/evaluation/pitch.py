"""Pitch metrics for generated notes: estimated pitch, pitch accuracy and pitch entropy.

These score a generator of single notes (the neural instrument, a conditional GAN) on whether it
plays the requested pitch and how varied its unconditional pitches are, following the evaluation
of GANSynth (Engel et al. 2019). Pitch is estimated with probabilistic YIN (Mauch & Dixon 2014,
``librosa.pyin``). They are pure functions of numpy arrays, so they score peers' audio too; they do
not transcribe polyphony or melodies.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import librosa
import numpy as np

from aigc_studio.errors import ParameterError

#: Fraction of frames that must be voiced for a clip to have a pitch at all.
MIN_VOICED_FRACTION = 0.2
#: A frame counts as voiced only if pYIN's voiced probability is above this, too. Where no YIN
#: trough exists (noise), pYIN gives probability 0.01 ("no trough") and its Viterbi path may still
#: call such frames voiced; harmonic notes, also with white noise at about 14 dB SNR, sit above it.
MIN_VOICED_PROBABILITY = 0.1


def _pyin_frame_length(sr: int, fmin: float) -> int:
    # pYIN wants two periods of fmin per frame (librosa warns otherwise): 1024 at 16 kHz for
    # fmin >= 31.25 Hz, doubled as sr grows or fmin drops.
    frame_length = 1024
    while sr / fmin >= frame_length // 2:
        frame_length *= 2
    return frame_length


def estimate_pitch(
    audio: np.ndarray, sr: int, fmin: float = 50.0, fmax: float = 2000.0
) -> float | None:
    """Estimate the pitch of a single note as the median f0, in MIDI, over voiced frames.

    f0 is tracked with probabilistic YIN (Mauch & Dixon 2014, "pYIN: A fundamental frequency
    estimator using probabilistic threshold distributions"; ``librosa.pyin``) on 1024-sample
    frames at 16 kHz (longer frames at higher rates or lower ``fmin``, so that two periods of
    ``fmin`` always fit), hop a quarter frame. A frame is voiced when pYIN's Viterbi path says so
    and its voiced probability exceeds 0.1 (which rejects noise frames without a YIN trough).

    Parameters
    ----------
    audio : np.ndarray
        (samples,) or (channels, samples); channels are averaged.
    sr : int
        Sample rate in Hz.
    fmin, fmax : float
        Search range of f0 in Hz, ``0 < fmin < fmax <= sr / 2``.

    Returns
    -------
    float or None
        Fractional MIDI pitch (69.0 = A4 = 440 Hz), or None when fewer than 20% of frames are
        voiced (noise, silence, unpitched sounds).

    Raises
    ------
    ParameterError
        If the audio is empty, not finite, or a parameter is out of range.

    Examples
    --------
    >>> from aigc_studio.dsp import harmonic_tone
    >>> round(estimate_pitch(harmonic_tone(440.0, 0.5, 16000), 16000))
    69
    """
    if sr <= 0:
        raise ParameterError(f"sr must be positive, got {sr}")
    if not 0 < fmin < fmax <= sr / 2:
        raise ParameterError(
            f"need 0 < fmin < fmax <= sr/2 = {sr / 2} Hz, got fmin={fmin}, fmax={fmax}"
        )
    y = np.asarray(audio, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=0)
    if y.ndim != 1 or y.size == 0:
        raise ParameterError(
            f"audio must be (samples,) or (channels, samples), got {np.shape(audio)}"
        )
    if not np.all(np.isfinite(y)):
        raise ParameterError("audio holds NaN or infinite samples")
    f0, voiced_flag, voiced_prob = librosa.pyin(
        y, fmin=fmin, fmax=fmax, sr=sr, frame_length=_pyin_frame_length(sr, fmin)
    )
    voiced = voiced_flag & (voiced_prob > MIN_VOICED_PROBABILITY)
    if voiced.mean() < MIN_VOICED_FRACTION:
        return None
    return float(np.median(librosa.hz_to_midi(f0[voiced])))


def pitch_accuracy(
    audios: Sequence[np.ndarray],
    sr: int,
    target_pitches: Sequence[int],
    tolerance_semitones: float = 0.5,
    allow_octave_errors: bool = False,
    *,
    fmin: float = 50.0,
    fmax: float = 2000.0,
) -> float:
    """Fraction of clips whose estimated pitch is within a tolerance of the requested MIDI pitch.

    The pitch of each clip is :func:`estimate_pitch`; a clip counts as correct when
    ``|estimate - target| <= tolerance_semitones`` (with the default 0.5, when the estimate rounds
    to the target). Unvoiced clips count as wrong. This is the pitch-accuracy measure of
    conditional note generators (Engel et al. 2019, GANSynth), computed with pYIN instead of a
    trained pitch classifier.

    Parameters
    ----------
    audios : sequence of np.ndarray
        One clip per target, each (samples,) or (channels, samples).
    sr : int
        Sample rate in Hz.
    target_pitches : sequence of int
        Requested MIDI pitches, one per clip.
    tolerance_semitones : float
        Allowed absolute error, in (0, 6].
    allow_octave_errors : bool
        If True, an estimate a whole number of octaves away counts as correct (chroma accuracy).
    fmin, fmax : float
        f0 search range passed to :func:`estimate_pitch`.

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ParameterError
        If the sequences are empty or differ in length, or the tolerance is out of range.
    """
    if len(audios) != len(target_pitches) or not audios:
        raise ParameterError(
            f"audios and target_pitches need the same non-zero length, got {len(audios)} and "
            f"{len(target_pitches)}"
        )
    if not 0 < tolerance_semitones <= 6:
        raise ParameterError(f"tolerance_semitones must be in (0, 6], got {tolerance_semitones}")
    correct = 0
    for audio, target in zip(audios, target_pitches, strict=True):
        estimate = estimate_pitch(audio, sr, fmin=fmin, fmax=fmax)
        if estimate is None:
            continue
        error = estimate - target
        if allow_octave_errors:
            error -= 12.0 * round(error / 12.0)
        correct += abs(error) <= tolerance_semitones
    return correct / len(audios)


def pitch_entropy(pitches: Sequence[float | None]) -> float:
    """Shannon entropy, in bits, of the histogram of estimated MIDI pitches.

    GANSynth's diversity measure for unconditional generation (Engel et al. 2019): estimate the
    pitch of every generated clip, histogram the pitches, and take ``-sum p log2 p``. Higher means
    more varied pitches; a model that always plays one note scores 0, uniform use of ``n`` pitches
    scores ``log2(n)``. Fractional estimates are rounded to the nearest MIDI note first, and
    ``None`` (unvoiced) entries are left out of the histogram, so the value measures only voiced
    clips (report the voiced fraction alongside).

    Parameters
    ----------
    pitches : sequence of int, float or None
        Estimated MIDI pitches, e.g. from :func:`estimate_pitch`.

    Returns
    -------
    float
        Entropy in bits; 0.0 when no entry is voiced.

    Examples
    --------
    >>> pitch_entropy([60, 62, 64, 65])
    2.0
    """
    counts = Counter(round(p) for p in pitches if p is not None)
    total = sum(counts.values())
    if total == 0:
        return 0.0
    entropy = -sum((n / total) * math.log2(n / total) for n in counts.values())
    return max(0.0, entropy)
