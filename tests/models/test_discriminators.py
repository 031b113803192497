from __future__ import annotations

import pytest
import torch

from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.models.discriminators import (
    CombinedWaveDiscriminator,
    MultiPeriodDiscriminator,
    MultiScaleDiscriminator,
    WaveDiscriminatorConfig,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)

TINY = WaveDiscriminatorConfig(msd_channels=(8, 16, 32, 32), mpd_channels=(8, 16, 16))


def test_msd_outputs_one_entry_per_scale_at_decreasing_resolution() -> None:
    torch.manual_seed(0)
    msd = MultiScaleDiscriminator(scales=3, config=TINY)
    logits, features = msd(torch.randn(2, 1, 4096))
    assert len(logits) == len(features) == 3
    assert all(logit.shape[0] == 2 and logit.dim() == 2 for logit in logits)
    assert logits[0].shape[1] > logits[1].shape[1] > logits[2].shape[1]
    assert all(len(f) == len(TINY.msd_channels) + 1 for f in features)


def test_msd_norms_spectral_first_weight_others() -> None:
    msd = MultiScaleDiscriminator(scales=2, config=TINY)
    first = [n for n, _ in msd.discriminators[0].named_parameters()]
    second = [n for n, _ in msd.discriminators[1].named_parameters()]
    assert any("parametrizations.weight.original" in n for n in first)
    assert not any("original1" in n for n in first)  # spectral norm keeps one tensor
    assert any("original1" in n for n in second)  # weight norm keeps magnitude and direction


def test_mpd_outputs_one_entry_per_period_and_handles_ragged_lengths() -> None:
    torch.manual_seed(0)
    mpd = MultiPeriodDiscriminator(periods=(2, 3, 5), config=TINY)
    logits, features = mpd(torch.randn(2, 1, 1001))
    assert len(logits) == len(features) == 3
    # the feature maps keep the period as their last axis
    assert [f[0].shape[-1] for f in features] == [2, 3, 5]


def test_combined_concatenates_and_gradient_reaches_input() -> None:
    torch.manual_seed(0)
    disc = CombinedWaveDiscriminator.from_config(TINY)
    wave = torch.randn(1, 1, 2048, requires_grad=True)
    logits, features = disc(wave)
    assert len(logits) == TINY.scales + len(TINY.periods) == len(features)
    sum(logit.mean() for logit in logits).backward()
    assert wave.grad is not None and wave.grad.abs().sum() > 0


def test_losses_behave_like_lsgan_and_feature_matching() -> None:
    ones, zeros = [torch.ones(2, 5)], [torch.zeros(2, 5)]
    assert discriminator_loss(ones, zeros).item() == 0.0
    assert discriminator_loss(zeros, ones).item() == 2.0
    assert generator_adversarial_loss(ones).item() == 0.0
    assert generator_adversarial_loss(zeros).item() == 1.0
    feats = [[torch.ones(3), torch.zeros(2)]]
    assert feature_matching_loss(feats, feats).item() == 0.0
    shifted = [[torch.ones(3) + 0.5, torch.zeros(2) - 1.0]]
    assert feature_matching_loss(feats, shifted).item() == pytest.approx(1.5)


def test_generator_gets_gradient_only_through_fake_features() -> None:
    torch.manual_seed(0)
    disc = CombinedWaveDiscriminator.from_config(TINY)
    real = torch.randn(1, 1, 2048)
    fake = (0.1 * torch.randn(1, 1, 2048)).requires_grad_(True)
    real_logits, real_feats = disc(real)
    fake_logits, fake_feats = disc(fake)
    loss = generator_adversarial_loss(fake_logits) + 2 * feature_matching_loss(
        real_feats, fake_feats
    )
    loss.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0


def test_config_validation_and_round_trip() -> None:
    assert WaveDiscriminatorConfig.from_dict(TINY.to_dict()) == TINY
    with pytest.raises(ConfigError, match="msd_channels"):
        WaveDiscriminatorConfig(msd_channels=(6, 16, 32))
    with pytest.raises(ConfigError, match="periods"):
        WaveDiscriminatorConfig(periods=(2, 2))
    with pytest.raises(ConfigError, match="unknown"):
        WaveDiscriminatorConfig.from_dict({"channels": 3})


def test_rejects_non_mono_batches() -> None:
    with pytest.raises(ParameterError, match="wave"):
        MultiScaleDiscriminator(config=TINY)(torch.zeros(2, 4096))
