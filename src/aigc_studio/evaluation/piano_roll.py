"""Per-time-step negative log-likelihood of four-voice chorale models.

Polyphonic music models are traditionally scored by the log-likelihood per time step of a
piano roll (Boulanger-Lewandowski et al. 2012, Modeling Temporal Dependencies in
High-Dimensional Sequences). Our chorale models predict tokens, four per step
(:mod:`aigc_studio.datasets.chorale_tokens`); this module turns their per-token NLL into a
per-step figure. It takes arrays of NLL values; it does not run models.
"""

from __future__ import annotations

import numpy as np

from aigc_studio.errors import ParameterError

__all__ = ["frame_nll_per_step", "step_nll"]


def step_nll(
    token_nll: np.ndarray,
    *,
    lookahead: int = 8,
    header_length: int = 4,
    group_size: int = 4,
) -> np.ndarray:
    """Return the NLL of each time step of a chorale: the sum over its four voice tokens.

    In a chorale sequence (header, groups ``(S[t+D], A[t], T[t], B[t])`` for
    ``t = -D .. T-1``, an EOS group) the four tokens of step ``t`` sit in two groups: the
    soprano in group ``t``, the alto, tenor and bass ``D`` groups later. Only these ``4 T``
    tokens count; the header, the rests that pad voices outside ``[0, T)`` and the EOS group
    do not.

    Parameters
    ----------
    token_nll : np.ndarray
        ``(L,)`` negative log-likelihood (nats) of each token of one complete chorale sequence
        given the tokens before it, aligned with the tokens; entry 0 (BOS, never predicted) is
        ignored. ``L = header_length + group_size * (T + lookahead + 1)``.
    lookahead : int
        Steps the soprano runs ahead (``LOOKAHEAD`` of the tokenizer, 8), >= 0.
    header_length : int
        Tokens before the first group (4), >= 1.
    group_size : int
        Tokens per step, one per voice (4), >= 1.

    Returns
    -------
    np.ndarray
        ``(T,)`` float64, nats per step.

    Raises
    ------
    ParameterError
        If ``token_nll`` is not 1-D, not finite where it counts, or its length does not fit
        the layout with at least one step.

    Examples
    --------
    Given ``tokens`` (1, L) and ``logits, _ = model(tokens)``::

        nll = F.cross_entropy(logits[0, :-1], tokens[0, 1:], reduction="none")
        step_nll(np.concatenate([[0.0], nll.numpy()]))
    """
    nll = np.asarray(token_nll, dtype=np.float64)
    if nll.ndim != 1:
        raise ParameterError(f"token_nll must be 1-D (one sequence), got shape {nll.shape}")
    if lookahead < 0 or header_length < 1 or group_size < 1:
        raise ParameterError(
            f"lookahead must be >= 0 and header_length, group_size >= 1, got {lookahead}, "
            f"{header_length}, {group_size}"
        )
    body = nll.size - header_length
    steps = body // group_size - lookahead - 1 if body > 0 else 0
    if body <= 0 or body % group_size or steps < 1:
        raise ParameterError(
            f"token_nll length must be {header_length} + {group_size} * (steps + {lookahead} "
            f"+ 1) with steps >= 1, got {nll.size}"
        )
    groups = nll[header_length : header_length + group_size * (steps + lookahead)]
    groups = groups.reshape(steps + lookahead, group_size)
    per_step = groups[:steps, 0] + groups[lookahead:, 1:].sum(axis=1)
    if not np.all(np.isfinite(per_step)):
        raise ParameterError("token_nll must be finite at the voice tokens of every step")
    return per_step


def frame_nll_per_step(
    token_nll: np.ndarray,
    *,
    lookahead: int = 8,
    header_length: int = 4,
    group_size: int = 4,
) -> float:
    """Return a chorale model's NLL per time step: voice-token NLLs summed, over the steps.

    This is the mean of :func:`step_nll`: ``sum_t (nll S[t] + A[t] + T[t] + B[t]) / T``, in
    nats per eighth-note step; the negative is a log-likelihood per step. To pool a test set,
    weight each piece's value by its number of steps (or sum :func:`step_nll` over pieces and
    divide by the total steps).

    It is named after, and is the analogue of, the frame-level NLL of Boulanger-Lewandowski et
    al. 2012 on the JSB chorales, but it is **not the same quantity** and the numbers are not
    comparable. Their frame is a binary piano roll of 88 keys (A0-C8) per quarter note, scored
    as 88 Bernoulli variables: it says which pitches sound, not which voice sings them nor
    whether a note is struck or held. Ours is four categorical variables per eighth note, one
    per voice, each NOTE (struck), HOLD or REST: twice as many steps, voice assignment and
    re-striking must be predicted, and the soprano is predicted a bar ahead of the other
    voices. The corpus differs as well (music21's 350 chorale files, our own split, train
    transposed; their 382 JSB chorales with a 229/76/77 split).

    Parameters
    ----------
    token_nll : np.ndarray
        ``(L,)`` per-token NLL of one complete chorale sequence, see :func:`step_nll`.
    lookahead, header_length, group_size : int
        The sequence layout, see :func:`step_nll`.

    Returns
    -------
    float
        Nats per step.

    Raises
    ------
    ParameterError
        See :func:`step_nll`.

    Examples
    --------
    >>> import numpy as np
    >>> nll = np.zeros(4 + 4 * (2 + 8 + 1))  # two steps
    >>> nll[4] = nll[8] = 1.0  # the soprano of steps 0 and 1
    >>> nll[4 + 4 * 8 + 3] = 2.0  # the bass of step 0
    >>> frame_nll_per_step(nll)
    2.0
    """
    return float(
        step_nll(
            token_nll, lookahead=lookahead, header_length=header_length, group_size=group_size
        ).mean()
    )
