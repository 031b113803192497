from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aigc_studio.datasets.audio_folder import prepare_audio_folder, slice_segments
from aigc_studio.datasets.cache import load_split, read_manifest
from aigc_studio.datasets.split import SPLITS, split_of
from aigc_studio.errors import MediaError, ParameterError

SR = 16_000
SEG = 4096


def _tone(freq: float, seconds: float, sr: int = SR, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def sound_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "sounds"
    (folder / "sub").mkdir(parents=True)
    sf.write(folder / "a.wav", _tone(440, 4 * SEG / SR), SR)  # 4 segments
    # 2 tone segments around 2 silent ones: the silent ones are dropped.
    gap = np.concatenate([_tone(300, SEG / SR), np.zeros(2 * SEG), _tone(300, SEG / SR)])
    sf.write(folder / "sub" / "b.flac", gap, SR)
    # A one-shot shorter than a segment, at 22.05 kHz in stereo: resampled, mixed, padded.
    sf.write(folder / "c.wav", np.stack([_tone(880, 0.1, 22050)] * 2, axis=1), 22050)
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (folder / "notes.txt").write_text("not audio")
    return folder


def test_prepares_segments_and_skips_the_corrupt_file(sound_folder: Path, tmp_path: Path) -> None:
    root = prepare_audio_folder(sound_folder, tmp_path / "cache", segment_samples=SEG)
    manifest = read_manifest(root)
    assert [s["file"] for s in manifest["skipped"]] == ["broken.wav"]
    assert manifest["labels"]["file"] == ["a.wav", "c.wav", "sub/b.flac"]
    assert sum(manifest["splits"].values()) == 4 + 1 + 2
    ids_by_file: dict[str, set[str]] = {}
    for split in SPLITS:
        data = load_split(root, split)
        assert data["audio"].shape[1:] == (SEG,) and data["mel"].shape[1:] == (128, 17)
        for i, item_id in enumerate(data["item_id"]):
            relative, index = str(item_id).split("#")
            assert manifest["labels"]["file"][data["file"][i]] == relative
            assert split_of(relative) == split  # every segment of a file in the file's split
            ids_by_file.setdefault(relative, set()).add(index)
            rms = np.sqrt(np.mean(np.square(data["audio"][i])))
            assert rms > 0.01  # no silent segment kept
    assert ids_by_file == {"a.wav": {"0", "1", "2", "3"}, "sub/b.flac": {"0", "3"}, "c.wav": {"0"}}


def test_hop_gives_overlapping_segments() -> None:
    audio = _tone(440, 2 * SEG / SR)
    assert len(slice_segments(audio, SEG, SEG // 2, -50.0)) == 3
    assert len(slice_segments(audio, SEG, SEG, -50.0)) == 2
    assert slice_segments(np.zeros(SEG, np.float32), SEG, SEG, -50.0) == []
    short = slice_segments(audio[:100], SEG, SEG, -80.0)
    assert len(short) == 1 and short[0][1].shape == (SEG,) and not short[0][1][100:].any()


def test_a_folder_without_readable_audio_fails(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.wav").write_bytes(b"nope")
    with pytest.raises(MediaError, match="no readable"):
        prepare_audio_folder(folder, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    "kwargs", [{"sr": 1000}, {"segment_samples": 100}, {"hop_samples": 0}, {"min_rms_db": 5.0}]
)
def test_bad_parameters(sound_folder: Path, tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ParameterError):
        prepare_audio_folder(sound_folder, tmp_path / "cache", **kwargs)
