"""Tests for flow-based frame interpolation and retiming (aigc_studio.video.interpolate)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from aigc_studio.errors import MediaError, ParameterError
from aigc_studio.evaluation.video import psnr
from aigc_studio.video.interpolate import (
    PairInterpolator,
    WarpEstimate,
    interpolate_frames,
    interpolate_pair,
    interpolate_timed,
    retime,
    retime_timed,
    retimed_frame_count,
)


def blend(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ((a.astype(np.uint16) + b + 1) // 2).astype(np.uint8)


@pytest.mark.parametrize("approximation", ["superslomo", "fixed_point"])
def test_middle_frame_of_moving_square_beats_blending(make, approximation):
    # The square moves 2 px per frame: frames 0 and 2 are 4 px apart, frame 1 is the truth.
    f0, truth, f2 = make.moving_square(3)
    middle = interpolate_pair(f0, f2, 0.5, flow_approximation=approximation)
    assert middle.dtype == np.uint8 and middle.shape == f0.shape
    ours, blended = psnr(truth, middle), psnr(truth, blend(f0, f2))
    assert ours > blended + 8, (ours, blended)
    assert ours > 32


def test_quarter_time_lands_a_quarter_of_the_way(make):
    frames = make.moving_square(5, step=1)  # 1 px per frame: frame 1 is t=0.25 from 0 to 4
    pair = PairInterpolator(frames[0], frames[4])
    scores = {t: psnr(frames[1], pair.frame(t)) for t in (0.25, 0.5, 0.75)}
    assert scores[0.25] > scores[0.5] > scores[0.75]
    assert scores[0.25] > 30


def test_flows_point_along_the_motion(make):
    f0, _, f2 = make.moving_square(3)
    pair = PairInterpolator(f0, f2)
    inside = (slice(20, 28), slice(14, 22))  # inside the square in frame 0 (x 8..24)
    dx, dy = np.median(pair.flow01[inside].reshape(-1, 2), axis=0)
    assert dx == pytest.approx(4, abs=0.75) and dy == pytest.approx(0, abs=0.75)
    dx_back = np.median(pair.flow10[20:28, 18:26].reshape(-1, 2), axis=0)[0]
    assert dx_back == pytest.approx(-4, abs=0.75)


def test_factor_4_yields_four_frames_per_input_and_passes_inputs_through(make):
    frames = make.moving_square(4)
    out = list(interpolate_frames(iter(frames), 4))
    assert len(out) == 4 * len(frames)
    for i, frame in enumerate(frames):
        assert out[4 * i] is frame
    # In between, real new frames, not copies of a neighbour.
    assert not np.array_equal(out[1], frames[0]) and not np.array_equal(out[1], frames[1])
    # The last input is held to keep the duration.
    assert all(frame is frames[-1] for frame in out[-4:])


@pytest.mark.parametrize("factor", [2, 8])
def test_other_factors_count(make, factor):
    assert len(list(interpolate_frames(make.moving_square(3), factor))) == 3 * factor


def test_no_blending_across_a_scene_cut(make):
    shot_a = make.moving_square(3)
    shot_b = make.other_scene(3)
    out = list(interpolate_frames(shot_a + shot_b, 2))
    assert len(out) == 12
    at_cut = out[5]  # t = 0.5 between the last frame of shot A and the first of shot B
    assert any(np.array_equal(at_cut, n) for n in (shot_a[-1], shot_b[0]))
    # Pairs inside each shot are still interpolated.
    assert not any(np.array_equal(out[1], n) for n in (shot_a[0], shot_a[1]))
    assert not any(np.array_equal(out[7], n) for n in (shot_b[0], shot_b[1]))


def test_cut_holds_the_nearer_frame_at_factor_4(make):
    a, b = make.moving_square(1)[0], make.other_scene(1)[0]
    out = list(interpolate_frames([a, b], 4))
    assert [o is a for o in out[:4]] == [True, True, False, False]
    assert all(o is b for o in out[2:])


def test_scene_threshold_1_interpolates_across_everything(make):
    a, b = make.moving_square(1)[0], make.other_scene(1)[0]
    middle = list(interpolate_frames([a, b], 2, scene_threshold=1.0))[1]
    assert not np.array_equal(middle, a) and not np.array_equal(middle, b)


def test_retime_counts_and_passthrough(make):
    frames = make.moving_square(6)
    assert retimed_frame_count(6, 24, 60) == 15
    out = list(retime(frames, 24, 60))
    assert len(out) == 15
    assert out[0] is frames[0] and out[5] is frames[2]  # 5/60 s = 2/24 s
    halved = list(retime(frames, 30, 15))
    assert [id(f) for f in halved] == [id(frames[i]) for i in (0, 2, 4)]


def test_retime_with_ntsc_rates_is_exact(make):
    frames = make.moving_square(4)
    out = list(retime(frames, Fraction(30000, 1001), Fraction(60000, 1001)))
    assert len(out) == 8 and out[2] is frames[1]
    assert retimed_frame_count(4, 29.97, 59.94) == 8


def test_empty_and_single_frame_streams(make):
    assert list(interpolate_frames([], 2)) == []
    frame = make.moving_square(1)[0]
    out = list(interpolate_frames([frame], 4))
    assert len(out) == 4 and all(o is frame for o in out)


def test_refine_hook_gets_the_warped_estimate(make):
    f0, _, f2 = make.moving_square(3)
    seen: list[WarpEstimate] = []

    def refine(estimate: WarpEstimate) -> np.ndarray:
        seen.append(estimate)
        return estimate.blended + 10.0  # a "correction" we can recognise

    plain = interpolate_pair(f0, f2, 0.25)
    refined = interpolate_pair(f0, f2, 0.25, refine=refine)
    (estimate,) = seen
    assert estimate.t == 0.25 and estimate.frame0 is f0 and estimate.frame1 is f2
    assert estimate.warped0.shape == f0.shape and estimate.flow_t0.shape == (*f0.shape[:2], 2)
    assert estimate.weight0.min() >= 0 and estimate.weight0.max() <= 1
    unclipped = plain < 240
    assert np.abs(refined[unclipped].astype(int) - plain[unclipped] - 10).max() <= 1


def test_refine_with_wrong_shape_is_refused(make):
    f0, f1 = make.moving_square(2)
    with pytest.raises(ParameterError, match="refine"):
        interpolate_pair(f0, f1, refine=lambda e: np.zeros((2, 2, 3), np.uint8))


def test_occlusion_weights_favour_the_frame_that_sees_the_pixel(make):
    # DIS needs room to separate the square's motion from the still background: 128x96, and
    # 8 px between the neighbours (the square spans x 16..48 in frame 0, 24..56 in frame 2).
    f0, _, f2 = (make.square_frame(16 + 4 * i, side=32, size=(128, 96)) for i in range(3))
    estimate = PairInterpolator(f0, f2).estimate(0.5)
    rows = slice(40, 56)
    # At t = 0.5 the square spans 20..52. Behind it (x 16..20) the background is seen only in
    # frame 2; ahead of it (x 52..56) only in frame 0.
    assert estimate.weight0[rows, 16:20].mean() < 0.35
    assert estimate.weight0[rows, 52:56].mean() > 0.65
    # Far from the square both frames see the background: equal weights.
    assert estimate.weight0[:16, 80:].mean() == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize("factor", [0, 3, 16, 2.0, True])
def test_absurd_factor_is_refused_at_the_call(factor):
    with pytest.raises(ParameterError, match="factor"):
        interpolate_frames([], factor)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scene_threshold": 0}, "scene_threshold"),
        ({"scene_threshold": 1.5}, "scene_threshold"),
        ({"flow_preset": "slow"}, "preset"),
        ({"flow_approximation": "magic"}, "flow_approximation"),
    ],
)
def test_bad_options_are_refused(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        interpolate_frames([], 2, **kwargs)


@pytest.mark.parametrize("rates", [(0, 30), (30, -1), (30, float("nan")), (30, 5000)])
def test_bad_rates_are_refused(rates):
    with pytest.raises(ParameterError, match="fps"):
        retime([], *rates)


@pytest.mark.parametrize("t", [0, 1, -0.5, 2])
def test_t_outside_the_open_interval_is_refused(make, t):
    f0, f1 = make.moving_square(2)
    with pytest.raises(ParameterError, match="t="):
        interpolate_pair(f0, f1, t)


def test_bad_frames_raise_media_error_naming_the_frame(make):
    frames = make.moving_square(2)
    with pytest.raises(MediaError, match="frame 2"):
        list(interpolate_frames([*frames, frames[0][:10]], 2))
    with pytest.raises(MediaError, match="frame 0"):
        list(interpolate_frames([frames[0].astype(np.float32)], 2))


# -- timed streams (variable frame rate) ----------------------------------------------------


def same_frames(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("factor", [2, 4])
def test_timed_interpolation_of_a_constant_rate_matches_the_untimed(make, factor):
    frames = make.moving_square(5)
    timed = list(
        interpolate_timed(
            ((i / 24, f) for i, f in enumerate(frames)), factor, frame_duration=1 / 24
        )
    )
    assert same_frames([f for _, f in timed], list(interpolate_frames(frames, factor)))
    assert [t for t, _ in timed] == pytest.approx([j / (24 * factor) for j in range(5 * factor)])


def test_timed_interpolation_keeps_uneven_spacing(make):
    # A stall between the second and third frames (a camera that dropped frames).
    times = [0.0, 0.1, 0.5, 0.6]
    frames = make.moving_square(4)
    out = list(interpolate_timed(zip(times, frames, strict=True), 2, frame_duration=0.1))
    assert [t for t, _ in out] == pytest.approx([0.0, 0.05, 0.1, 0.3, 0.5, 0.55, 0.6, 0.65])
    assert out[2][1] is frames[1] and out[7][1] is frames[3]  # the last one held
    assert list(interpolate_timed([], 2, frame_duration=0.1)) == []
    (single,) = [make.moving_square(1)[0]]
    assert [t for t, _ in interpolate_timed([(0.0, single)], 2, frame_duration=0.5)] == [0.0, 0.25]


@pytest.mark.parametrize(
    ("source", "target"), [(24, 60), (30, 15), (Fraction(30000, 1001), Fraction(60000, 1001))]
)
def test_timed_retime_of_a_constant_rate_matches_retime(make, source, target):
    frames = make.moving_square(6)
    timed = ((i / float(source), f) for i, f in enumerate(frames))
    got = list(retime_timed(timed, target, frame_duration=1 / float(source)))
    assert same_frames(got, list(retime(frames, source, target)))


def test_timed_retime_follows_the_times_of_a_variable_rate(make):
    # Frames at 0, 0.1, 0.5 and 0.6 s resampled to 10 fps: 0.2-0.4 s lie between the second
    # and third source frames, at 1/4, 2/4 and 3/4 of their interval.
    times = [0.0, 0.1, 0.5, 0.6]
    frames = make.moving_square(4)
    out = list(retime_timed(zip(times, frames, strict=True), 10, frame_duration=0.1))
    assert len(out) == 7  # up to 0.7 s, the last frame shown for the last interval
    assert out[0] is frames[0] and out[1] is frames[1] and out[5] is frames[2]
    expected = interpolate_pair(frames[1], frames[2], 0.5)
    assert np.array_equal(out[3], expected)
    assert out[6] is frames[3]


def test_timed_functions_refuse_bad_durations(make):
    frames = [(0.0, make.moving_square(1)[0])]
    for bad in (0, -1.0, float("inf"), "1"):
        with pytest.raises(ParameterError, match="frame_duration"):
            list(interpolate_timed(frames, 2, frame_duration=bad))  # type: ignore[arg-type]
        with pytest.raises(ParameterError, match="frame_duration"):
            list(retime_timed(frames, 30, frame_duration=bad))  # type: ignore[arg-type]
