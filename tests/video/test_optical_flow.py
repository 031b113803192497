"""Tests for DIS flow, backward warping and the flow consistency test (video.optical_flow)."""

from __future__ import annotations

import numpy as np
import pytest

from aigc_studio.errors import MediaError, ParameterError
from aigc_studio.video.optical_flow import DISFlow, flow_inconsistency, warp_backward


def test_flow_of_a_shifted_texture(make):
    texture = make.smooth_texture(64, 96, seed=3)
    shifted = np.roll(texture, 3, axis=1)  # content moves 3 px right
    flow = DISFlow()(texture, shifted)
    assert flow.dtype == np.float32 and flow.shape == (64, 96, 2)
    inner = flow[8:-8, 8:-8].reshape(-1, 2)
    assert np.median(inner[:, 0]) == pytest.approx(3, abs=0.3)
    assert np.median(inner[:, 1]) == pytest.approx(0, abs=0.3)


@pytest.mark.parametrize("preset", ["ultrafast", "fast", "medium"])
def test_presets_follow_the_same_motion(make, preset):
    texture = make.smooth_texture(64, 96, seed=4)
    flow = DISFlow(preset)(texture, np.roll(texture, -2, axis=0))  # 2 px up
    assert np.median(flow[8:-8, 8:-8, 1]) == pytest.approx(-2, abs=0.4)


def test_tiny_frames_get_a_flow(make):
    frame = make.smooth_texture(6, 9, seed=5)
    flow = DISFlow()(frame, frame)
    assert flow.shape == (6, 9, 2) and np.all(np.isfinite(flow))


def test_warp_backward_undoes_a_shift(make):
    texture = make.smooth_texture(40, 50, seed=6)
    shifted = np.roll(texture, 2, axis=1)
    flow = np.zeros((40, 50, 2), np.float32)
    flow[..., 0] = 2.0  # out[x] = shifted[x + 2] = texture[x]
    back = warp_backward(shifted, flow)
    assert back.dtype == np.uint8 and back.shape == texture.shape
    np.testing.assert_array_equal(back[:, :-2], texture[:, :-2])
    # Half-pixel flow interpolates between neighbours.
    flow[..., 0] = 0.5
    half = warp_backward(texture.astype(np.float32), flow)
    expected = 0.5 * (texture[:, :-1].astype(np.float32) + texture[:, 1:])
    np.testing.assert_allclose(half[:, :-1], expected, atol=0.05)


def test_warp_rejects_mismatched_flow(make):
    with pytest.raises(ParameterError, match="flow"):
        warp_backward(np.zeros((10, 10), np.float32), np.zeros((10, 12, 2), np.float32))


def test_consistent_flows_pass_and_inconsistent_fail():
    forward = np.zeros((30, 40, 2), np.float32)
    forward[..., 0] = 3.0
    backward = -forward
    assert flow_inconsistency(forward, backward)[:, :30].max() < 0.01
    # Backward flow that does not return (a point occluded in the other frame).
    wrong = np.zeros_like(forward)
    assert flow_inconsistency(forward, wrong)[:, :30].min() > 1.0
    # Flow that leaves the frame counts as occluded.
    assert flow_inconsistency(forward, backward)[:, -2:].min() > 100


def test_inconsistency_is_relative_to_motion_size():
    # The same 0.5 px error is tolerated on a 20 px motion but not on a still pixel pair
    # (Sundaram et al.'s 0.01 |w|² term).
    big = np.zeros((20, 60, 2), np.float32)
    big[..., 0] = 20.0
    back = -big
    back[..., 0] += 1.0
    small = np.zeros_like(big)
    small_back = np.full_like(big, 0.0)
    small_back[..., 0] = 1.0
    assert flow_inconsistency(big, back)[:, :30].max() < 1.0
    assert flow_inconsistency(small, small_back).min() > 1.0


def test_bad_preset_and_frames(make):
    with pytest.raises(ParameterError, match="preset"):
        DISFlow("slow")
    frame = make.smooth_texture(16, 16, seed=0)
    with pytest.raises(MediaError, match="target"):
        DISFlow()(frame, frame[:8])
    with pytest.raises(MediaError, match="source"):
        DISFlow()(frame.astype(np.float32), frame)
