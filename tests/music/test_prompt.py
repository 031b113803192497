from __future__ import annotations

import pytest

from aigc_studio.errors import ParameterError
from aigc_studio.music.prompt import (
    CompositionControls,
    merge_controls,
    parse_key_name,
    parse_prompt,
)


def test_calm_folk_tune_in_d_minor() -> None:
    controls = parse_prompt("calm folk tune in D minor")
    assert controls.style == "folk"
    assert (controls.key, controls.mode) == (2, "minor")
    assert controls.tempo == 72
    assert controls.meter is None and controls.bars is None


@pytest.mark.parametrize(
    ("prompt", "key", "mode"),
    [
        ("a reel in Bb major", 10, "major"),
        ("something in F#", 6, None),
        ("a hymn in e flat major", 3, "major"),
        ("dorian tune in e dorian", 4, "minor"),
        ("a tune in a lively style", None, None),
        ("a march in a minor", 9, "minor"),
    ],
)
def test_keys_and_modes(prompt: str, key: int | None, mode: str | None) -> None:
    controls = parse_prompt(prompt)
    assert (controls.key, controls.mode) == (key, mode)


def test_dances_imply_meter_and_explicit_meter_wins() -> None:
    assert parse_prompt("a lively jig").meter == "6/8"
    assert parse_prompt("a lively jig").style == "jig"
    assert parse_prompt("a waltz").meter == "3/4"
    assert parse_prompt("a jig in 9/8").meter == "9/8"


def test_numbers_for_tempo_bars_and_words_for_temperature() -> None:
    controls = parse_prompt("an adventurous chorale at 84 bpm, 8 bars")
    assert controls.style == "chorale"
    assert controls.tempo == 84 and controls.bars == 8
    assert controls.temperature == pytest.approx(1.15)


def test_explicit_flags_win_over_prompt_over_defaults() -> None:
    prompt = parse_prompt("calm folk tune in D minor")
    explicit = CompositionControls(key=7)
    defaults = CompositionControls(style="reel", key=0, mode="major", meter="4/4", bars=16)
    merged = merge_controls(prompt, explicit, defaults)
    assert merged.key == 7  # the flag
    assert merged.mode == "minor" and merged.style == "folk"  # the prompt
    assert merged.meter == "4/4" and merged.bars == 16  # the defaults


def test_impossible_values_and_huge_prompts_are_refused() -> None:
    with pytest.raises(ParameterError, match="meter"):
        parse_prompt("a tune in 7/0")
    with pytest.raises(ParameterError, match="bars"):
        parse_prompt("0 bars please")
    with pytest.raises(ParameterError, match="characters"):
        parse_prompt("la " * 400)


def test_key_names() -> None:
    assert parse_key_name("C") == 0
    assert parse_key_name("f#") == 6
    assert parse_key_name("Bb") == 10
    assert parse_key_name("e-flat") == 3
    with pytest.raises(ParameterError, match="note name"):
        parse_key_name("H")
