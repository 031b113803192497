from __future__ import annotations

import pytest
import torch

from aigc_studio.datasets import melody_tokens as mt
from aigc_studio.errors import ParameterError
from aigc_studio.models.sequence_models import SequenceModelConfig, build_sequence_model
from aigc_studio.music.compose import (
    bar_steps,
    compose_melody,
    continue_melody,
    end_on_tonic,
    sample_drafts,
)
from aigc_studio.music.copy_check import IntervalIndex
from aigc_studio.music.prompt import CompositionControls


@pytest.fixture(scope="module")
def tiny_lm() -> torch.nn.Module:
    torch.manual_seed(0)
    config = SequenceModelConfig(
        vocab_size=mt.VOCAB_SIZE, d_model=32, n_layers=1, n_heads=2, max_len=64
    )
    return build_sequence_model(config).eval()


def _bars(tokens: list[int]) -> list[int]:
    """Sixteenths in each bar of a token sequence."""
    lengths: list[int] = []
    for token in tokens:
        if token == mt.BAR:
            lengths.append(0)
        elif mt.DUR_OFFSET <= token < mt.DUR_OFFSET + mt.MAX_DUR:
            lengths[-1] += token - mt.DUR_OFFSET + 1
    return lengths


@pytest.mark.parametrize(("meter", "steps"), [("4/4", 16), ("6/8", 12), ("3/4", 12), ("9/8", 18)])
def test_every_bar_is_whole_even_for_an_untrained_model(
    tiny_lm: torch.nn.Module, meter: str, steps: int
) -> None:
    controls = CompositionControls(style="folk", key=2, mode="minor", meter=meter, bars=12)
    # max_len 64 forces the sliding window several times over 12 bars.
    result = compose_melody(tiny_lm, controls, seed=3)
    assert result.tokens[-1] == mt.EOS
    assert _bars(result.tokens) == [steps] * 12
    assert sum(e.bar_start for e in result.events) == 12
    assert sum(e.duration for e in result.events) == pytest.approx(12 * steps / 4)


def test_same_seed_same_melody_other_seed_other_melody(tiny_lm: torch.nn.Module) -> None:
    controls = CompositionControls(style="reel", key=7, mode="major", meter="4/4", bars=4)
    a = compose_melody(tiny_lm, controls, seed=1)
    b = compose_melody(tiny_lm, controls, seed=1)
    c = compose_melody(tiny_lm, controls, seed=2)
    assert a.tokens == b.tokens
    assert a.tokens != c.tokens


def test_continuation_starts_on_a_bar_line_after_a_short_last_bar(tiny_lm) -> None:
    melody = [mt.MelodyEvent(60, 1.0, True), mt.MelodyEvent(62, 1.0, False)]  # half a 4/4 bar
    controls = CompositionControls(style="folk", key=0, mode="major", meter="4/4", bars=3)
    result = continue_melody(tiny_lm, melody, controls, seed=0)
    assert result.tokens[0] == mt.BAR
    assert _bars(result.tokens) == [16, 16, 16]


def test_copies_are_resampled_and_refused_when_every_attempt_copies(tiny_lm) -> None:
    controls = CompositionControls(style="folk", key=0, mode="major", meter="4/4", bars=8)
    first = compose_melody(tiny_lm, controls, seed=0, drafts=1)
    pitches = [e.pitch for e in first.events]
    index = IntervalIndex([("the-tune", pitches)], min_length=5)
    resampled = compose_melody(tiny_lm, controls, seed=0, copy_index=index, max_shared=4, drafts=1)
    assert resampled.seed != 0 and resampled.attempts > 1
    assert resampled.copy_report["length_notes"] <= 4
    # Every sample copies itself from an index of its own tunes: refused with the way out.
    one_draft = [compose_melody(tiny_lm, controls, seed=s, drafts=1) for s in range(3)]
    all_tunes = [(f"t{i}", [e.pitch for e in m.events]) for i, m in enumerate(one_draft)]
    with pytest.raises(ParameterError, match="allow-copying"):
        compose_melody(
            tiny_lm,
            controls,
            seed=0,
            copy_index=IntervalIndex(all_tunes, min_length=5),
            max_shared=4,
            max_attempts=3,
            drafts=1,
        )


def test_bad_controls_are_refused(tiny_lm: torch.nn.Module) -> None:
    good = {"style": "folk", "key": 0, "mode": "major", "meter": "4/4", "bars": 4}
    for bad, match in [
        ({"bars": 0}, "bars"),
        ({"bars": 10_000}, "bars"),
        ({"temperature": 0.0}, "temperature"),
        ({"style": "polka"}, "style"),
        ({"meter": "7/0"}, "meter"),
        ({"key": 12}, "key"),
    ]:
        with pytest.raises(ParameterError, match=match):
            compose_melody(tiny_lm, CompositionControls(**{**good, **bad}))


def test_bar_steps_reads_meters_and_refuses_nonsense() -> None:
    assert bar_steps("2/2") == 16 and bar_steps("12/8") == 24 and bar_steps("3/8") == 6
    with pytest.raises(ParameterError):
        bar_steps("four")


def test_recurrent_models_have_no_window(tiny_lm: torch.nn.Module) -> None:
    torch.manual_seed(0)
    gru = build_sequence_model(
        SequenceModelConfig(vocab_size=mt.VOCAB_SIZE, d_model=16, n_layers=1, kind="gru")
    )
    header = [mt.BOS, mt.style_token("jig"), mt.meter_token("6/8"), mt.key_token(2, "major")]
    (tokens,) = sample_drafts(gru, header, bars=5, bar_length=12, seed=0)
    assert _bars(tokens) == [12] * 5


@pytest.mark.parametrize("key", [0, 2, 9, 11])
def test_melodies_end_on_the_tonic_unless_asked_not_to(tiny_lm: torch.nn.Module, key: int) -> None:
    controls = CompositionControls(style="folk", key=key, mode="minor", meter="4/4", bars=4)
    for seed in range(4):
        # One draft: with several, the cadence can change which draft states the key best.
        ended = compose_melody(tiny_lm, controls, seed=seed, drafts=1)
        free = compose_melody(tiny_lm, controls, seed=seed, cadence=False, drafts=1)
        last = [e.pitch for e in ended.events if e.pitch is not None][-1]
        assert last % 12 == key
        free_last = [e.pitch for e in free.events if e.pitch is not None][-1]
        assert abs(last - free_last) <= 6  # only the last note moved, to the nearest tonic
        assert [e.duration for e in ended.events] == [e.duration for e in free.events]


def test_end_on_tonic_skips_trailing_rests_and_leaves_its_input_alone() -> None:
    melody = [mt.MelodyEvent(64, 1.0, True), mt.MelodyEvent(71, 1.0, False)]
    melody.append(mt.MelodyEvent(None, 2.0, False))
    moved = end_on_tonic(melody, 5)  # B (71) is a tritone from F: it goes down to 65
    assert [e.pitch for e in moved] == [64, 65, None]
    assert melody[1].pitch == 71
    assert end_on_tonic([mt.MelodyEvent(None, 4.0, True)], 0)[0].pitch is None


def _header(key: int = 2, mode: str = "minor") -> list[int]:
    return [mt.BOS, mt.style_token("folk"), mt.meter_token("4/4"), mt.key_token(key, mode)]


def test_drafts_are_whole_bars_each_and_repeat_for_a_seed(tiny_lm) -> None:
    # 12 bars through a 64-token window: every draft is re-windowed together.
    drafts = sample_drafts(tiny_lm, _header(), bars=12, bar_length=16, drafts=5, seed=4)
    assert len(drafts) == 5 and len({tuple(d) for d in drafts}) == 5
    for tokens in drafts:
        assert tokens[-1] == mt.EOS and mt.EOS not in tokens[:-1]
        assert _bars(tokens) == [16] * 12
    (one,) = sample_drafts(tiny_lm, _header(), bars=12, bar_length=16, seed=4)
    assert one == drafts[0]  # draft 0 does not depend on the drafts beside it
    again = sample_drafts(tiny_lm, _header(), bars=12, bar_length=16, drafts=5, seed=4)
    assert again == drafts


def test_guided_drafts_keep_their_grammar(tiny_lm) -> None:
    contrast = [_header(5, "major")]
    drafts = sample_drafts(
        tiny_lm,
        _header(),
        bars=4,
        bar_length=12,
        drafts=3,
        seed=0,
        contrast_prefixes=contrast,
        guidance=2.0,
    )
    assert [_bars(tokens) for tokens in drafts] == [[12] * 4] * 3


def test_compose_keeps_the_draft_that_states_its_key_most_clearly(
    tiny_lm, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aigc_studio.music import statistics

    scored: list[tuple[list, float]] = []

    def fake_clarity(melody: list, key: tuple[int, str]) -> float:
        assert key == (2, "minor")
        score = float(sum(e.pitch or 0 for e in melody) % 97)  # any score that varies
        scored.append((list(melody), score))
        return score

    monkeypatch.setattr(statistics, "key_clarity", fake_clarity)
    controls = CompositionControls(style="folk", key=2, mode="minor", meter="4/4", bars=4)
    result = compose_melody(tiny_lm, controls, seed=1, drafts=6)
    assert len(scored) == 6 and len({s for _, s in scored}) > 1
    assert result.events == max(scored, key=lambda pair: pair[1])[0]


def test_a_copying_best_draft_gives_way_to_the_next_of_the_same_attempt(tiny_lm) -> None:
    controls = CompositionControls(style="folk", key=0, mode="major", meter="4/4", bars=8)
    best = compose_melody(tiny_lm, controls, seed=0, drafts=4)
    index = IntervalIndex([("the-tune", [e.pitch for e in best.events])], min_length=5)
    checked = compose_melody(tiny_lm, controls, seed=0, drafts=4, copy_index=index, max_shared=4)
    assert checked.seed == 0 and checked.attempts == 1
    assert checked.events != best.events and checked.copy_report["length_notes"] <= 4


@pytest.mark.parametrize("drafts", [0, 17, True, 2.5])
def test_absurd_draft_counts_are_refused(tiny_lm, drafts) -> None:
    controls = CompositionControls(style="folk", key=0, mode="major", meter="4/4", bars=2)
    with pytest.raises(ParameterError, match="drafts"):
        compose_melody(tiny_lm, controls, drafts=drafts)
    with pytest.raises(ParameterError, match="drafts"):
        sample_drafts(tiny_lm, _header(), bars=2, bar_length=16, drafts=drafts)


class _WithoutSelectCache(torch.nn.Module):
    """The same model without ``select_cache``: finished drafts stay in the batch."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self.max_len = model.max_len
        self.config = model.config

    def forward(self, tokens: torch.Tensor, cache: object = None) -> tuple:
        return self.model(tokens, cache)


@pytest.mark.parametrize("kind", ["transformer", "gru"])
def test_dropping_finished_drafts_from_the_batch_changes_no_token(tiny_lm, kind: str) -> None:
    torch.manual_seed(0)
    model = (
        tiny_lm
        if kind == "transformer"
        else build_sequence_model(
            SequenceModelConfig(vocab_size=mt.VOCAB_SIZE, d_model=16, n_layers=1, kind="gru")
        ).eval()
    )
    header = _header()
    contrast = [_header(5, "major")]
    kwargs = {"bars": 6, "bar_length": 16, "drafts": 4, "seed": 2, "guidance": 1.0}
    dropped = sample_drafts(model, header, contrast_prefixes=contrast, **kwargs)
    kept = sample_drafts(_WithoutSelectCache(model), header, contrast_prefixes=contrast, **kwargs)
    assert dropped == kept
    assert len({len(tokens) for tokens in dropped}) > 1  # drafts did end at different steps
