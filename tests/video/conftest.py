"""Synthetic frames for the video tests: a textured square moving over a textured background."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

WIDTH, HEIGHT = 64, 48


def smooth_texture(height: int, width: int, seed: int, sigma: float = 1.5) -> np.ndarray:
    """Blurred colour noise: detail at a scale optical flow can follow."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (height, width, 3)).astype(np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), sigma)
    # Stretch back to a useful contrast after the blur averaged it away.
    blurred = (blurred - blurred.mean()) * (100 / max(blurred.std(), 1e-6)) + 128
    return np.clip(blurred, 0, 255).astype(np.uint8)


def square_frame(
    x: int, *, seed: int = 0, side: int = 16, size: tuple[int, int] = (WIDTH, HEIGHT)
) -> np.ndarray:
    """A (width, height) ``size`` frame with a textured square whose left edge is at ``x``."""
    width, height = size
    background = smooth_texture(height, width, seed + 100, sigma=3.0)
    background = (background.astype(np.float32) * 0.5 + 40).astype(np.uint8)  # darker, softer
    square = smooth_texture(side, side, seed)
    frame = background.copy()
    y = (height - side) // 2
    frame[y : y + side, x : x + side] = square
    return frame


def moving_square(count: int, *, step: int = 2, start: int = 8, seed: int = 0) -> list[np.ndarray]:
    """``count`` frames of the textured square moving ``step`` pixels right per frame."""
    return [square_frame(start + i * step, seed=seed) for i in range(count)]


def other_scene(count: int) -> list[np.ndarray]:
    """Frames of a different shot: a warm, bright, differently textured scene."""
    base = smooth_texture(HEIGHT, WIDTH, 42, sigma=4.0).astype(np.float32)
    warm = np.clip(base * [1.0, 0.6, 0.2] + [120, 60, 0], 0, 255).astype(np.uint8)
    return [np.roll(warm, i, axis=1) for i in range(count)]


@pytest.fixture(scope="session")
def make() -> SimpleNamespace:
    """The frame makers above, for tests (conftest modules cannot be imported by name)."""
    return SimpleNamespace(
        moving_square=moving_square,
        square_frame=square_frame,
        other_scene=other_scene,
        smooth_texture=smooth_texture,
    )
