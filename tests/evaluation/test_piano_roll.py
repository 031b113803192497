from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from aigc_studio.datasets import chorale_tokens as ct
from aigc_studio.errors import ParameterError
from aigc_studio.evaluation.piano_roll import frame_nll_per_step, step_nll
from aigc_studio.models.sequence_models import SequenceModelConfig, build_sequence_model


def tiny_chorale(steps: int) -> list[int]:
    voice = [ct.VoiceStep(60 + (t % 5), True) for t in range(steps)]
    grid = [[ct.VoiceStep(s.pitch + offset, True) for s in voice] for offset in (12, 7, 0, -12)]
    return ct.ChoraleTokenizer().encode(grid, meter="4/4", key="C major")


def test_defaults_match_the_tokenizer_layout() -> None:
    tokens = tiny_chorale(5)
    assert step_nll(np.zeros(len(tokens))).shape == (5,)
    assert ct.LOOKAHEAD == 8 and ct.HEADER_LENGTH == 4 and ct.GROUP_SIZE == 4


def test_each_step_sums_its_four_voice_tokens_and_nothing_else() -> None:
    steps, d = 3, ct.LOOKAHEAD
    tokens = np.array(tiny_chorale(steps))
    # Mark every token with its own NLL: 1000 for tokens that must not count.
    nll = np.full(len(tokens), 1000.0)
    for t in range(steps):
        nll[4 + 4 * t] = 1.0 + t  # soprano of step t, in group t
        nll[4 + 4 * (t + d) + 1 : 4 + 4 * (t + d) + 4] = [10.0, 100.0, 0.5]  # A, T, B of step t
        # The tokens at those positions are the voices of step t.
        assert tokens[4 + 4 * t] == ct.NOTE_OFFSET + 72 + t % 5 - ct.NOTE_MIN
        assert tokens[4 + 4 * (t + d) + 3] == ct.NOTE_OFFSET + 48 + t % 5 - ct.NOTE_MIN
    np.testing.assert_allclose(step_nll(nll), [111.5, 112.5, 113.5])
    assert frame_nll_per_step(nll) == pytest.approx(112.5)


def test_matches_the_model_sequence_nll_minus_the_excluded_tokens() -> None:
    torch.manual_seed(0)
    tokens = torch.tensor([tiny_chorale(4)])
    model = build_sequence_model(
        SequenceModelConfig(vocab_size=ct.VOCAB_SIZE, d_model=16, n_layers=1, n_heads=2, max_len=64)
    ).eval()
    with torch.no_grad():
        logits, _ = model(tokens)
    nll = F.cross_entropy(logits[0, :-1], tokens[0, 1:], reduction="none").numpy()
    token_nll = np.concatenate([[0.0], nll])
    per_step = step_nll(token_nll)
    # Counted positions: soprano of groups 0..3, alto/tenor/bass of groups 8..11.
    counted = [4 + 4 * g for g in range(4)] + [
        4 + 4 * g + v for g in range(8, 12) for v in (1, 2, 3)
    ]
    assert per_step.sum() == pytest.approx(token_nll[counted].sum(), rel=1e-6)
    assert frame_nll_per_step(token_nll) == pytest.approx(per_step.sum() / 4, rel=1e-6)


@pytest.mark.parametrize(
    "nll",
    [
        np.zeros((2, 48)),  # a batch, not one sequence
        np.zeros(47),  # not a whole number of groups
        np.zeros(4 + 4 * 9),  # header, lookahead and EOS but no step
        np.full(48, np.nan),
    ],
)
def test_rejects_arrays_that_do_not_fit_the_layout(nll: np.ndarray) -> None:
    with pytest.raises(ParameterError, match="token_nll"):
        frame_nll_per_step(nll)
