"""Tests for shot detection and the per-frame scene-cut test (aigc_studio.video.shots)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from aigc_studio.errors import MediaError, ParameterError
from aigc_studio.media.video_io import VideoWriter
from aigc_studio.video.shots import (
    SCENE_CUT_THRESHOLD,
    Shot,
    detect_shots,
    is_scene_cut,
    scene_cut_score,
)

FPS = 24


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory, make):
    """12 frames: 6 of the moving square, then a hard cut to 6 frames of another scene."""
    path = tmp_path_factory.mktemp("shots") / "cut.mp4"
    with VideoWriter(path, FPS, preset="ultrafast") as writer:
        for frame in make.moving_square(6) + make.other_scene(6):
            writer.write(frame)
    return path


def test_detect_shots_finds_the_hard_cut(cut_clip):
    shots = detect_shots(cut_clip, min_scene_len=2)
    assert [(s.start_frame, s.end_frame) for s in shots] == [(0, 6), (6, 12)]
    assert [s.index for s in shots] == [0, 1]
    assert shots[1].start_s == pytest.approx(6 / FPS) and shots[1].end_s == pytest.approx(0.5)
    assert shots[0].frames == 6 and shots[0].duration_s == pytest.approx(0.25)
    assert json.loads(json.dumps(shots[0].to_dict()))["end_frame"] == 6


def test_frames_count_from_the_first_even_when_it_is_stamped_late(tmp_path, make):
    # As in opencv-doc's Megamind.avi, the first frame is stamped one frame in: shots still
    # start at frame 0 (VideoReader's numbering) and cover every frame.
    path = tmp_path / "late.mkv"
    with VideoWriter(path, FPS, codec="ffv1") as writer:
        for index, frame in enumerate(make.moving_square(6) + make.other_scene(6)):
            writer.write(frame, time=(index + 1) / FPS)
    shots = detect_shots(path, min_scene_len=2)
    assert [(s.start_frame, s.end_frame) for s in shots] == [(0, 6), (6, 12)]


def test_one_shot_without_a_cut(tmp_path, make):
    path = tmp_path / "still.mp4"
    with VideoWriter(path, FPS, preset="ultrafast") as writer:
        for frame in make.moving_square(8):
            writer.write(frame)
    assert detect_shots(path, min_scene_len=2) == [Shot(0, 0, 8, 0.0, 8 / FPS)]


def test_a_cut_closer_than_min_scene_len_is_merged(cut_clip):
    assert len(detect_shots(cut_clip, min_scene_len=8)) == 1


def test_missing_and_audio_only_files_are_refused(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        detect_shots(tmp_path / "nope.mp4")
    wav = tmp_path / "tone.wav"
    sf.write(wav, np.zeros(1600, np.float32), 16_000)
    with pytest.raises(MediaError, match="no video stream"):
        detect_shots(wav)


@pytest.mark.parametrize(
    "kwargs", [{"threshold": 0}, {"threshold": 300}, {"min_scene_len": 0}, {"threshold": "x"}]
)
def test_bad_parameters(cut_clip, kwargs):
    with pytest.raises(ParameterError):
        detect_shots(cut_clip, **kwargs)


def test_scene_cut_between_shots_but_not_within(make):
    square = make.moving_square(4)
    other = make.other_scene(2)
    assert is_scene_cut(square[-1], other[0])
    assert not any(is_scene_cut(a, b) for a, b in zip(square, square[1:], strict=False))
    assert not is_scene_cut(other[0], other[1])
    assert scene_cut_score(square[-1], other[0]) > 2 * SCENE_CUT_THRESHOLD
    assert scene_cut_score(square[0], square[1]) < SCENE_CUT_THRESHOLD / 2


def test_score_range_and_identity(make):
    frame = make.moving_square(1)[0]
    assert scene_cut_score(frame, frame) == 0.0
    black, white = np.zeros_like(frame), np.full_like(frame, 255)
    # Same hue-saturation histogram (all gray), opposite values: colors 0.5, pixels 1.
    assert scene_cut_score(black, white) == pytest.approx(0.5**0.5)
    assert not is_scene_cut(black, white, threshold=1.0)  # 1.0 never reports a cut


def test_brightness_change_alone_is_not_a_cut(make):
    # A slow fade or exposure change moves the histogram a little and the pixels a little.
    frame = make.moving_square(1)[0]
    brighter = np.clip(frame.astype(int) + 12, 0, 255).astype(np.uint8)
    assert not is_scene_cut(frame, brighter)


def test_large_frames_are_compared_small(make):
    frame = make.square_frame(8, size=(1280, 720), side=200)
    moved = make.square_frame(40, size=(1280, 720), side=200)
    assert not is_scene_cut(frame, moved)


@pytest.mark.parametrize("threshold", [0, -0.1, 1.5, "high"])
def test_bad_threshold(make, threshold):
    frame = make.moving_square(1)[0]
    with pytest.raises(ParameterError, match="threshold"):
        is_scene_cut(frame, frame, threshold)


def test_frames_of_different_size_are_refused(make):
    frame = make.moving_square(1)[0]
    with pytest.raises(MediaError, match="cur"):
        scene_cut_score(frame, frame[:20])
