from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from aigc_studio.datasets.cache import load_split
from aigc_studio.datasets.melody_tokens import BOS, EOS, PAD, VOCAB_SIZE
from aigc_studio.errors import ParameterError
from aigc_studio.music.ngram_baseline import NGramModel


def split_sequences(root: Path, split: str) -> list[np.ndarray]:
    data = load_split(root, split, ["tokens"])
    offsets, tokens = data["tokens_offsets"], data["tokens"]
    return [np.asarray(tokens[offsets[i] : offsets[i + 1]]) for i in range(len(offsets) - 1)]


REPEATING = [BOS] + [10, 20, 30, 40] * 60 + [EOS]


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_distribution_is_proper_after_any_context(order: int) -> None:
    rng = np.random.default_rng(order)
    train = [[BOS, *rng.integers(3, 30, size=50).tolist(), EOS] for _ in range(5)]
    model = NGramModel(order=order, vocab_size=40).fit(train)
    contexts = [[], [BOS], train[0][:7], [39, 38, 37, 36], [BOS, 5, 5, 5, 5, 5, 5, 5]]
    for context in contexts:
        probs = model.distribution(context)
        assert probs.shape == (40,) and np.all(probs > 0)
        assert probs.sum() == pytest.approx(1.0, abs=1e-12)
        for token in (0, 3, 17, 39):
            assert model.probability(token, context) == pytest.approx(probs[token], rel=1e-12)


def test_repeating_sequence_is_learned() -> None:
    model = NGramModel(order=3, vocab_size=VOCAB_SIZE).fit([REPEATING])
    assert model.nll_per_token([REPEATING]) < 0.05
    assert model.distribution([10, 20]).argmax() == 30
    unigram = NGramModel(order=1, vocab_size=VOCAB_SIZE).fit([REPEATING])
    assert unigram.nll_per_token([REPEATING]) > 1.0  # about log 4 without context


def test_held_out_bach_nll(tiny_bach: Path) -> None:
    train, test = split_sequences(tiny_bach, "train"), split_sequences(tiny_bach, "test")
    assert test, "the tiny cache must hold a test piece"
    scores = {
        n: NGramModel(order=n, vocab_size=VOCAB_SIZE).fit(train).nll_per_token(test) for n in (1, 4)
    }
    assert all(math.isfinite(s) for s in scores.values())
    assert scores[4] < scores[1] < math.log(VOCAB_SIZE)


def test_sampling_is_seeded_and_grammatical() -> None:
    model = NGramModel(order=3, vocab_size=VOCAB_SIZE).fit([REPEATING] * 3)
    first = model.sample(40, seed=1, bos=BOS, eos=EOS, exclude=[PAD])
    assert first == model.sample(40, seed=1, bos=BOS, eos=EOS, exclude=[PAD])
    assert first[0] == BOS and PAD not in first
    assert len(first) <= 41 and (first[-1] == EOS or len(first) == 41)
    body = first[1:]
    pairs = sum(
        1
        for a, b in zip(body, body[1:], strict=False)
        if (a, b) in {(10, 20), (20, 30), (30, 40), (40, 10)}
    )
    assert pairs >= 0.8 * (len(body) - 1)


def test_default_vocabulary_is_the_melody_tokenizers() -> None:
    from aigc_studio.datasets.melody_tokens import MelodyTokenizer

    model = NGramModel(order=2)
    assert model.vocab_size == MelodyTokenizer().vocab_size == VOCAB_SIZE
    # The header's control tokens (ids above the first vocabulary's 82) are in range.
    model.fit([[BOS, VOCAB_SIZE - 1, 10, EOS]])
    assert model.distribution([BOS]).shape == (VOCAB_SIZE,)


def test_bad_use() -> None:
    with pytest.raises(ParameterError, match="order"):
        NGramModel(order=0)
    with pytest.raises(ParameterError, match="not fitted"):
        NGramModel().distribution([BOS])
    model = NGramModel(order=2, vocab_size=10)
    with pytest.raises(ParameterError, match="tokens must be in"):
        model.fit([[1, 2, 10]])
    model.fit([[1, 2, 3]])
    with pytest.raises(ParameterError, match="at least two tokens"):
        model.nll_per_token([[1]])
    with pytest.raises(ParameterError, match="exclude removes"):
        model.sample(5, seed=0, exclude=range(10))
