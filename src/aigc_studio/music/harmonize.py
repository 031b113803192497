"""Harmonize a melody in four parts, or write a free chorale, with a chorale language model.

The model is an autoregressive language model (``transformer-lm``, also ``lstm-lm`` or
``gru-lm``) trained on the ``bach-chorales`` tokens of
:mod:`aigc_studio.datasets.chorale_tokens`. Harmonizing samples the sequence with the
soprano's tokens imposed (:func:`aigc_studio.models.sampling.sample_sequence` with
``forced``) and the alto, tenor and bass drawn; since the soprano runs a bar ahead in the
sequence, each chord is chosen knowing the next bar of the tune. This is one left-to-right
pass, not the Gibbs resampling of DeepBach (Hadjeres et al. 2017), and the melody can only
be heard a bar ahead (BachBot's harmonization, Liang et al. 2017, is the closest relative).

A sequence longer than the model's context is generated in windows: each new window is
prompted with the last half of the context, so the model always sees what training showed
it. Grids come back as arrays of :class:`~aigc_studio.datasets.chorale_tokens.VoiceStep`;
turning them into MIDI or audio is the caller's job
(:func:`~aigc_studio.datasets.chorale_tokens.voices_to_pretty_midi`). This module does not
train models or read files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from aigc_studio.datasets.chorale_tokens import (
    BOS,
    EOS,
    GROUP_SIZE,
    HOLD,
    LOOKAHEAD,
    METER_OFFSET,
    NOTE_OFFSET,
    PAD,
    REST,
    VOCAB_SIZE,
    ChoraleTokenizer,
    Grid,
    Key,
    VoiceStep,
)
from aigc_studio.errors import ConfigError, ParameterError

if TYPE_CHECKING:
    from aigc_studio.training.trained_model import TrainedModel

__all__ = ["harmonize", "sample_chorale"]

#: Marks a token the model draws in a ``forced`` row of :func:`sample_sequence`.
FREE = -1


def harmonize(
    soprano_steps: Sequence[tuple[int | None, bool]],
    model: TrainedModel | nn.Module,
    *,
    meter: str,
    key: str | Key,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = 0.95,
    seed: int = 0,
    context: int | None = None,
) -> Grid:
    """Add alto, tenor and bass to a soprano melody.

    Parameters
    ----------
    soprano_steps : sequence of (pitch or None, onset)
        The melody on the eighth-note grid, step 0 a downbeat (e.g. from
        :func:`~aigc_studio.datasets.chorale_tokens.soprano_steps_from_midi`); pitches in
        [36, 84], a held step continuing the pitch before it.
    model : TrainedModel or nn.Module
        A chorale language model: a :class:`~aigc_studio.training.trained_model.TrainedModel`
        from :func:`~aigc_studio.training.trained_model.load_trained` of a run trained on
        ``bach-chorales``, or a module following the sequence-model calling convention over
        the chorale vocabulary.
    meter : str
        Time signature, e.g. ``"3/4"``.
    key : str or tuple of (int, str)
        E.g. ``"G major"`` (see :func:`~aigc_studio.datasets.chorale_tokens.parse_key`).
    temperature, top_k, top_p
        Sampling controls of :func:`~aigc_studio.models.sampling.sample_sequence`.
    seed : int
        Seed of the draws: the same seed, melody and model give the same harmony.
    context : int, optional
        Most tokens the model attends over at once; default the training context of a
        ``TrainedModel``, else the model's ``max_len`` (no limit for recurrent models).

    Returns
    -------
    Grid
        Soprano (the melody, rests as ``(None, False)``), alto, tenor and bass, each
        ``len(soprano_steps)`` steps.

    Raises
    ------
    ParameterError
        If the melody is empty or malformed, or a sampling argument is out of range.
    ConfigError
        If the model was not trained on chorale tokens.

    Examples
    --------
    >>> from aigc_studio.models.sequence_models import SequenceModelConfig, build_sequence_model
    >>> model = build_sequence_model(SequenceModelConfig(vocab_size=90, d_model=16, n_layers=1,
    ...                                                  n_heads=2, max_len=64))
    >>> melody = [(67, True), (67, False), (69, True), (71, True)]
    >>> grid = harmonize(melody, model, meter="4/4", key="G major", seed=1)
    >>> len(grid), len(grid[0]), grid[0] == melody
    (4, 4, True)
    """
    tokenizer = ChoraleTokenizer()
    soprano = [VoiceStep(*step) for step in soprano_steps]
    if not soprano:
        raise ParameterError("soprano_steps must hold at least one step")
    soprano_tokens = tokenizer.voice_tokens(soprano)
    forced: list[int] = []
    for group in range(len(soprano) + LOOKAHEAD):
        forced.append(soprano_tokens[group] if group < len(soprano) else REST)
        # The lower voices of steps before 0 are rests in every training sequence.
        forced += [REST if group < LOOKAHEAD else FREE] * (GROUP_SIZE - 1)
    header = [BOS, tokenizer.meter_token(meter), tokenizer.key_token(key), PAD]
    module, window = _language_model(model, context)
    tokens = _generate(
        module,
        header,
        forced,
        window=window,
        sampling={"temperature": temperature, "top_k": top_k, "top_p": top_p},
        seed=seed,
        allow_end=False,
    )
    return tokenizer.decode(tokens)


def sample_chorale(
    model: TrainedModel | nn.Module,
    *,
    steps: int,
    meter: str = "4/4",
    key: str | Key = "C major",
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = 0.95,
    seed: int = 0,
    context: int | None = None,
) -> Grid:
    """Write a four-part chorale from nothing but a meter and a key.

    All four voices are drawn; only the sequence layout's padding is imposed (rests in the
    lower voices before step 0, and in the soprano after the last step). The model may end the
    piece earlier by drawing EOS where a soprano token is due.

    Parameters
    ----------
    model : TrainedModel or nn.Module
        See :func:`harmonize`.
    steps : int
        Most eighth-note steps to write, >= 1.
    meter, key
        The header's time signature and key (see :func:`harmonize`).
    temperature, top_k, top_p, seed, context
        See :func:`harmonize`.

    Returns
    -------
    Grid
        Four voices of at most ``steps`` steps each (fewer if the model ended the piece).

    Raises
    ------
    ParameterError
        If ``steps`` or a sampling argument is out of range.
    ConfigError
        If the model was not trained on chorale tokens.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ParameterError(f"steps must be an integer >= 1, got {steps!r}")
    tokenizer = ChoraleTokenizer()
    forced: list[int] = []
    for group in range(steps + LOOKAHEAD):
        forced.append(FREE if group < steps else REST)
        forced += [REST if group < LOOKAHEAD else FREE] * (GROUP_SIZE - 1)
    header = [BOS, tokenizer.meter_token(meter), tokenizer.key_token(key), PAD]
    module, window = _language_model(model, context)
    tokens = _generate(
        module,
        header,
        forced,
        window=window,
        sampling={"temperature": temperature, "top_k": top_k, "top_p": top_p},
        seed=seed,
        allow_end=True,
    )
    return tokenizer.decode(tokens)


def _language_model(model: Any, context: int | None) -> tuple[nn.Module, int | None]:
    """Return the network to sample from and the window it may attend over."""
    from aigc_studio.training.trained_model import TrainedModel

    if isinstance(model, TrainedModel):
        if model.spec.family != "autoregressive" or "model" not in model.modules:
            raise ConfigError(
                f"{model.source}: {model.name} is not a language model; harmonizing needs a "
                "transformer-lm (or lstm-lm, gru-lm) trained on bach-chorales"
            )
        names = model.task.state.get("token_names")
        if names is not None and list(names) != ChoraleTokenizer().token_names:
            dataset = model.task.state.get("dataset") or "another dataset"
            raise ConfigError(
                f"{model.source}: trained on {dataset} tokens, not chorale tokens; train it on "
                "bach-chorales (preset transformer-chorales)"
            )
        module = model.modules["model"]
        if context is None:
            context = model.task.options.get("context")
    elif isinstance(model, nn.Module):
        module = model
    else:
        raise ParameterError(
            f"model must be a TrainedModel or an nn.Module, got {type(model).__name__}"
        )
    vocab = getattr(getattr(module, "config", None), "vocab_size", None)
    if vocab is not None and vocab < VOCAB_SIZE:
        raise ConfigError(f"the model has {vocab} tokens; chorale tokens need {VOCAB_SIZE}")
    max_len = getattr(module, "max_len", None)
    limits = [int(value) for value in (context, max_len) if value is not None]
    window = min(limits) if limits else None
    if window is not None:
        window -= window % GROUP_SIZE
        if window < 2 * GROUP_SIZE:
            raise ParameterError(
                f"context must be at least {2 * GROUP_SIZE} tokens, got {min(limits)}"
            )
    return module, window


class _ChoraleGrammar(nn.Module):
    """A language model whose logits are masked to the tokens a voice position may hold.

    Follows the sequence-model convention. Each uncached call must start at a group boundary
    (a header or a soprano token), so a token's role is its position modulo 4; soprano
    positions may also end the piece (EOS) when ``allow_end``.
    """

    def __init__(self, model: nn.Module, *, allow_end: bool) -> None:
        super().__init__()
        self.model = model
        self.allow_end = allow_end
        self._seen = 0
        self._blocked: torch.Tensor | None = None

    @property
    def max_len(self) -> int | None:
        """The wrapped model's ``max_len``."""
        return getattr(self.model, "max_len", None)

    def forward(self, tokens: torch.Tensor, cache: Any = None) -> tuple[torch.Tensor, Any]:
        """Masked next-token logits (see the class docstring) and the wrapped model's cache."""
        logits, new_cache = self.model(tokens, cache)
        if cache is None:
            self._seen = 0
        if self._blocked is None or self._blocked.shape[1] != logits.shape[-1]:
            allowed = torch.zeros(GROUP_SIZE, logits.shape[-1], dtype=torch.bool)
            allowed[:, [HOLD, REST]] = True
            allowed[:, NOTE_OFFSET:METER_OFFSET] = True
            allowed[0, EOS] = self.allow_end
            self._blocked = ~allowed
        # Position p predicts token p + 1, whose role is (p + 1) mod 4.
        length = tokens.shape[1]
        roles = torch.arange(self._seen + 1, self._seen + length + 1) % GROUP_SIZE
        self._seen += length
        blocked = self._blocked[roles].to(logits.device)
        return logits.masked_fill(blocked, float("-inf")), new_cache


def _generate(
    module: nn.Module,
    header: list[int],
    forced: list[int],
    *,
    window: int | None,
    sampling: dict[str, Any],
    seed: int,
    allow_end: bool,
) -> list[int]:
    """Sample ``len(forced)`` tokens after the header, window by window; return all tokens."""
    from aigc_studio.models.sampling import sample_sequence

    grammar = _ChoraleGrammar(module, allow_end=allow_end)
    parameter = next(module.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    generator = torch.Generator(device=device).manual_seed(int(seed))
    # Re-prompt with half a window, cut at a group boundary, like the training windows.
    keep = 0 if window is None else (window // 2) - (window // 2) % GROUP_SIZE
    tokens = list(header)
    produced = 0
    while produced < len(forced):
        # Without a window the first call produces everything, so keep is only used with one.
        prompt = tokens if produced == 0 else tokens[-keep:]
        room = len(forced) - produced if window is None else window - len(prompt)
        count = min(len(forced) - produced, room)
        new = sample_sequence(
            grammar,
            torch.tensor([prompt], dtype=torch.long, device=device),
            count,
            generator=generator,
            eos_id=EOS if allow_end else None,
            forced=torch.tensor([forced[produced : produced + count]], dtype=torch.long),
            **sampling,
        )[0, len(prompt) :].tolist()
        tokens += new
        produced += len(new)
        if allow_end and EOS in new:
            break
    return tokens
