"""Drawing token sequences from autoregressive models: logit filtering and the sampling loop.

Works with any model that follows the sequence-model calling convention
``model(tokens, cache=None) -> (logits, new_cache)`` (see
:mod:`aigc_studio.models.sequence_models`). It returns token ids; decoding them to MIDI or audio
is the tokenizer's job.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from aigc_studio.errors import ParameterError

__all__ = ["filter_logits", "sample_sequence"]


def _check_filters(top_k: int | None, top_p: float | None) -> None:
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ParameterError(f"top_k must be an integer >= 1 or None, got {top_k!r}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ParameterError(f"top_p must be in (0, 1] or None, got {top_p!r}")


def filter_logits(
    logits: torch.Tensor, *, top_k: int | None = None, top_p: float | None = None
) -> torch.Tensor:
    """Mask all but the most likely tokens with ``-inf``: top-k, then nucleus (top-p).

    Top-k keeps exactly the ``k`` largest logits (ties broken by ``torch.topk``). Top-p keeps the
    smallest set of most likely tokens whose probabilities (softmax of the logits left by top-k)
    sum to at least ``p`` (Holtzman et al. 2020, The Curious Case of Neural Text Degeneration).
    The most likely token always survives.

    Parameters
    ----------
    logits : torch.Tensor
        ``(..., vocab)`` unnormalized log-probabilities (already divided by any temperature).
    top_k : int or None
        Keep this many tokens, >= 1; None (or ``k >= vocab``) keeps all.
    top_p : float or None
        Probability mass to keep, in ``(0, 1]``; None or 1 keeps all.

    Returns
    -------
    torch.Tensor
        A new tensor, same shape, with filtered entries set to ``-inf``.

    Raises
    ------
    ParameterError
        If ``top_k`` or ``top_p`` is out of range, or ``logits`` has no vocabulary axis.

    Examples
    --------
    >>> import torch
    >>> filter_logits(torch.tensor([1.0, 3.0, 2.0]), top_k=2)
    tensor([-inf, 3., 2.])
    """
    _check_filters(top_k, top_p)
    if logits.ndim < 1 or logits.shape[-1] == 0:
        raise ParameterError(
            f"logits must have a non-empty last (vocabulary) axis, got {tuple(logits.shape)}"
        )
    out = logits.clone()
    if top_k is not None and top_k < out.shape[-1]:
        # Scatter the kept values rather than compare with the k-th value, so ties at the
        # threshold cannot let more than k tokens through.
        values, indices = torch.topk(out, top_k, dim=-1)
        out = torch.full_like(out, float("-inf")).scatter(-1, indices, values)
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(out, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        mass_before = torch.cumsum(probs, dim=-1) - probs
        # A token is dropped when the more likely ones already reach p; the first has 0 before it.
        drop_sorted = mass_before >= top_p
        drop_sorted[..., 0] = False
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        out = out.masked_fill(drop, float("-inf"))
    return out


@torch.no_grad()
def sample_sequence(
    model: nn.Module,
    prompt: torch.Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    eos_id: int | None = None,
    forced: torch.Tensor | None = None,
) -> torch.Tensor:
    """Continue ``prompt`` with tokens drawn from the model, one at a time, using its cache.

    The prompt is run through the model once; every later call feeds only the newest token with
    the cache. Each step divides the last logits by ``temperature``, filters them with
    :func:`filter_logits` and draws from the softmax (ancestral sampling); temperature 0 takes
    the argmax (greedy decoding). Where ``forced`` imposes a token, that token replaces the draw
    and is what the model is fed next, so the free tokens are sampled conditioned on it (as in
    harmonizing a given melody, Hadjeres et al. 2017, DeepBach). The model runs in eval mode
    without gradients; its training flag is restored afterwards.

    Parameters
    ----------
    model : nn.Module
        Called as ``model(tokens, cache) -> (logits (B, T, vocab), new_cache)``. If it has a
        ``max_len`` attribute that is not None, prompt plus new tokens must fit in it.
    prompt : torch.Tensor
        ``(B, T0)`` LongTensor, ``T0 >= 1`` (start unconditional generation from a BOS token).
    max_new_tokens : int
        Tokens to generate, >= 1.
    temperature : float
        >= 0; below 1 sharpens, above 1 flattens the distribution, 0 is greedy.
    top_k, top_p : int, float or None
        See :func:`filter_logits`.
    generator : torch.Generator or None
        Source of randomness (on the model's device) for reproducible samples.
    eos_id : int or None
        End-of-sequence id: generation stops once every row has emitted it, and rows that
        finished earlier are padded with it (also where ``forced`` imposes another token).
    forced : torch.Tensor or None
        ``(B, max_new_tokens)`` LongTensor: ``-1`` where the model samples, a token id where
        that token is imposed. A draw is made at every step, imposed or not, so the generator
        advances the same way and all ``-1`` gives exactly the unforced sample.

    Returns
    -------
    torch.Tensor
        ``(B, T0 + n)``: the prompt followed by ``n <= max_new_tokens`` new tokens.

    Raises
    ------
    ParameterError
        If an argument is out of range.

    Examples
    --------
    >>> import torch
    >>> from aigc_studio.models.sequence_models import SequenceModelConfig, build_sequence_model
    >>> model = build_sequence_model(SequenceModelConfig(d_model=32, n_layers=1, n_heads=2))
    >>> sample_sequence(model, torch.zeros(2, 1, dtype=torch.long), 8, temperature=0).shape
    torch.Size([2, 9])
    """
    _check_filters(top_k, top_p)
    if prompt.ndim != 2 or prompt.dtype != torch.long or prompt.shape[1] == 0:
        raise ParameterError(
            f"prompt must be a LongTensor (B, T0) with T0 >= 1, got {prompt.dtype} "
            f"{tuple(prompt.shape)}"
        )
    if (
        isinstance(max_new_tokens, bool)
        or not isinstance(max_new_tokens, int)
        or max_new_tokens < 1
    ):
        raise ParameterError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ParameterError(f"temperature must be finite and >= 0, got {temperature!r}")
    if eos_id is not None and eos_id < 0:
        raise ParameterError(f"eos_id must be >= 0 or None, got {eos_id}")
    if forced is not None:
        if (
            not isinstance(forced, torch.Tensor)
            or forced.dtype != torch.long
            or tuple(forced.shape) != (prompt.shape[0], max_new_tokens)
        ):
            raise ParameterError(
                f"forced must be a LongTensor of shape (B, max_new_tokens) = "
                f"({prompt.shape[0]}, {max_new_tokens}), got "
                f"{getattr(forced, 'dtype', type(forced).__name__)} "
                f"{tuple(getattr(forced, 'shape', ()))}"
            )
        if forced.numel() and int(forced.min()) < -1:
            raise ParameterError("forced must hold -1 (sample) or token ids >= 0")
        forced = forced.to(prompt.device)
    max_len = getattr(model, "max_len", None)
    if max_len is not None and prompt.shape[1] + max_new_tokens > max_len:
        raise ParameterError(
            f"prompt ({prompt.shape[1]} tokens) plus max_new_tokens ({max_new_tokens}) exceeds "
            f"the model's max_len ({max_len})"
        )

    was_training = model.training
    model.eval()
    try:
        logits, cache = model(prompt)
        tokens = [prompt]
        finished = torch.zeros(prompt.shape[0], dtype=torch.bool, device=prompt.device)
        for step in range(max_new_tokens):
            next_token = _choose(logits[:, -1, :], temperature, top_k, top_p, generator)
            if forced is not None:
                imposed = forced[:, step]
                next_token = torch.where(imposed >= 0, imposed, next_token)
            if eos_id is not None:
                next_token = next_token.masked_fill(finished, eos_id)
                finished |= next_token == eos_id
            tokens.append(next_token[:, None])
            if (eos_id is not None and bool(finished.all())) or step == max_new_tokens - 1:
                break
            logits, cache = model(next_token[:, None], cache)
    finally:
        model.train(was_training)
    return torch.cat(tokens, dim=1)


def _choose(
    logits: torch.Tensor,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    generator: torch.Generator | None,
) -> torch.Tensor:
    if temperature == 0:
        return logits.argmax(dim=-1)
    filtered = filter_logits(logits.float() / temperature, top_k=top_k, top_p=top_p)
    probs = torch.softmax(filtered, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)
