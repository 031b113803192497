"""Tests for the video quality metrics (aigc_studio.evaluation.video)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from aigc_studio.errors import MediaError
from aigc_studio.evaluation.video import flicker, gray_world_error, psnr, ssim


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    small = rng.uniform(0, 255, (12, 16, 3)).astype(np.float32)
    return cv2.resize(small, (64, 48), interpolation=cv2.INTER_LINEAR).astype(np.uint8)


def test_psnr_known_value(image):
    assert psnr(image, image.copy()) == math.inf
    shifted = image.astype(np.int16)
    shifted[::2] += 5  # half the pixels off by 5: MSE 12.5
    shifted = np.clip(shifted, 0, 255).astype(np.uint8)
    mse = np.mean((shifted.astype(float) - image) ** 2)
    assert psnr(image, shifted) == pytest.approx(10 * math.log10(255**2 / mse))


def test_ssim_is_one_for_identical_and_falls_with_noise(image):
    assert ssim(image, image.copy()) == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    scores = []
    for level in (2, 10, 40):
        noisy = np.clip(image + rng.normal(0, level, image.shape), 0, 255).astype(np.uint8)
        scores.append(ssim(image, noisy))
    assert 1.0 > scores[0] > scores[1] > scores[2] > 0


def test_ssim_sees_structure_that_psnr_misses(image):
    # Same MSE, different harm: a uniform brightness shift keeps structure, noise destroys it.
    brighter = np.clip(image.astype(int) + 8, 0, 255).astype(np.uint8)
    rng = np.random.default_rng(2)
    noisy = np.clip(image + rng.choice([-8, 8], (*image.shape[:2], 1)), 0, 255).astype(np.uint8)
    assert psnr(image, brighter) == pytest.approx(psnr(image, noisy), abs=0.5)
    assert ssim(image, brighter) > ssim(image, noisy) + 0.05


def test_ssim_on_grayscale_and_tiny_images(image):
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    assert ssim(gray, gray) == pytest.approx(1.0)
    assert ssim(image[:5, :5], image[:5, :5]) == pytest.approx(1.0)


def test_flicker_measures_brightness_pumping(image):
    steady = [image] * 5
    assert flicker(steady) == 0.0
    brighter = np.clip(image.astype(int) + 10, 0, 255).astype(np.uint8)
    pumping = [image, brighter] * 3
    change = float(cv2.cvtColor(brighter, cv2.COLOR_RGB2GRAY).mean()) - float(
        cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).mean()
    )
    assert flicker(iter(pumping)) == pytest.approx(abs(change), abs=0.6)
    assert flicker([image]) == 0.0 and flicker([]) == 0.0


def test_gray_world_error(image):
    gray = np.full((8, 8, 3), 120, np.uint8)
    assert gray_world_error(gray) == 0.0
    blue = gray.copy()
    blue[..., 2] = 180  # means 120, 120, 180: mean 140, deviations 20, 20, 40
    assert gray_world_error(blue) == pytest.approx((20 + 20 + 40) / 3 / 140)
    assert gray_world_error((blue // 2).astype(np.uint8)) == pytest.approx(
        gray_world_error(blue), rel=0.02
    )  # brightness does not change it


def test_bad_input():
    with pytest.raises(MediaError, match="shape"):
        psnr(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(MediaError, match="uint8"):
        ssim(np.zeros((4, 4), np.float32), np.zeros((4, 4), np.float32))
    with pytest.raises(MediaError, match="frame 1"):
        flicker([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8)])
    with pytest.raises(MediaError):
        gray_world_error(np.zeros((4, 4), np.uint8))
