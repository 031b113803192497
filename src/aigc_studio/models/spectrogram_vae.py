"""A convolutional variational autoencoder over normalized log-mel spectrograms.

The model (encoder, reparameterization, decoder), its ELBO loss with KL warm-up and free bits,
and latent interpolation. It is the studio's spectrogram VAE for timbre morphing and sampling;
it does not train itself (see :mod:`aigc_studio.training`) and does not turn spectrograms into
audio (see :mod:`aigc_studio.dsp` or the vocoder).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from aigc_studio.config_values import dataclass_from_dict, raise_first_failure
from aigc_studio.errors import ConfigError, ParameterError

__all__ = [
    "INTERPOLATION_METHODS",
    "SpectrogramVAE",
    "SpectrogramVAEConfig",
    "elbo_loss",
    "interpolate_latents",
]

#: Ways :func:`interpolate_latents` can walk between two latent vectors.
INTERPOLATION_METHODS = ("lerp", "slerp")

#: Width of the learned class embedding given to encoder and decoder when conditional.
CLASS_EMBED_DIM = 32

_STAGES = 4
_DOWNSAMPLE = 2**_STAGES


@dataclass
class SpectrogramVAEConfig:
    """Sizes and loss options of a :class:`SpectrogramVAE`.

    The default model has 2,667,137 parameters.

    Parameters
    ----------
    n_mels, frames : int
        Spectrogram height (mel bands) and width (frames); multiples of 16, at least 16.
    latent_dim : int
        Size of the latent vector.
    base_channels : int
        Channel width ``C``; the encoder goes ``C, 2C, 4C, 8C``, the decoder back.
    num_classes : int
        Number of class labels for a conditional VAE (Sohn et al. 2015); 0 is unconditional.
    kl_warmup_steps : int
        Steps over which the KL weight rises linearly from 0 to ``beta`` (Bowman et al. 2016;
        Sønderby et al. 2016); 0 uses ``beta`` from the first step.
    free_bits : float
        Nats of KL per latent dimension that are not penalized (Kingma et al. 2016, Improved
        Variational Inference with Inverse Autoregressive Flow); 0 disables.
    beta : float
        Final weight of the KL term (Higgins et al. 2017, beta-VAE); 1 is the true ELBO.
    """

    n_mels: int = 128
    frames: int = 64
    latent_dim: int = 64
    base_channels: int = 32
    num_classes: int = 0
    kl_warmup_steps: int = 2000
    free_bits: float = 0.0
    beta: float = 1.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every value's range.

        Raises
        ------
        ConfigError
            Naming the first value out of range.
        """
        checks = [
            (
                self.n_mels >= _DOWNSAMPLE and self.n_mels % _DOWNSAMPLE == 0,
                f"n_mels must be a multiple of 16 and >= 16, got {self.n_mels}",
            ),
            (
                self.frames >= _DOWNSAMPLE and self.frames % _DOWNSAMPLE == 0,
                f"frames must be a multiple of 16 and >= 16, got {self.frames}",
            ),
            (self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}"),
            (self.base_channels >= 1, f"base_channels must be >= 1, got {self.base_channels}"),
            (self.num_classes >= 0, f"num_classes must be >= 0, got {self.num_classes}"),
            (
                self.kl_warmup_steps >= 0,
                f"kl_warmup_steps must be >= 0, got {self.kl_warmup_steps}",
            ),
            (
                math.isfinite(self.free_bits) and self.free_bits >= 0,
                f"free_bits must be >= 0, got {self.free_bits}",
            ),
            (
                math.isfinite(self.beta) and self.beta >= 0,
                f"beta must be >= 0, got {self.beta}",
            ),
        ]
        raise_first_failure(checks)

    def to_dict(self) -> dict[str, Any]:
        """Return the config as plain values (for checkpoints and presets)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SpectrogramVAEConfig:
        """Build a config from a dict, refusing unknown keys.

        Raises
        ------
        ConfigError
            If a key is unknown or a value is out of range.
        """
        return dataclass_from_dict(cls, values, "spectrogram VAE")


class SpectrogramVAE(nn.Module):
    """Convolutional VAE over ``(B, 1, n_mels, frames)`` normalized log-mel spectrograms.

    Encoder: four 4x4 stride-2 convolutions (``C, 2C, 4C, 8C`` channels, LeakyReLU 0.2) and a
    linear layer to the mean and log-variance of a diagonal Gaussian posterior. Decoder: a linear
    layer back to ``8C`` maps of size ``(n_mels / 16, frames / 16)``, four stages of
    nearest-neighbour upsampling and a 3x3 convolution (``4C, 2C, C, C``), and a 3x3 convolution
    to one channel. The output is the mean of a Gaussian likelihood and is not squashed; clamp it
    to the data range before turning it into audio. There is no BatchNorm, so encoding and
    decoding do not depend on the batch or on train/eval mode (dropout is not used either).

    Conditional models (``num_classes > 0``) concatenate a learned class embedding to the
    encoder's features and to ``z`` (Sohn et al. 2015, conditional VAE).

    Parameters
    ----------
    config : SpectrogramVAEConfig
        Model sizes.

    References
    ----------
    Kingma & Welling 2014, Auto-Encoding Variational Bayes.
    """

    def __init__(self, config: SpectrogramVAEConfig) -> None:
        super().__init__()
        self.config = config
        c = config.base_channels
        self._height = config.n_mels // _DOWNSAMPLE
        self._width = config.frames // _DOWNSAMPLE
        self._bottleneck = 8 * c
        label_dim = CLASS_EMBED_DIM if config.num_classes else 0
        self.class_embedding = (
            nn.Embedding(config.num_classes, CLASS_EMBED_DIM) if config.num_classes else None
        )

        widths = [1, c, 2 * c, 4 * c, 8 * c]
        self.encoder = nn.Sequential(
            *(
                layer
                for w_in, w_out in zip(widths[:-1], widths[1:], strict=True)
                for layer in (
                    nn.Conv2d(w_in, w_out, kernel_size=4, stride=2, padding=1),
                    nn.LeakyReLU(0.2),
                )
            ),
            nn.Flatten(),
        )
        flat = self._bottleneck * self._height * self._width
        self.to_posterior = nn.Linear(flat + label_dim, 2 * config.latent_dim)

        self.from_latent = nn.Linear(config.latent_dim + label_dim, flat)
        widths = [8 * c, 4 * c, 2 * c, c, c]
        self.decoder = nn.Sequential(
            *(
                layer
                for w_in, w_out in zip(widths[:-1], widths[1:], strict=True)
                for layer in (
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.Conv2d(w_in, w_out, kernel_size=3, padding=1),
                    nn.LeakyReLU(0.2),
                )
            ),
            nn.Conv2d(c, 1, kernel_size=3, padding=1),
        )

    def _label_features(self, labels: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        num_classes = self.config.num_classes
        if num_classes == 0 and labels is not None:
            raise ConfigError("this VAE is unconditional (num_classes=0); pass labels=None")
        if num_classes > 0 and labels is None:
            raise ConfigError(f"this VAE is conditional (num_classes={num_classes}); pass labels")
        if labels is None or self.class_embedding is None:
            return None
        if labels.shape != (batch,) or labels.dtype != torch.long:
            raise ParameterError(
                f"labels must be a LongTensor of shape ({batch},), got {labels.dtype} "
                f"{tuple(labels.shape)}"
            )
        if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
            raise ParameterError(f"labels must be in [0, {num_classes - 1}]")
        return self.class_embedding(labels)

    def encode(
        self, x: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters of a batch of spectrograms.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, 1, n_mels, frames)``.
        labels : torch.Tensor or None
            Class labels ``(B,)`` (long) when ``num_classes > 0``, else None.

        Returns
        -------
        mu, logvar : torch.Tensor
            ``(B, latent_dim)`` each: mean and natural-log variance of ``q(z | x)``.

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
        label_features = self._label_features(labels, x.shape[0])
        h = self.encoder(x)
        if label_features is not None:
            h = torch.cat([h, label_features], dim=1)
        mu, logvar = self.to_posterior(h).chunk(2, dim=1)
        return mu, logvar

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """Draw ``z = mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)``.

        The reparameterization trick (Kingma & Welling 2014, Section 2.4) keeps the sample
        differentiable in ``mu`` and ``logvar``.

        Parameters
        ----------
        mu, logvar : torch.Tensor
            Posterior mean and log-variance, same shape.

        Returns
        -------
        torch.Tensor
            A sample of the same shape.
        """
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Spectrograms (Gaussian means) for latent vectors.

        Parameters
        ----------
        z : torch.Tensor
            ``(B, latent_dim)``; ``torch.randn`` samples the prior.
        labels : torch.Tensor or None
            Class labels ``(B,)`` (long) when ``num_classes > 0``, else None.

        Returns
        -------
        torch.Tensor
            ``(B, 1, n_mels, frames)``, unbounded.

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
        label_features = self._label_features(labels, z.shape[0])
        if label_features is not None:
            z = torch.cat([z, label_features], dim=1)
        h = self.from_latent(z).view(-1, self._bottleneck, self._height, self._width)
        return self.decoder(torch.nn.functional.leaky_relu(h, 0.2))

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode, sample the posterior once and decode.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, 1, n_mels, frames)``.
        labels : torch.Tensor or None
            Class labels ``(B,)`` (long) when ``num_classes > 0``, else None.

        Returns
        -------
        x_hat, mu, logvar : torch.Tensor
            Reconstruction ``(B, 1, n_mels, frames)`` and posterior parameters
            ``(B, latent_dim)``; pass all three to :func:`elbo_loss`.
        """
        mu, logvar = self.encode(x, labels)
        return self.decode(self.reparameterize(mu, logvar), labels), mu, logvar


def elbo_loss(
    x: torch.Tensor,
    x_hat: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    *,
    step: int,
    config: SpectrogramVAEConfig,
) -> dict[str, torch.Tensor]:
    """Negative ELBO with KL warm-up and free bits.

    ``loss = reconstruction + beta_t * kl`` where

    - ``reconstruction`` is the squared error summed over all pixels and averaged over the
      batch: the negative Gaussian log-likelihood ``-log N(x; x_hat, sigma^2 I)`` with
      ``sigma^2 = 1/2``, up to an additive constant;
    - ``kl`` is the analytic ``KL(N(mu, exp(logvar)) || N(0, I))`` (Kingma & Welling 2014,
      Appendix B): per latent dimension ``0.5 (mu^2 + exp(logvar) - 1 - logvar)``, averaged over
      the batch, floored at ``free_bits`` nats per dimension (Kingma et al. 2016), summed over
      dimensions. A dimension below the floor gets no gradient from the KL term;
    - ``beta_t = beta * min(1, step / kl_warmup_steps)`` (``beta`` when ``kl_warmup_steps`` is 0).

    Parameters
    ----------
    x, x_hat : torch.Tensor
        Data and reconstruction, same shape ``(B, ...)``.
    mu, logvar : torch.Tensor
        Posterior parameters ``(B, latent_dim)``.
    step : int
        The optimizer step (0 at the start of training), for the warm-up.
    config : SpectrogramVAEConfig
        Supplies ``beta``, ``kl_warmup_steps`` and ``free_bits``.

    Returns
    -------
    dict of str to torch.Tensor
        Scalars ``"loss"`` (to backpropagate), ``"reconstruction"``, ``"kl"`` (free bits
        applied) and ``"beta"`` (the weight ``beta_t`` used, no gradient).

    Raises
    ------
    ParameterError
        If shapes disagree or ``step`` is negative.
    """
    if x.shape != x_hat.shape or x.ndim < 2:
        raise ParameterError(
            f"x and x_hat must be batches of one shape; got {tuple(x.shape)} and "
            f"{tuple(x_hat.shape)}"
        )
    if mu.shape != logvar.shape or mu.ndim != 2 or mu.shape[0] != x.shape[0]:
        raise ParameterError(
            f"mu and logvar must both be (B, latent_dim) with B={x.shape[0]}; got "
            f"{tuple(mu.shape)} and {tuple(logvar.shape)}"
        )
    if step < 0:
        raise ParameterError(f"step must be >= 0, got {step}")
    reconstruction = (x_hat - x).pow(2).flatten(1).sum(dim=1).mean()
    kl, beta_t = kl_term(mu, logvar, step=step, config=config)
    return {
        "loss": reconstruction + beta_t * kl,
        "reconstruction": reconstruction,
        "kl": kl,
        "beta": beta_t,
    }


def kl_term(
    mu: torch.Tensor, logvar: torch.Tensor, *, step: int, config: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the free-bits KL of a Gaussian posterior and its warmed-up weight ``beta_t``.

    The KL part of :func:`elbo_loss`, shared by every VAE of the studio: per latent dimension
    ``0.5 (mu^2 + exp(logvar) - 1 - logvar)`` averaged over the batch, floored at
    ``config.free_bits`` nats and summed; ``beta_t = config.beta * min(1, step /
    config.kl_warmup_steps)``.

    Parameters
    ----------
    mu, logvar : torch.Tensor
        Posterior parameters ``(B, latent_dim)``.
    step : int
        The optimizer step, for the warm-up.
    config : object
        Has ``beta``, ``kl_warmup_steps`` and ``free_bits``.
    """
    kl_per_dim = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean(dim=0)
    kl = torch.clamp(kl_per_dim, min=config.free_bits).sum()
    if config.kl_warmup_steps > 0:
        weight = config.beta * min(1.0, step / config.kl_warmup_steps)
    else:
        weight = config.beta
    return kl, torch.tensor(weight, dtype=kl.dtype, device=kl.device)


def interpolate_latents(
    z0: torch.Tensor, z1: torch.Tensor, steps: int, method: str = "slerp"
) -> torch.Tensor:
    """Points on a path from ``z0`` to ``z1``, both endpoints included.

    ``"lerp"`` walks the straight line. ``"slerp"`` walks the arc
    ``sin((1 - t) w) / sin(w) z0 + sin(t w) / sin(w) z1`` (``w`` the angle between them), which
    keeps the norm of equal-norm endpoints: under a Gaussian prior in many dimensions, samples
    sit near a sphere and the midpoint of a straight line falls inside it, where the decoder has
    seen little data (White 2016, Sampling Generative Networks). Parallel, antiparallel or zero
    endpoints have no unique arc; slerp then falls back to the straight line.

    Parameters
    ----------
    z0, z1 : torch.Tensor
        Latent vectors ``(latent_dim,)`` (or ``(1, latent_dim)``).
    steps : int
        Number of points, >= 2.
    method : str
        ``"slerp"`` (default) or ``"lerp"``.

    Returns
    -------
    torch.Tensor
        ``(steps, latent_dim)``; row 0 is ``z0`` and the last row ``z1`` exactly.

    Raises
    ------
    ParameterError
        If the vectors differ in shape, ``steps < 2`` or ``method`` is unknown.

    Examples
    --------
    >>> import torch
    >>> interpolate_latents(torch.zeros(2), torch.ones(2), 3, "lerp")[1]
    tensor([0.5000, 0.5000])
    """
    if method not in INTERPOLATION_METHODS:
        raise ParameterError(
            f"method must be one of {', '.join(INTERPOLATION_METHODS)}, got {method!r}"
        )
    if steps < 2:
        raise ParameterError(f"steps must be >= 2 (the two endpoints), got {steps}")
    a, b = z0.reshape(-1), z1.reshape(-1)
    if a.shape != b.shape or z0.ndim > 2 or z1.ndim > 2 or a.numel() == 0:
        raise ParameterError(
            f"z0 and z1 must be latent vectors of one size; got {tuple(z0.shape)} and "
            f"{tuple(z1.shape)}"
        )
    # float64 so that the endpoints and norms are not blurred by rounding in acos/sin.
    a64, b64 = a.double(), b.double()
    t = torch.linspace(0.0, 1.0, steps, dtype=torch.float64, device=a.device)[:, None]
    path = (1.0 - t) * a64 + t * b64
    if method == "slerp":
        norm_a, norm_b = a64.norm(), b64.norm()
        if norm_a > 0 and norm_b > 0:
            cos = torch.clamp(torch.dot(a64 / norm_a, b64 / norm_b), -1.0, 1.0)
            omega = torch.acos(cos)
            # Nearly parallel vectors: the great circle is the straight line (and sin(omega)
            # would divide by ~0).
            if torch.sin(omega) > 1e-6:
                sin_omega = torch.sin(omega)
                path = (torch.sin((1.0 - t) * omega) * a64 + torch.sin(t * omega) * b64) / sin_omega
    path = path.to(z0.dtype)
    path[0], path[-1] = a, b
    return path
