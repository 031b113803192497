from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from aigc_studio.datasets import chorale_tokens as ct
from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.models.registry import build_model_config, get_model_spec
from aigc_studio.models.sequence_models import SequenceModelConfig, build_sequence_model
from aigc_studio.music.harmonize import harmonize, sample_chorale
from aigc_studio.training.config import TrainConfig
from aigc_studio.training.tasks import make_task
from aigc_studio.training.trained_model import TrainedModel

MELODY = [
    (67, True), (67, False), (69, True), (71, True), (72, True), (72, False), (72, False),
    (None, False), (74, True), (72, True), (71, True), (71, False), (69, True), (69, True),
    (67, True), (67, False),
]  # fmt: skip


NOTE = ct.ChoraleTokenizer().note_token


def tiny_model(max_len: int = 256, vocab_size: int = ct.VOCAB_SIZE) -> nn.Module:
    torch.manual_seed(0)
    config = SequenceModelConfig(
        vocab_size=vocab_size, d_model=32, n_layers=1, n_heads=2, max_len=max_len
    )
    return build_sequence_model(config)


class Preferring(nn.Module):
    """Follows the sequence-model convention; always prefers ``favourites`` in that order."""

    def __init__(self, favourites: list[int]) -> None:
        super().__init__()
        logits = torch.full((ct.VOCAB_SIZE,), -20.0)
        for rank, token in enumerate(favourites):
            logits[token] = 10.0 - 5.0 * rank
        self.register_buffer("logits", logits)
        self.lengths: list[int] = []
        self.windows = 0

    def forward(self, tokens: torch.Tensor, cache=None):
        seen = 0 if cache is None else cache
        self.windows += cache is None
        self.lengths.append(seen + tokens.shape[1])
        return self.logits.expand(*tokens.shape, -1), seen + tokens.shape[1]


class Oracle(nn.Module):
    """Follows the sequence-model convention; predicts the next token of one known sequence."""

    def __init__(self, sequence: list[int]) -> None:
        super().__init__()
        self.sequence = sequence

    def forward(self, tokens: torch.Tensor, cache=None):
        seen = 0 if cache is None else cache
        logits = torch.zeros(*tokens.shape, ct.VOCAB_SIZE)
        for offset in range(tokens.shape[1]):
            position = seen + offset + 1
            if position < len(self.sequence):
                logits[:, offset, self.sequence[position]] = 30.0
        return logits, seen + tokens.shape[1]


CHORALE = [
    MELODY,
    [(64, True), (64, False), (66, True), (67, True), (67, True), (67, False), (None, False),
     (None, False), (67, True), (67, False), (67, True), (66, True), (64, True), (64, False),
     (62, True), (62, False)],
    [(59, True), (60, True), (60, False), (62, True), (64, True), (64, False), (64, False),
     (64, False), (59, True), (64, True), (62, True), (62, False), (60, True), (60, True),
     (59, True), (59, False)],
    [(43, True)] * 4 + [(48, True), (48, False), (48, False), (None, False)]
    + [(43, True), (45, True), (47, True), (47, False), (48, True), (50, True), (43, True),
       (43, False)],
]  # fmt: skip


def assert_well_formed(grid: ct.Grid, steps: int) -> None:
    assert len(grid) == 4 and all(len(voice) == steps for voice in grid)
    for voice in grid:
        previous = None
        for pitch, onset in voice:
            if pitch is None:
                assert not onset
            else:
                assert ct.NOTE_MIN <= pitch <= ct.NOTE_MAX
                assert onset or pitch == previous
            previous = pitch


def test_harmonize_keeps_the_melody_and_fills_four_voices() -> None:
    grid = harmonize(MELODY, tiny_model(), meter="4/4", key="G major", seed=0)
    assert_well_formed(grid, len(MELODY))
    assert grid[0] == MELODY
    # The untrained model writes notes, not only rests, in the lower voices.
    assert any(step.onset for voice in grid[1:] for step in voice)


def test_harmonize_is_deterministic_per_seed() -> None:
    model = tiny_model()

    def run(seed: int) -> ct.Grid:
        return harmonize(MELODY, model, meter="3/4", key="e minor", seed=seed, temperature=1.5)

    assert run(4) == run(4)
    assert run(4)[1:] != run(5)[1:]


def test_lower_voices_only_hold_voice_tokens() -> None:
    # A model that prefers tokens out of grammar (EOS, BOS, a KEY) to NOTE_48: the grammar
    # mask leaves NOTE_48 the most likely token of every lower voice.
    model = Preferring([ct.EOS, ct.BOS, ct.KEY_OFFSET, NOTE(48), ct.HOLD])
    grid = harmonize(MELODY, model, meter="4/4", key="C major", temperature=0.0)
    assert grid[0] == MELODY
    for voice in grid[1:]:
        assert voice == [ct.VoiceStep(48, True)] * len(MELODY)


def test_long_melodies_are_generated_in_windows_of_the_context() -> None:
    melody = MELODY * 4  # 64 steps: 4 + 4 * 72 tokens
    spy = Preferring([NOTE(55)])
    grid = harmonize(melody, spy, meter="4/4", key="C major", context=64, temperature=0.0)
    assert grid[0] == melody and len(grid[3]) == len(melody)
    assert max(spy.lengths) <= 64
    # 4 + 288 tokens: a first window of 60 new tokens, then 32 per window of 32 + 32.
    assert spy.windows == 1 + (288 - 60) // 32 + 1
    model = tiny_model(max_len=48)  # the model's max_len bounds the window too
    assert_well_formed(harmonize(melody, model, meter="4/4", key="C major"), len(melody))


def test_a_model_that_knows_the_chorale_gives_it_back() -> None:
    # Checks the layout end to end: imposed soprano, lookahead, decoding of the lower voices.
    sequence = ct.ChoraleTokenizer().encode(CHORALE, meter="4/4", key="G major")
    grid = harmonize(MELODY, Oracle(sequence), meter="4/4", key="G major", temperature=0.0)
    assert grid == CHORALE
    for steps in (16, 40):  # stops at the EOS the model predicts after step 15
        free = sample_chorale(Oracle(sequence), steps=steps, key="G major", temperature=0.0)
        assert free == CHORALE


def test_trained_model_gives_its_context_and_must_know_chorale_tokens(tmp_path: Path) -> None:
    spec = get_model_spec("transformer-lm")
    values = {"vocab_size": 96, "d_model": 16, "n_layers": 1, "n_heads": 2, "max_len": 128}
    train = TrainConfig(
        model=spec.name, data="bach-chorales", run_dir=str(tmp_path), task={"context": 32}
    )
    task = make_task(spec, build_model_config(spec.name, values), train, None, torch.device("cpu"))
    spy = Preferring([NOTE(60)])
    trained = TrainedModel(spec, task, {"model": spy}, 0, tmp_path, "")
    task.state["token_names"] = ct.ChoraleTokenizer().token_names
    grid = harmonize(MELODY, trained, meter="4/4", key="C major")
    assert grid[0] == MELODY and max(spy.lengths) <= 32
    task.state.update(token_names=["PAD", "BOS", "EOS", "BAR"], dataset="bach-melodies")
    with pytest.raises(ConfigError, match="bach-melodies"):
        harmonize(MELODY, trained, meter="4/4", key="C major")


def test_sample_chorale_writes_the_steps_asked_for_or_stops_at_eos() -> None:
    model = tiny_model()
    grid = sample_chorale(model, steps=12, meter="3/4", key="D major", seed=3)
    assert 0 <= len(grid[0]) <= 12
    assert_well_formed(grid, len(grid[0]))
    assert grid == sample_chorale(model, steps=12, meter="3/4", key="D major", seed=3)
    never_ends = Preferring([NOTE(60), ct.EOS])
    assert_well_formed(sample_chorale(never_ends, steps=10, temperature=0.0), 10)
    # EOS may be drawn where a soprano token is due: here at once, an empty piece.
    ends = Preferring([ct.EOS, NOTE(62)])
    assert sample_chorale(ends, steps=10, temperature=0.0) == [[], [], [], []]


@pytest.mark.parametrize(
    ("melody", "kwargs", "error"),
    [
        ([], {}, ParameterError),
        ([(30, True)], {}, ParameterError),  # below NOTE_36
        ([(None, False), (60, False)], {}, ParameterError),  # a hold after silence
        (MELODY, {"top_p": 0.0}, ParameterError),
        (MELODY, {"key": "H major"}, ParameterError),
    ],
)
def test_harmonize_rejects_bad_input(melody: list, kwargs: dict, error: type) -> None:
    args = {"meter": "4/4", "key": "C major"} | kwargs
    with pytest.raises(error):
        harmonize(melody, tiny_model(), **args)


def test_a_model_with_a_smaller_vocabulary_is_refused() -> None:
    with pytest.raises(ConfigError, match="90"):
        harmonize(MELODY, tiny_model(vocab_size=82), meter="4/4", key="C major")
