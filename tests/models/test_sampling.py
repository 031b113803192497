from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from aigc_studio.errors import ParameterError
from aigc_studio.models.sampling import filter_logits, sample_sequence
from aigc_studio.models.sequence_models import SequenceModelConfig, build_sequence_model


class FixedLogits(nn.Module):
    """Follows the sequence-model convention; ignores its input and returns fixed logits."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("logits", logits)
        self.calls: list[tuple[int, bool]] = []

    def forward(self, tokens: torch.Tensor, cache=None):
        self.calls.append((tokens.shape[1], cache is not None))
        b, t = tokens.shape
        cached = 0 if cache is None else cache
        return self.logits.expand(b, t, -1), cached + t


def tiny_model(kind: str = "transformer") -> nn.Module:
    torch.manual_seed(0)
    config = SequenceModelConfig(
        kind=kind, vocab_size=16, d_model=32, n_layers=2, n_heads=4, max_len=64
    )
    return build_sequence_model(config)


def test_top_k_keeps_exactly_k_largest() -> None:
    logits = torch.tensor([[0.1, 3.0, -1.0, 2.0, 2.5], [1.0, 1.0, 1.0, 1.0, 0.0]])
    out = filter_logits(logits, top_k=2)
    assert torch.isfinite(out).sum(dim=1).tolist() == [2, 2]  # ties cannot let a third in
    assert set(torch.isfinite(out[0]).nonzero().flatten().tolist()) == {1, 4}
    assert torch.equal(out[0, [1, 4]], logits[0, [1, 4]])
    assert torch.equal(filter_logits(logits, top_k=10), logits)
    assert logits[0, 0] == 0.1  # the input is not modified


def test_top_p_keeps_the_smallest_set_reaching_p() -> None:
    logits = torch.log(torch.tensor([0.05, 0.5, 0.15, 0.3]))

    def kept(p: float) -> set[int]:
        return set(torch.isfinite(filter_logits(logits, top_p=p)).nonzero().flatten().tolist())

    assert kept(0.4) == {1}
    assert kept(0.75) == {1, 3}
    assert kept(0.9) == {1, 3, 2}
    assert kept(0.97) == {0, 1, 2, 3}
    assert kept(1.0) == {0, 1, 2, 3}


def test_most_likely_token_always_survives() -> None:
    logits = torch.randn(4, 50)
    out = filter_logits(logits, top_p=1e-6, top_k=1)
    assert torch.equal(out.argmax(dim=1), logits.argmax(dim=1))
    assert (torch.isfinite(out).sum(dim=1) == 1).all()


def test_top_k_then_top_p_renormalizes_over_the_kept_tokens() -> None:
    # After top-k=2 the two tokens have probabilities 0.6 / 0.4 (renormalized): p=0.5 keeps one.
    logits = torch.log(torch.tensor([0.3, 0.2, 0.5 / 3, 0.5 / 3, 0.5 / 3]))
    out = filter_logits(logits, top_k=2, top_p=0.5)
    assert torch.isfinite(out).tolist() == [True, False, False, False, False]


@pytest.mark.parametrize("kwargs", [{"top_k": 0}, {"top_p": 0.0}, {"top_p": 1.5}, {"top_k": 2.5}])
def test_filter_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ParameterError):
        filter_logits(torch.zeros(3), **kwargs)


def test_greedy_equals_argmax_decoding_without_cache() -> None:
    model = tiny_model().eval()
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    out = sample_sequence(model, prompt, 10, temperature=0.0)
    expected = prompt
    with torch.no_grad():
        for _ in range(10):
            logits, _ = model(expected)
            expected = torch.cat([expected, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, expected)


def test_cache_is_used_one_token_at_a_time() -> None:
    model = FixedLogits(torch.zeros(8))
    sample_sequence(model, torch.zeros(2, 5, dtype=torch.long), 4)
    assert model.calls == [(5, False), (1, True), (1, True), (1, True)]


@pytest.mark.parametrize("kind", ["transformer", "gru"])
def test_same_seed_same_sample(kind: str) -> None:
    model = tiny_model(kind)
    prompt = torch.zeros(3, 1, dtype=torch.long)

    def draw(seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return sample_sequence(model, prompt, 20, temperature=1.5, top_p=0.95, generator=g)

    assert torch.equal(draw(7), draw(7))
    assert not torch.equal(draw(7), draw(8))


def test_temperature_controls_diversity() -> None:
    model = FixedLogits(torch.linspace(0.0, 8.0, 32))
    prompt = torch.zeros(8, 1, dtype=torch.long)
    g = torch.Generator().manual_seed(0)
    cold = sample_sequence(model, prompt, 32, temperature=0.1, generator=g)[:, 1:]
    hot = sample_sequence(model, prompt, 32, temperature=10.0, generator=g)[:, 1:]
    # Logits 8/31 apart, divided by 0.1: the top token has ~92 %, the fourth ~0.003 %.
    assert cold.unique().numel() <= 3
    assert hot.unique().numel() >= 24  # nearly uniform over 32 tokens, 256 draws


def test_eos_stops_early_and_pads_finished_rows() -> None:
    logits = torch.full((6,), -10.0)
    logits[5] = 10.0
    model = FixedLogits(logits)
    out = sample_sequence(model, torch.zeros(2, 3, dtype=torch.long), 50, eos_id=5)
    assert out.shape == (2, 4) and (out[:, 3] == 5).all()

    # Rows finish at different times: the first is forced to eos, then padded.
    class Staggered(FixedLogits):
        def forward(self, tokens, cache=None):
            logits, cache = super().forward(tokens, cache)
            logits = logits.clone()
            if cache < 6:  # row 1 avoids eos for a few steps
                logits[1, :, 5] = -10.0
                logits[1, :, 2] = 10.0
            return logits, cache

    out = sample_sequence(Staggered(logits), torch.zeros(2, 3, dtype=torch.long), 50, eos_id=5)
    assert out[0, 3:].eq(5).all()
    assert out[1, 3:-1].eq(2).all() and out[1, -1] == 5
    assert out.shape[1] < 3 + 50


def test_training_flag_is_restored_and_no_graph_is_built() -> None:
    model = tiny_model().train()
    out = sample_sequence(model, torch.zeros(1, 2, dtype=torch.long), 3, temperature=0.0)
    assert model.training
    assert out.shape == (1, 5) and not out.requires_grad
    model.eval()
    sample_sequence(model, torch.zeros(1, 2, dtype=torch.long), 3)
    assert not model.training


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_new_tokens": 0},
        {"temperature": -0.5},
        {"temperature": math.inf},
        {"top_p": 0.0},
        {"top_k": 0},
        {"prompt": torch.zeros(2, 0, dtype=torch.long)},
        {"prompt": torch.zeros(3, dtype=torch.long)},
        {"max_new_tokens": 100},  # beyond max_len=64
    ],
)
def test_sample_rejects_bad_arguments(kwargs: dict) -> None:
    args = {"prompt": torch.zeros(1, 2, dtype=torch.long), "max_new_tokens": 5} | kwargs
    with pytest.raises(ParameterError):
        sample_sequence(tiny_model(), **args)


def test_forced_positions_hold_the_imposed_tokens_and_are_fed_to_the_model() -> None:
    model = tiny_model()
    prompt = torch.tensor([[1, 2], [3, 4]])
    forced = torch.full((2, 12), -1, dtype=torch.long)
    forced[:, ::3] = torch.tensor([[5, 6, 7, 8], [9, 10, 11, 12]])
    g = torch.Generator().manual_seed(3)
    out = sample_sequence(model, prompt, 12, temperature=1.0, generator=g, forced=forced)
    new = out[:, 2:]
    imposed = forced >= 0
    assert torch.equal(new[imposed], forced[imposed])
    # Greedy decoding of the forced prefix reproduces each free token: the model was fed the
    # imposed tokens, not its own draws.
    greedy = sample_sequence(model, prompt, 12, temperature=0.0, forced=forced)
    with torch.no_grad():
        for position in range(12):
            if forced[0, position] >= 0:
                continue
            logits, _ = model.eval()(greedy[:, : 2 + position])
            assert torch.equal(greedy[:, 2 + position], logits[:, -1].argmax(-1))


def test_free_positions_are_sampled_not_copied() -> None:
    model = tiny_model()
    prompt = torch.zeros(4, 1, dtype=torch.long)
    forced = torch.full((4, 16), -1, dtype=torch.long)
    forced[:, 0] = 7
    out = sample_sequence(
        model,
        prompt,
        16,
        temperature=2.0,
        generator=torch.Generator().manual_seed(0),
        forced=forced,
    )
    free = out[:, 2:]
    assert (out[:, 1] == 7).all()
    assert free.unique().numel() >= 5  # varied draws at temperature 2 over 16 tokens


def test_forced_all_free_equals_the_unforced_sample() -> None:
    model = tiny_model()
    prompt = torch.zeros(3, 1, dtype=torch.long)

    def draw(forced: torch.Tensor | None) -> torch.Tensor:
        g = torch.Generator().manual_seed(11)
        return sample_sequence(model, prompt, 20, top_p=0.9, generator=g, forced=forced)

    assert torch.equal(draw(None), draw(torch.full((3, 20), -1, dtype=torch.long)))


def test_forced_eos_finishes_the_row() -> None:
    model = FixedLogits(torch.zeros(8))
    forced = torch.full((2, 10), -1, dtype=torch.long)
    forced[:, 2] = 5
    out = sample_sequence(model, torch.zeros(2, 1, dtype=torch.long), 10, eos_id=5, forced=forced)
    assert out.shape == (2, 4) and (out[:, 3] == 5).all()


@pytest.mark.parametrize(
    "forced",
    [
        torch.full((1, 4), -1, dtype=torch.long),  # wrong length
        torch.full((2, 5), -1, dtype=torch.long),  # wrong batch
        torch.full((1, 5), -1.0),  # not integer
        torch.full((1, 5), -2, dtype=torch.long),  # below -1
    ],
)
def test_forced_rejects_bad_shapes_and_values(forced: torch.Tensor) -> None:
    with pytest.raises(ParameterError, match="forced"):
        sample_sequence(tiny_model(), torch.zeros(1, 2, dtype=torch.long), 5, forced=forced)
