from __future__ import annotations

import pytest

from aigc_studio.datasets.split import split_of, split_position
from aigc_studio.errors import ParameterError


def test_split_is_a_fixed_function_of_the_id() -> None:
    # Pinned values: a change of hash would silently move items between splits.
    assert split_of("flute-60-100") == "test"
    assert split_of("bwv269") == "train"
    assert split_of("flute-60-100") == split_of("flute-60-100")
    assert 0.0 <= split_position("anything") < 1.0


def test_proportions_on_ten_thousand_ids() -> None:
    splits = [split_of(f"item-{i}") for i in range(10_000)]
    assert abs(splits.count("valid") / 10_000 - 0.1) < 0.02
    assert abs(splits.count("test") / 10_000 - 0.1) < 0.02
    assert abs(splits.count("train") / 10_000 - 0.8) < 0.02


def test_custom_fractions() -> None:
    splits = [split_of(f"x{i}", valid_fraction=0.3, test_fraction=0.0) for i in range(5000)]
    assert "test" not in splits
    assert abs(splits.count("valid") / 5000 - 0.3) < 0.03
    assert {split_of(f"y{i}", 0.0, 0.0) for i in range(200)} == {"train"}


def test_adding_items_never_moves_existing_ones() -> None:
    before = {f"file-{i}.wav": split_of(f"file-{i}.wav") for i in range(1000)}
    grown = [f"file-{i}.wav" for i in range(3000)]
    after = {item: split_of(item) for item in reversed(grown)}
    assert all(after[item] == split for item, split in before.items())


@pytest.mark.parametrize(("valid", "test"), [(-0.1, 0.1), (0.1, 1.0), (0.6, 0.5)])
def test_bad_fractions(valid: float, test: float) -> None:
    with pytest.raises(ParameterError, match="fraction"):
        split_of("a", valid, test)
