"""Tests for logo/object removal by flow-guided propagation (aigc_studio.video.inpaint)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aigc_studio.errors import ConfigError, MediaError, ParameterError
from aigc_studio.evaluation.video import psnr
from aigc_studio.video.inpaint import (
    InpaintConfig,
    VideoInpainter,
    box_mask,
    check_mask,
    inpaint_frame,
    inpaint_frames,
    mask_from_image,
)

WIDTH, HEIGHT = 96, 72
BOX = (40, 26, 20, 16)


@pytest.fixture(scope="module")
def world(make) -> np.ndarray:
    """A textured scene larger than the frame, for the camera to pan over."""
    return make.smooth_texture(HEIGHT + 40, WIDTH + 80, 3, sigma=2.0)


def pan(world: np.ndarray, count: int, step: float = 3.0) -> list[np.ndarray]:
    """Frames of a camera panning right over ``world`` by ``step`` pixels per frame."""
    frames = []
    for i in range(count):
        shift = np.float32([[1, 0, -(4 + step * i)], [0, 1, -(6 + 0.5 * i)]])
        frames.append(cv2.warpAffine(world, shift, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR))
    return frames


def stamp(frames: list[np.ndarray], mask: np.ndarray) -> list[np.ndarray]:
    """Burn a white logo into every frame where ``mask`` is set."""
    out = []
    for frame in frames:
        logo = frame.copy()
        logo[mask] = 255
        out.append(logo)
    return out


# -- masks ---------------------------------------------------------------------------------


def test_box_mask_marks_the_rectangle():
    mask = box_mask(8, 6, (2, 1, 3, 2))
    assert mask.shape == (6, 8) and mask.dtype == bool
    assert mask.sum() == 6 and mask[1:3, 2:5].all()


@pytest.mark.parametrize(
    ("box", "match"),
    [
        ((90, 10, 20, 10), "reaches outside the 96x72 frame"),
        ((-1, 0, 5, 5), "outside"),
        ((200, 200, 5, 5), "outside"),
        ((0, 0, 0, 5), "empty"),
        ((1, 2, 3), "four integers"),
    ],
)
def test_box_outside_the_frame_or_malformed_is_refused(box, match):
    with pytest.raises(ParameterError, match=match):
        box_mask(WIDTH, HEIGHT, box)


def test_mask_pictures_and_size_checks():
    picture = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    picture[10:20, 30:40] = 255
    picture[0, 0] = 100  # dark gray stays
    mask = mask_from_image(picture)
    assert mask.sum() == 100 and not mask[0, 0]
    assert check_mask(picture[..., 0], (HEIGHT, WIDTH, 3)).sum() == 100
    with pytest.raises(MediaError, match="mask is 32x24 but the video is 96x72"):
        check_mask(np.zeros((24, 32), bool), (HEIGHT, WIDTH, 3))
    with pytest.raises(MediaError, match="covers the whole frame"):
        check_mask(np.ones((HEIGHT, WIDTH), bool), (HEIGHT, WIDTH))
    with pytest.raises(MediaError, match="uint8"):
        check_mask(np.zeros((HEIGHT, WIDTH), np.float32), (HEIGHT, WIDTH))


def test_inpaint_frame_fills_only_the_hole(world):
    frame = pan(world, 1)[0]
    mask = box_mask(WIDTH, HEIGHT, BOX)
    filled = inpaint_frame(stamp([frame], mask)[0], mask)
    np.testing.assert_array_equal(filled[~mask], frame[~mask])
    assert filled[mask].mean() < 200  # the white logo is gone


# -- video ---------------------------------------------------------------------------------


def test_moving_camera_fills_the_hole_from_other_frames(world):
    truth = pan(world, 9)
    mask = box_mask(WIDTH, HEIGHT, BOX)
    inpainter = VideoInpainter()
    out = list(inpainter.process(stamp(truth, mask), mask))
    assert len(out) == len(truth)
    assert inpainter.filled_from_frames > 3 * inpainter.filled_spatially
    middle = len(truth) // 2
    ours = psnr(truth[middle][mask], out[middle][mask])
    spatial = psnr(truth[middle][mask], inpaint_frame(stamp(truth, mask)[middle], mask)[mask])
    assert ours > spatial + 6
    assert ours > 28


def test_pixels_outside_the_grown_mask_are_untouched(world):
    frames = stamp(pan(world, 4), box_mask(WIDTH, HEIGHT, BOX))
    mask = box_mask(WIDTH, HEIGHT, BOX)
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    for before, after in zip(frames, inpaint_frames(frames, mask), strict=True):
        np.testing.assert_array_equal(after[~grown], before[~grown])


def test_static_shot_falls_back_to_spatial_inpainting(world):
    still = pan(world, 1)[0]
    mask = box_mask(WIDTH, HEIGHT, BOX)
    frames = stamp([still] * 4, mask)
    inpainter = VideoInpainter(InpaintConfig(dilate=0))
    out = list(inpainter.process(frames, mask))
    assert inpainter.filled_from_frames == 0
    assert inpainter.filled_spatially == 4 * mask.sum()
    np.testing.assert_array_equal(out[0], inpaint_frame(frames[0], mask))


def test_empty_mask_copies_frames_through(world):
    frames = pan(world, 3)
    empty = np.zeros((HEIGHT, WIDTH), bool)
    for before, after in zip(frames, inpaint_frames(frames, empty), strict=True):
        np.testing.assert_array_equal(after, before)


def test_a_mask_per_frame_removes_a_moving_object(world):
    background = pan(world, 8, step=2.0)
    frames, masks = [], []
    for i, frame in enumerate(background):
        mask = box_mask(WIDTH, HEIGHT, (10 + 6 * i, 30, 12, 12))
        masks.append(mask)
        frames.append(stamp([frame], mask)[0])
    out = list(inpaint_frames(frames, iter(masks)))
    scores = []
    for truth, filled, mask in zip(background, out, masks, strict=True):
        assert filled[mask].mean() < truth[mask].mean() + 30  # no white object left
        scores.append(psnr(truth[mask], filled[mask]))
    assert np.mean(scores) > 24


def test_masks_running_out_is_an_error(world):
    frames = pan(world, 3)
    masks = [box_mask(WIDTH, HEIGHT, BOX)]
    with pytest.raises(MediaError, match="ran out at frame 1"):
        list(inpaint_frames(frames, masks))


def test_mask_of_the_wrong_size_names_both_sizes(world):
    with pytest.raises(MediaError, match="is 32x24 but the video is 96x72"):
        list(inpaint_frames(pan(world, 2), np.zeros((24, 32), bool)))


def test_frames_of_another_shot_are_never_used(world, make):
    mask = box_mask(WIDTH, HEIGHT, BOX)
    first = pan(world, 4)  # shot 1: the hidden area shows as the camera pans
    warm = make.other_scene(1)[0]
    second = [cv2.resize(warm, (WIDTH, HEIGHT))] * 3  # shot 2: still, warm colors
    frames = stamp(first + second, mask)
    inpainter = VideoInpainter()
    out = list(inpainter.process(frames, mask))
    filled = out[len(first)][mask].reshape(-1, 3).mean(axis=0)
    surroundings = second[0][~mask].reshape(-1, 3).mean(axis=0)
    # Filled from the warm shot's own surroundings (red well above blue), not shot 1's gray.
    assert filled[0] > filled[2] + 40
    assert np.abs(filled - surroundings).max() < 40


def test_single_frame_and_small_frames(world, make):
    frame = pan(world, 1)[0]
    mask = box_mask(WIDTH, HEIGHT, BOX)
    out = list(inpaint_frames(stamp([frame], mask), mask))
    assert len(out) == 1 and out[0][mask].mean() < 200
    tiny = make.moving_square(3)  # 64x48
    small_mask = box_mask(64, 48, (2, 2, 5, 5))
    assert len(list(inpaint_frames(tiny, small_mask))) == 3


def test_config_round_trip_and_validation():
    config = InpaintConfig(neighbours=2, dilate=0)
    assert InpaintConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown inpaint option"):
        InpaintConfig.from_dict({"window": 3})
    for bad in ({"neighbours": 40}, {"flow_preset": "slow"}, {"dilate": -1}, {"context": 2},
                {"scene_threshold": 0}):  # fmt: skip
        with pytest.raises(ConfigError, match="inpaint"):
            InpaintConfig(**bad)
