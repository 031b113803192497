from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aigc_studio.datasets.cache import load_split, read_manifest
from aigc_studio.datasets.folk_melodies import (
    corpus_abc_files,
    folk_style,
    off_grid_fraction,
    prepare_folk_melodies,
    reference_numbers,
)
from aigc_studio.datasets.melody_tokens import BOS, EOS, MelodyTokenizer, controls_of
from aigc_studio.datasets.registry import DATASETS, prepare_dataset
from aigc_studio.datasets.split import SPLITS, split_of
from aigc_studio.errors import ConfigError, ParameterError


def items_of(root: Path) -> dict[str, dict]:
    """Every item of a cache by id: its split, tokens, style and transposition."""
    items = {}
    for split in SPLITS:
        data = load_split(root, split)
        offsets, tokens = data["tokens_offsets"], data["tokens"]
        for i, item_id in enumerate(data["item_id"]):
            items[str(item_id)] = {
                "split": split,
                "tokens": np.asarray(tokens[offsets[i] : offsets[i + 1]]),
                "style": str(data["style"][i]),
                "transpose": int(data["transpose"][i]),
            }
    return items


@pytest.fixture(scope="module")
def essen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first three Essen songs (altdeu10.abc X:1-3), about 3 s."""
    out = tmp_path_factory.mktemp("folk") / "essen"
    return prepare_folk_melodies(out, sources=("essen",), max_pieces=3, workers=1)


def test_style_follows_source_and_meter() -> None:
    assert folk_style("essen", "6/8") == folk_style("essen", None) == "folk"
    assert folk_style("oneill", "4/4") == folk_style("ryans", "2/2") == "reel"
    assert folk_style("ryans", "9/8") == folk_style("oneill", "12/8") == "jig"
    assert folk_style("oneill", "2/4") == folk_style("ryans", "other") == "fiddle"
    with pytest.raises(ParameterError, match="source"):
        folk_style("nottingham", "4/4")


def test_off_grid_fraction_counts_notes_that_change_length() -> None:
    straight = [(0.0, 0.5, 60), (0.5, 0.75, 62), (0.75, 1.0, 64)]
    assert off_grid_fraction(straight) == 0.0
    # A stray thirty-second shifts the rest by half a step; their lengths survive.
    shifted = [(0.0, 0.125, 60), *((0.125 + 0.25 * i, 0.375 + 0.25 * i, 62) for i in range(9))]
    assert off_grid_fraction(shifted) == pytest.approx(0.1)
    triplets = [(i / 3, (i + 1) / 3, 60) for i in range(3)]
    assert off_grid_fraction(triplets) == 1.0
    assert off_grid_fraction([]) == 0.0


def test_corpus_files_are_found() -> None:
    essen_files = corpus_abc_files("essen")
    assert len(essen_files) == 31 and essen_files[0].name == "altdeu10.abc"
    assert len(corpus_abc_files("ryans")) > 1000
    assert reference_numbers(essen_files[0])[:3] == [1, 2, 3]


def test_known_essen_songs_get_style_meter_and_key(essen: Path) -> None:
    items = items_of(essen)
    originals = {i: v for i, v in items.items() if "@" not in i}
    assert sorted(originals) == ["essen/altdeu10/1", "essen/altdeu10/2", "essen/altdeu10/3"]
    # Das Hildebrandslied: "M: 4/2" is not a METER token; "K: G" names the tonic of a song
    # with B-flats, so the mode is minor.
    hildebrand = originals["essen/altdeu10/1"]["tokens"]
    assert controls_of(hildebrand) == ("folk", "other", (7, "minor"))
    # Herzog Ernst: "M: none", "K: E" with G, C and F natural: E phrygian, a minor mode.
    assert controls_of(originals["essen/altdeu10/2"]["tokens"]) == ("folk", "other", (4, "minor"))
    tok = MelodyTokenizer()
    events = tok.decode(hildebrand)
    assert hildebrand[0] == BOS and hildebrand[-1] == EOS
    assert events[0].pitch == 67 and events[0].duration == 2.0 and events[0].bar_start
    assert [e.pitch for e in events[1:3]] == [70, 70]  # _B2B2: B-flat held by the signature


def test_cache_fields_splits_and_transposed_keys(essen: Path) -> None:
    manifest = read_manifest(essen)
    assert manifest["name"] == "folk-melodies" and manifest["vocab_size"] == 123
    assert manifest["fields"]["style"]["dtype"].startswith("<U")
    assert manifest["params"]["sources"] == ["essen"] and manifest["params"]["max_pieces"] == 3
    stats = manifest["stats"]
    assert sum(stats["sources"]["essen"].values()) == 3
    assert sum(stats["styles"]["folk"].values()) == 3 and stats["modes"] == {"minor": 3}
    items = items_of(essen)
    for item_id, item in items.items():
        original = item_id.split("@")[0]
        assert item["split"] == split_of(original)
        assert item["style"] == controls_of(item["tokens"]).style == "folk"
        if item["transpose"]:
            assert item["split"] == "train" and item_id == f"{original}@{item['transpose']:+d}"
            tonic, mode = controls_of(items[original]["tokens"]).key
            moved = controls_of(item["tokens"]).key
            assert moved == ((tonic + item["transpose"]) % 12, mode)
            # Only the KEY token and the notes move.
            assert np.array_equal(item["tokens"][:3], items[original]["tokens"][:3])


def test_pool_and_in_process_parsing_agree(tmp_path: Path) -> None:
    inline = prepare_folk_melodies(tmp_path / "a", sources=("ryans",), max_pieces=3, workers=1)
    pooled = prepare_folk_melodies(tmp_path / "b", sources=("ryans",), max_pieces=3, workers=2)
    first, second = items_of(inline), items_of(pooled)
    assert first.keys() == second.keys()
    for item_id, item in first.items():
        assert np.array_equal(item["tokens"], second[item_id]["tokens"])
        assert item["split"] == second[item_id]["split"]
    originals = {i.split("@")[0] for i in first}
    assert originals == {
        "ryans/42dHighlandRegimentStrathspey/1",
        "ryans/7thRegimentReel/1",
        "ryans/AWillieWeHaveMissdYouStrathspey/1",
    }
    controls = {i: controls_of(v["tokens"]) for i, v in first.items() if "@" not in i}
    assert controls["ryans/42dHighlandRegimentStrathspey/1"] == ("reel", "4/4", (9, "minor"))
    assert controls["ryans/7thRegimentReel/1"] == ("fiddle", "2/4", (9, "major"))
    # "K: Edor": dorian folds into minor.
    assert controls["ryans/AWillieWeHaveMissdYouStrathspey/1"] == ("reel", "4/4", (4, "minor"))


def test_registered_and_checked(tmp_path: Path) -> None:
    assert DATASETS["folk-melodies"] is prepare_folk_melodies
    out = tmp_path / "folk"
    options = {"sources": ["ryans"], "max_pieces": 1}
    root = prepare_dataset("folk-melodies", out, workers=1, **options)
    (root / "sentinel").touch()  # gone if the folder is written again
    # Prepared once: asking again (with any worker count) returns the cache as it is ...
    assert prepare_dataset("folk-melodies", out, workers=2, **options) == root
    assert (root / "sentinel").exists()
    # ... and other contents are refused.
    with pytest.raises(ConfigError, match="max_pieces"):
        prepare_dataset("folk-melodies", out, sources=["ryans"], max_pieces=2)
    with pytest.raises(ParameterError, match="sources"):
        prepare_folk_melodies("unused", sources=("essen", "nottingham"))
    with pytest.raises(ParameterError, match="sources"):
        prepare_folk_melodies("unused", sources=())
    with pytest.raises(ParameterError, match="max_pieces"):
        prepare_folk_melodies("unused", max_pieces=0)
    with pytest.raises(ParameterError, match="workers"):
        prepare_folk_melodies("unused", workers=0)
