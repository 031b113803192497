from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aigc_studio.datasets.cache import load_split, read_manifest
from aigc_studio.datasets.nsynth_gm import DEFAULT_PROGRAMS, PROGRAM_NAMES, prepare_nsynth_gm
from aigc_studio.datasets.split import SPLITS, split_of
from aigc_studio.errors import ParameterError, ToolMissingError
from aigc_studio.system_tools import find_soundfont, tool_status

needs_fluidsynth = pytest.mark.skipif(
    not tool_status("fluidsynth").found or find_soundfont() is None,
    reason="fluidsynth or a General MIDI soundfont is not installed",
)
PITCHES = [55, 62, 72]


def _estimated_pitch(segment: np.ndarray, sr: int) -> float:
    """MIDI pitch of the strongest spectral peak of the sustained part of a note."""
    part = segment[sr // 10 : sr // 2]
    spectrum = np.abs(np.fft.rfft(part * np.hanning(part.size), n=8 * part.size))
    freq = np.fft.rfftfreq(8 * part.size, 1 / sr)[np.argmax(spectrum)]
    return 69 + 12 * np.log2(freq / 440.0)


@pytest.fixture(scope="module")
def flute_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not tool_status("fluidsynth").found or find_soundfont() is None:
        pytest.skip("fluidsynth or a General MIDI soundfont is not installed")
    calls: list[tuple[str, int, int]] = []
    root = prepare_nsynth_gm(
        tmp_path_factory.mktemp("nsynth") / "tiny",
        programs=[73],
        pitches=PITCHES,
        velocities=[100],
        progress=lambda *args: calls.append(args),
    )
    assert calls[-1] == ("render nsynth-gm", 3, 3)
    return root


@needs_fluidsynth
def test_manifest_is_complete(flute_cache: Path) -> None:
    manifest = read_manifest(flute_cache)
    assert manifest["name"] == "nsynth-gm"
    assert sum(manifest["splits"].values()) == 3
    assert manifest["labels"]["instrument"] == ["flute"]
    assert manifest["labels"]["pitch"] == PITCHES
    assert manifest["fields"]["mel"]["shape_per_item"] == [128, 65]
    assert manifest["fields"]["audio"]["shape_per_item"] == [16384]
    assert len(manifest["stats"]["mean"]) == 128 == len(manifest["stats"]["std"])
    assert manifest["stats"]["from"] in ("train", "all splits (train is empty)")
    assert manifest["params"]["programs"] == [73] and manifest["dropped_silent"] == []


@needs_fluidsynth
def test_notes_are_where_they_should_be(flute_cache: Path) -> None:
    seen = []
    for split in SPLITS:
        data = load_split(flute_cache, split)
        assert data["audio"].shape == (len(data["item_id"]), 16384)
        assert data["mel"].shape == (len(data["item_id"]), 128, 65)
        for i, item_id in enumerate(data["item_id"]):
            assert split_of(str(item_id)) == split
            audio = np.asarray(data["audio"][i])
            pitch = int(data["pitch"][i])
            assert item_id == f"flute-{pitch}-100" and data["velocity"][i] == 100
            assert data["instrument"][i] == 0
            assert np.max(np.abs(audio)) == pytest.approx(0.9, abs=1e-4)
            # Segment starts at the onset: no sound before it, nothing left of the last note.
            assert np.max(np.abs(audio[:32])) < 0.01
            assert np.max(np.abs(audio[-800:])) < 0.1  # released after 0.75 s
            assert abs(_estimated_pitch(audio, 16000) - pitch) < 1.0
            seen.append(pitch)
    assert sorted(seen) == PITCHES


def test_missing_soundfont_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIGC_SOUNDFONT", str(tmp_path / "missing.sf2"))
    if not tool_status("fluidsynth").found:
        with pytest.raises(ToolMissingError, match="fluidsynth"):
            prepare_nsynth_gm(tmp_path / "out", programs=[73], pitches=[60])
        return
    with pytest.raises(ToolMissingError, match="soundfont"):
        prepare_nsynth_gm(tmp_path / "out", programs=[73], pitches=[60])
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"programs": [128]},
        {"programs": [0, 0]},
        {"pitches": []},
        {"velocities": [0]},
        {"note_seconds": 3.0},
        {"segment_samples": 64000},
        {"workers": 0},
    ],
)
def test_bad_parameters(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ParameterError):
        prepare_nsynth_gm(tmp_path / "out", **kwargs)


def test_default_programs_are_eight_named_families() -> None:
    assert len(DEFAULT_PROGRAMS) == 8
    assert {PROGRAM_NAMES[p] for p in DEFAULT_PROGRAMS} >= {"piano", "flute", "violin", "organ"}
