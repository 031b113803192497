from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aigc_studio.datasets.cache import (
    default_dataset_root,
    is_complete_cache,
    load_split,
    ragged_item,
    read_manifest,
    write_cache,
)
from aigc_studio.errors import ConfigError, ParameterError


def _fields(n: int, seed: int = 0) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    return {
        "mel": rng.normal(size=(n, 4, 5)).astype(np.float32),
        "pitch": np.arange(n, dtype=np.int16),
        "item_id": np.array([f"item-{seed}-{i}" for i in range(n)]),
        "tokens": [np.arange(i + 1, dtype=np.int32) for i in range(n)],
    }


def test_round_trip(tmp_path: Path) -> None:
    train, test = _fields(3, 0), _fields(2, 1)
    root = write_cache(
        tmp_path / "ds",
        "toy",
        {"sr": 16000, "pitches": range(2)},
        {"train": train, "test": test},
        stats={"mel": {"mean": np.zeros(4)}},
        labels={"pitch": [60, 61]},
    )
    manifest = read_manifest(root)
    assert manifest["name"] == "toy" and manifest["format_version"] == 1
    assert manifest["created_with"].startswith("aigc-studio ")
    assert manifest["params"] == {"sr": 16000, "pitches": [0, 1]}
    assert manifest["splits"] == {"train": 3, "valid": 0, "test": 2}
    assert manifest["fields"]["mel"] == {
        "dtype": "float32",
        "shape_per_item": [4, 5],
        "ragged": False,
    }
    assert manifest["fields"]["tokens"]["ragged"] is True
    assert manifest["stats"]["mel"]["mean"] == [0.0] * 4 and manifest["labels"]["pitch"] == [60, 61]
    loaded = load_split(root, "train")
    assert isinstance(loaded["mel"], np.memmap)
    np.testing.assert_array_equal(loaded["mel"], train["mel"])
    assert list(loaded["item_id"]) == list(train["item_id"])
    assert list(loaded["tokens_offsets"]) == [0, 1, 3, 6]
    np.testing.assert_array_equal(
        ragged_item(loaded["tokens"], loaded["tokens_offsets"], 2), [0, 1, 2]
    )
    assert (root / "train.tokens.npy").is_file() and (root / "train.tokens_offsets.npy").is_file()
    valid = load_split(root, "valid", ["mel", "tokens"])
    assert valid["mel"].shape == (0, 4, 5) and list(valid["tokens_offsets"]) == [0]
    assert set(load_split(root, "test", ["pitch"], mmap=False)) == {"pitch"}


def test_missing_or_foreign_cache_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="aigc data prepare --dataset nowhere"):
        read_manifest(tmp_path / "nowhere")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "manifest.json").write_text(
        json.dumps({"name": "x", "splits": {}, "fields": {}, "format_version": 0})
    )
    with pytest.raises(ConfigError, match="format 0"):
        load_split(tmp_path / "old", "train")
    assert not is_complete_cache(tmp_path / "old")


def test_unknown_split_or_field(tmp_path: Path) -> None:
    root = write_cache(tmp_path / "ds", "toy", {}, {"train": _fields(2)})
    with pytest.raises(ParameterError, match="split"):
        load_split(root, "training")
    with pytest.raises(ConfigError, match="no field"):
        load_split(root, "train", ["audio"])


def test_a_failed_write_leaves_the_old_cache_and_no_debris(tmp_path: Path) -> None:
    root = write_cache(tmp_path / "ds", "v1", {}, {"train": _fields(2)})
    bad = _fields(3)
    bad["pitch"] = bad["pitch"][:2]  # fewer items than the other fields
    with pytest.raises(ParameterError, match="different item counts"):
        write_cache(root, "v2", {}, {"train": bad})
    assert read_manifest(root)["name"] == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    write_cache(root, "v3", {}, {"train": _fields(1)})
    assert read_manifest(root)["splits"]["train"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_a_missing_array_is_reported(tmp_path: Path) -> None:
    root = write_cache(tmp_path / "ds", "toy", {}, {"train": _fields(2)})
    (root / "train.pitch.npy").unlink()
    with pytest.raises(ConfigError, match="missing"):
        load_split(root, "train")


def test_inconsistent_splits_are_refused(tmp_path: Path) -> None:
    other = _fields(2)
    del other["pitch"]
    with pytest.raises(ParameterError, match="fields"):
        write_cache(tmp_path / "ds", "toy", {}, {"train": _fields(2), "test": other})
    reshaped = _fields(2)
    reshaped["mel"] = np.zeros((2, 3, 5), np.float32)
    with pytest.raises(ParameterError, match="shape"):
        write_cache(tmp_path / "ds", "toy", {}, {"train": _fields(2), "test": reshaped})
    with pytest.raises(ParameterError, match="unknown split"):
        write_cache(tmp_path / "ds", "toy", {}, {"dev": _fields(2)})
    assert not (tmp_path / "ds").exists()


def test_never_replaces_a_folder_that_is_not_a_cache(tmp_path: Path) -> None:
    folder = tmp_path / "music"
    folder.mkdir()
    (folder / "song.wav").write_bytes(b"precious")
    with pytest.raises(ConfigError, match="not a dataset cache"):
        write_cache(folder, "toy", {}, {"train": _fields(1)})
    assert (folder / "song.wav").read_bytes() == b"precious"


def test_default_root_follows_aigc_home(isolated_home: Path) -> None:
    assert default_dataset_root("nsynth-gm") == isolated_home / "datasets" / "nsynth-gm"
    with pytest.raises(ParameterError, match="dataset name"):
        default_dataset_root("../escape")
