"""Synthesized signals: the studio's sample media and test fixtures are made here, not downloaded.

Every function is deterministic given its ``seed``.
"""

from __future__ import annotations

import numpy as np

from aigc_studio.errors import ParameterError


def _check_duration(duration: float, sr: int) -> int:
    if not 0 < duration <= 3600:
        raise ParameterError(f"duration must be in (0, 3600] seconds, got {duration}")
    if sr <= 0:
        raise ParameterError(f"sr must be positive, got {sr}")
    return max(1, round(duration * sr))


def harmonic_tone(
    frequency: float,
    duration: float,
    sr: int,
    *,
    n_harmonics: int = 6,
    rolloff: float = 0.6,
    attack: float = 0.01,
    release: float = 0.05,
) -> np.ndarray:
    """Synthesize a tone with decaying harmonics and an attack/release envelope, shape (samples,).

    Parameters
    ----------
    frequency : float
        Fundamental in Hz (must be below Nyquist).
    duration : float
        Seconds.
    sr : int
        Sample rate.
    n_harmonics : int
        Harmonics above Nyquist are dropped.
    rolloff : float
        Amplitude ratio between successive harmonics.
    attack, release : float
        Envelope ramps in seconds.

    Returns
    -------
    np.ndarray
        float32, peak about 0.5.
    """
    n = _check_duration(duration, sr)
    if not 0 < frequency < sr / 2:
        raise ParameterError(f"frequency must be in (0, {sr / 2}) Hz, got {frequency}")
    t = np.arange(n) / sr
    wave = np.zeros(n)
    for k in range(1, n_harmonics + 1):
        if k * frequency >= sr / 2:
            break
        wave += rolloff ** (k - 1) * np.sin(2 * np.pi * k * frequency * t)
    envelope = np.ones(n)
    a, r = int(attack * sr), int(release * sr)
    if a:
        envelope[:a] = np.linspace(0, 1, a)
    if r:
        envelope[-r:] = np.minimum(envelope[-r:], np.linspace(1, 0, r))
    wave *= envelope
    peak = np.max(np.abs(wave)) or 1.0
    return (0.5 * wave / peak).astype(np.float32)


def melody_signal(
    midi_pitches: list[int],
    note_seconds: float,
    sr: int,
) -> np.ndarray:
    """Concatenate harmonic tones for a sequence of MIDI pitches, shape (samples,).

    Parameters
    ----------
    midi_pitches : list of int
        MIDI note numbers (69 = A4 = 440 Hz).
    note_seconds : float
        Length of each note.
    sr : int
        Sample rate.

    Returns
    -------
    np.ndarray
        float32.
    """
    if not midi_pitches:
        raise ParameterError("midi_pitches must not be empty")
    notes = [harmonic_tone(440.0 * 2 ** ((p - 69) / 12), note_seconds, sr) for p in midi_pitches]
    return np.concatenate(notes)


def colored_noise(
    duration: float,
    sr: int,
    *,
    color: str = "white",
    seed: int = 0,
) -> np.ndarray:
    """Gaussian noise with a power spectrum of 1/f^beta, shape (samples,), RMS 0.1.

    Parameters
    ----------
    duration : float
        Seconds.
    sr : int
        Sample rate.
    color : {"white", "pink", "brown", "blue"}
        beta = 0, 1, 2, -1.
    seed : int
        Random seed.

    Returns
    -------
    np.ndarray
        float32.
    """
    betas = {"white": 0.0, "pink": 1.0, "brown": 2.0, "blue": -1.0}
    if color not in betas:
        raise ParameterError(f"color must be one of {sorted(betas)}, got {color!r}")
    n = _check_duration(duration, sr)
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, d=1 / sr)
    freqs[0] = freqs[1] if n > 1 else 1.0
    spectrum *= freqs ** (-betas[color] / 2)
    noise = np.fft.irfft(spectrum, n=n)
    noise -= noise.mean()
    rms = np.sqrt(np.mean(noise**2)) or 1.0
    return (0.1 * noise / rms).astype(np.float32)


def chirp(f0: float, f1: float, duration: float, sr: int) -> np.ndarray:
    """Synthesize a logarithmic sine sweep from ``f0`` to ``f1`` Hz at amplitude 0.5."""
    n = _check_duration(duration, sr)
    if not (0 < f0 < sr / 2 and 0 < f1 < sr / 2):
        raise ParameterError(f"f0 and f1 must be in (0, {sr / 2}) Hz, got {f0}, {f1}")
    t = np.arange(n) / sr
    k = np.log(f1 / f0) / duration if f1 != f0 else 0.0
    phase = 2 * np.pi * f0 * (np.expm1(k * t) / k if k else t)
    return (0.5 * np.sin(phase)).astype(np.float32)
