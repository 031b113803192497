"""Tests for color correction and the temporally stable corrector (aigc_studio.video.color)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aigc_studio.errors import ConfigError, MediaError, ParameterError
from aigc_studio.evaluation.video import flicker, gray_world_error
from aigc_studio.video.color import (
    ColorCorrectionConfig,
    ColorCorrector,
    ColorStats,
    _apply_luts,
    _clahe_luts,
    adjust_saturation,
    auto_white_balance,
    color_statistics,
    enhance_contrast,
    gray_world_gains,
    transfer_color,
    white_balance_gains,
    white_patch_gains,
)


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    """A varied, roughly neutral scene: colored blobs whose average is close to gray."""
    rng = np.random.default_rng(0)
    small = rng.uniform(60, 180, (6, 8, 3)).astype(np.float32)
    frame = cv2.resize(small, (64, 48), interpolation=cv2.INTER_LINEAR)
    frame *= frame.mean() / frame.reshape(-1, 3).mean(axis=0)  # make it gray-world exact
    return np.clip(frame, 0, 255).astype(np.uint8)


def tint(frame: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    return np.clip(frame * np.array(gains, np.float32), 0, 255).astype(np.uint8)


def test_gray_world_removes_a_blue_cast(scene):
    blue = tint(scene, (0.8, 0.95, 1.35))
    assert gray_world_error(blue) > 0.15
    balanced = auto_white_balance(blue, method="gray-world")
    assert gray_world_error(balanced) < 0.02
    assert np.abs(balanced.astype(int) - scene.astype(int)).mean() < 10
    # Half strength goes half way (in log gain), not all the way.
    half = auto_white_balance(blue, strength=0.5, method="gray-world")
    assert 0.03 < gray_world_error(half) < 0.15


def mean_color_angle(a: np.ndarray, b: np.ndarray) -> float:
    x, y = (image.reshape(-1, 3).mean(axis=0) for image in (a, b))
    return float(
        np.degrees(np.arccos(np.clip(x @ y / np.linalg.norm(x) / np.linalg.norm(y), -1, 1)))
    )


@pytest.fixture(scope="module")
def lawn_with_sign(scene) -> np.ndarray:
    """A mostly green scene (far from gray on average) with a white sign in it."""
    lawn = tint(scene, (0.45, 1.0, 0.35))
    lawn[8:20, 40:56] = 235
    return lawn


def test_white_patch_restores_a_scene_that_is_not_gray(lawn_with_sign):
    warm = tint(lawn_with_sign, (1.0, 0.85, 0.65))
    assert mean_color_angle(warm, lawn_with_sign) > 4.0
    restored = auto_white_balance(warm)  # white patch is the default
    assert mean_color_angle(restored, lawn_with_sign) < 0.5
    sign = restored[10, 45].astype(int)
    assert sign.max() - sign.min() <= 2  # the sign is white (neutral) again
    # Gray world turns the lawn gray instead: further from the scene than the cast was.
    grayed = auto_white_balance(warm, method="gray-world")
    assert mean_color_angle(grayed, lawn_with_sign) > mean_color_angle(warm, lawn_with_sign)


def test_white_patch_ignores_clipped_and_lone_pixels(lawn_with_sign):
    base = white_patch_gains(lawn_with_sign)
    spoiled = lawn_with_sign.copy()
    spoiled[30:34, 5:9] = (255, 120, 40)  # a blown-out orange lamp: clipped, left out
    spoiled[40, 60] = (120, 250, 120)  # one hot green pixel: averaged away at half size
    np.testing.assert_allclose(white_patch_gains(spoiled), base, atol=0.02)


def test_white_patch_gains_edge_cases(lawn_with_sign):
    for flat in (np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 255, np.uint8)):
        np.testing.assert_array_equal(white_patch_gains(flat), np.ones(3))
    tiny = lawn_with_sign[:3, :3]  # too small to reduce: measured as it is
    assert white_patch_gains(tiny).shape == (3,)
    gains = white_patch_gains(tint(lawn_with_sign, (1.0, 1.0, 0.2)), max_gain=2.0)
    assert gains.max() <= 2.0 and gains.min() >= 0.5
    with pytest.raises(ParameterError, match="white-balance method"):
        white_balance_gains(lawn_with_sign, method="grey-edge")
    with pytest.raises(ParameterError, match="max_gain"):
        white_patch_gains(lawn_with_sign, max_gain=0.5)


def test_gains_are_clipped_for_a_frame_that_is_one_color(scene):
    lawn = tint(scene, (0.2, 1.0, 0.2))
    gains = gray_world_gains(lawn, max_gain=2.0)
    assert gains.max() <= 2.0 and gains.min() >= 0.5
    assert gains[0] == pytest.approx(2.0) and gains[1] < 1.0
    assert gray_world_error(auto_white_balance(lawn)) > 0.1  # not forced to gray


def test_clipped_highlights_do_not_steer_the_gains(scene):
    frame = tint(scene, (1.0, 1.0, 1.2))
    with_highlight = frame.copy()
    with_highlight[:10, :20] = (255, 255, 180)  # a blown-out window, warm
    a, b = gray_world_gains(frame), gray_world_gains(with_highlight)
    np.testing.assert_allclose(a, b, atol=0.03)


def test_black_frame_is_left_alone():
    black = np.zeros((8, 8, 3), np.uint8)
    np.testing.assert_array_equal(gray_world_gains(black), np.ones(3))
    np.testing.assert_array_equal(auto_white_balance(black), black)
    assert gray_world_error(black) == 0.0


def test_clahe_raises_contrast_of_a_flat_frame(scene):
    flat = (scene.astype(np.float32) * 0.3 + 90).astype(np.uint8)
    out = enhance_contrast(flat)
    l_in = cv2.cvtColor(flat, cv2.COLOR_RGB2LAB)[..., 0]
    l_out = cv2.cvtColor(out, cv2.COLOR_RGB2LAB)[..., 0]
    assert l_out.std() > 1.5 * l_in.std()
    assert out.shape == flat.shape and out.dtype == np.uint8


@pytest.mark.parametrize("size", [(48, 64), (45, 61), (17, 200)])
@pytest.mark.parametrize(("clip_limit", "tiles"), [(2.0, 8), (4.0, 3), (1.0, 1)])
def test_our_clahe_mappings_match_opencv(make, size, clip_limit, tiles):
    # The corrector smooths CLAHE's tile mappings, so it computes them itself; they must give
    # OpenCV's result (up to rounding of the mappings).
    lightness = cv2.cvtColor(make.smooth_texture(*size, seed=1), cv2.COLOR_RGB2GRAY)
    ours = _apply_luts(lightness, _clahe_luts(lightness, clip_limit, tiles))
    theirs = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tiles, tiles)).apply(lightness)
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


def test_saturation(scene):
    gray = adjust_saturation(scene, 0.0)
    assert np.abs(gray.astype(int) - gray[..., :1].astype(int)).max() <= 1
    assert np.abs(adjust_saturation(scene, 1.0).astype(int) - scene.astype(int)).max() <= 1
    hsv_in = cv2.cvtColor(scene, cv2.COLOR_RGB2HSV)[..., 1].mean()
    hsv_out = cv2.cvtColor(adjust_saturation(scene, 1.5), cv2.COLOR_RGB2HSV)[..., 1].mean()
    assert hsv_out > 1.3 * hsv_in


def test_transfer_color_matches_reference_statistics(scene):
    # A warm, flipped version of the scene: different statistics, all inside the RGB gamut.
    reference = tint(scene[::-1, ::-1].astype(np.float32) * 0.8 + 30, (1.15, 0.95, 0.75))
    stats = color_statistics(reference)
    assert abs(color_statistics(scene).mean[2] - stats.mean[2]) > 5  # far apart to begin with
    moved = color_statistics(transfer_color(scene, stats))
    np.testing.assert_allclose(moved.mean, stats.mean, atol=1.5)
    np.testing.assert_allclose(moved.std, stats.std, rtol=0.15, atol=1.0)
    assert transfer_color(scene, stats, strength=0.0).tolist() == scene.tolist()
    assert stats.to_dict()["mean"] == list(stats.mean)


def flickering_clip(scene: np.ndarray, count: int = 12) -> list[np.ndarray]:
    """A still scene with brightness noise that comes and goes: a bright magenta light in one
    corner switches on every other frame."""
    frames = []
    for i in range(count):
        frame = scene.copy()
        if i % 2:
            frame[:16, :20] = (235, 50, 215)
        frames.append(frame)
    return frames


def test_corrector_flickers_less_than_per_frame_correction(scene):
    # Gray world, whose gains follow the light; no deflicker, so that only the smoothing of the
    # parameters is measured.
    frames = flickering_clip(tint(scene, (0.85, 1.0, 1.3)))
    settings = {"white_balance_method": "gray-world", "deflicker": False}
    per_frame = ColorCorrector(ColorCorrectionConfig(smoothing=0.0, **settings)).process(frames)
    smoothed = ColorCorrector(ColorCorrectionConfig(**settings)).process(frames)
    # Measured away from the light (and from CLAHE tiles that see it): the rest of the picture
    # should stay still.
    rest = (slice(30, None), slice(36, None))
    flicker_per_frame = flicker(f[rest] for f in per_frame)
    flicker_smoothed = flicker(f[rest] for f in smoothed)
    assert flicker([f[rest] for f in frames]) == 0.0
    assert flicker_per_frame > 3.0  # the correction itself pumps with the light
    assert flicker_smoothed < 0.35 * flicker_per_frame


def test_corrector_balances_and_keeps_frames_valid(scene):
    frames = [tint(scene, (0.8, 0.95, 1.35))] * 6
    config = ColorCorrectionConfig(contrast=False, white_balance_method="gray-world")
    out = list(ColorCorrector(config).process(frames))
    assert len(out) == 6 and all(f.dtype == np.uint8 and f.shape == scene.shape for f in out)
    assert gray_world_error(out[-1]) < 0.03


def test_corrector_restarts_at_a_cut(scene, make):
    blue = tint(scene, (0.8, 0.95, 1.35))
    red = tint(make.other_scene(1)[0], (1.0, 0.9, 0.8))
    corrector = ColorCorrector(ColorCorrectionConfig(contrast=False, smoothing=0.95))
    for _ in range(5):
        corrector.correct(blue)
    after_cut = corrector.correct(red)
    alone = ColorCorrector(ColorCorrectionConfig(contrast=False)).correct(red)
    # The new shot gets its own correction at once, not the blue shot's gains.
    assert np.abs(after_cut.astype(int) - alone.astype(int)).max() <= 1


def test_strength_zero_is_identity(scene):
    config = ColorCorrectionConfig(strength=0.0, saturation=2.0)
    assert ColorCorrector(config).correct(scene).tolist() == scene.tolist()


def test_corrector_with_reference(scene):
    reference = tint(scene[::-1, ::-1].astype(np.float32) * 0.8 + 30, (1.15, 0.95, 0.75))
    stats = color_statistics(reference)
    corrector = ColorCorrector(ColorCorrectionConfig(contrast=False), reference=stats)
    out = [corrector.correct(scene) for _ in range(3)][-1]
    np.testing.assert_allclose(color_statistics(out).mean, stats.mean, atol=3.0)


def test_config_round_trip_and_validation():
    config = ColorCorrectionConfig(strength=0.5, tile_grid=4)
    assert ColorCorrectionConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown"):
        ColorCorrectionConfig.from_dict({"strenght": 0.5})
    for bad in (
        {"strength": 1.5},
        {"smoothing": 1.0},
        {"tile_grid": 0},
        {"contrast": "yes"},
        {"white_balance_method": "retinex"},
        {"deflicker": 1},
        {"deflicker_radius": 0},
    ):
        with pytest.raises(ConfigError):
            ColorCorrectionConfig(**bad)


def test_bad_arguments(scene):
    with pytest.raises(ParameterError, match="factor"):
        adjust_saturation(scene, -1)
    with pytest.raises(ParameterError, match="clip_limit"):
        enhance_contrast(scene, clip_limit=0.5)
    with pytest.raises(ParameterError, match="reference_stats"):
        transfer_color(scene, {"mean": (50, 0, 0)})  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="config"):
        ColorCorrector({"strength": 1.0})  # type: ignore[arg-type]
    with pytest.raises(MediaError):
        auto_white_balance(scene.astype(np.float32))
    corrector = ColorCorrector()
    corrector.correct(scene)
    with pytest.raises(MediaError, match="stream"):
        corrector.correct(scene[:20])
    assert isinstance(color_statistics(scene), ColorStats)


def test_corrector_removes_flicker_that_the_input_has(scene):
    # Brightness that jumps from frame to frame: the contrast curve, smoothed over time, would
    # amplify it; the deflicker stage in front takes it out first.
    rng = np.random.default_rng(1)
    frames = [
        np.clip(scene * np.float32(1 + rng.uniform(-0.08, 0.08)), 0, 255).astype(np.uint8)
        for _ in range(24)
    ]
    with_deflicker = flicker(ColorCorrector().process(frames))
    without = flicker(ColorCorrector(ColorCorrectionConfig(deflicker=False)).process(frames))
    assert with_deflicker < 0.5 * flicker(frames) < without


def test_correct_alone_does_not_deflicker(scene):
    # correct() sees one frame at a time; only process() can look ahead.
    config = ColorCorrectionConfig(contrast=False, white_balance=False)
    dim = (scene * np.float32(0.9)).astype(np.uint8)
    corrector = ColorCorrector(config)
    assert [corrector.correct(f).tolist() for f in (scene, dim)] == [scene.tolist(), dim.tolist()]
