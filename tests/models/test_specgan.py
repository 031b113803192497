from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.models.gan_losses import discriminator_loss, generator_loss, gradient_penalty
from aigc_studio.models.specgan import SpecGANConfig, SpecGANDiscriminator, SpecGANGenerator

TINY = {"latent_dim": 16, "n_mels": 16, "frames": 32, "base_channels": 8}


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_generator_shapes_and_range_unconditional() -> None:
    torch.manual_seed(0)
    config = SpecGANConfig(**TINY)
    g = SpecGANGenerator(config)
    x = g(torch.randn(5, 16) * 10)
    assert x.shape == (5, 1, 16, 32)
    assert x.min() >= -1 and x.max() <= 1
    assert x.std() > 0  # not a constant output


def test_conditional_generator_uses_the_label() -> None:
    torch.manual_seed(0)
    g = SpecGANGenerator(SpecGANConfig(**TINY, num_classes=3)).eval()
    z = torch.randn(1, 16).repeat(3, 1)
    x = g(z, torch.tensor([0, 1, 2]))
    assert x.shape == (3, 1, 16, 32)
    assert not torch.allclose(x[0], x[1]) and not torch.allclose(x[1], x[2])


def test_discriminator_logits_shape() -> None:
    torch.manual_seed(0)
    d = SpecGANDiscriminator(SpecGANConfig(**TINY))
    logits = d(torch.rand(4, 1, 16, 32) * 2 - 1)
    assert logits.shape == (4,)


def test_projection_term_depends_on_the_label() -> None:
    torch.manual_seed(0)
    d = SpecGANDiscriminator(SpecGANConfig(**TINY, num_classes=4)).eval()
    x = torch.randn(1, 1, 16, 32).repeat(4, 1, 1, 1)
    logits = d(x, torch.arange(4))
    assert logits.shape == (4,)
    assert len(set(logits.tolist())) == 4
    # The same label gives the same logit (eval mode: spectral norm does not iterate).
    assert torch.allclose(d(x[:1], torch.tensor([2])), logits[2:3])


def test_labels_must_match_num_classes() -> None:
    uncond = SpecGANConfig(**TINY)
    cond = SpecGANConfig(**TINY, num_classes=2)
    with pytest.raises(ConfigError):
        SpecGANGenerator(uncond)(torch.randn(2, 16), torch.tensor([0, 1]))
    with pytest.raises(ConfigError):
        SpecGANGenerator(cond)(torch.randn(2, 16))
    with pytest.raises(ConfigError):
        SpecGANDiscriminator(cond)(torch.zeros(2, 1, 16, 32))
    with pytest.raises(ParameterError):
        SpecGANGenerator(cond)(torch.randn(2, 16), torch.tensor([0, 2]))
    with pytest.raises(ParameterError):
        SpecGANDiscriminator(uncond)(torch.zeros(2, 1, 32, 16))


def test_spectral_norm_is_applied_when_asked() -> None:
    with_sn = SpecGANDiscriminator(SpecGANConfig(**TINY, num_classes=2))
    without = SpecGANDiscriminator(SpecGANConfig(**TINY, num_classes=2, spectral_norm=False))
    sn_weights = [n for n, _ in with_sn.named_parameters() if "parametrizations" in n]
    assert len(sn_weights) == 6  # four convolutions, the output layer and the class embedding
    assert not any("parametrizations" in n for n, _ in without.named_parameters())


@pytest.mark.parametrize(
    "values",
    [
        {"n_mels": 24},
        {"frames": 0},
        {"loss": "lsgan"},
        {"num_classes": -1},
        {"ema_decay": 1.0},
        {"latent_dim": 0},
    ],
)
def test_config_validation(values: dict) -> None:
    with pytest.raises(ConfigError):
        SpecGANConfig(**values)


def test_config_round_trip_and_unknown_keys() -> None:
    config = SpecGANConfig(**TINY, num_classes=3, loss="wgan-gp")
    assert SpecGANConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="n_fft"):
        SpecGANConfig.from_dict({"n_fft": 1024})


def test_default_generator_is_laptop_sized() -> None:
    # Docstring of SpecGANConfig states these numbers.
    config = SpecGANConfig()
    assert count(SpecGANGenerator(config)) == 2_790_177
    assert count(SpecGANDiscriminator(config)) == 689_377
    assert count(SpecGANGenerator(config)) < 3_000_000


def test_gradient_penalty_runs_through_the_discriminator() -> None:
    torch.manual_seed(0)
    config = SpecGANConfig(**TINY, num_classes=2, loss="wgan-gp", spectral_norm=False)
    d = SpecGANDiscriminator(config)
    real, fake = torch.rand(3, 1, 16, 32), torch.rand(3, 1, 16, 32)
    penalty = gradient_penalty(d, real, fake, torch.tensor([0, 1, 1]))
    penalty.backward()
    assert penalty.item() > 0
    assert d.stages[0][0].weight.grad is not None


def stripes(batch: int) -> torch.Tensor:
    """Real data: horizontal harmonic stripes in [-1, 1] (a toy 'spectrogram')."""
    rows = torch.linspace(0, 6.28, 16)[:, None].expand(16, 16)
    base = torch.sin(3 * rows)
    return base.expand(batch, 1, 16, 16).clone()


def test_tiny_specgan_learns_with_the_hinge_loss() -> None:
    """D learns to tell real from fake, then G learns to fool that D (both losses fall)."""
    torch.manual_seed(0)
    config = SpecGANConfig(latent_dim=8, n_mels=16, frames=16, base_channels=8, loss="hinge")
    g, d = SpecGANGenerator(config), SpecGANDiscriminator(config)
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.9))
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-3, betas=(0.5, 0.9))
    real = stripes(16)
    z = torch.randn(16, 8)

    def d_loss() -> torch.Tensor:
        with torch.no_grad():
            fake = g(z)
        return discriminator_loss(d(real), d(fake), config.loss)

    first_d = d_loss().item()
    for _ in range(30):
        opt_d.zero_grad()
        loss = d_loss()
        loss.backward()
        opt_d.step()
    d.eval()
    with torch.no_grad():
        accuracy = ((d(real) > 0).float().mean() + (d(g(z)) < 0).float().mean()) / 2
    assert d_loss().item() < first_d
    assert accuracy.item() > 0.9

    # Now D is fixed: G's loss must fall, i.e. its samples move to where D says "real".
    for p in d.parameters():
        p.requires_grad_(False)
    first_g = generator_loss(d(g(z)), config.loss).item()
    for _ in range(30):
        opt_g.zero_grad()
        loss = generator_loss(d(g(z)), config.loss)
        loss.backward()
        opt_g.step()
    # A negative hinge G loss means the mean fake logit is positive: the fixed D is now fooled.
    assert generator_loss(d(g(z)), config.loss).item() < min(0.0, first_g - 0.5)


def test_harmonic_template_peaks_where_the_pitch_puts_harmonics() -> None:
    import librosa

    from aigc_studio.models.specgan import harmonic_templates

    config = SpecGANConfig(n_mels=128, frames=16, num_classes=2, class_pitches=(45, 69))
    templates = harmonic_templates(config)
    assert templates.shape == (2, 128)
    assert templates.min() >= -1 and templates.max() <= 1
    mel_freqs = librosa.mel_frequencies(n_mels=128, fmax=8000.0)
    for row, f0 in zip(templates, (110.0, 440.0), strict=True):
        peak = mel_freqs[int(row[: int(np.searchsorted(mel_freqs, 1.5 * f0))].argmax())]
        assert abs(peak - f0) < 0.15 * f0  # the strongest low band sits at the fundamental


def test_template_conditioning_shapes_and_pitch_dependence() -> None:
    config = SpecGANConfig(
        latent_dim=8,
        n_mels=32,
        frames=16,
        base_channels=4,
        num_classes=2,
        class_pitches=(48, 72),
        template_n_fft=256,
        template_sr=8000,
        template_fmax=4000.0,
    )
    torch.manual_seed(0)
    gen, disc = SpecGANGenerator(config), SpecGANDiscriminator(config)
    z = torch.randn(2, 8)
    out = gen(z, torch.tensor([0, 1]))
    assert out.shape == (2, 1, 32, 16)
    same_x = out.detach()[:1].repeat(2, 1, 1, 1)
    logits = disc.eval()(same_x, torch.tensor([0, 1]))
    assert logits[0] != logits[1]
    with pytest.raises(ConfigError, match="class_pitches"):
        SpecGANConfig(num_classes=3, class_pitches=(60, 62))
