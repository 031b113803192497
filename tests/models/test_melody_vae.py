from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from aigc_studio.datasets.melody_tokens import MelodyEvent, MelodyTokenizer
from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.models.melody_vae import (
    HOLD,
    NUM_CLASSES,
    REST,
    MelodyVAE,
    MelodyVAEConfig,
    events_to_grid,
    grid_to_events,
    melody_vae_loss,
    melody_windows,
    true_elbo_config,
)
from aigc_studio.models.registry import build_model_config, get_model_spec

TINY = {
    "bars": 2,
    "latent_dim": 8,
    "encoder_hidden": 32,
    "encoder_layers": 1,
    "decoder_hidden": 64,
    "decoder_layers": 1,
    "dropout": 0.0,
}


def on(pitch: int) -> int:
    return 2 + pitch - 36


def quarters(pitches: list[int | None]) -> list[MelodyEvent]:
    """A melody of quarter notes, four to a bar."""
    return [MelodyEvent(p, 1.0, i % 4 == 0) for i, p in enumerate(pitches)]


def test_config_validates_and_round_trips() -> None:
    config = MelodyVAEConfig(**TINY)
    assert MelodyVAEConfig.from_dict(config.to_dict()) == config
    assert config.steps == 32
    with pytest.raises(ConfigError, match="bars"):
        MelodyVAEConfig(bars=0)
    with pytest.raises(ConfigError, match="dropout"):
        MelodyVAEConfig(dropout=1.0)
    with pytest.raises(ConfigError, match="unknown"):
        MelodyVAEConfig.from_dict({"bars": 2, "hidden": 3})


def test_registered_with_its_own_family() -> None:
    spec = get_model_spec("melody-vae")
    assert spec.family == "melody-vae"
    assert build_model_config("melody-vae", {"bars": 4}) == MelodyVAEConfig(bars=4)


def test_shapes_and_argument_checks() -> None:
    torch.manual_seed(0)
    model = MelodyVAE(MelodyVAEConfig(**TINY))
    x = torch.randint(0, NUM_CLASSES, (3, 32))
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (3, 8)
    logits, mu, logvar = model(x)
    assert logits.shape == (3, 32, NUM_CLASSES)
    assert model.decode(torch.randn(5, 8), temperature=0).shape == (5, 32)
    assert model.decode(mu, temperature=0, teacher=x).shape == (3, 32)
    with pytest.raises(ParameterError, match="shape"):
        model.encode(torch.zeros(3, 16, dtype=torch.long))
    with pytest.raises(ParameterError, match="classes"):
        model.encode(torch.full((1, 32), NUM_CLASSES))
    with pytest.raises(ParameterError, match="z"):
        model.decode(torch.zeros(2, 7))
    with pytest.raises(ParameterError, match="temperature"):
        model.decode(torch.zeros(2, 8), temperature=-1.0)


def test_known_melody_on_the_grid_and_back() -> None:
    # A pickup (dropped), then bar 1: rest, C4 quarter, D4 eighth, E4 dotted quarter; bar 2:
    # F4 struck again after a bar line (the tokens' convention), then a half-bar rest.
    melody = [
        MelodyEvent(67, 1.0, False),
        MelodyEvent(None, 1.0, True),
        MelodyEvent(60, 1.0, False),
        MelodyEvent(62, 0.5, False),
        MelodyEvent(64, 1.5, False),
        MelodyEvent(65, 2.0, True),
        MelodyEvent(None, 2.0, False),
    ]
    grid = events_to_grid(melody, 2)
    expected = np.array(
        [0, 0, 0, 0, on(60), 1, 1, 1, on(62), 1, on(64), 1, 1, 1, 1, 1]
        + [on(65), 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    )
    np.testing.assert_array_equal(grid, expected)
    assert grid_to_events(grid) == melody[1:]
    # The tokenizer's decode gives melodies that round-trip the same way.
    decoded = MelodyTokenizer().decode(MelodyTokenizer().encode(melody[1:]))
    assert grid_to_events(events_to_grid(decoded, 2)) == decoded


def test_short_melodies_are_padded_and_stray_holds_read_as_rests() -> None:
    grid = events_to_grid([MelodyEvent(60, 1.0, True)], 1)
    assert grid.tolist() == [on(60), 1, 1, 1] + [REST] * 12
    events = grid_to_events([HOLD, HOLD, REST, HOLD, on(62), HOLD, HOLD, HOLD], steps_per_bar=4)
    assert events == [
        MelodyEvent(None, 1.0, True),
        MelodyEvent(62, 1.0, True),
    ]
    # A note held across a bar line is cut there, like the tokens do.
    assert grid_to_events([on(60), HOLD, HOLD, HOLD], steps_per_bar=2) == [
        MelodyEvent(60, 0.5, True),
        MelodyEvent(60, 0.5, True),
    ]
    with pytest.raises(ParameterError, match="pitch"):
        events_to_grid([MelodyEvent(20, 1.0, True)], 1)
    with pytest.raises(ParameterError, match="classes"):
        grid_to_events([NUM_CLASSES])


def test_windows_need_whole_bars_of_sixteen_steps() -> None:
    pickup = [MelodyEvent(55, 1.0, True)]  # a one-beat bar
    four = quarters([60, 62, 64, 65, 67, 65, 64, 62, 60, 60, 60, 60])  # three 4/4 bars
    three = [MelodyEvent(70, 3.0, True)]  # a 3/4 bar
    tail = quarters([72, 71, 69, 67, None, None, None, None, 64, 64])  # 4/4, rest bar, short
    melody = pickup + four + three + tail
    windows = melody_windows(melody, bars=2, hop_bars=1)
    # Bars: pickup | 4/4 4/4 4/4 | 3/4 | 4/4 rest-bar | half bar. Two-bar windows of whole
    # 4/4 bars: (1, 2), (2, 3) and (5, 6), the last one holding a note in its first bar.
    assert windows.shape == (3, 32)
    assert windows[0, 0] == on(60) and windows[1, 0] == on(67) and windows[2, 0] == on(72)
    assert melody_windows(melody, bars=2, hop_bars=2).shape == (1, 32)
    assert melody_windows(melody, bars=1, hop_bars=1).shape == (4, 16)  # rest bar left out
    assert melody_windows(three * 4, bars=1).shape == (0, 16)
    assert melody_windows(three * 4, bars=1, steps_per_bar=12).shape == (4, 12)


def test_kl_free_bits_and_warm_up() -> None:
    config = MelodyVAEConfig(**TINY, kl_warmup_steps=100, free_bits=0.25, beta=0.5)
    x = torch.randint(0, NUM_CLASSES, (4, 32))
    logits = torch.randn(4, 32, NUM_CLASSES)
    zeros = torch.zeros(4, 8)
    out = melody_vae_loss(logits, x, zeros, zeros, step=0, config=config)
    expected = F.cross_entropy(logits.transpose(1, 2), x, reduction="sum") / 4
    assert out["reconstruction"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert out["kl"].item() == pytest.approx(8 * 0.25)  # the prior: every dimension floored
    assert out["beta"].item() == 0.0 and out["loss"].item() == pytest.approx(expected.item())
    assert melody_vae_loss(logits, x, zeros, zeros, step=50, config=config)["beta"] == 0.25
    assert melody_vae_loss(logits, x, zeros, zeros, step=500, config=config)["beta"] == 0.5
    # Without free bits the prior costs nothing; an offset mean costs 0.5 * mu^2 per dimension.
    plain = true_elbo_config(config)
    assert melody_vae_loss(logits, x, zeros, zeros, step=0, config=plain)["kl"].item() == 0
    mu = torch.full((4, 8), 2.0)
    kl = melody_vae_loss(logits, x, mu, zeros, step=0, config=plain)["kl"]
    assert kl.item() == pytest.approx(8 * 0.5 * 4.0)


def test_dimensions_under_the_free_bits_floor_get_no_kl_gradient() -> None:
    config = MelodyVAEConfig(**TINY, kl_warmup_steps=0, free_bits=1.0, beta=1.0)
    x = torch.zeros(2, 32, dtype=torch.long)
    logits = torch.zeros(2, 32, NUM_CLASSES)
    mu = torch.zeros(2, 8)
    mu[:, 0] = 3.0  # KL 4.5 nats in dimension 0, 0 elsewhere
    mu.requires_grad_(True)
    melody_vae_loss(logits, x, mu, torch.zeros(2, 8), step=0, config=config)["loss"].backward()
    assert mu.grad[:, 0].abs().min() > 0
    assert mu.grad[:, 1:].abs().max() == 0


def test_step_by_step_decoding_matches_the_teacher_forced_pass() -> None:
    torch.manual_seed(0)
    model = MelodyVAE(MelodyVAEConfig(**TINY)).eval()
    z = torch.randn(4, 8)
    with torch.no_grad():
        greedy = model.decode(z, temperature=0)
        # Fed its own greedy choices, the parallel pass must choose the same classes.
        assert torch.equal(model.decode(z, temperature=0, teacher=greedy), greedy)
        logits = model.teacher_forced_logits(z, greedy)
    assert torch.equal(logits.argmax(dim=-1), greedy)


def test_sampling_follows_the_generator() -> None:
    torch.manual_seed(0)
    model = MelodyVAE(MelodyVAEConfig(**TINY)).eval()
    z = torch.randn(3, 8)
    with torch.no_grad():
        first = model.decode(z, temperature=1.0, generator=torch.Generator().manual_seed(1))
        again = model.decode(z, temperature=1.0, generator=torch.Generator().manual_seed(1))
        other = model.decode(z, temperature=1.0, generator=torch.Generator().manual_seed(2))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_a_tiny_model_overfits_four_melodies() -> None:
    torch.manual_seed(0)
    melodies = [
        quarters([60, 62, 64, 65, 67, 65, 64, 62]),
        quarters([72, 71, 69, 67, None, 67, 69, 71]),
        quarters([60, 64, 67, 72, 67, 64, 60, 55]),
        quarters([65, 65, 67, 69, 70, 69, 67, 65]),
    ]
    x = torch.from_numpy(np.stack([events_to_grid(m, 2) for m in melodies]))
    config = MelodyVAEConfig(**TINY, kl_warmup_steps=0, free_bits=0.0, beta=0.1)
    model = MelodyVAE(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(400):
        logits, mu, logvar = model(x)
        loss = melody_vae_loss(logits, x, mu, logvar, step=step, config=config)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        mu, _ = model.encode(x)
        accuracy = (model.decode(mu, temperature=0, teacher=x) == x).float().mean().item()
    assert accuracy > 0.9
