"""Tests for the one-pass enhancement chain (aigc_studio.video.enhance)."""

from __future__ import annotations

import numpy as np
import pytest

from aigc_studio.errors import MediaError, ParameterError
from aigc_studio.evaluation.video import psnr
from aigc_studio.video.color import ColorCorrectionConfig, ColorCorrector
from aigc_studio.video.deblur import DeblurConfig, Deblurrer
from aigc_studio.video.denoise import DenoiseConfig, VideoDenoiser
from aigc_studio.video.enhance import (
    ENHANCE_SHARPEN,
    EnhanceConfig,
    VideoEnhancer,
    enhance_frames,
)


@pytest.fixture(scope="module")
def noisy(make) -> tuple[list[np.ndarray], list[np.ndarray]]:
    clean = make.moving_square(8)
    rng = np.random.default_rng(0)
    return clean, [np.clip(f + rng.normal(0, 10, f.shape), 0, 255).astype(np.uint8) for f in clean]


def test_the_chain_is_its_three_stages_in_order(noisy):
    _, frames = noisy
    out = list(enhance_frames(frames))
    by_hand = ColorCorrector(ColorCorrectionConfig()).process(
        Deblurrer(DeblurConfig(method="unsharp", strength=ENHANCE_SHARPEN)).process(
            VideoDenoiser(DenoiseConfig()).process(frames)
        )
    )
    expected = list(by_hand)
    assert len(out) == len(frames)
    assert all(np.array_equal(a, b) for a, b in zip(out, expected, strict=True))


def test_steps_can_be_left_out(noisy):
    clean, frames = noisy
    denoised = list(enhance_frames(frames, EnhanceConfig(sharpen=None, color=None)))
    gains = [psnr(c, d) - psnr(c, n) for c, d, n in zip(clean, denoised, frames, strict=True)]
    assert np.mean(gains) > 2
    config = EnhanceConfig(denoise=None, color=None)
    assert config.steps == ["sharpen"]
    assert config.to_dict()["steps"] == ["sharpen"] and "denoise" not in config.to_dict()


def test_enhancer_exposes_its_stages(noisy):
    _, frames = noisy
    enhancer = VideoEnhancer(EnhanceConfig(color=None))
    list(enhancer.process(frames))
    assert enhancer.denoiser is not None and enhancer.denoiser.noise_sigma is not None
    assert enhancer.corrector is None


def test_bad_configs_and_frames(noisy):
    with pytest.raises(ParameterError, match="every step is off"):
        EnhanceConfig(denoise=None, sharpen=None, color=None)
    with pytest.raises(ParameterError, match="sharpen must be a DeblurConfig"):
        EnhanceConfig(sharpen=DenoiseConfig())  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="EnhanceConfig"):
        VideoEnhancer({"denoise": None})  # type: ignore[arg-type]
    with pytest.raises(MediaError):
        list(enhance_frames([noisy[1][0], noisy[1][0][:10]]))
