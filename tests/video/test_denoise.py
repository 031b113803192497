"""Tests for motion-compensated video denoising (aigc_studio.video.denoise)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aigc_studio.errors import ConfigError, MediaError
from aigc_studio.evaluation.video import psnr
from aigc_studio.video.denoise import (
    DenoiseConfig,
    VideoDenoiser,
    denoise_frames,
    estimate_noise_sigma,
)

WIDTH, HEIGHT = 96, 72


@pytest.fixture(scope="module")
def clean(make) -> list[np.ndarray]:
    """A camera panning over a smooth texture: 7 frames, 2 pixels to the right per frame."""
    world = make.smooth_texture(HEIGHT + 20, WIDTH + 40, 5, sigma=4.0)
    frames = []
    for i in range(7):
        shift = np.float32([[1, 0, -(4 + 2 * i)], [0, 1, -(4 + 0.5 * i)]])
        frames.append(cv2.warpAffine(world, shift, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR))
    return frames


def add_noise(frames: list[np.ndarray], sigma: float, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        np.clip(np.rint(f + rng.normal(0, sigma, f.shape)), 0, 255).astype(np.uint8) for f in frames
    ]


def mean_psnr(references: list[np.ndarray], estimates: list[np.ndarray]) -> float:
    return float(np.mean([psnr(r, e) for r, e in zip(references, estimates, strict=True)]))


def test_noise_estimate_reads_the_added_noise():
    flat = np.full((64, 64, 3), 120, np.uint8)
    assert estimate_noise_sigma(add_noise([flat], 10.0)[0]) == pytest.approx(10.0, rel=0.1)
    assert estimate_noise_sigma(flat) == 0.0
    assert estimate_noise_sigma(flat[:2, :2]) == 0.0


def test_denoising_a_moving_sequence_gains_several_db(clean):
    noisy = add_noise(clean, 15.0)
    denoiser = VideoDenoiser()
    out = list(denoiser.process(noisy))
    assert len(out) == len(clean)
    assert mean_psnr(clean, out) > mean_psnr(clean, noisy) + 6
    # The temporal estimate of the noise lands near the truth.
    assert denoiser.noise_sigma == pytest.approx(15.0, rel=0.35)


def test_neighbours_beat_the_spatial_filter_alone(clean):
    noisy = add_noise(clean, 15.0, seed=1)
    temporal = list(denoise_frames(noisy, DenoiseConfig(radius=2)))
    spatial = list(denoise_frames(noisy, DenoiseConfig(radius=0)))
    assert mean_psnr(clean, temporal) > mean_psnr(clean, spatial) + 1.5


def test_a_neighbour_that_does_not_match_gets_no_weight(clean):
    # A bright square appears in one frame only: averaging it with its neighbours would leave a
    # faint ghost of it at a third of its brightness.
    frames = add_noise(clean, 5.0, seed=2)
    flash = frames[3].copy()
    flash[20:40, 30:50] = 250
    frames[3] = flash
    out = list(denoise_frames(frames))
    assert out[3][24:36, 34:46].mean() > 235
    assert out[2][24:36, 34:46].mean() < 200  # and it does not leak into the neighbours


def test_clean_video_is_barely_changed(clean):
    out = list(denoise_frames(clean))
    assert mean_psnr(clean, out) > 38


def test_strength_zero_is_the_identity(clean):
    noisy = add_noise(clean[:3], 10.0)
    for before, after in zip(noisy, denoise_frames(noisy, DenoiseConfig(strength=0)), strict=True):
        np.testing.assert_array_equal(after, before)


def test_frames_of_another_shot_are_not_averaged_in(clean, make):
    other = [cv2.resize(f, (WIDTH, HEIGHT)) for f in make.other_scene(3)]
    frames = add_noise(clean[:3], 5.0) + add_noise(other, 5.0, seed=3)
    out = list(denoise_frames(frames))
    # The first frame after the cut keeps the warm shot's color, not a blend with the gray one.
    assert np.abs(out[3].astype(float).mean(axis=(0, 1)) - other[0].mean(axis=(0, 1))).max() < 3


def test_single_frame_and_odd_sizes(clean):
    noisy = add_noise([clean[0][:37, :23]], 12.0)
    out = list(denoise_frames(noisy))
    assert len(out) == 1 and out[0].shape == (37, 23, 3)
    assert psnr(clean[0][:37, :23], out[0]) > psnr(clean[0][:37, :23], noisy[0])
    assert list(denoise_frames([])) == []


def test_a_frame_of_another_size_is_refused(clean):
    with pytest.raises(MediaError, match="frame 1"):
        list(denoise_frames([clean[0], clean[1][:40]]))


def test_config_round_trip_and_validation():
    config = DenoiseConfig(strength=1.5, radius=1, noise_sigma=4.0)
    assert DenoiseConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown denoise option"):
        DenoiseConfig.from_dict({"window": 3})
    for bad in ({"strength": -1}, {"radius": 9}, {"flow_preset": "x"}, {"spatial": 1},
                {"noise_sigma": 500}, {"scene_threshold": 0}):  # fmt: skip
        with pytest.raises(ConfigError, match="denoise"):
            DenoiseConfig(**bad)
