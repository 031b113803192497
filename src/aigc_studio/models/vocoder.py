"""A small HiFi-GAN-style generator that turns the studio's log-mel spectrograms into waveforms.

The generator follows Kong et al. 2020 (HiFi-GAN) with MelGAN's layout (Kumar et al. 2019):
transposed convolutions upsample the mel frames by ``hop_length`` in stages, and after each stage a
multi-receptive-field fusion block (the mean of residual stacks with different kernels and
dilations) shapes the waveform. Sizes are laptop-sized: the default has about 1M parameters and runs
many times faster than real time on one CPU core.

This module holds the generator only. The discriminators are in
:mod:`aigc_studio.models.discriminators`, the spectral losses in
:mod:`aigc_studio.models.spectral_losses`, and training is the Trainer's job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from aigc_studio.config_values import dataclass_from_dict
from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.models.mel import MelConfig, matching_mel_config


@dataclass
class VocoderConfig:
    """Configuration of :class:`VocoderGenerator`.

    Parameters
    ----------
    n_mels : int
        Mel bands of the input; must equal ``mel.n_mels``.
    hop_length : int
        Output samples per mel frame; must equal ``mel.hop_length`` and the product of
        ``upsample_rates``.
    upsample_rates : tuple of int
        Upsampling factor of each transposed-convolution stage.
    upsample_kernel_sizes : tuple of int
        Kernel of each stage, at least its rate (HiFi-GAN uses twice the rate).
    upsample_initial_channels : int
        Channels after the input convolution; each stage halves them.
    resblock_kernel_sizes : tuple of int
        Odd kernels of the residual stacks fused after each stage.
    resblock_dilations : tuple of tuple of int
        Dilations of each residual stack (one tuple per kernel).
    lrelu_slope : float
        Negative slope of the leaky ReLUs.
    mel : MelConfig or dict, optional
        The feature the vocoder inverts, nested (``to_dict`` writes it as a dict and ``from_dict``
        accepts one). When omitted it is the studio feature with this config's ``n_mels`` and
        ``hop_length``.

    Raises
    ------
    ConfigError
        If a field is out of range or the fields disagree.
    """

    n_mels: int = 128
    hop_length: int = 256
    upsample_rates: tuple[int, ...] = (8, 8, 4)
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 8)
    upsample_initial_channels: int = 128
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilations: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    lrelu_slope: float = 0.1
    mel: MelConfig | None = field(default=None)

    def __post_init__(self) -> None:
        # Lists from TOML/JSON become tuples so that configs compare equal after a round trip.
        self.upsample_rates = tuple(int(r) for r in self.upsample_rates)
        self.upsample_kernel_sizes = tuple(int(k) for k in self.upsample_kernel_sizes)
        self.resblock_kernel_sizes = tuple(int(k) for k in self.resblock_kernel_sizes)
        self.resblock_dilations = tuple(tuple(int(d) for d in ds) for ds in self.resblock_dilations)
        self.validate()

    def validate(self) -> None:
        """Check ranges and consistency between fields.

        Raises
        ------
        ConfigError
            If a field is out of range or the fields disagree.
        """
        self.mel = matching_mel_config(self.mel, self.n_mels, self.hop_length, "vocoder")
        if not self.upsample_rates or any(r < 1 for r in self.upsample_rates):
            raise ConfigError(
                f"upsample_rates must be positive integers, got {self.upsample_rates}"
            )
        if math.prod(self.upsample_rates) != self.hop_length:
            raise ConfigError(
                f"the product of upsample_rates {self.upsample_rates} must equal "
                f"hop_length={self.hop_length}"
            )
        if len(self.upsample_kernel_sizes) != len(self.upsample_rates):
            raise ConfigError("upsample_kernel_sizes needs one kernel per upsample rate")
        for rate, kernel in zip(self.upsample_rates, self.upsample_kernel_sizes, strict=True):
            if kernel < rate or (kernel - rate) % 2:
                raise ConfigError(
                    f"upsample kernel {kernel} must be >= its rate {rate} and differ from it by an "
                    "even number (so the output is exactly rate x longer)"
                )
        if self.upsample_initial_channels < 2 ** len(self.upsample_rates):
            raise ConfigError(
                f"upsample_initial_channels must be >= 2**stages = "
                f"{2 ** len(self.upsample_rates)}, got {self.upsample_initial_channels}"
            )
        if not self.resblock_kernel_sizes or any(
            k < 1 or k % 2 == 0 for k in self.resblock_kernel_sizes
        ):
            raise ConfigError(
                f"resblock_kernel_sizes must be odd, got {self.resblock_kernel_sizes}"
            )
        if len(self.resblock_dilations) != len(self.resblock_kernel_sizes) or any(
            not ds or min(ds) < 1 for ds in self.resblock_dilations
        ):
            raise ConfigError(
                "resblock_dilations needs one non-empty tuple of positive ints per kernel"
            )
        if not 0 <= self.lrelu_slope < 1:
            raise ConfigError(f"lrelu_slope must be in [0, 1), got {self.lrelu_slope}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VocoderConfig:
        """Build a config from a plain dict (``mel`` may be a nested dict), rejecting unknown keys.

        Raises
        ------
        ConfigError
            If ``d`` has a key that is not a field, or a value is out of range.
        """
        return dataclass_from_dict(cls, d, "VocoderConfig")

    def to_dict(self) -> dict[str, Any]:
        """Return plain types only (tuples become lists, ``mel`` a nested dict)."""
        assert isinstance(self.mel, MelConfig)
        return {
            "n_mels": self.n_mels,
            "hop_length": self.hop_length,
            "upsample_rates": list(self.upsample_rates),
            "upsample_kernel_sizes": list(self.upsample_kernel_sizes),
            "upsample_initial_channels": self.upsample_initial_channels,
            "resblock_kernel_sizes": list(self.resblock_kernel_sizes),
            "resblock_dilations": [list(ds) for ds in self.resblock_dilations],
            "lrelu_slope": self.lrelu_slope,
            "mel": self.mel.to_dict(),
        }


def _init_conv(module: nn.Module) -> None:
    # HiFi-GAN's N(0, 0.01) init keeps the untrained output near silence instead of saturating tanh.
    if isinstance(module, nn.Conv1d | nn.ConvTranspose1d):
        module.weight.data.normal_(0.0, 0.01)


class _ResidualStack(nn.Module):
    """HiFi-GAN ResBlock1: per dilation, lrelu → dilated conv → lrelu → conv, plus the input."""

    def __init__(
        self, channels: int, kernel_size: int, dilations: tuple[int, ...], slope: float
    ) -> None:
        super().__init__()
        self.slope = slope
        self.dilated = nn.ModuleList(
            nn.Conv1d(
                channels, channels, kernel_size, dilation=d, padding=d * (kernel_size - 1) // 2
            )
            for d in dilations
        )
        self.plain = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=(kernel_size - 1) // 2)
            for _ in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for dilated, plain in zip(self.dilated, self.plain, strict=True):
            y = dilated(F.leaky_relu(x, self.slope))
            x = x + plain(F.leaky_relu(y, self.slope))
        return x


class VocoderGenerator(nn.Module):
    """HiFi-GAN-style mel-to-waveform generator (Kong et al. 2020; Kumar et al. 2019, MelGAN).

    Parameters
    ----------
    config : VocoderConfig, optional
        Architecture; the laptop-sized defaults when omitted.

    Notes
    -----
    Every convolution carries a weight-norm parametrization (Salimans & Kingma 2016), as in
    HiFi-GAN. Call :meth:`remove_weight_norm` once after training to fold it into plain weights
    for faster inference; the output is unchanged.

    Examples
    --------
    >>> gen = VocoderGenerator()
    >>> gen(torch.zeros(1, 128, 10)).shape
    torch.Size([1, 1, 2560])
    """

    def __init__(self, config: VocoderConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else VocoderConfig()
        c = self.config
        channels = c.upsample_initial_channels
        self.conv_pre = nn.Conv1d(c.n_mels, channels, 7, padding=3)
        self.upsamples = nn.ModuleList()
        self.fusions = nn.ModuleList()
        for rate, kernel in zip(c.upsample_rates, c.upsample_kernel_sizes, strict=True):
            self.upsamples.append(
                nn.ConvTranspose1d(
                    channels, channels // 2, kernel, stride=rate, padding=(kernel - rate) // 2
                )
            )
            channels //= 2
            self.fusions.append(
                nn.ModuleList(
                    _ResidualStack(channels, k, ds, c.lrelu_slope)
                    for k, ds in zip(c.resblock_kernel_sizes, c.resblock_dilations, strict=True)
                )
            )
        self.conv_post = nn.Conv1d(channels, 1, 7, padding=3)
        self.apply(_init_conv)
        for module in self.modules():
            if isinstance(module, nn.Conv1d | nn.ConvTranspose1d):
                weight_norm(module)

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Synthesize waveforms from log-mel spectrograms.

        Parameters
        ----------
        log_mel : torch.Tensor
            (B, n_mels, frames), natural-log mel magnitudes as made by
            :class:`aigc_studio.models.mel.LogMelSpectrogram`.

        Returns
        -------
        torch.Tensor
            (B, 1, frames * hop_length) in [-1, 1].

        Raises
        ------
        ParameterError
            If ``log_mel`` does not have shape (B, n_mels, frames).
        """
        if log_mel.dim() != 3 or log_mel.shape[1] != self.config.n_mels:
            raise ParameterError(
                f"log_mel must be (B, n_mels={self.config.n_mels}, frames), "
                f"got shape {tuple(log_mel.shape)}"
            )
        slope = self.config.lrelu_slope
        x = self.conv_pre(log_mel)
        for upsample, fusion in zip(self.upsamples, self.fusions, strict=True):
            x = upsample(F.leaky_relu(x, slope))
            # Multi-receptive-field fusion: the mean of the residual stacks.
            x = sum(stack(x) for stack in fusion) / len(fusion)
        # HiFi-GAN uses leaky_relu's default slope (0.01) before the output conv.
        x = self.conv_post(F.leaky_relu(x))
        return torch.tanh(x)

    def remove_weight_norm(self) -> None:
        """Fold the weight-norm parametrizations into plain weights (for inference).

        Calling it twice is harmless. Training after removal works but loses weight normalization.
        """
        for module in self.modules():
            if parametrize.is_parametrized(module, "weight"):
                parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)

    def synthesize(self, log_mel: np.ndarray) -> np.ndarray:
        """Synthesize audio from numpy log-mel spectrograms without tracking gradients.

        Parameters
        ----------
        log_mel : np.ndarray
            (n_mels, frames) or (channels, n_mels, frames), e.g. from
            :func:`aigc_studio.dsp.log_mel_spectrogram` with this vocoder's mel parameters.

        Returns
        -------
        np.ndarray
            float32 (channels, frames * hop_length), one channel for a 2-D input.

        Raises
        ------
        ParameterError
            If the array has the wrong shape or non-finite values.
        """
        return synthesize_numpy(self, log_mel, self.config.n_mels)


@torch.no_grad()
def synthesize_numpy(generator: nn.Module, log_mel: np.ndarray, n_mels: int) -> np.ndarray:
    """Run a vocoder generator on numpy log-mels, in eval mode and without gradients.

    Parameters
    ----------
    generator : nn.Module
        Maps (C, n_mels, frames) tensors to (C, 1, samples) waveforms.
    log_mel : np.ndarray
        (n_mels, frames) or (channels, n_mels, frames).
    n_mels : int
        Mel bands the generator expects.

    Returns
    -------
    np.ndarray
        float32 (channels, samples); its training flag is restored afterwards.

    Raises
    ------
    ParameterError
        If the array has the wrong shape or non-finite values.
    """
    array = np.asarray(log_mel, dtype=np.float32)
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3 or array.shape[1] != n_mels or array.shape[2] < 1:
        raise ParameterError(
            f"log_mel must be (n_mels={n_mels}, frames) or (channels, n_mels, frames), "
            f"got shape {np.shape(log_mel)}"
        )
    if not np.all(np.isfinite(array)):
        raise ParameterError("log_mel holds NaN or infinite values")
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    try:
        wave = generator(torch.from_numpy(array).to(device))
    finally:
        generator.train(was_training)
    return wave[:, 0].cpu().numpy().astype(np.float32)
