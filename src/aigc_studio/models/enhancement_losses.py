"""Training losses for speech enhancement: negative SI-SDR on waveforms (torch, differentiable).

:func:`si_sdr` is the scale-invariant signal-to-distortion ratio of Le Roux et al. 2019
("SDR – half-baked or well done?"), the objective of Conv-TasNet-style training; the enhancement
task adds the multi-resolution STFT loss of :mod:`aigc_studio.models.spectral_losses` to pin the
scale SI-SDR ignores. The numpy metric that scores finished audio (ours and peers') is
:mod:`aigc_studio.evaluation.enhancement`.
"""

from __future__ import annotations

import torch

from aigc_studio.errors import ParameterError

#: Added to both energies so that silent references and estimates stay finite.
EPSILON = 1e-8


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Scale-invariant SDR in dB of each signal of a batch (Le Roux et al. 2019, eqs. 1-3).

    ``s_target = (<ŝ, s> / ||s||²) s``, ``SI-SDR = 10 log10(||s_target||² / ||ŝ - s_target||²)``,
    after removing each signal's mean; ``EPSILON`` keeps silence finite.

    Parameters
    ----------
    estimate, reference : torch.Tensor
        (B, T) or (B, 1, T), the same shape.

    Returns
    -------
    torch.Tensor
        (B,) in dB.

    Raises
    ------
    ParameterError
        If the shapes differ.

    Examples
    --------
    >>> s = torch.randn(2, 1000)
    >>> bool((si_sdr(3 * s, s) > 60).all())
    True
    """
    if estimate.shape != reference.shape:
        raise ParameterError(
            f"estimate and reference must have the same shape, got {tuple(estimate.shape)} "
            f"and {tuple(reference.shape)}"
        )
    estimate = estimate.reshape(estimate.shape[0], -1)
    reference = reference.reshape(reference.shape[0], -1)
    estimate = estimate - estimate.mean(dim=-1, keepdim=True)
    reference = reference - reference.mean(dim=-1, keepdim=True)
    energy = reference.square().sum(dim=-1, keepdim=True)
    scale = (estimate * reference).sum(dim=-1, keepdim=True) / (energy + EPSILON)
    target = scale * reference
    residual = estimate - target
    ratio = (target.square().sum(dim=-1) + EPSILON) / (residual.square().sum(dim=-1) + EPSILON)
    return 10.0 * torch.log10(ratio)


def si_sdr_loss(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Return the negative mean SI-SDR of a batch (a scalar to minimize)."""
    return -si_sdr(estimate, reference).mean()
