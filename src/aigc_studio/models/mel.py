"""The studio's log-mel feature as a differentiable torch module.

:class:`LogMelSpectrogram` computes, inside a model's graph, the same feature as
:func:`aigc_studio.dsp.log_mel_spectrogram` computes in numpy with librosa: a centered Hann STFT
with zero padding, magnitude (power 1), a Slaney-scale area-normalized mel filter bank from
``librosa.filters.mel`` and ``log(max(mel, 1e-5))``. The vocoder and the neural instrument use it
for their inputs and for the mel reconstruction loss. It does not invert mel spectrograms (see
:func:`aigc_studio.dsp.griffin_lim_from_mel` or
:class:`aigc_studio.models.vocoder.VocoderGenerator`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import librosa
import torch
from torch import nn

from aigc_studio.config_values import dataclass_from_dict
from aigc_studio.errors import ConfigError, ParameterError


@dataclass
class MelConfig:
    """Parameters of the studio's log-mel feature.

    Parameters
    ----------
    sr : int
        Sample rate in Hz.
    n_fft : int
        FFT size of the STFT.
    hop_length : int
        Samples between frames; a clip of ``n`` samples has ``1 + n // hop_length`` frames.
    win_length : int
        Hann window length (at most ``n_fft``; a shorter window is zero-padded to ``n_fft``).
    n_mels : int
        Mel bands (Slaney mel scale, area-normalized filters: ``librosa.filters.mel`` defaults).
    fmin, fmax : float
        Frequency range of the filter bank in Hz; ``fmax`` at most ``sr / 2``.
    log_floor : float
        Magnitudes are clamped to at least this value before the natural log.
    """

    sr: int = 16_000
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float = 8000.0
    log_floor: float = 1e-5

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field against its allowed range.

        Raises
        ------
        ConfigError
            If a field is out of range.
        """
        if self.sr <= 0:
            raise ConfigError(f"mel sr must be positive, got {self.sr}")
        if self.n_fft < 16:
            raise ConfigError(f"mel n_fft must be >= 16, got {self.n_fft}")
        if not 1 <= self.win_length <= self.n_fft:
            raise ConfigError(
                f"mel win_length must be in [1, n_fft={self.n_fft}], got {self.win_length}"
            )
        if not 1 <= self.hop_length <= self.win_length:
            raise ConfigError(
                f"mel hop_length must be in [1, win_length={self.win_length}], "
                f"got {self.hop_length}"
            )
        if self.n_mels < 1:
            raise ConfigError(f"mel n_mels must be >= 1, got {self.n_mels}")
        if not 0 <= self.fmin < self.fmax <= self.sr / 2:
            raise ConfigError(
                f"mel needs 0 <= fmin < fmax <= sr/2 = {self.sr / 2}, "
                f"got fmin={self.fmin}, fmax={self.fmax}"
            )
        if not self.log_floor > 0:
            raise ConfigError(f"mel log_floor must be positive, got {self.log_floor}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MelConfig:
        """Build a config from a plain dict, rejecting unknown keys.

        Raises
        ------
        ConfigError
            If ``d`` has a key that is not a field, or a value is out of range.
        """
        return dataclass_from_dict(cls, d, "MelConfig")

    def to_dict(self) -> dict[str, Any]:
        """Return the config as a plain dict (round-trips through :meth:`from_dict`)."""
        return asdict(self)


def matching_mel_config(
    mel: MelConfig | dict[str, Any] | None, n_mels: int, hop_length: int, owner: str
) -> MelConfig:
    """Resolve a model's nested mel config and check that it agrees with the model's own fields.

    Parameters
    ----------
    mel : MelConfig, dict or None
        None means the studio feature with ``n_mels`` and ``hop_length``; a dict is parsed.
    n_mels, hop_length : int
        The model's own values, which must equal the feature's.
    owner : str
        How errors name the model (e.g. ``"vocoder"``).

    Raises
    ------
    ConfigError
        If ``mel`` is of another type or disagrees with ``n_mels``/``hop_length``.
    """
    if mel is None:
        mel = MelConfig(n_mels=n_mels, hop_length=hop_length)
    elif isinstance(mel, dict):
        mel = MelConfig.from_dict(mel)
    elif not isinstance(mel, MelConfig):
        raise ConfigError(f"{owner} mel must be a MelConfig or dict, got {type(mel).__name__}")
    if mel.n_mels != n_mels:
        raise ConfigError(f"{owner} n_mels={n_mels} differs from mel.n_mels={mel.n_mels}")
    if mel.hop_length != hop_length:
        raise ConfigError(
            f"{owner} hop_length={hop_length} differs from mel.hop_length={mel.hop_length}"
        )
    return mel


class LogMelSpectrogram(nn.Module):
    """Differentiable log-mel spectrogram: ``aigc_studio.dsp.log_mel_spectrogram`` in torch.

    Parameters
    ----------
    config : MelConfig, optional
        Feature parameters; the studio defaults when omitted.

    Notes
    -----
    The filter bank and window are registered buffers, so ``.to(device)`` moves them and they are
    saved in the state dict. The magnitude is ``sqrt(max(re^2 + im^2, 1e-12))`` so that the
    gradient stays finite at exact zeros of the STFT; the clamp sits far below the log floor.

    Examples
    --------
    >>> mel = LogMelSpectrogram()
    >>> mel(torch.zeros(2, 16000)).shape
    torch.Size([2, 128, 63])
    """

    mel_basis: torch.Tensor
    window: torch.Tensor

    def __init__(self, config: MelConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else MelConfig()
        c = self.config
        basis = librosa.filters.mel(
            sr=c.sr, n_fft=c.n_fft, n_mels=c.n_mels, fmin=c.fmin, fmax=c.fmax
        )
        self.register_buffer("mel_basis", torch.from_numpy(basis).float())
        # periodic=True matches librosa's get_window("hann", fftbins=True).
        self.register_buffer("window", torch.hann_window(c.win_length, periodic=True))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Compute ``log(max(mel, floor))`` of waveforms.

        Parameters
        ----------
        wave : torch.Tensor
            (B, samples) or (B, 1, samples).

        Returns
        -------
        torch.Tensor
            (B, n_mels, 1 + samples // hop_length).

        Raises
        ------
        ParameterError
            If ``wave`` has another shape.
        """
        if wave.dim() == 3 and wave.shape[1] == 1:
            wave = wave[:, 0]
        if wave.dim() != 2:
            raise ParameterError(
                f"wave must be (B, samples) or (B, 1, samples), got shape {tuple(wave.shape)}"
            )
        c = self.config
        spec = torch.stft(
            wave.float(),
            n_fft=c.n_fft,
            hop_length=c.hop_length,
            win_length=c.win_length,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        power = spec.real.square() + spec.imag.square()
        magnitude = power.clamp_min(1e-12).sqrt()
        mel = torch.matmul(self.mel_basis, magnitude)
        return mel.clamp_min(c.log_floor).log()
