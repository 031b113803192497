from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc_studio.datasets.melody_tokens import MelodyEvent
from aigc_studio.errors import ParameterError
from aigc_studio.evaluation.melody_interpolation import interpolation_smoothness, melody_distance
from aigc_studio.models.melody_vae import (
    MelodyVAE,
    MelodyVAEConfig,
    grid_to_events,
    melody_vae_loss,
    melody_windows,
)
from aigc_studio.music.variation import encode_melody, interpolate_melodies, vary_melody


def quarters(pitches: list[int | None]) -> list[MelodyEvent]:
    """A melody of quarter notes, four to a bar."""
    return [MelodyEvent(p, 1.0, i % 4 == 0) for i, p in enumerate(pitches)]


A = quarters([60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 71, 67, 62, 60])
B = quarters([72, 71, 69, 67, None, 67, 69, 71, 65, 65, 67, 69, 70, 69, 67, 65])
SHORT = quarters([55, 57, 59, 60, 62, 60, 59, 57])


@pytest.fixture(scope="module")
def model() -> MelodyVAE:
    """A 2-bar model that has learnt A and B (about 3 s on one thread)."""
    torch.manual_seed(0)
    x = torch.from_numpy(np.concatenate([melody_windows(m, 2, 2) for m in (A, B)]))
    config = MelodyVAEConfig(
        bars=2,
        latent_dim=8,
        encoder_hidden=32,
        encoder_layers=1,
        decoder_hidden=64,
        decoder_layers=1,
        dropout=0.0,
        kl_warmup_steps=0,
        free_bits=0.0,
        beta=0.05,
    )
    vae = MelodyVAE(config)
    optimizer = torch.optim.Adam(vae.parameters(), lr=1e-2)
    for step in range(600):
        logits, mu, logvar = vae(x)
        loss = melody_vae_loss(logits, x, mu, logvar, step=step, config=config)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return vae.eval()


def reconstruction(model: MelodyVAE, melody: list[MelodyEvent], windows: int = 2) -> list:
    """The greedy decoding of the posterior means of the melody's first windows, joined."""
    with torch.no_grad():
        x = torch.from_numpy(melody_windows(melody, 2, 2)[:windows])
        grids = model.decode(model.encode(x)[0], temperature=0)
    return grid_to_events(grids.reshape(-1).numpy())


def test_one_code_per_window(model: MelodyVAE) -> None:
    z = encode_melody(model, A)
    assert z.shape == (2, 8)
    with torch.no_grad():
        expected = model.encode(torch.from_numpy(melody_windows(A, 2, 2)))[0]
    assert torch.equal(z, expected)
    with pytest.raises(ParameterError, match="4/4"):
        encode_melody(model, [MelodyEvent(60, 3.0, True)] * 4)  # 3/4 bars
    with pytest.raises(ParameterError, match="MelodyVAE"):
        encode_melody(torch.nn.Linear(2, 2), A)


def test_interpolation_runs_from_a_to_b(model: MelodyVAE) -> None:
    path = interpolate_melodies(model, A, B, 6)
    assert len(path) == 6
    assert path[0] == reconstruction(model, A) and path[-1] == reconstruction(model, B)
    assert melody_distance(path[0], A) < 0.1 and melody_distance(path[-1], B) < 0.1
    assert all(sum(e.duration for e in melody) == 16.0 for melody in path)
    assert any(melody not in (A, B) for melody in path[1:-1])
    scores = interpolation_smoothness(path)
    assert scores["well_formed"] == 1.0 and scores["endpoint_distance"] > 0
    with pytest.raises(ParameterError, match="steps"):
        interpolate_melodies(model, A, B, 1)


def test_interpolation_uses_the_shorter_melodys_windows(model: MelodyVAE) -> None:
    path = interpolate_melodies(model, A, SHORT, 3)
    assert [sum(e.duration for e in melody) for melody in path] == [8.0] * 3
    assert path[0] == reconstruction(model, A, windows=1)


def test_sampled_interpolations_follow_the_seed(model: MelodyVAE) -> None:
    first = interpolate_melodies(model, A, B, 4, seed=1, temperature=1.5)
    assert interpolate_melodies(model, A, B, 4, seed=1, temperature=1.5) == first
    assert interpolate_melodies(model, A, B, 4, seed=2, temperature=1.5) != first


def test_variations(model: MelodyVAE) -> None:
    model.train()  # the caller's mode must survive the call
    assert vary_melody(model, A, 3, spread=0.0) == [reconstruction(model, A)] * 3
    assert model.training
    model.eval()
    variations = vary_melody(model, A, 6, spread=3.0, seed=0)
    assert len(variations) == 6
    assert all(sum(e.duration for e in melody) == 16.0 for melody in variations)
    assert len({tuple(melody) for melody in variations}) > 1
    assert vary_melody(model, A, 6, spread=3.0, seed=0) == variations
    assert vary_melody(model, A, 6, spread=3.0, seed=1) != variations
    with pytest.raises(ParameterError, match="spread"):
        vary_melody(model, A, 2, spread=-1.0)
    with pytest.raises(ParameterError, match="n must"):
        vary_melody(model, A, 0)
