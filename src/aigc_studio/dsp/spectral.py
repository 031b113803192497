"""Log-mel spectrograms and their inversion by Griffin-Lim.

The log-mel spectrogram is the representation the studio's generative audio models (SpecGAN,
the spectrogram VAE, the vocoders) work in; Griffin-Lim is the no-model inversion.
"""

from __future__ import annotations

import librosa
import numpy as np

from aigc_studio.errors import ParameterError

#: Floor added before the log, so that silence maps to a finite value (-11.5 in natural log).
LOG_FLOOR = 1e-5


def log_mel_spectrogram(
    audio: np.ndarray,
    sr: int,
    *,
    n_fft: int = 1024,
    hop_length: int = 256,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> np.ndarray:
    """Natural-log mel magnitude spectrogram, shape (channels, n_mels, frames).

    Parameters
    ----------
    audio : np.ndarray
        float32 (channels, samples).
    sr : int
        Sample rate.
    n_fft, hop_length : int
        STFT window and hop (Hann window, centered frames).
    n_mels : int
        Number of mel bands (Slaney mel scale, area-normalized filters).
    fmin, fmax : float
        Frequency range of the filter bank; ``fmax`` defaults to ``sr / 2``.

    Returns
    -------
    np.ndarray
        ``log(max(mel, 1e-5))``, float32.

    Raises
    ------
    ParameterError
        If a parameter is out of range.
    """
    if n_fft < 16 or hop_length < 1 or hop_length > n_fft or n_mels < 1:
        raise ParameterError(
            f"need n_fft >= 16, 1 <= hop_length <= n_fft and n_mels >= 1 "
            f"(got n_fft={n_fft}, hop_length={hop_length}, n_mels={n_mels})"
        )
    mel = librosa.feature.melspectrogram(
        y=audio,
        sr=sr,
        n_fft=n_fft,
        hop_length=hop_length,
        n_mels=n_mels,
        fmin=fmin,
        fmax=fmax,
        power=1.0,
    )
    return np.log(np.maximum(mel, LOG_FLOOR)).astype(np.float32)


def griffin_lim_from_mel(
    log_mel: np.ndarray,
    sr: int,
    *,
    n_fft: int = 1024,
    hop_length: int = 256,
    n_iter: int = 32,
    fmin: float = 0.0,
    fmax: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Invert a log-mel spectrogram to audio with Griffin-Lim (Griffin & Lim 1984).

    The mel magnitudes are mapped back to linear frequency with the filter bank's pseudo-inverse
    (non-negative least squares) and phase is estimated with the fast Griffin-Lim algorithm
    (Perraudin et al. 2013).

    Parameters
    ----------
    log_mel : np.ndarray
        (channels, n_mels, frames) or (n_mels, frames) from :func:`log_mel_spectrogram`.
    sr, n_fft, hop_length, fmin, fmax
        The values used to compute ``log_mel``.
    n_iter : int
        Griffin-Lim iterations (1 to 1000); more is slower and (slowly) better.
    seed : int
        Seed of the random initial phase.

    Returns
    -------
    np.ndarray
        float32 (channels, samples).

    Raises
    ------
    ParameterError
        If ``n_iter`` is out of range or the array has the wrong shape.
    """
    if not 1 <= n_iter <= 1000:
        raise ParameterError(f"n_iter must be in [1, 1000], got {n_iter}")
    mel = np.exp(np.asarray(log_mel, dtype=np.float32))
    if mel.ndim == 2:
        mel = mel[np.newaxis]
    if mel.ndim != 3:
        raise ParameterError(f"expected a (channels, n_mels, frames) spectrogram, got {mel.shape}")
    outputs = []
    for channel in mel:
        magnitude = librosa.feature.inverse.mel_to_stft(
            channel, sr=sr, n_fft=n_fft, power=1.0, fmin=fmin, fmax=fmax
        )
        outputs.append(
            librosa.griffinlim(
                magnitude,
                n_iter=n_iter,
                hop_length=hop_length,
                n_fft=n_fft,
                init="random",
                random_state=seed,
                momentum=0.99,
            )
        )
    return np.stack(outputs).astype(np.float32)
