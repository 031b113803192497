from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.models.gan_losses import (
    GAN_LOSSES,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
    gradient_penalty,
)

REAL = torch.tensor([2.0, -0.5])
FAKE = torch.tensor([-1.0, 0.5])


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_discriminator_loss_values() -> None:
    logistic = (softplus(-2.0) + softplus(0.5)) / 2 + (softplus(-1.0) + softplus(0.5)) / 2
    assert discriminator_loss(REAL, FAKE, "minimax").item() == pytest.approx(logistic, rel=1e-6)
    assert discriminator_loss(REAL, FAKE, "non-saturating").item() == pytest.approx(
        logistic, rel=1e-6
    )
    # relu(1 - [2, -0.5]) = [0, 1.5]; relu(1 + [-1, 0.5]) = [0, 1.5]
    assert discriminator_loss(REAL, FAKE, "hinge").item() == pytest.approx(0.75 + 0.75)
    # mean(fake) - mean(real) = -0.25 - 0.75
    assert discriminator_loss(REAL, FAKE, "wgan-gp").item() == pytest.approx(-1.0)


def test_generator_loss_values() -> None:
    # minimax: mean log(1 - sigmoid(f)) = -mean softplus(f)
    minimax = -(softplus(-1.0) + softplus(0.5)) / 2
    assert generator_loss(FAKE, "minimax").item() == pytest.approx(minimax, rel=1e-6)
    p = torch.sigmoid(FAKE)
    assert generator_loss(FAKE, "minimax").item() == pytest.approx(
        torch.log1p(-p).mean().item(), rel=1e-6
    )
    assert generator_loss(FAKE, "non-saturating").item() == pytest.approx(
        (-torch.log(p)).mean().item(), rel=1e-6
    )
    assert generator_loss(FAKE, "hinge").item() == pytest.approx(0.25)
    assert generator_loss(FAKE, "wgan-gp").item() == pytest.approx(0.25)


def test_logistic_losses_are_stable_for_extreme_logits() -> None:
    huge = torch.tensor([1e4, -1e4])
    for kind in GAN_LOSSES:
        assert torch.isfinite(discriminator_loss(huge, -huge, kind))
        assert torch.isfinite(generator_loss(huge, kind))


def test_minimax_saturates_where_non_saturating_does_not() -> None:
    # The discriminator confidently rejects the fakes: D(G(z)) = sigmoid(-8) ~ 3e-4.
    grads = {}
    for kind in ("minimax", "non-saturating"):
        fake = torch.tensor([-8.0], requires_grad=True)
        generator_loss(fake, kind).backward()
        grads[kind] = fake.grad.item()
    # Both push the fake logit up (negative gradient of the loss) ...
    assert grads["minimax"] < 0 and grads["non-saturating"] < 0
    # ... but the saturating one barely (sigmoid(-8)), the non-saturating one at full strength.
    assert abs(grads["minimax"]) < 1e-3
    assert abs(grads["non-saturating"]) > 0.99


def test_unknown_kind_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="minimax"):
        discriminator_loss(REAL, FAKE, "lsgan")
    with pytest.raises(ConfigError):
        generator_loss(FAKE, "lsgan")


class LinearCritic(nn.Module):
    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return x.flatten(1) @ self.weight


def test_gradient_penalty_zero_for_unit_gradient_norm() -> None:
    torch.manual_seed(0)
    weight = torch.randn(12)
    critic = LinearCritic(weight / weight.norm())
    real, fake = torch.randn(8, 3, 4), torch.randn(8, 3, 4)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(0.0, abs=1e-10)


def test_gradient_penalty_positive_and_differentiable_otherwise() -> None:
    torch.manual_seed(0)
    weight = torch.randn(12)
    critic = LinearCritic(3.0 * weight / weight.norm())
    real, fake = torch.randn(8, 3, 4), torch.randn(8, 3, 4, requires_grad=True)
    penalty = gradient_penalty(critic, real, fake)
    assert penalty.item() == pytest.approx(4.0, rel=1e-5)  # (3 - 1)^2
    penalty.backward()
    # create_graph=True lets the penalty train the critic, and it never trains the generator.
    assert critic.weight.grad is not None and critic.weight.grad.norm() > 0
    assert fake.grad is None


def test_gradient_penalty_passes_labels_and_checks_shapes() -> None:
    seen = []

    def critic(x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        seen.append(labels)
        return x.flatten(1).sum(1)

    labels = torch.tensor([0, 1])
    gradient_penalty(critic, torch.zeros(2, 3), torch.ones(2, 3), labels)
    assert seen[0] is labels
    with pytest.raises(ParameterError):
        gradient_penalty(critic, torch.zeros(2, 3), torch.ones(3, 3))


def test_feature_matching_loss_flat_and_nested() -> None:
    real = [torch.zeros(2, 3), torch.ones(2, 5)]
    fake = [torch.full((2, 3), 2.0, requires_grad=True), torch.full((2, 5), 0.5)]
    assert feature_matching_loss(real, fake).item() == pytest.approx(2.0 + 0.5)
    nested = feature_matching_loss([real, real], [fake, fake])
    assert nested.item() == pytest.approx(5.0)


def test_feature_matching_loss_detaches_real_features() -> None:
    real = [torch.zeros(4, requires_grad=True)]
    fake = [torch.ones(4, requires_grad=True)]
    feature_matching_loss(real, fake).backward()
    assert real[0].grad is None
    assert torch.allclose(fake[0].grad, torch.full((4,), 0.25))


def test_feature_matching_loss_rejects_mismatches() -> None:
    with pytest.raises(ParameterError):
        feature_matching_loss([torch.zeros(2)], [torch.zeros(3)])
    with pytest.raises(ParameterError):
        feature_matching_loss([torch.zeros(2)], [])
