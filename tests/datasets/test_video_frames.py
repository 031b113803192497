from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from aigc_studio.datasets import video_frames
from aigc_studio.datasets.cache import load_split, read_manifest
from aigc_studio.datasets.video_frames import (
    TRIPLET_MARGIN,
    camera_move,
    prepare_frame_triplets,
    prepare_sharp_frames,
    sample_path,
)
from aigc_studio.errors import MediaError, ParameterError, ToolMissingError


def _photo(path: Path, seed: int, size: tuple[int, int] = (160, 200)) -> Path:
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (*size, 3)).astype(np.float32)
    image = cv2.GaussianBlur(noise, (0, 0), 2.0)
    image = np.clip((image - image.mean()) * 4 + 128, 0, 255).astype(np.uint8)
    cv2.imwrite(str(path), image)
    return path


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    folder = tmp_path_factory.mktemp("photos")
    return [str(_photo(folder / f"photo{i}.png", i)) for i in range(6)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, photos: list[str]) -> str:
    from aigc_studio.media.video_io import VideoWriter

    path = tmp_path_factory.mktemp("clip") / "pan.mp4"
    frames = camera_move(cv2.imread(photos[0])[..., ::-1], 9, np.random.default_rng(1), (96, 80))
    with VideoWriter(path, 10, crf=10) as writer:
        for frame in frames:
            writer.write(frame)
    return str(path)


def test_camera_move_makes_moving_frames_of_the_asked_size() -> None:
    image = np.random.default_rng(0).integers(0, 255, (120, 150, 3), dtype=np.uint8)
    frames = camera_move(image, 3, np.random.default_rng(0), (64, 48))
    assert [f.shape for f in frames] == [(48, 64, 3)] * 3
    assert all(f.dtype == np.uint8 for f in frames)
    assert not np.array_equal(frames[0], frames[1]) and not np.array_equal(frames[1], frames[2])


def test_triplets_hold_the_classical_estimate_its_flows_context_and_the_truth(
    tmp_path: Path, photos: list[str], clip: str
) -> None:
    root = prepare_frame_triplets(
        tmp_path / "triplets",
        clips=[clip],
        clip_start=0,
        clip_stride=2,
        photos=photos,
        moves_per_photo=2,
        patch=24,
        patches_per_triplet=3,
    )
    manifest = read_manifest(root)
    assert manifest["params"]["margin"] == TRIPLET_MARGIN
    total = sum(manifest["splits"].values())
    assert total == 3 * (4 + 6 * 2)  # 4 clip triplets of 9 frames at stride 2, 12 camera moves
    train = load_split(root, "train", ["inputs", "flows", "frames", "target", "item_id"])
    count = len(train["item_id"])
    assert count > 0
    assert train["inputs"].shape == (count, 24, 24, 10) and train["inputs"].dtype == np.uint8
    assert train["flows"].shape == (count, 24, 24, 4) and train["flows"].dtype == np.float16
    side = 24 + 2 * TRIPLET_MARGIN
    assert train["frames"].shape == (count, side, side, 6)
    assert train["target"].shape == (count, 24, 24, 3)
    # The blend is close to the truth (it is the estimate of it), and not equal to it.
    blend = train["inputs"][..., 6:9].astype(float)
    error = np.abs(blend - train["target"]).mean()
    assert 0 < error < 40
    # All moves over one photograph share a split.
    for split in ("valid", "test"):
        ids = load_split(root, split, ["item_id"])["item_id"]
        photo_ids = {i.split("@")[0] for i in train["item_id"] if "@" in i}
        assert not photo_ids & {i.split("@")[0] for i in ids if "@" in i}


def test_sharp_patches_come_from_photos_and_clip_frames(
    tmp_path: Path, photos: list[str], clip: str
) -> None:
    root = prepare_sharp_frames(
        tmp_path / "sharp",
        photos=photos,
        patches_per_photo=5,
        clips=[clip],
        clip_start=0,
        clip_every=4,
        patches_per_frame=2,
        patch=32,
    )
    manifest = read_manifest(root)
    assert sum(manifest["splits"].values()) == 6 * 5 + 3 * 2
    train = load_split(root, "train", ["sharp"])["sharp"]
    assert train.shape[1:] == (32, 32, 3) and train.dtype == np.uint8


def test_bad_sizes_and_too_small_images_are_refused(tmp_path: Path, photos: list[str]) -> None:
    with pytest.raises(ParameterError, match="patch"):
        prepare_sharp_frames(tmp_path / "a", photos=photos, clips=[], patch=8)
    with pytest.raises(ParameterError, match="patch"):
        prepare_sharp_frames(tmp_path / "b", photos=photos, clips=[], patch=256)
    with pytest.raises(ParameterError, match="stride"):
        prepare_frame_triplets(tmp_path / "c", clips=[], photos=photos, clip_stride=0)


def test_sample_names_need_opencv_doc_and_paths_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(video_frames, "OPENCV_SAMPLES", tmp_path / "nowhere")
    with pytest.raises(ToolMissingError, match="opencv-doc"):
        sample_path("vtest.avi")
    with pytest.raises(MediaError, match="no such file"):
        sample_path(str(tmp_path / "missing.png"))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    with pytest.raises(MediaError, match="not an image"):
        prepare_sharp_frames(tmp_path / "d", photos=[str(broken)], clips=[])


def test_the_named_datasets_are_registered() -> None:
    from aigc_studio.datasets.registry import DATASETS

    assert DATASETS["frame-triplets"] is prepare_frame_triplets
    assert DATASETS["sharp-frames"] is prepare_sharp_frames


def test_a_file_found_only_compressed_is_decompressed_into_scratch(
    tmp_path: Path, photos: list[str]
) -> None:
    import gzip

    packed = tmp_path / "still.png.gz"
    packed.write_bytes(gzip.compress(Path(photos[0]).read_bytes()))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    found = sample_path(tmp_path / "still.png", scratch)
    assert found == scratch / "still.png"
    assert found.read_bytes() == Path(photos[0]).read_bytes()
    with pytest.raises(MediaError, match="no such file"):
        sample_path(tmp_path / "still.png")  # no scratch to decompress into
