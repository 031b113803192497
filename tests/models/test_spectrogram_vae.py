from __future__ import annotations

import pytest
import torch

from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.models.spectrogram_vae import (
    SpectrogramVAE,
    SpectrogramVAEConfig,
    elbo_loss,
    interpolate_latents,
)

TINY = {"n_mels": 16, "frames": 32, "latent_dim": 8, "base_channels": 8}


def test_shapes_unconditional_and_conditional() -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 1, 16, 32)
    vae = SpectrogramVAE(SpectrogramVAEConfig(**TINY))
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (3, 8)
    assert vae.reparameterize(mu, logvar).shape == (3, 8)
    assert vae.decode(torch.randn(5, 8)).shape == (5, 1, 16, 32)
    x_hat, mu, logvar = vae(x)
    assert x_hat.shape == x.shape and mu.shape == (3, 8)

    cvae = SpectrogramVAE(SpectrogramVAEConfig(**TINY, num_classes=2))
    labels = torch.tensor([0, 1, 1])
    assert cvae(x, labels)[0].shape == x.shape
    z = torch.randn(1, 8).repeat(2, 1)
    decoded = cvae.decode(z, torch.tensor([0, 1]))
    assert not torch.allclose(decoded[0], decoded[1])


def test_labels_must_match_num_classes() -> None:
    x = torch.randn(2, 1, 16, 32)
    with pytest.raises(ConfigError):
        SpectrogramVAE(SpectrogramVAEConfig(**TINY))(x, torch.tensor([0, 1]))
    with pytest.raises(ConfigError):
        SpectrogramVAE(SpectrogramVAEConfig(**TINY, num_classes=2))(x)
    with pytest.raises(ParameterError):
        SpectrogramVAE(SpectrogramVAEConfig(**TINY)).encode(torch.randn(2, 1, 32, 16))


def test_reparameterize_is_the_mean_at_zero_variance_and_differentiable() -> None:
    mu = torch.tensor([[1.0, -2.0]], requires_grad=True)
    logvar = torch.full((1, 2), -80.0, requires_grad=True)
    z = SpectrogramVAE.reparameterize(mu, logvar)
    assert torch.allclose(z, mu)
    z.sum().backward()
    assert torch.allclose(mu.grad, torch.ones(1, 2))


def config(**overrides) -> SpectrogramVAEConfig:
    return SpectrogramVAEConfig(**(TINY | overrides))


def test_kl_is_zero_at_the_prior_and_matches_the_formula() -> None:
    x = torch.zeros(4, 1, 16, 32)
    out = elbo_loss(x, x, torch.zeros(4, 8), torch.zeros(4, 8), step=10_000, config=config())
    assert out["kl"].item() == 0.0
    assert out["reconstruction"].item() == 0.0
    mu = torch.full((4, 8), 2.0)
    logvar = torch.full((4, 8), 1.0)
    out = elbo_loss(x, x, mu, logvar, step=10_000, config=config())
    per_dim = 0.5 * (4.0 + torch.e - 1.0 - 1.0)
    assert out["kl"].item() == pytest.approx(8 * per_dim, rel=1e-6)


def test_reconstruction_is_summed_over_pixels_and_averaged_over_batch() -> None:
    x = torch.zeros(2, 1, 16, 32)
    x_hat = x.clone()
    x_hat[0] = 1.0  # 512 pixels off by 1 in the first item only
    out = elbo_loss(x, x_hat, torch.zeros(2, 8), torch.zeros(2, 8), step=0, config=config())
    assert out["reconstruction"].item() == pytest.approx(512 / 2)
    assert out["loss"].item() == pytest.approx(256.0)  # beta_0 = 0


def test_free_bits_floor_applies_per_dimension_after_batch_mean() -> None:
    x = torch.zeros(2, 1, 16, 32)
    mu = torch.zeros(2, 8)
    # Dimension 0: KL 0.5 * 1 for item 0 and 0 for item 1 -> batch mean 0.25 (below the floor).
    # Dimension 1: KL 2 and 2 -> 2 (above the floor). Others 0 -> floored.
    mu[0, 0] = 1.0
    mu[:, 1] = 2.0
    out = elbo_loss(x, x, mu, torch.zeros(2, 8), step=5000, config=config(free_bits=0.5))
    assert out["kl"].item() == pytest.approx(0.5 + 2.0 + 6 * 0.5)
    # Below the floor there is no gradient from the KL.
    mu.requires_grad_(True)
    elbo_loss(x, x, mu, torch.zeros(2, 8), step=5000, config=config(free_bits=0.5))["kl"].backward()
    assert mu.grad[0, 0] == 0 and mu.grad[0, 1] > 0


@pytest.mark.parametrize(
    ("step", "warmup", "beta", "expected"),
    [
        (0, 100, 1.0, 0.0),
        (25, 100, 1.0, 0.25),
        (100, 100, 0.5, 0.5),
        (500, 100, 2.0, 2.0),
        (0, 0, 0.3, 0.3),
    ],
)
def test_kl_warmup_schedule(step: int, warmup: int, beta: float, expected: float) -> None:
    x = torch.zeros(1, 1, 16, 32)
    mu = torch.ones(1, 8)
    out = elbo_loss(
        x, x, mu, torch.zeros(1, 8), step=step, config=config(kl_warmup_steps=warmup, beta=beta)
    )
    assert out["beta"].item() == pytest.approx(expected)
    assert out["loss"].item() == pytest.approx(expected * out["kl"].item())


def test_elbo_rejects_bad_arguments() -> None:
    x = torch.zeros(2, 1, 16, 32)
    with pytest.raises(ParameterError):
        elbo_loss(x, x, torch.zeros(2, 8), torch.zeros(2, 8), step=-1, config=config())
    with pytest.raises(ParameterError):
        elbo_loss(x, x[:1], torch.zeros(2, 8), torch.zeros(2, 8), step=0, config=config())


def test_reconstruction_improves_with_training() -> None:
    torch.manual_seed(0)
    cfg = config(kl_warmup_steps=1000)
    vae = SpectrogramVAE(cfg)
    rows = torch.linspace(0, 6.28, 16)[:, None]
    cols = torch.linspace(0, 6.28, 32)[None, :]
    x = torch.stack([torch.sin(k * rows + cols) for k in (1.0, 2.0, 3.0, 4.0)])[:, None]
    opt = torch.optim.Adam(vae.parameters(), lr=5e-3)
    losses = []
    for step in range(40):
        opt.zero_grad()
        out = elbo_loss(x, *vae(x), step=step, config=cfg)
        out["loss"].backward()
        opt.step()
        losses.append(out["reconstruction"].item())
    assert losses[-1] < 0.6 * losses[0]


def test_interpolation_endpoints_are_exact() -> None:
    torch.manual_seed(0)
    z0, z1 = torch.randn(8), torch.randn(8)
    for method in ("lerp", "slerp"):
        path = interpolate_latents(z0, z1, 7, method)
        assert path.shape == (7, 8)
        assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)
    assert torch.allclose(interpolate_latents(z0, z1, 3, "lerp")[1], (z0 + z1) / 2)


def test_slerp_keeps_the_norm_where_lerp_shrinks_it() -> None:
    torch.manual_seed(0)
    z0, z1 = torch.randn(64), torch.randn(64)
    z1 = z1 * z0.norm() / z1.norm()
    slerp = interpolate_latents(z0, z1, 9, "slerp").norm(dim=1)
    lerp = interpolate_latents(z0, z1, 9, "lerp").norm(dim=1)
    assert torch.allclose(slerp, z0.norm().expand(9), rtol=1e-5)
    # Two random directions in 64-D are nearly orthogonal: the chord's midpoint is ~1/sqrt(2).
    assert lerp[4] < 0.8 * z0.norm()


def test_slerp_of_parallel_vectors_is_the_line() -> None:
    z0 = torch.tensor([1.0, 2.0])
    path = interpolate_latents(z0, 3 * z0, 3, "slerp")
    assert torch.allclose(path[1], 2 * z0)


@pytest.mark.parametrize("kwargs", [{"steps": 1}, {"method": "cubic"}, {"z1": torch.zeros(3)}])
def test_interpolation_rejects_bad_arguments(kwargs: dict) -> None:
    args = {"z0": torch.zeros(2), "z1": torch.ones(2), "steps": 3} | kwargs
    with pytest.raises(ParameterError):
        interpolate_latents(**args)


@pytest.mark.parametrize(
    "values",
    [
        {"n_mels": 20},
        {"latent_dim": 0},
        {"free_bits": -1.0},
        {"beta": -0.1},
        {"kl_warmup_steps": -5},
    ],
)
def test_config_validation(values: dict) -> None:
    with pytest.raises(ConfigError):
        SpectrogramVAEConfig(**values)


def test_config_round_trip_and_default_size() -> None:
    cfg = config(num_classes=3, free_bits=0.25)
    assert SpectrogramVAEConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="dropout"):
        SpectrogramVAEConfig.from_dict({"dropout": 0.1})
    default = SpectrogramVAE(SpectrogramVAEConfig())
    assert sum(p.numel() for p in default.parameters()) == 2_667_137
