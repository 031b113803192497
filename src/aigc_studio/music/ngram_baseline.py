"""An n-gram language model over token sequences: the baseline beside the neural melody models.

:class:`NGramModel` is an order-n model with *interpolated Kneser-Ney* smoothing (Kneser & Ney
1995, in the interpolated form recommended by Chen & Goodman 1999): the highest order uses
absolute-discounted counts, every lower order the *continuation* counts (how many distinct
tokens precede an n-gram), one discount per order estimated as D = n1 / (n1 + 2 n2) from the
numbers n1, n2 of n-grams seen once and twice (Ney, Essen & Kneser 1994), and the unigram level
is interpolated with the uniform distribution over the vocabulary. So every token of the
vocabulary has a positive probability after every context, and the probabilities after any
context sum to 1 (:meth:`NGramModel.distribution`), which makes the held-out negative
log-likelihood (:meth:`NGramModel.nll_per_token`) finite and comparable with a neural model's.

Each training sequence is read with ``order - 1`` start symbols before it (a symbol outside the
vocabulary that is never predicted), as SRILM and KenLM do with ``<s>``. This module holds no
neural network and writes no files.

References
----------
Kneser, R. & Ney, H. (1995). Improved backing-off for M-gram language modeling. *ICASSP*.
Chen, S. F. & Goodman, J. (1999). An empirical study of smoothing techniques for language
modeling. *Computer Speech & Language* 13(4), 359-393.
Ney, H., Essen, U. & Kneser, R. (1994). On structuring probabilistic dependences in stochastic
language modelling. *Computer Speech & Language* 8(1), 1-38.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from aigc_studio.errors import ParameterError

#: Discounts are kept inside this interval (D = 1 would leave no mass for seen tokens' counts
#: of 1; D near 0 would starve the lower orders).
DISCOUNT_RANGE = (0.05, 0.95)


class _ContextTable:
    """Counts of the tokens that follow one context at one order."""

    __slots__ = ("tokens", "counts", "total", "by_token")

    def __init__(self, counter: Counter[int]) -> None:
        self.tokens = np.fromiter(counter.keys(), dtype=np.int64, count=len(counter))
        self.counts = np.fromiter(counter.values(), dtype=np.float64, count=len(counter))
        self.total = float(self.counts.sum())
        self.by_token = dict(counter)


class NGramModel:
    """Order-n interpolated Kneser-Ney language model over the integer tokens ``0..vocab_size-1``.

    Parameters
    ----------
    order : int
        n, the number of tokens in the longest n-gram (1-10); order 1 is a smoothed unigram.
    vocab_size : int, optional
        Number of tokens (2-65536); every token id must be below it. Default: the size of
        the melody vocabulary (:class:`~aigc_studio.datasets.melody_tokens.MelodyTokenizer`).

    Raises
    ------
    ParameterError
        If a parameter is out of range.

    Examples
    --------
    >>> model = NGramModel(order=3, vocab_size=5).fit([[1, 3, 4, 3, 4, 2]])
    >>> float(model.distribution([1, 3]).sum())
    1.0
    """

    def __init__(self, order: int = 5, vocab_size: int | None = None) -> None:
        if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= 10:
            raise ParameterError(f"order must be an integer in [1, 10], got {order!r}")
        if vocab_size is None:
            # Imported here: the datasets package is heavy, and most callers pass a size.
            from aigc_studio.datasets.melody_tokens import VOCAB_SIZE

            vocab_size = VOCAB_SIZE
        if (
            isinstance(vocab_size, bool)
            or not isinstance(vocab_size, int)
            or not 2 <= vocab_size <= 65536
        ):
            raise ParameterError(f"vocab_size must be an integer in [2, 65536], got {vocab_size!r}")
        self.order = order
        self.vocab_size = vocab_size
        #: The start symbol padding every sequence; it is outside the vocabulary.
        self.start = vocab_size
        #: ``tables[m]`` maps a context of ``m`` tokens to the counts of what follows it.
        self.tables: list[dict[tuple[int, ...], _ContextTable]] = [{} for _ in range(order)]
        self.discounts: list[float] = [0.5] * order
        self.fitted = False

    def fit(self, sequences: Iterable[Sequence[int]]) -> NGramModel:
        """Count the n-grams of training sequences (replacing earlier counts).

        Parameters
        ----------
        sequences : iterable of sequences of int
            Token sequences (e.g. ``BOS ... EOS`` melodies); each is read independently.

        Returns
        -------
        NGramModel
            ``self``.

        Raises
        ------
        ParameterError
            If a token is outside ``[0, vocab_size)`` or there are no tokens.
        """
        n = self.order
        top: Counter[tuple[int, ...]] = Counter()
        for sequence in sequences:
            tokens = self._checked(sequence)
            padded = (self.start,) * (n - 1) + tuple(tokens)
            top.update(padded[i : i + n] for i in range(len(padded) - n + 1))
        if not top:
            raise ParameterError("fit needs at least one token")
        # Continuation counts: N1+(. w_2..w_m) = distinct tokens seen before the (m-1)-gram.
        levels: list[Counter[tuple[int, ...]]] = [Counter() for _ in range(n)]
        levels[n - 1] = top
        for m in range(n - 1, 0, -1):
            for gram in levels[m]:
                levels[m - 1][gram[1:]] += 1
        for m, grams in enumerate(levels):
            by_context: dict[tuple[int, ...], Counter[int]] = defaultdict(Counter)
            for gram, count in grams.items():
                by_context[gram[:-1]][gram[-1]] = count
            self.tables[m] = {context: _ContextTable(c) for context, c in by_context.items()}
            self.discounts[m] = _discount(grams.values())
        self.fitted = True
        return self

    def distribution(self, context: Sequence[int]) -> np.ndarray:
        """Return the probability of every token after ``context``.

        Parameters
        ----------
        context : sequence of int
            The tokens so far; only the last ``order - 1`` matter. A context shorter than that
            is read as the start of a sequence.

        Returns
        -------
        np.ndarray
            float64, shape (vocab_size,), positive, summing to 1.

        Raises
        ------
        ParameterError
            If the model is not fitted or a token is out of range.
        """
        history = self._history(context)
        probs = np.full(self.vocab_size, 1.0 / self.vocab_size)
        for m in range(self.order):
            table = self.tables[m].get(history[len(history) - m :] if m else ())
            if table is None:  # unseen context: this order adds nothing, the lower one stands
                continue
            d = self.discounts[m]
            lower_weight = d * len(table.tokens) / table.total
            probs *= lower_weight
            probs[table.tokens] += (table.counts - d) / table.total
        return probs

    def probability(self, token: int, context: Sequence[int]) -> float:
        """Return the probability of one token after ``context`` (see :meth:`distribution`)."""
        if not 0 <= int(token) < self.vocab_size:
            raise ParameterError(f"token must be in [0, {self.vocab_size}), got {token}")
        history = self._history(context)
        prob = 1.0 / self.vocab_size
        for m in range(self.order):
            table = self.tables[m].get(history[len(history) - m :] if m else ())
            if table is None:
                continue
            d = self.discounts[m]
            count = table.by_token.get(int(token), 0)
            prob = max(count - d, 0.0) / table.total + d * len(table.tokens) / table.total * prob
        return prob

    def nll_per_token(self, sequences: Iterable[Sequence[int]]) -> float:
        """Return the mean negative log-likelihood per predicted token, in nats.

        The first token of each sequence (``BOS``) is given, not predicted, as in the next-token
        loss of the neural models (:mod:`aigc_studio.training.tasks.autoregressive`); every
        later token is predicted from the tokens before it.

        Parameters
        ----------
        sequences : iterable of sequences of int
            Held-out token sequences.

        Returns
        -------
        float
            Nats per token; ``exp`` of it is the perplexity.

        Raises
        ------
        ParameterError
            If the model is not fitted, a token is out of range, or no token is predicted.
        """
        total, count = 0.0, 0
        for sequence in sequences:
            tokens = self._checked(sequence)
            for i in range(1, len(tokens)):
                total -= math.log(
                    self.probability(tokens[i], tokens[max(0, i - self.order + 1) : i])
                )
                count += 1
        if count == 0:
            raise ParameterError("nll_per_token needs sequences of at least two tokens")
        return total / count

    def sample(
        self,
        n_tokens: int,
        seed: int,
        bos: int | None = None,
        eos: int | None = None,
        *,
        exclude: Sequence[int] = (),
    ) -> list[int]:
        """Draw a sequence from the model.

        Parameters
        ----------
        n_tokens : int
            Most tokens to draw after ``bos`` (1-100000).
        seed : int
            Seed of the random generator; the same seed gives the same sequence.
        bos : int, optional
            Token the sequence starts with (given, not drawn); it is included in the result.
        eos : int, optional
            Stop after drawing this token (it is included).
        exclude : sequence of int
            Tokens never drawn (e.g. padding); the rest are renormalized.

        Returns
        -------
        list of int

        Raises
        ------
        ParameterError
            If the model is not fitted or a parameter is out of range.
        """
        if not 1 <= n_tokens <= 100_000:
            raise ParameterError(f"n_tokens must be in [1, 100000], got {n_tokens}")
        for name, token in (("bos", bos), ("eos", eos), *(("exclude", t) for t in exclude)):
            if token is not None and not 0 <= token < self.vocab_size:
                raise ParameterError(
                    f"{name} must be a token in [0, {self.vocab_size}), got {token}"
                )
        self._require_fitted()
        rng = np.random.default_rng(seed)
        mask = np.ones(self.vocab_size, dtype=bool)
        mask[list(exclude)] = False
        if not mask.any():
            raise ParameterError("exclude removes every token")
        out = [] if bos is None else [int(bos)]
        for _ in range(n_tokens):
            probs = self.distribution(out) * mask
            token = int(rng.choice(self.vocab_size, p=probs / probs.sum()))
            out.append(token)
            if token == eos:
                break
        return out

    def _history(self, context: Sequence[int]) -> tuple[int, ...]:
        self._require_fitted()
        keep = self.order - 1
        recent = tuple(int(t) for t in context[max(0, len(context) - keep) :]) if keep else ()
        if any(not 0 <= t < self.vocab_size for t in recent):
            raise ParameterError(f"context tokens must be in [0, {self.vocab_size})")
        return (self.start,) * (self.order - 1 - len(recent)) + recent

    def _checked(self, sequence: Sequence[int]) -> list[int]:
        tokens = [int(t) for t in sequence]
        if tokens and not (min(tokens) >= 0 and max(tokens) < self.vocab_size):
            raise ParameterError(
                f"tokens must be in [0, {self.vocab_size}), got {min(tokens)}..{max(tokens)}"
            )
        return tokens

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise ParameterError("the n-gram model is not fitted; call fit() first")


def _discount(counts: Iterable[int]) -> float:
    """Return the absolute discount D = n1 / (n1 + 2 n2) (Ney, Essen & Kneser 1994), clipped."""
    tally = Counter(c for c in counts if c <= 2)
    n1, n2 = tally[1], tally[2]
    if n1 + n2 == 0:
        return 0.5
    return float(np.clip(n1 / (n1 + 2 * n2), *DISCOUNT_RANGE))
