from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from aigc_studio.datasets import registry
from aigc_studio.datasets.cache import default_dataset_root, read_manifest, write_cache
from aigc_studio.datasets.registry import DATASETS, folder_dataset_name, prepare_dataset
from aigc_studio.errors import ConfigError


@pytest.fixture
def fake_named(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """A named dataset whose preparer records its calls and writes a one-item cache."""
    calls: list[dict] = []

    def prepare_fake(out_root, *, size: int = 1, workers: int = 1, progress=None) -> Path:
        calls.append({"size": size, "workers": workers})
        if progress:
            progress("fake", 1, 1)
        fields = {"train": {"x": np.zeros((size, 2), np.float32)}}
        return write_cache(out_root, "fake", {"size": size}, fields)

    monkeypatch.setitem(DATASETS, "fake", prepare_fake)
    return calls


def test_known_names() -> None:
    assert set(DATASETS) >= {"nsynth-gm", "bach-melodies"}


def test_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="bach-melodies") as error:
        prepare_dataset("no-such-dataset")
    assert "nsynth-gm" in str(error.value)


def test_a_complete_cache_is_prepared_once(fake_named: list[dict], isolated_home: Path) -> None:
    progress: list[tuple] = []
    root = prepare_dataset("fake", progress=lambda *a: progress.append(a))
    assert root == default_dataset_root("fake") == isolated_home / "datasets" / "fake"
    assert progress == [("fake", 1, 1)]
    assert prepare_dataset("fake") == root and prepare_dataset("fake", workers=4) == root
    assert len(fake_named) == 1  # reused, workers do not change the data
    with pytest.raises(ConfigError, match="overwrite"):
        prepare_dataset("fake", size=3)
    prepare_dataset("fake", size=3, overwrite=True)
    assert read_manifest(root)["splits"]["train"] == 3 and len(fake_named) == 2
    with pytest.raises(ConfigError, match="size=3"):
        prepare_dataset("fake")  # the default (1) differs from the cache's 3


def test_explicit_out_and_unknown_option(fake_named: list[dict], tmp_path: Path) -> None:
    assert prepare_dataset("fake", tmp_path / "here") == tmp_path / "here"
    assert read_manifest(tmp_path / "here")["name"] == "fake"
    with pytest.raises(ConfigError, match="does not take"):
        prepare_dataset("fake", tmp_path / "there", colour="red")


def test_an_audio_folder_becomes_an_audio_cache(tmp_path: Path) -> None:
    folder = tmp_path / "samples"
    folder.mkdir()
    t = np.arange(8192) / 16000
    sf.write(folder / "tone.wav", 0.5 * np.sin(2 * np.pi * 440 * t), 16000)
    root = prepare_dataset(str(folder), segment_samples=4096)
    assert root == default_dataset_root(folder_dataset_name(folder))
    assert root.name.startswith("samples-")
    manifest = read_manifest(root)
    assert sum(manifest["splits"].values()) == 2 and "mel" in manifest["fields"]


def test_a_midi_only_folder_becomes_a_token_cache(tmp_path: Path) -> None:
    folder = tmp_path / "songs"
    folder.mkdir()
    midi = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=0)
    inst.notes += [pretty_midi.Note(80, 60 + k, 0.5 * k, 0.5 * k + 0.5) for k in range(4)]
    midi.instruments.append(inst)
    midi.write(str(folder / "song.mid"))
    (folder / "README.txt").write_text("other files do not count")
    root = prepare_dataset(str(folder), tmp_path / "cache")
    assert read_manifest(root)["fields"]["tokens"]["ragged"] is True


def test_folder_names_do_not_collide(tmp_path: Path) -> None:
    (tmp_path / "a" / "samples").mkdir(parents=True)
    (tmp_path / "b" / "samples").mkdir(parents=True)
    assert folder_dataset_name(tmp_path / "a" / "samples") != folder_dataset_name(
        tmp_path / "b" / "samples"
    )
    assert registry.folder_dataset_name(tmp_path / "a" / "samples").startswith("samples-")
