from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.models.sequence_models import (
    SEQUENCE_MODEL_KINDS,
    RecurrentLM,
    SequenceModelConfig,
    TransformerLM,
    build_sequence_model,
)


def tiny(kind: str, **overrides) -> SequenceModelConfig:
    values = {
        "kind": kind,
        "vocab_size": 32,
        "d_model": 32,
        "n_layers": 2,
        "n_heads": 4,
        "dropout": 0.1,
        "max_len": 64,
    }
    return SequenceModelConfig(**(values | overrides))


@pytest.mark.parametrize("kind", SEQUENCE_MODEL_KINDS)
def test_build_picks_the_class_and_logits_have_the_right_shape(kind: str) -> None:
    torch.manual_seed(0)
    model = build_sequence_model(tiny(kind))
    assert isinstance(model, TransformerLM if kind == "transformer" else RecurrentLM)
    logits, cache = model(torch.randint(0, 32, (3, 10)))
    assert logits.shape == (3, 10, 32)
    assert cache is not None


@pytest.mark.parametrize("kind", SEQUENCE_MODEL_KINDS)
def test_cached_step_by_step_equals_one_full_pass(kind: str) -> None:
    torch.manual_seed(0)
    model = build_sequence_model(tiny(kind)).eval()
    tokens = torch.randint(0, 32, (2, 20))
    with torch.no_grad():
        full, _ = model(tokens)
        cache, steps = None, []
        for t in range(tokens.shape[1]):
            logits, cache = model(tokens[:, t : t + 1], cache)
            steps.append(logits)
    assert torch.allclose(full, torch.cat(steps, dim=1), atol=1e-5)


@pytest.mark.parametrize("kind", SEQUENCE_MODEL_KINDS)
def test_cached_chunks_equal_one_full_pass(kind: str) -> None:
    # A prompt, then chunks of several tokens: the attention mask must be offset by the cache.
    torch.manual_seed(1)
    model = build_sequence_model(tiny(kind)).eval()
    tokens = torch.randint(0, 32, (2, 18))
    with torch.no_grad():
        full, _ = model(tokens)
        first, cache = model(tokens[:, :7])
        second, cache = model(tokens[:, 7:12], cache)
        third, _ = model(tokens[:, 12:], cache)
    assert torch.allclose(full, torch.cat([first, second, third], dim=1), atol=1e-5)


@pytest.mark.parametrize("kind", SEQUENCE_MODEL_KINDS)
def test_causality(kind: str) -> None:
    torch.manual_seed(0)
    model = build_sequence_model(tiny(kind)).eval()
    tokens = torch.randint(0, 32, (1, 12))
    changed = tokens.clone()
    changed[0, 8] = (tokens[0, 8] + 1) % 32
    with torch.no_grad():
        a, _ = model(tokens)
        b, _ = model(changed)
    assert torch.allclose(a[:, :8], b[:, :8], atol=1e-6)
    assert not torch.allclose(a[:, 8:], b[:, 8:], atol=1e-4)


def test_transformer_cache_layout_and_max_len() -> None:
    model = TransformerLM(tiny("transformer", max_len=10)).eval()
    _, cache = model(torch.zeros(2, 6, dtype=torch.long))
    assert len(cache) == 2
    assert cache[0][0].shape == (2, 4, 6, 8)
    model(torch.zeros(2, 4, dtype=torch.long), cache)  # exactly max_len is fine
    with pytest.raises(ConfigError, match="max_len"):
        model(torch.zeros(2, 5, dtype=torch.long), cache)
    with pytest.raises(ConfigError, match="max_len"):
        model(torch.zeros(1, 11, dtype=torch.long))


def test_tied_embeddings_share_storage() -> None:
    for kind in SEQUENCE_MODEL_KINDS:
        model = build_sequence_model(tiny(kind))
        assert model.head.weight is model.token_embedding.weight
        untied = build_sequence_model(tiny(kind, tie_embeddings=False))
        assert untied.head.weight is not untied.token_embedding.weight


def test_bad_tokens_raise_parameter_error() -> None:
    model = build_sequence_model(tiny("gru"))
    with pytest.raises(ParameterError):
        model(torch.tensor([[0, 32]]))
    with pytest.raises(ParameterError):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ParameterError):
        model(torch.zeros(1, 3))


@pytest.mark.parametrize("kind", SEQUENCE_MODEL_KINDS)
def test_tiny_model_overfits_a_repeating_pattern(kind: str) -> None:
    torch.manual_seed(0)
    cycle = torch.randperm(32)  # a 32-token cycle over a 32-token vocabulary
    model = build_sequence_model(tiny(kind, dropout=0.0, n_layers=1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        starts = torch.randint(0, 32, (8, 1))
        batch = cycle[(starts + torch.arange(41)) % 32]
        logits, _ = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 32), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1


@pytest.mark.parametrize(
    "values",
    [
        {"kind": "mamba"},
        {"vocab_size": 1},
        {"d_model": 30, "n_heads": 4},
        {"dropout": 1.0},
        {"n_layers": 0},
        {"max_len": 0},
    ],
)
def test_config_validation(values: dict) -> None:
    with pytest.raises(ConfigError):
        SequenceModelConfig(**values)


def test_head_divisibility_only_matters_for_the_transformer() -> None:
    assert SequenceModelConfig(kind="lstm", d_model=30, n_heads=4).d_model == 30


def test_config_round_trip_and_unknown_keys() -> None:
    config = tiny("lstm")
    assert SequenceModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="n_kv_heads"):
        SequenceModelConfig.from_dict({"n_kv_heads": 2})


def test_default_sizes() -> None:
    # SequenceModelConfig's docstring states these numbers.
    counts = {
        kind: sum(
            p.numel() for p in build_sequence_model(SequenceModelConfig(kind=kind)).parameters()
        )
        for kind in SEQUENCE_MODEL_KINDS
    }
    assert counts == {"transformer": 3_454_464, "lstm": 2_138_240, "gru": 1_611_904}
