"""Adversarial losses for GAN training, as plain functions on discriminator outputs.

The discriminator and generator objectives (minimax, non-saturating, hinge, WGAN), the WGAN-GP
gradient penalty and the feature-matching loss used by the vocoder. Every function takes logits
or feature maps and returns a scalar tensor; none of them owns a model, an optimizer or a
training loop (see :mod:`aigc_studio.training`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F  # noqa: N812

from aigc_studio.errors import ConfigError, ParameterError

__all__ = [
    "GAN_LOSSES",
    "discriminator_loss",
    "feature_matching_loss",
    "generator_loss",
    "gradient_penalty",
]

#: The adversarial objectives :func:`discriminator_loss` and :func:`generator_loss` know.
GAN_LOSSES = ("minimax", "non-saturating", "hinge", "wgan-gp")


def _check_kind(kind: str) -> None:
    if kind not in GAN_LOSSES:
        raise ConfigError(f"GAN loss must be one of {', '.join(GAN_LOSSES)}; got {kind!r}")


def discriminator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str
) -> torch.Tensor:
    """Loss the discriminator minimizes, averaged over the batch.

    With ``D(x) = sigmoid(logit(x))`` for the two logistic losses:

    - ``"minimax"`` and ``"non-saturating"`` (Goodfellow et al. 2014, Generative Adversarial
      Nets): D maximizes ``log D(x) + log(1 - D(G(z)))``, i.e. minimizes
      ``softplus(-real) + softplus(fake)``. The two kinds differ only in the generator loss.
    - ``"hinge"`` (Lim & Ye 2017, Geometric GAN; Miyato et al. 2018):
      ``relu(1 - real) + relu(1 + fake)``.
    - ``"wgan-gp"`` (Arjovsky et al. 2017; Gulrajani et al. 2017, Improved Training of Wasserstein
      GANs): the critic minimizes ``fake - real``; add ``gp_weight * gradient_penalty(...)``
      yourself (see :func:`gradient_penalty`).

    Parameters
    ----------
    real_logits : torch.Tensor
        Discriminator outputs on real data, any shape (usually ``(B,)``).
    fake_logits : torch.Tensor
        Discriminator outputs on generated data; detach the generator's output before the
        discriminator sees it, so this loss does not backpropagate into the generator.
    kind : str
        One of :data:`GAN_LOSSES`.

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Raises
    ------
    ConfigError
        If ``kind`` is unknown.

    Examples
    --------
    >>> import torch
    >>> float(discriminator_loss(torch.tensor([2.0]), torch.tensor([-2.0]), "hinge"))
    0.0
    """
    _check_kind(kind)
    if kind in ("minimax", "non-saturating"):
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    if kind == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    return fake_logits.mean() - real_logits.mean()


def generator_loss(fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Loss the generator minimizes, averaged over the batch.

    - ``"minimax"`` (Goodfellow et al. 2014, the original saturating objective): G minimizes
      ``log(1 - D(G(z))) = -softplus(fake)``. Its gradient ``-sigmoid(fake)`` vanishes when the
      discriminator confidently rejects the fakes (``D(G(z)) -> 0``), which is why it trains
      poorly early on; it is here for comparison.
    - ``"non-saturating"`` (Goodfellow et al. 2014, Section 3): G minimizes
      ``-log D(G(z)) = softplus(-fake)``, whose gradient is largest exactly when
      ``D(G(z)) -> 0``.
    - ``"hinge"`` (Lim & Ye 2017; Miyato et al. 2018) and ``"wgan-gp"`` (Arjovsky et al. 2017):
      G minimizes ``-fake``.

    Parameters
    ----------
    fake_logits : torch.Tensor
        Discriminator outputs on generated data (not detached: the gradient must reach G).
    kind : str
        One of :data:`GAN_LOSSES`.

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Raises
    ------
    ConfigError
        If ``kind`` is unknown.

    Examples
    --------
    >>> import torch
    >>> float(generator_loss(torch.tensor([1.0, 3.0]), "hinge"))
    -2.0
    """
    _check_kind(kind)
    if kind == "minimax":
        return -F.softplus(fake_logits).mean()
    if kind == "non-saturating":
        return F.softplus(-fake_logits).mean()
    return -fake_logits.mean()


def gradient_penalty(
    discriminator: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """WGAN-GP gradient penalty ``E[(||grad_x D(x_hat)||_2 - 1)^2]``.

    ``x_hat = alpha * real + (1 - alpha) * fake`` with one ``alpha ~ U[0, 1]`` per sample
    (Gulrajani et al. 2017, Improved Training of Wasserstein GANs, Algorithm 1). The gradient is
    taken with ``create_graph=True`` so that the penalty itself can be backpropagated into the
    discriminator's weights. Both inputs are detached: the penalty never trains the generator.

    Parameters
    ----------
    discriminator : callable
        Called as ``discriminator(x, labels)``; returns one logit per sample. It must not mix
        samples (no BatchNorm), or the per-sample gradient norms are meaningless.
    real, fake : torch.Tensor
        Batches of the same shape ``(B, ...)``.
    labels : torch.Tensor or None
        Class labels passed through to the discriminator.

    Returns
    -------
    torch.Tensor
        Scalar penalty (multiply by the config's ``gp_weight``, 10 in the paper).

    Raises
    ------
    ParameterError
        If ``real`` and ``fake`` differ in shape or are empty.
    """
    if real.shape != fake.shape or real.ndim < 1 or real.shape[0] == 0:
        raise ParameterError(
            f"real and fake must be non-empty batches of one shape; got {tuple(real.shape)} "
            f"and {tuple(fake.shape)}"
        )
    alpha_shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    alpha = torch.rand(alpha_shape, device=real.device, dtype=real.dtype)
    mixed = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    logits = discriminator(mixed, labels)
    (grad,) = torch.autograd.grad(logits.sum(), mixed, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    return ((norms - 1.0) ** 2).mean()


def feature_matching_loss(
    real_features: Sequence[Sequence[torch.Tensor]] | Sequence[torch.Tensor],
    fake_features: Sequence[Sequence[torch.Tensor]] | Sequence[torch.Tensor],
) -> torch.Tensor:
    """L1 distance between the discriminator's feature maps on real and generated data.

    The sum over feature maps of the mean absolute difference, with the real features detached
    (Larsen et al. 2016; Kumar et al. 2019, MelGAN; Kong et al. 2020, HiFi-GAN, Eq. 3 — HiFi-GAN
    then weights it by 2).

    Parameters
    ----------
    real_features, fake_features : list of list of torch.Tensor, or list of torch.Tensor
        Feature maps of one discriminator (a flat list) or of several (one list per
        discriminator, as the multi-period and multi-scale discriminators return), in the same
        structure and shapes for real and fake.

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Raises
    ------
    ParameterError
        If the two structures differ, a pair of maps differs in shape, or there are no maps.
    """

    def flatten(features: Sequence) -> list[torch.Tensor]:
        flat: list[torch.Tensor] = []
        for item in features:
            if isinstance(item, torch.Tensor):
                flat.append(item)
            else:
                flat.extend(item)
        return flat

    real_flat, fake_flat = flatten(real_features), flatten(fake_features)
    if len(real_flat) != len(fake_flat) or not real_flat:
        raise ParameterError(
            f"real and fake must hold the same, non-zero number of feature maps; got "
            f"{len(real_flat)} and {len(fake_flat)}"
        )
    total = fake_flat[0].new_zeros(())
    for real, fake in zip(real_flat, fake_flat, strict=True):
        if real.shape != fake.shape:
            raise ParameterError(
                f"feature maps differ in shape: real {tuple(real.shape)}, fake {tuple(fake.shape)}"
            )
        total = total + (real.detach() - fake).abs().mean()
    return total
