from __future__ import annotations

import math

import pytest
import torch

from aigc_studio.errors import ParameterError
from aigc_studio.models.enhancement_losses import si_sdr, si_sdr_loss


def test_si_sdr_is_scale_invariant_and_measures_added_noise() -> None:
    torch.manual_seed(0)
    clean = torch.randn(2, 8000)
    noise = torch.randn(2, 8000)
    noise = (
        noise - (noise * clean).sum(-1, keepdim=True) / clean.square().sum(-1, keepdim=True) * clean
    )
    noise = noise / noise.norm(dim=-1, keepdim=True) * clean.norm(dim=-1, keepdim=True) * 0.1
    value = si_sdr(clean + noise, clean)
    torch.testing.assert_close(value, torch.full((2,), 20.0), atol=0.05, rtol=0)
    torch.testing.assert_close(si_sdr(5 * (clean + noise), clean), value, atol=1e-3, rtol=0)


def test_loss_is_differentiable_and_falls_as_noise_falls() -> None:
    torch.manual_seed(0)
    clean = torch.randn(1, 4000)
    noise = torch.randn(1, 4000)
    estimate = (clean + noise).requires_grad_()
    loss = si_sdr_loss(estimate, clean)
    loss.backward()
    assert estimate.grad is not None and math.isfinite(float(estimate.grad.abs().sum()))
    assert float(si_sdr_loss(clean + 0.1 * noise, clean)) < float(loss.detach())


def test_silence_stays_finite_and_shapes_must_match() -> None:
    assert torch.isfinite(si_sdr(torch.zeros(1, 100), torch.zeros(1, 100))).all()
    with pytest.raises(ParameterError):
        si_sdr(torch.zeros(1, 100), torch.zeros(1, 99))
