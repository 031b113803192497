"""SpecGAN: a DCGAN over normalized log-mel spectrograms (Donahue et al. 2018).

The generator maps a latent vector (and optionally a class label) to a spectrogram image in
``[-1, 1]``; the discriminator maps a spectrogram (and label) to one logit, with class
conditioning by projection (Miyato & Koyama 2018). This module holds only the two networks and
their config: the adversarial losses are in :mod:`aigc_studio.models.gan_losses`, the training
step in :mod:`aigc_studio.training`, and turning spectrograms into audio (denormalizing, Griffin-Lim
or a vocoder) is the caller's job.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from aigc_studio.config_values import dataclass_from_dict, raise_first_failure
from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.models.gan_losses import GAN_LOSSES

__all__ = ["SpecGANConfig", "SpecGANDiscriminator", "SpecGANGenerator"]

#: Width of the generator's learned class embedding, concatenated to ``z`` when conditional.
CLASS_EMBED_DIM = 32

# Both networks change resolution by 2 four times, so the spectrogram sides must divide by 16.
_STAGES = 4
_DOWNSAMPLE = 2**_STAGES


@dataclass
class SpecGANConfig:
    """Sizes and training options of a SpecGAN.

    The default generator has 2,790,177 parameters and the default discriminator 689,377
    (3,314,593 and 690,401 with ``num_classes=4``: the class embedding widens the dense
    layer's input), small enough to train on a laptop CPU.

    Parameters
    ----------
    latent_dim : int
        Size of the latent vector ``z``.
    n_mels, frames : int
        Spectrogram height (mel bands) and width (frames); multiples of 16, at least 16.
    base_channels : int
        Channel width ``C``; the generator starts at ``16 C`` channels, the discriminator ends
        at ``8 C``.
    num_classes : int
        Number of class labels for conditional generation; 0 makes the model unconditional.
    spectral_norm : bool
        Spectral normalization (Miyato et al. 2018) on every discriminator layer.
    loss : str
        Adversarial objective, one of :data:`aigc_studio.models.gan_losses.GAN_LOSSES`.
    gp_weight : float
        Weight of the gradient penalty; used by the training step only with ``loss="wgan-gp"``.
    ema_decay : float
        Decay of the exponential moving average of the generator's weights, in ``[0, 1)``.
    class_pitches : tuple of int
        MIDI pitch of each class (one per class) to condition on a harmonic template as well as
        on the learned embedding: a fixed image of the pitch's harmonic comb in mel space, given
        to the generator beside its last features and to the discriminator beside the
        spectrogram (an inductive bias in the spirit of DDSP's harmonic oscillator, Engel et al.
        2020). Empty: no template (plain SpecGAN).
    template_sr, template_n_fft, template_fmax : int, int, float
        The mel feature the template is drawn in (the data's).
    """

    latent_dim: int = 128
    n_mels: int = 128
    frames: int = 64
    base_channels: int = 32
    num_classes: int = 0
    spectral_norm: bool = True
    loss: str = "hinge"
    gp_weight: float = 10.0
    ema_decay: float = 0.999
    class_pitches: tuple[int, ...] = ()
    template_sr: int = 16000
    template_n_fft: int = 1024
    template_fmax: float = 8000.0

    def __post_init__(self) -> None:
        self.class_pitches = tuple(int(p) for p in self.class_pitches)
        self.validate()

    def validate(self) -> None:
        """Check every value's range.

        Raises
        ------
        ConfigError
            Naming the first value out of range.
        """
        checks = [
            (self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}"),
            (
                self.n_mels >= _DOWNSAMPLE and self.n_mels % _DOWNSAMPLE == 0,
                f"n_mels must be a multiple of 16 and >= 16, got {self.n_mels}",
            ),
            (
                self.frames >= _DOWNSAMPLE and self.frames % _DOWNSAMPLE == 0,
                f"frames must be a multiple of 16 and >= 16, got {self.frames}",
            ),
            (self.base_channels >= 1, f"base_channels must be >= 1, got {self.base_channels}"),
            (self.num_classes >= 0, f"num_classes must be >= 0, got {self.num_classes}"),
            (
                self.loss in GAN_LOSSES,
                f"loss must be one of {', '.join(GAN_LOSSES)}, got {self.loss!r}",
            ),
            (self.gp_weight >= 0, f"gp_weight must be >= 0, got {self.gp_weight}"),
            (0 <= self.ema_decay < 1, f"ema_decay must be in [0, 1), got {self.ema_decay}"),
            (
                not self.class_pitches or len(self.class_pitches) == self.num_classes,
                f"class_pitches needs one MIDI pitch per class ({self.num_classes}), "
                f"got {len(self.class_pitches)}",
            ),
            (
                all(0 < p < 128 for p in self.class_pitches),
                "class_pitches must be MIDI pitches in 1..127",
            ),
        ]
        raise_first_failure(checks)

    def to_dict(self) -> dict[str, Any]:
        """Return the config as plain values (for checkpoints and presets)."""
        values = asdict(self)
        values["class_pitches"] = list(self.class_pitches)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SpecGANConfig:
        """Build a config from a dict, refusing unknown keys.

        Raises
        ------
        ConfigError
            If a key is unknown or a value is out of range.
        """
        return dataclass_from_dict(cls, values, "SpecGAN")


def _check_labels(labels: torch.Tensor | None, batch: int, num_classes: int) -> None:
    if num_classes == 0 and labels is not None:
        raise ConfigError("this SpecGAN is unconditional (num_classes=0); pass labels=None")
    if num_classes > 0 and labels is None:
        raise ConfigError(f"this SpecGAN is conditional (num_classes={num_classes}); pass labels")
    if labels is None:
        return
    if labels.shape != (batch,) or labels.dtype != torch.long:
        raise ParameterError(
            f"labels must be a LongTensor of shape ({batch},), got {labels.dtype} "
            f"{tuple(labels.shape)}"
        )
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ParameterError(f"labels must be in [0, {num_classes - 1}]")


def harmonic_templates(config: SpecGANConfig) -> torch.Tensor:
    """Draw each class's harmonic comb in the log-mel space of the data, scaled to [-1, 1].

    Harmonic ``k`` of the class's pitch gets amplitude ``1/k`` and a Gaussian peak one FFT bin
    wide; the linear spectrum goes through the mel filter bank (librosa, Slaney) and a log.

    Returns
    -------
    torch.Tensor
        ``(num_classes, n_mels)`` float32.
    """
    import librosa

    freqs = np.fft.rfftfreq(config.template_n_fft, 1.0 / config.template_sr)
    bin_width = config.template_sr / config.template_n_fft
    filters = librosa.filters.mel(
        sr=config.template_sr,
        n_fft=config.template_n_fft,
        n_mels=config.n_mels,
        fmax=config.template_fmax,
    )
    rows = []
    for pitch in config.class_pitches:
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        spectrum = np.zeros_like(freqs)
        for k in range(1, int(config.template_fmax // f0) + 1):
            spectrum += np.exp(-0.5 * ((freqs - k * f0) / bin_width) ** 2) / k
        mel = np.log(np.maximum(filters @ spectrum, 1e-4 * (filters @ spectrum).max()))
        rows.append(2 * (mel - mel.min()) / max(float(np.ptp(mel)), 1e-6) - 1)
    return torch.tensor(np.stack(rows), dtype=torch.float32)


def _template_map(templates: torch.Tensor, labels: torch.Tensor, frames: int) -> torch.Tensor:
    """Broadcast the templates of ``labels`` over time: ``(B, 1, n_mels, frames)``."""
    return templates[labels][:, None, :, None].expand(-1, 1, -1, frames)


class SpecGANGenerator(nn.Module):
    """SpecGAN generator: latent vector (and label) to a log-mel spectrogram in ``[-1, 1]``.

    A linear layer maps ``z`` (concatenated with a learned class embedding when conditional)
    to ``16 C`` feature maps of size ``(n_mels / 16, frames / 16)``; four stages of
    nearest-neighbour upsampling by 2, a 3x3 convolution, BatchNorm and ReLU bring it to full
    size, and a 3x3 convolution with tanh makes the single output channel. Upsample-then-convolve
    replaces SpecGAN's transposed convolutions, which leave checkerboard artifacts
    (Odena et al. 2016, Deconvolution and Checkerboard Artifacts).

    The stages have ``4C, 2C, C, C`` channels: the first stage keeps the number of activations of
    the dense output, and halving from ``16 C`` instead would put 1.2 M parameters in one
    convolution (3.7 M in all by default rather than 2.8 M).

    Parameters
    ----------
    config : SpecGANConfig
        Model sizes.

    References
    ----------
    Donahue, McAuley & Puckette 2018, Adversarial Audio Synthesis (ICLR 2019).
    Radford, Metz & Chintala 2016, DCGAN.
    """

    def __init__(self, config: SpecGANConfig) -> None:
        super().__init__()
        self.config = config
        c = config.base_channels
        self._height = config.n_mels // _DOWNSAMPLE
        self._width = config.frames // _DOWNSAMPLE
        self._start_channels = 16 * c
        self.class_embedding = (
            nn.Embedding(config.num_classes, CLASS_EMBED_DIM) if config.num_classes else None
        )
        in_features = config.latent_dim + (CLASS_EMBED_DIM if config.num_classes else 0)
        # No biases before BatchNorm: its shift makes them redundant.
        self.dense = nn.Linear(
            in_features, self._start_channels * self._height * self._width, bias=False
        )
        self.dense_norm = nn.BatchNorm2d(self._start_channels)
        widths = [self._start_channels, 4 * c, 2 * c, c, c]
        self.stages = nn.ModuleList(
            nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(w_in, w_out, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(w_out),
                nn.ReLU(inplace=True),
            )
            for w_in, w_out in zip(widths[:-1], widths[1:], strict=True)
        )
        extra = 1 if config.class_pitches else 0
        if extra:
            self.register_buffer("templates", harmonic_templates(config), persistent=False)
            self.refine = nn.Sequential(
                nn.Conv2d(c + 1, c, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=True),
            )
        self.to_spectrogram = nn.Conv2d(c + extra, 1, kernel_size=3, padding=1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Generate spectrograms.

        Parameters
        ----------
        z : torch.Tensor
            Latent vectors ``(B, latent_dim)``, usually standard normal.
        labels : torch.Tensor or None
            Class labels ``(B,)`` (long) when ``num_classes > 0``, else None.

        Returns
        -------
        torch.Tensor
            ``(B, 1, n_mels, frames)`` in ``[-1, 1]``.

        Raises
        ------
        ConfigError
            If labels are given to an unconditional model or missing for a conditional one.
        ParameterError
            If ``z`` or ``labels`` have the wrong shape, or a label is out of range.
        """
        if z.ndim != 2 or z.shape[1] != self.config.latent_dim:
            raise ParameterError(
                f"z must have shape (B, {self.config.latent_dim}), got {tuple(z.shape)}"
            )
        _check_labels(labels, z.shape[0], self.config.num_classes)
        if self.class_embedding is not None:
            z = torch.cat([z, self.class_embedding(labels)], dim=1)
        h = self.dense(z).view(-1, self._start_channels, self._height, self._width)
        h = F.relu(self.dense_norm(h))
        for stage in self.stages:
            h = stage(h)
        if self.config.class_pitches:
            template = _template_map(self.templates, labels, self.config.frames)
            h = self.refine(torch.cat([h, template], dim=1))
            h = torch.cat([h, template], dim=1)
        return torch.tanh(self.to_spectrogram(h))


class SpecGANDiscriminator(nn.Module):
    """SpecGAN discriminator: spectrogram (and label) to one real/fake logit per item.

    Four 4x4 convolutions with stride 2 (``C, 2C, 4C, 8C`` channels) and LeakyReLU(0.2), no
    normalization layers (so the WGAN-GP penalty is per sample), global sum pooling and a linear
    layer. Conditional models add the projection term ``<embed(y), h>`` (Miyato & Koyama 2018,
    cGANs with Projection Discriminator). With ``spectral_norm`` every layer, the class embedding
    included, is spectrally normalized (Miyato et al. 2018).

    Parameters
    ----------
    config : SpecGANConfig
        Model sizes.

    Notes
    -----
    In training mode each forward pass runs one power iteration of every spectral norm, so two
    calls on the same input give slightly different logits; evaluation mode is deterministic.

    References
    ----------
    Donahue, McAuley & Puckette 2018, Adversarial Audio Synthesis (ICLR 2019).
    """

    def __init__(self, config: SpecGANConfig) -> None:
        super().__init__()
        self.config = config
        c = config.base_channels

        def norm(module: nn.Module) -> nn.Module:
            return _spectral_norm(module) if config.spectral_norm else module

        widths = [2 if config.class_pitches else 1, c, 2 * c, 4 * c, 8 * c]
        if config.class_pitches:
            self.register_buffer("templates", harmonic_templates(config), persistent=False)
        self.stages = nn.ModuleList(
            nn.Sequential(
                norm(nn.Conv2d(w_in, w_out, kernel_size=4, stride=2, padding=1)),
                nn.LeakyReLU(0.2, inplace=True),
            )
            for w_in, w_out in zip(widths[:-1], widths[1:], strict=True)
        )
        self.to_logit = norm(nn.Linear(8 * c, 1))
        self.class_embedding = (
            norm(nn.Embedding(config.num_classes, 8 * c)) if config.num_classes else None
        )

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Score spectrograms.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, 1, n_mels, frames)`` spectrograms in ``[-1, 1]``.
        labels : torch.Tensor or None
            Class labels ``(B,)`` (long) when ``num_classes > 0``, else None.

        Returns
        -------
        torch.Tensor
            Logits ``(B,)``: high for real, low for generated.

        Raises
        ------
        ConfigError
            If labels are given to an unconditional model or missing for a conditional one.
        ParameterError
            If ``x`` or ``labels`` have the wrong shape, or a label is out of range.
        """
        expected = (1, self.config.n_mels, self.config.frames)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ParameterError(
                f"x must have shape (B, {', '.join(map(str, expected))}), got {tuple(x.shape)}"
            )
        _check_labels(labels, x.shape[0], self.config.num_classes)
        h = x
        if self.config.class_pitches:
            h = torch.cat([x, _template_map(self.templates, labels, self.config.frames)], dim=1)
        for stage in self.stages:
            h = stage(h)
        # Sum (not mean) pooling, as in the projection discriminator: the logit scales with the
        # evidence found anywhere in the spectrogram.
        h = h.sum(dim=(2, 3))
        logits = self.to_logit(h).squeeze(1)
        if self.class_embedding is not None:
            logits = logits + (self.class_embedding(labels) * h).sum(dim=1)
        return logits
