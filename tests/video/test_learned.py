from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from aigc_studio.errors import ConfigError, ToolMissingError
from aigc_studio.models.frame_restorer import FrameRestorer, FrameRestorerConfig
from aigc_studio.video import learned
from aigc_studio.video.interpolate import PairInterpolator
from aigc_studio.video.learned import (
    DeblurNet,
    FrameRefiner,
    apply_corrections,
    load_deblur_network,
    load_frame_refiner,
    run_tiled,
)
from aigc_studio.weights import shipped_weights


def _smooth_net(in_channels: int = 3) -> torch.nn.Module:
    """A fixed convolution (reach 2 pixels) standing in for a trained network."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(in_channels, 3, 5, padding=2)
    return conv.eval()


def test_tiles_join_without_seams_when_the_margin_covers_the_reach() -> None:
    net = _smooth_net()
    image = np.random.default_rng(0).random((37, 53, 3)).astype(np.float32)
    with torch.no_grad():
        whole = net(torch.from_numpy(image.transpose(2, 0, 1))[None])[0].numpy().transpose(1, 2, 0)
    tiled = run_tiled(net, image, tile=16, margin=4)
    inner = (slice(2, -2), slice(2, -2))  # the frame's own edge is padded differently
    np.testing.assert_allclose(tiled[inner], whole[inner], atol=1e-5)


def test_only_selected_tiles_are_computed() -> None:
    image = np.random.default_rng(0).random((32, 48, 3)).astype(np.float32)
    selected = np.zeros((2, 3), bool)
    selected[1, 2] = True
    out = run_tiled(_smooth_net(), image, tile=16, margin=4, selected=selected)
    assert np.isfinite(out[16:, 32:]).all()
    assert np.isnan(out[:16]).all() and np.isnan(out[:, :32]).all()


def _estimate(make: SimpleNamespace) -> object:
    frames = make.moving_square(3, step=4)
    return PairInterpolator(frames[0], frames[2]).estimate(0.5), frames[1]


def test_zero_corrections_give_back_the_classical_blend(make: SimpleNamespace) -> None:
    estimate, _ = _estimate(make)
    out = apply_corrections(estimate, np.zeros((*estimate.blended.shape[:2], 8), np.float32))
    np.testing.assert_allclose(out, np.clip(estimate.blended, 0, 255), atol=0.05)


def test_an_untrained_refiner_changes_nothing_and_counts_its_tiles(make: SimpleNamespace) -> None:
    estimate, _ = _estimate(make)
    net = FrameRestorer(FrameRestorerConfig(in_channels=14, channels=8, blocks=1, output="flow"))
    refiner = FrameRefiner(net.eval(), threshold=0.0)
    np.testing.assert_allclose(refiner(estimate), estimate.blended, atol=0.05)
    assert refiner.refined_fraction == 1.0
    lazy = FrameRefiner(net.eval(), threshold=255.0)
    assert lazy(estimate) is estimate.blended and lazy.refined_fraction == 0.0


def test_deblur_net_strength_mixes_input_and_output() -> None:
    frame = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    net = _smooth_net()
    np.testing.assert_allclose(DeblurNet(net, strength=0.0)(frame), frame, atol=1e-3)
    full, half = DeblurNet(net)(frame), DeblurNet(net, strength=0.5)(frame)
    np.testing.assert_allclose(half, (full + frame) / 2, atol=1e-3)


def test_missing_weights_are_a_clear_tool_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import aigc_studio.weights

    monkeypatch.setattr(aigc_studio.weights, "shipped_weights", lambda name: None)
    with pytest.raises(ToolMissingError, match="make weights-frame-refiner"):
        load_frame_refiner()
    with pytest.raises(ToolMissingError, match="make weights-deblur-net"):
        load_deblur_network()


@pytest.mark.skipif(shipped_weights("frame-refiner") is None, reason="frame-refiner not shipped")
def test_the_shipped_refiner_improves_a_moving_square(make: SimpleNamespace) -> None:
    from aigc_studio.evaluation.video import psnr

    estimate, truth = _estimate(make)
    refiner = load_frame_refiner(threshold=0.0)
    refined = np.clip(np.rint(refiner(estimate)), 0, 255).astype(np.uint8)
    blended = np.clip(np.rint(estimate.blended), 0, 255).astype(np.uint8)
    assert refined.shape == truth.shape
    assert psnr(truth, refined) > psnr(truth, blended) - 0.5  # never much worse
    assert refiner.name == "frame-restorer" and len(refiner.checkpoint_sha256) == 64


@pytest.mark.skipif(shipped_weights("deblur-net") is None, reason="deblur-net not shipped")
def test_the_shipped_deblur_net_sharpens_a_blurred_texture(make: SimpleNamespace) -> None:
    import cv2

    from aigc_studio.evaluation.video import psnr

    sharp = make.smooth_texture(64, 80, 3, sigma=1.0)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 1.5)
    restored = np.clip(np.rint(load_deblur_network()(blurred)), 0, 255).astype(np.uint8)
    assert psnr(sharp, restored) > psnr(sharp, blurred) + 0.5


def test_a_model_of_another_kind_is_refused(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = SimpleNamespace(
        modules={"restorer": _smooth_net()},
        task=SimpleNamespace(state={"kind": "deblur"}),
        name="frame-restorer",
        source_sha256="0" * 64,
    )
    monkeypatch.setattr(learned, "_load", lambda name: fake)
    with pytest.raises(ConfigError, match="trained for 'deblur', not for 'interpolation'"):
        load_frame_refiner(tmp_path)
    assert isinstance(load_deblur_network(tmp_path), DeblurNet)
