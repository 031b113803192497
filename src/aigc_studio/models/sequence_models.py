"""Autoregressive language models over token sequences (music and other event tokens).

A decoder-only Transformer and LSTM/GRU models that share one calling convention,
``model(tokens, cache=None) -> (logits, new_cache)``, so that one sampler
(:func:`aigc_studio.models.sampling.sample_sequence`) and one next-token training step serve
them all. This module does not tokenize (see :mod:`aigc_studio.music`), sample or train.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from aigc_studio.config_values import dataclass_from_dict, raise_first_failure
from aigc_studio.errors import ConfigError, ParameterError

__all__ = [
    "SEQUENCE_MODEL_KINDS",
    "RecurrentLM",
    "SequenceModelConfig",
    "TransformerLM",
    "build_sequence_model",
]

#: Model kinds :func:`build_sequence_model` can build.
SEQUENCE_MODEL_KINDS = ("transformer", "lstm", "gru")

#: Per-layer ``(keys, values)``, each ``(B, n_heads, cached_length, d_model / n_heads)``.
KVCache = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class SequenceModelConfig:
    """Sizes of an autoregressive sequence model.

    Default parameter counts (``vocab_size=128``, ``d_model=256``, 4 layers): transformer
    3,454,464; LSTM 2,138,240; GRU 1,611,904.

    Parameters
    ----------
    kind : str
        ``"transformer"``, ``"lstm"`` or ``"gru"``.
    vocab_size : int
        Number of token ids, >= 2.
    d_model : int
        Embedding and hidden width.
    n_layers : int
        Number of Transformer blocks or recurrent layers.
    n_heads : int
        Attention heads (Transformer only); must divide ``d_model``.
    dropout : float
        Dropout probability in ``[0, 1)``.
    max_len : int
        Longest sequence (prompt plus generated tokens) the Transformer can attend over; the
        number of learned positions. Recurrent models have no limit and ignore it.
    tie_embeddings : bool
        Share the input embedding matrix with the output projection (Press & Wolf 2017).
    """

    kind: str = "transformer"
    vocab_size: int = 128
    d_model: int = 256
    n_layers: int = 4
    n_heads: int = 4
    dropout: float = 0.1
    max_len: int = 1024
    tie_embeddings: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every value's range.

        Raises
        ------
        ConfigError
            Naming the first value out of range.
        """
        checks = [
            (
                self.kind in SEQUENCE_MODEL_KINDS,
                f"kind must be one of {', '.join(SEQUENCE_MODEL_KINDS)}, got {self.kind!r}",
            ),
            (self.vocab_size >= 2, f"vocab_size must be >= 2, got {self.vocab_size}"),
            (self.d_model >= 1, f"d_model must be >= 1, got {self.d_model}"),
            (self.n_layers >= 1, f"n_layers must be >= 1, got {self.n_layers}"),
            (self.n_heads >= 1, f"n_heads must be >= 1, got {self.n_heads}"),
            (
                self.kind != "transformer" or self.d_model % self.n_heads == 0,
                f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})",
            ),
            (0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}"),
            (self.max_len >= 1, f"max_len must be >= 1, got {self.max_len}"),
        ]
        raise_first_failure(checks)

    def to_dict(self) -> dict[str, Any]:
        """Return the config as plain values (for checkpoints and presets)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SequenceModelConfig:
        """Build a config from a dict, refusing unknown keys.

        Raises
        ------
        ConfigError
            If a key is unknown or a value is out of range.
        """
        return dataclass_from_dict(cls, values, "sequence model")


def _check_tokens(tokens: torch.Tensor, vocab_size: int) -> None:
    if tokens.ndim != 2 or tokens.dtype != torch.long or tokens.shape[1] == 0:
        raise ParameterError(
            f"tokens must be a LongTensor (B, T) with T >= 1, got {tokens.dtype} "
            f"{tuple(tokens.shape)}"
        )
    if tokens.numel() and (tokens.min() < 0 or tokens.max() >= vocab_size):
        raise ParameterError(f"token ids must be in [0, {vocab_size - 1}]")


class _CausalSelfAttention(nn.Module):
    def __init__(self, config: SequenceModelConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.dropout = config.dropout
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(
        self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        b, t, d = x.shape
        q, k, v = (
            part.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2)
            for part in self.qkv(x).split(d, dim=2)
        )
        past_len = 0
        if past is not None:
            past_len = past[0].shape[2]
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        dropout_p = self.dropout if self.training else 0.0
        if past_len == 0:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
        elif t == 1:
            # One new query may see every cached key: no mask needed.
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
        else:
            # is_causal aligns the mask to the top-left corner, which is wrong once keys run
            # ahead of queries; query i sits at absolute position past_len + i.
            mask = torch.ones(t, past_len + t, dtype=torch.bool, device=x.device).tril(past_len)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        y = y.transpose(1, 2).reshape(b, t, d)
        return self.resid_dropout(self.proj(y)), (k, v)


class _Block(nn.Module):
    def __init__(self, config: SequenceModelConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(config.d_model)
        self.attn = _CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(config.d_model, 4 * config.d_model),
            nn.GELU(),
            nn.Linear(4 * config.d_model, config.d_model),
            nn.Dropout(config.dropout),
        )

    def forward(
        self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        attended, present = self.attn(self.ln1(x), past)
        x = x + attended
        return x + self.mlp(self.ln2(x)), present


class TransformerLM(nn.Module):
    """Decoder-only Transformer language model with a key/value cache.

    Learned token and position embeddings, ``n_layers`` pre-LayerNorm blocks of causal
    multi-head self-attention and a GELU MLP (4x wide), a final LayerNorm and a linear head,
    initialized as GPT-2 (normal, std 0.02; residual projections scaled by
    ``1 / sqrt(2 n_layers)``).

    Parameters
    ----------
    config : SequenceModelConfig
        Sizes; ``config.kind`` must be ``"transformer"``.

    References
    ----------
    Vaswani et al. 2017, Attention Is All You Need; Radford et al. 2019, Language Models are
    Unsupervised Multitask Learners (GPT-2, pre-LayerNorm blocks).
    """

    def __init__(self, config: SequenceModelConfig) -> None:
        super().__init__()
        if config.kind != "transformer":
            raise ConfigError(f"TransformerLM needs kind='transformer', got {config.kind!r}")
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.position_embedding = nn.Embedding(config.max_len, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.n_layers))
        self.final_norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.apply(self._init_weights)
        for name, parameter in self.named_parameters():
            if name.endswith("attn.proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(parameter, std=0.02 / math.sqrt(2 * config.n_layers))
        if config.tie_embeddings:
            self.head.weight = self.token_embedding.weight

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    @property
    def max_len(self) -> int:
        """Longest sequence, cached tokens included, the model accepts."""
        return self.config.max_len

    def forward(
        self, tokens: torch.Tensor, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, KVCache]:
        """Next-token logits for every position of ``tokens``.

        Parameters
        ----------
        tokens : torch.Tensor
            ``(B, T)`` token ids. With a ``cache``, only the tokens that follow the cached ones.
        cache : list of (torch.Tensor, torch.Tensor) or None
            The ``new_cache`` of the previous call over the same sequences.

        Returns
        -------
        logits : torch.Tensor
            ``(B, T, vocab_size)``; position ``t`` predicts token ``t + 1``.
        new_cache : list of (torch.Tensor, torch.Tensor)
            Keys and values of every layer for all tokens so far, ``(B, n_heads, length,
            d_model / n_heads)`` each. Returned also in training (it costs nothing the backward
            pass does not keep anyway); drop it there.

        Raises
        ------
        ConfigError
            If the cached plus new tokens exceed ``max_len``.
        ParameterError
            If ``tokens`` is not a ``(B, T)`` LongTensor of ids in range, or the cache does not
            match the model.
        """
        _check_tokens(tokens, self.config.vocab_size)
        past_len = 0
        if cache is not None:
            if len(cache) != len(self.blocks):
                raise ParameterError(
                    f"cache must hold one (k, v) per layer ({len(self.blocks)}), got {len(cache)}"
                )
            past_len = cache[0][0].shape[2]
        t = tokens.shape[1]
        if past_len + t > self.config.max_len:
            raise ConfigError(
                f"sequence of {past_len + t} tokens exceeds max_len={self.config.max_len}; "
                "raise max_len in the model config or generate fewer tokens"
            )
        positions = torch.arange(past_len, past_len + t, device=tokens.device)
        x = self.dropout(self.token_embedding(tokens) + self.position_embedding(positions))
        new_cache: KVCache = []
        for i, block in enumerate(self.blocks):
            x, present = block(x, None if cache is None else cache[i])
            new_cache.append(present)
        return self.head(self.final_norm(x)), new_cache

    @staticmethod
    def select_cache(cache: KVCache, rows: torch.Tensor) -> KVCache:
        """Return the cache of some of its sequences (``rows``: batch indices, in order).

        For samplers that drop finished sequences from a batch, as beam searches reorder
        theirs.
        """
        return [(keys[rows], values[rows]) for keys, values in cache]


class RecurrentLM(nn.Module):
    """LSTM or GRU language model; its cache is the recurrent state.

    Token embedding, dropout, a stacked ``nn.LSTM`` or ``nn.GRU`` of width ``d_model`` (dropout
    between layers), dropout and a linear head.

    Parameters
    ----------
    config : SequenceModelConfig
        Sizes; ``config.kind`` must be ``"lstm"`` or ``"gru"``. ``n_heads`` and ``max_len`` are
        not used.

    References
    ----------
    Hochreiter & Schmidhuber 1997 (LSTM); Cho et al. 2014 (GRU); Graves 2013, Generating
    Sequences With Recurrent Neural Networks.
    """

    def __init__(self, config: SequenceModelConfig) -> None:
        super().__init__()
        if config.kind not in ("lstm", "gru"):
            raise ConfigError(f"RecurrentLM needs kind 'lstm' or 'gru', got {config.kind!r}")
        self.config = config
        rnn_class = nn.LSTM if config.kind == "lstm" else nn.GRU
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = rnn_class(
            config.d_model,
            config.d_model,
            num_layers=config.n_layers,
            batch_first=True,
            dropout=config.dropout if config.n_layers > 1 else 0.0,
        )
        self.head = nn.Linear(config.d_model, config.vocab_size)
        if config.tie_embeddings:
            self.head.weight = self.token_embedding.weight

    @property
    def max_len(self) -> None:
        """None: a recurrent model has no length limit."""
        return None

    def forward(
        self,
        tokens: torch.Tensor,
        cache: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | tuple[torch.Tensor, torch.Tensor]]:
        """Next-token logits for every position of ``tokens``.

        Parameters
        ----------
        tokens : torch.Tensor
            ``(B, T)`` token ids. With a ``cache``, only the tokens that follow the cached ones.
        cache : torch.Tensor, tuple of torch.Tensor, or None
            The recurrent state returned by the previous call: ``h`` for a GRU, ``(h, c)`` for an
            LSTM, each ``(n_layers, B, d_model)``.

        Returns
        -------
        logits : torch.Tensor
            ``(B, T, vocab_size)``; position ``t`` predicts token ``t + 1``.
        new_cache : torch.Tensor or tuple of torch.Tensor
            The state after the last token.

        Raises
        ------
        ParameterError
            If ``tokens`` is not a ``(B, T)`` LongTensor of ids in range.
        """
        _check_tokens(tokens, self.config.vocab_size)
        x = self.dropout(self.token_embedding(tokens))
        y, state = self.rnn(x, cache)
        return self.head(self.dropout(y)), state

    @staticmethod
    def select_cache(
        cache: torch.Tensor | tuple[torch.Tensor, torch.Tensor], rows: torch.Tensor
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Return the state of some of the batch's sequences (``rows``: batch indices)."""
        if isinstance(cache, tuple):
            return tuple(part[:, rows] for part in cache)  # type: ignore[return-value]
        return cache[:, rows]


def build_sequence_model(config: SequenceModelConfig) -> TransformerLM | RecurrentLM:
    """Build the model ``config.kind`` names.

    Parameters
    ----------
    config : SequenceModelConfig
        Model sizes and kind.

    Returns
    -------
    TransformerLM or RecurrentLM
        A freshly initialized model, in training mode.

    Examples
    --------
    >>> model = build_sequence_model(SequenceModelConfig(kind="gru", d_model=16, n_layers=1))
    >>> type(model).__name__
    'RecurrentLM'
    """
    if config.kind == "transformer":
        return TransformerLM(config)
    return RecurrentLM(config)
