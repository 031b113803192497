"""The log-mel features that audio datasets store, and their per-bin normalization.

One :class:`AudioFeatureConfig` fixes the representation the spectrogram models train on
(SpecGAN, the spectrogram VAE, the vocoders): 16 kHz audio in segments of 16384 samples
(1.024 s), a 1024-point STFT with hop 256 and 128 mel bands up to 8 kHz, which gives exactly
65 centered frames per segment (SpecGAN uses the first 64). Normalization follows SpecGAN
(Donahue et al. 2018, Adversarial Audio Synthesis): each frequency bin to zero mean and unit
variance over the training set, clipped at 3 standard deviations and scaled to [-1, 1].

This module computes features from arrays; it does not read files or choose datasets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from aigc_studio.config_values import dataclass_from_dict
from aigc_studio.dsp import log_mel_spectrogram
from aigc_studio.errors import ConfigError, ParameterError

#: Standard deviations kept by :func:`normalize_mel`; beyond them values are clipped.
CLIP_STDS = 3.0
#: Smallest per-bin standard deviation (log units), so that a bin that is always at the log
#: floor maps to 0 instead of dividing by zero.
MIN_STD = 1e-3


@dataclass
class AudioFeatureConfig:
    """Sample rate, segment length and log-mel parameters of an audio dataset.

    Parameters
    ----------
    sr : int
        Sample rate in Hz.
    n_fft, hop_length : int
        STFT window and hop (Hann, centered frames).
    n_mels : int
        Mel bands (Slaney scale).
    fmin, fmax : float
        Frequency range of the mel filter bank; ``fmax`` at most ``sr / 2``.
    segment_samples : int
        Samples per dataset item; ``1 + segment_samples // hop_length`` frames.
    """

    sr: int = 16_000
    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float = 8000.0
    segment_samples: int = 16_384

    def __post_init__(self) -> None:
        self.validate()

    @property
    def frames(self) -> int:
        """Number of centered STFT frames of one segment."""
        return 1 + self.segment_samples // self.hop_length

    def validate(self) -> None:
        """Check the values; raise ConfigError naming the bad one."""
        if not 1000 <= self.sr <= 384_000:
            raise ConfigError(f"sr must be in [1000, 384000] Hz, got {self.sr}")
        if not 16 <= self.n_fft <= 16_384:
            raise ConfigError(f"n_fft must be in [16, 16384], got {self.n_fft}")
        if not 1 <= self.hop_length <= self.n_fft:
            raise ConfigError(
                f"hop_length must be in [1, n_fft={self.n_fft}], got {self.hop_length}"
            )
        if not 1 <= self.n_mels <= 512:
            raise ConfigError(f"n_mels must be in [1, 512], got {self.n_mels}")
        if not 0.0 <= self.fmin < self.fmax <= self.sr / 2:
            raise ConfigError(
                f"need 0 <= fmin < fmax <= sr/2 = {self.sr / 2:g}, got fmin={self.fmin}, "
                f"fmax={self.fmax}"
            )
        if self.segment_samples < self.n_fft:
            raise ConfigError(
                f"segment_samples must be at least n_fft={self.n_fft}, got {self.segment_samples}"
            )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AudioFeatureConfig:
        """Build from a dict (e.g. a manifest's params); unknown keys raise ConfigError."""
        return dataclass_from_dict(cls, d, "AudioFeatureConfig")

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict."""
        return asdict(self)


def compute_log_mel(audio: np.ndarray, config: AudioFeatureConfig) -> np.ndarray:
    """Return the natural-log mel spectrogram of a mono mix of ``audio``.

    Parameters
    ----------
    audio : np.ndarray
        float32, shape (channels, samples) or (samples,), at ``config.sr``.
    config : AudioFeatureConfig
        STFT and mel parameters.

    Returns
    -------
    np.ndarray
        float32 (n_mels, frames) with ``frames = 1 + samples // hop_length``;
        ``log(max(mel, 1e-5))`` as :func:`aigc_studio.dsp.log_mel_spectrogram`.

    Raises
    ------
    ParameterError
        If ``audio`` is not 1-D or 2-D.

    Examples
    --------
    >>> mel = compute_log_mel(np.zeros(16384, np.float32), AudioFeatureConfig())
    >>> mel.shape
    (128, 65)
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=0)
    if audio.ndim != 1:
        raise ParameterError(f"audio must be (channels, samples) or (samples,), got {audio.shape}")
    mel = log_mel_spectrogram(
        audio[np.newaxis],
        config.sr,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        n_mels=config.n_mels,
        fmin=config.fmin,
        fmax=config.fmax,
    )
    return mel[0]


def mel_normalization_stats(mels: np.ndarray) -> dict[str, list[float]]:
    """Per-frequency-bin mean and standard deviation of a set of log-mel spectrograms.

    Parameters
    ----------
    mels : np.ndarray
        (N, n_mels, frames), usually the train split only (statistics of the valid and test
        splits would leak into training).

    Returns
    -------
    dict
        ``{"mean": [n_mels floats], "std": [n_mels floats]}``; std is at least ``MIN_STD``.

    Raises
    ------
    ParameterError
        If ``mels`` is not 3-D or holds no items.
    """
    mels = np.asarray(mels)
    if mels.ndim != 3 or mels.shape[0] == 0:
        raise ParameterError(f"mels must be (N >= 1, n_mels, frames), got {mels.shape}")
    # Accumulate in float64 over blocks of items: a memory-mapped set need not fit in memory.
    n_mels = mels.shape[1]
    total = np.zeros(n_mels)
    total_sq = np.zeros(n_mels)
    count = 0
    for start in range(0, mels.shape[0], 256):
        block = np.asarray(mels[start : start + 256], dtype=np.float64)
        total += block.sum(axis=(0, 2))
        total_sq += (block**2).sum(axis=(0, 2))
        count += block.shape[0] * block.shape[2]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    return {"mean": mean.tolist(), "std": np.maximum(std, MIN_STD).tolist()}


def train_mel_stats(mels_by_split: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Return :func:`mel_normalization_stats` of the train split, recording where they came from.

    A tiny dataset can leave the train split empty; the statistics then come from all splits and
    ``"from"`` says so.

    Parameters
    ----------
    mels_by_split : mapping of split name to (N, n_mels, frames) arrays

    Returns
    -------
    dict
        ``{"mean": [...], "std": [...], "from": "train" or "all splits (train is empty)"}``.
    """
    train = mels_by_split.get("train")
    if train is not None and len(train):
        return {**mel_normalization_stats(train), "from": "train"}
    every = np.concatenate([np.asarray(m) for m in mels_by_split.values() if len(m)])
    return {**mel_normalization_stats(every), "from": "all splits (train is empty)"}


def normalize_mel(mel: np.ndarray, stats: Mapping[str, Sequence[float]]) -> np.ndarray:
    """Scale log-mel values per bin into [-1, 1] as SpecGAN does.

    ``clip((mel - mean) / std, -3, 3) / 3`` with the per-bin ``mean`` and ``std`` of
    :func:`mel_normalization_stats` (Donahue et al. 2018).

    Parameters
    ----------
    mel : np.ndarray
        (..., n_mels, frames) log-mel values.
    stats : mapping
        ``{"mean": [...], "std": [...]}`` with n_mels entries each.

    Returns
    -------
    np.ndarray
        float32, same shape, in [-1, 1].

    Raises
    ------
    ParameterError
        If the number of bins does not match the statistics.
    """
    mean, std = _stats_columns(mel, stats)
    return (np.clip((mel - mean) / std, -CLIP_STDS, CLIP_STDS) / CLIP_STDS).astype(np.float32)


def denormalize_mel(x: np.ndarray, stats: Mapping[str, Sequence[float]]) -> np.ndarray:
    """Invert :func:`normalize_mel` (values clipped there stay at 3 std)."""
    mean, std = _stats_columns(x, stats)
    return (np.asarray(x) * CLIP_STDS * std + mean).astype(np.float32)


def _stats_columns(
    mel: np.ndarray, stats: Mapping[str, Sequence[float]]
) -> tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(stats["mean"], dtype=np.float32)[:, np.newaxis]
    std = np.asarray(stats["std"], dtype=np.float32)[:, np.newaxis]
    if np.ndim(mel) < 2 or np.shape(mel)[-2] != mean.shape[0]:
        raise ParameterError(
            f"mel must be (..., n_mels={mean.shape[0]}, frames), got shape {np.shape(mel)}"
        )
    return mean, std
