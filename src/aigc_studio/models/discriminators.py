"""Waveform discriminators for GAN vocoders and waveform generators, apart from any generator.

:class:`MultiScaleDiscriminator` (MelGAN, Kumar et al. 2019) judges the waveform at several
average-pooled resolutions; :class:`MultiPeriodDiscriminator` (HiFi-GAN, Kong et al. 2020) judges
it folded by several prime periods; :class:`CombinedWaveDiscriminator` runs both and concatenates
their outputs, which is what a HiFi-GAN training step needs. HiFi-GAN's least-squares objectives
(Mao et al. 2017) summed over sub-discriminators are small functions at the end, and the
feature-matching loss is re-exported from :mod:`aigc_studio.models.gan_losses` (whose
single-logit ``discriminator_loss`` serves SpecGAN). Spectral losses live in
:mod:`aigc_studio.models.spectral_losses`; the training step itself is the Trainer's.

Every discriminator returns ``(logits, feature_maps)``: a list with one ``(B, N)`` logit tensor
per sub-discriminator and, per sub-discriminator, the list of its intermediate activations (the
last entry is the un-flattened logit map, as in HiFi-GAN's reference code).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from aigc_studio.config_values import dataclass_from_dict
from aigc_studio.errors import ConfigError, ParameterError

# Re-exported so that a vocoder step imports its three adversarial terms from one place; the
# implementation (summed mean L1 over all feature maps, real side detached) is shared with SpecGAN.
from aigc_studio.models.gan_losses import feature_matching_loss

__all__ = [
    "CombinedWaveDiscriminator",
    "DiscriminatorOutput",
    "MultiPeriodDiscriminator",
    "MultiScaleDiscriminator",
    "WaveDiscriminatorConfig",
    "discriminator_loss",
    "feature_matching_loss",
    "generator_adversarial_loss",
]

#: Logits and per-sub-discriminator feature maps, the output of every discriminator here.
DiscriminatorOutput = tuple[list[torch.Tensor], list[list[torch.Tensor]]]


@dataclass
class WaveDiscriminatorConfig:
    """Sizes of the multi-scale and multi-period discriminators.

    The defaults are laptop-sized (about 0.36M parameters in the MSD and 0.68M in the MPD,
    against tens of millions in HiFi-GAN V1's); the reference widths are
    ``msd_channels=(16, 64, 256, 1024, 1024, 1024)`` and
    ``mpd_channels=(32, 128, 512, 1024, 1024)``.

    Parameters
    ----------
    scales : int
        Sub-discriminators of the MSD: the raw waveform, then each further one on a waveform
        average-pooled by 2 once more.
    periods : tuple of int
        Periods of the MPD's sub-discriminators.
    msd_channels : tuple of int
        Widths of the MSD's conv stack: a kernel-15 input conv, then kernel-41 stride-4 grouped
        convs (4 input channels per group, as in MelGAN), then a kernel-5 conv at the last width.
        At least 3 entries; each width divisible by 4 and by its predecessor's group count.
    mpd_channels : tuple of int
        Widths of the MPD's (5, 1) convs: stride 3 for all but the last, which has stride 1.
        At least 2 entries.
    lrelu_slope : float
        Negative slope of the leaky ReLUs.

    Raises
    ------
    ConfigError
        If a field is out of range.
    """

    scales: int = 3
    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    msd_channels: tuple[int, ...] = (16, 32, 64, 128, 128)
    mpd_channels: tuple[int, ...] = (16, 32, 64, 128, 128)
    lrelu_slope: float = 0.1

    def __post_init__(self) -> None:
        self.periods = tuple(int(p) for p in self.periods)
        self.msd_channels = tuple(int(c) for c in self.msd_channels)
        self.mpd_channels = tuple(int(c) for c in self.mpd_channels)
        self.validate()

    def validate(self) -> None:
        """Check every field against its allowed range.

        Raises
        ------
        ConfigError
            If a field is out of range.
        """
        if not 0 <= self.scales <= 6:
            raise ConfigError(f"scales must be in [0, 6], got {self.scales}")
        if any(p < 1 for p in self.periods) or len(set(self.periods)) != len(self.periods):
            raise ConfigError(f"periods must be distinct positive integers, got {self.periods}")
        if self.scales == 0 and not self.periods:
            raise ConfigError("need at least one scale or one period")
        if len(self.msd_channels) < 3 or any(c < 4 or c % 4 for c in self.msd_channels):
            raise ConfigError(
                f"msd_channels needs >= 3 widths, each a positive multiple of 4, "
                f"got {self.msd_channels}"
            )
        for c_in, c_out in zip(self.msd_channels[:-2], self.msd_channels[1:-1], strict=True):
            if c_out % (c_in // 4):
                raise ConfigError(
                    f"msd_channels: width {c_out} must be divisible by the group count "
                    f"{c_in // 4} of the width {c_in} before it"
                )
        if len(self.mpd_channels) < 2 or any(c < 1 for c in self.mpd_channels):
            raise ConfigError(f"mpd_channels needs >= 2 positive widths, got {self.mpd_channels}")
        if not 0 <= self.lrelu_slope < 1:
            raise ConfigError(f"lrelu_slope must be in [0, 1), got {self.lrelu_slope}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WaveDiscriminatorConfig:
        """Build a config from a plain dict, rejecting unknown keys.

        Raises
        ------
        ConfigError
            If ``d`` has a key that is not a field, or a value is out of range.
        """
        return dataclass_from_dict(cls, d, "WaveDiscriminatorConfig")

    def to_dict(self) -> dict[str, Any]:
        """Return plain types only (tuples become lists)."""
        return {
            "scales": self.scales,
            "periods": list(self.periods),
            "msd_channels": list(self.msd_channels),
            "mpd_channels": list(self.mpd_channels),
            "lrelu_slope": self.lrelu_slope,
        }


def _check_wave(wave: torch.Tensor) -> None:
    if wave.dim() != 3 or wave.shape[1] != 1:
        raise ParameterError(f"wave must be (B, 1, T), got shape {tuple(wave.shape)}")


class _ScaleDiscriminator(nn.Module):
    """MelGAN's discriminator block: strided grouped 1-D convs down to a logit sequence."""

    def __init__(self, channels: tuple[int, ...], slope: float, use_spectral_norm: bool) -> None:
        super().__init__()
        norm = spectral_norm if use_spectral_norm else weight_norm
        self.slope = slope
        convs = [norm(nn.Conv1d(1, channels[0], 15, padding=7))]
        for c_in, c_out in zip(channels[:-2], channels[1:-1], strict=True):
            convs.append(norm(nn.Conv1d(c_in, c_out, 41, stride=4, groups=c_in // 4, padding=20)))
        convs.append(norm(nn.Conv1d(channels[-2], channels[-1], 5, padding=2)))
        self.convs = nn.ModuleList(convs)
        self.conv_post = norm(nn.Conv1d(channels[-1], 1, 3, padding=1))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        x = wave
        for conv in self.convs:
            x = F.leaky_relu(conv(x), self.slope)
            features.append(x)
        x = self.conv_post(x)
        features.append(x)
        return x.flatten(1), features


class MultiScaleDiscriminator(nn.Module):
    """MelGAN's multi-scale discriminator (Kumar et al. 2019), as used in HiFi-GAN.

    The same conv stack judges the raw waveform and its 2x, 4x, ... average-pooled versions; the
    first scale uses spectral normalization (Miyato et al. 2018), the others weight normalization,
    as in HiFi-GAN.

    Parameters
    ----------
    scales : int
        Number of sub-discriminators; overrides ``config.scales``.
    config : WaveDiscriminatorConfig, optional
        Widths and slope; the defaults when omitted.

    Examples
    --------
    >>> logits, features = MultiScaleDiscriminator()(torch.zeros(2, 1, 4096))
    >>> len(logits), len(features)
    (3, 3)
    """

    def __init__(self, scales: int = 3, config: WaveDiscriminatorConfig | None = None) -> None:
        super().__init__()
        base = config if config is not None else WaveDiscriminatorConfig()
        self.config = WaveDiscriminatorConfig.from_dict({**base.to_dict(), "scales": scales})
        self.discriminators = nn.ModuleList(
            _ScaleDiscriminator(self.config.msd_channels, self.config.lrelu_slope, i == 0)
            for i in range(scales)
        )
        self.pool = nn.AvgPool1d(4, stride=2, padding=2)

    def forward(self, wave: torch.Tensor) -> DiscriminatorOutput:
        """Judge ``wave`` (B, 1, T) at every scale.

        Returns
        -------
        tuple of (list of torch.Tensor, list of list of torch.Tensor)
            One (B, N) logit tensor and one list of feature maps per scale.

        Raises
        ------
        ParameterError
            If ``wave`` is not (B, 1, T).
        """
        _check_wave(wave)
        logits, features = [], []
        x = wave
        for i, disc in enumerate(self.discriminators):
            if i:
                x = self.pool(x)
            logit, feats = disc(x)
            logits.append(logit)
            features.append(feats)
        return logits, features


class _PeriodDiscriminator(nn.Module):
    """HiFi-GAN's period block: the waveform folded into (T/p, p) columns, judged by 2-D convs."""

    def __init__(self, period: int, channels: tuple[int, ...], slope: float) -> None:
        super().__init__()
        self.period = period
        self.slope = slope
        convs = []
        c_in = 1
        for i, c_out in enumerate(channels):
            stride = 1 if i == len(channels) - 1 else 3
            convs.append(
                weight_norm(nn.Conv2d(c_in, c_out, (5, 1), stride=(stride, 1), padding=(2, 0)))
            )
            c_in = c_out
        self.convs = nn.ModuleList(convs)
        self.conv_post = weight_norm(nn.Conv2d(c_in, 1, (3, 1), padding=(1, 0)))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        batch, channels, length = wave.shape
        if length % self.period:
            # Reflect-pad to a whole number of periods, as HiFi-GAN does.
            pad = self.period - length % self.period
            mode = "reflect" if pad < length else "constant"
            wave = F.pad(wave, (0, pad), mode=mode)
            length += pad
        x = wave.view(batch, channels, length // self.period, self.period)
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), self.slope)
            features.append(x)
        x = self.conv_post(x)
        features.append(x)
        return x.flatten(1), features


class MultiPeriodDiscriminator(nn.Module):
    """HiFi-GAN's multi-period discriminator (Kong et al. 2020).

    Each sub-discriminator folds the waveform by one period so that its 2-D convs see samples
    exactly ``period`` apart, which exposes periodic structure that pooling would blur.

    Parameters
    ----------
    periods : tuple of int
        One sub-discriminator per period; overrides ``config.periods``.
    config : WaveDiscriminatorConfig, optional
        Widths and slope; the defaults when omitted.

    Examples
    --------
    >>> logits, features = MultiPeriodDiscriminator()(torch.zeros(2, 1, 4096))
    >>> len(logits), len(features[0])
    (5, 6)
    """

    def __init__(
        self,
        periods: tuple[int, ...] = (2, 3, 5, 7, 11),
        config: WaveDiscriminatorConfig | None = None,
    ) -> None:
        super().__init__()
        base = config if config is not None else WaveDiscriminatorConfig()
        self.config = WaveDiscriminatorConfig.from_dict({**base.to_dict(), "periods": periods})
        self.discriminators = nn.ModuleList(
            _PeriodDiscriminator(p, self.config.mpd_channels, self.config.lrelu_slope)
            for p in self.config.periods
        )

    def forward(self, wave: torch.Tensor) -> DiscriminatorOutput:
        """Judge ``wave`` (B, 1, T) at every period.

        Returns
        -------
        tuple of (list of torch.Tensor, list of list of torch.Tensor)
            One (B, N) logit tensor and one list of feature maps per period.

        Raises
        ------
        ParameterError
            If ``wave`` is not (B, 1, T).
        """
        _check_wave(wave)
        logits, features = [], []
        for disc in self.discriminators:
            logit, feats = disc(wave)
            logits.append(logit)
            features.append(feats)
        return logits, features


class CombinedWaveDiscriminator(nn.Module):
    """Run an MSD and an MPD and concatenate their outputs (HiFi-GAN's discriminator set).

    Parameters
    ----------
    msd : MultiScaleDiscriminator
        The multi-scale discriminator (its sub-discriminators come first in the outputs).
    mpd : MultiPeriodDiscriminator
        The multi-period discriminator.

    Notes
    -----
    A training step treats the result as one discriminator: the losses below sum over all
    sub-discriminators, so one optimizer over ``combined.parameters()`` serves both.

    Examples
    --------
    >>> disc = CombinedWaveDiscriminator.from_config(WaveDiscriminatorConfig())
    >>> logits, features = disc(torch.zeros(1, 1, 4096))
    >>> len(logits)
    8
    """

    def __init__(self, msd: MultiScaleDiscriminator, mpd: MultiPeriodDiscriminator) -> None:
        super().__init__()
        self.msd = msd
        self.mpd = mpd

    @classmethod
    def from_config(cls, config: WaveDiscriminatorConfig) -> CombinedWaveDiscriminator:
        """Build both discriminators from one config."""
        return cls(
            MultiScaleDiscriminator(config.scales, config),
            MultiPeriodDiscriminator(config.periods, config),
        )

    def forward(self, wave: torch.Tensor) -> DiscriminatorOutput:
        """Judge ``wave`` (B, 1, T) with the MSD then the MPD; the lists are concatenated."""
        msd_logits, msd_features = self.msd(wave)
        mpd_logits, mpd_features = self.mpd(wave)
        return msd_logits + mpd_logits, msd_features + mpd_features


def discriminator_loss(
    real_logits: list[torch.Tensor], fake_logits: list[torch.Tensor]
) -> torch.Tensor:
    """Least-squares GAN discriminator loss summed over sub-discriminators (Mao et al. 2017).

    ``sum_k mean((1 - D_k(x))^2) + mean(D_k(G(s))^2)``, as in HiFi-GAN (Kong et al. 2020, Eq. 1).
    Pass fake logits computed on ``fake.detach()`` so that the generator gets no gradient from
    this loss. Not to be confused with ``gan_losses.discriminator_loss``, which takes one logit
    tensor and a loss kind.

    Raises
    ------
    ParameterError
        If the lists differ in length or are empty.
    """
    if len(real_logits) != len(fake_logits) or not real_logits:
        raise ParameterError(
            "real_logits and fake_logits need one entry per sub-discriminator (and at least one)"
        )
    loss = real_logits[0].new_zeros(())
    for real, fake in zip(real_logits, fake_logits, strict=True):
        loss = loss + (1 - real).square().mean() + fake.square().mean()
    return loss


def generator_adversarial_loss(fake_logits: list[torch.Tensor]) -> torch.Tensor:
    """Least-squares GAN generator loss ``sum_k mean((1 - D_k(G(s)))^2)`` (Mao et al. 2017).

    HiFi-GAN's adversarial term for the generator (Kong et al. 2020, Eq. 2), summed over
    sub-discriminators.

    Raises
    ------
    ParameterError
        If ``fake_logits`` is empty.
    """
    if not fake_logits:
        raise ParameterError("fake_logits needs at least one sub-discriminator's logits")
    loss = fake_logits[0].new_zeros(())
    for fake in fake_logits:
        loss = loss + (1 - fake).square().mean()
    return loss
