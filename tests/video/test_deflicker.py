"""Tests for brightness deflicker (aigc_studio.video.deflicker)."""

from __future__ import annotations

import numpy as np
import pytest

from aigc_studio.errors import ConfigError, MediaError, ParameterError
from aigc_studio.evaluation.video import flicker
from aigc_studio.video.deflicker import Deflicker, DeflickerConfig, mean_luma


@pytest.fixture(scope="module")
def still(make) -> np.ndarray:
    return make.smooth_texture(48, 64, seed=3)


def scaled(frame: np.ndarray, gain: float) -> np.ndarray:
    return np.clip(frame * np.float32(gain) + 0.5, 0, 255).astype(np.uint8)


def test_mean_luma_is_bt601_and_ignores_size(still):
    expected = float(still.reshape(-1, 3).mean(axis=0) @ [0.299, 0.587, 0.114])
    assert mean_luma(still) == pytest.approx(expected)
    big = np.repeat(np.repeat(still, 8, axis=0), 8, axis=1)  # 384 x 512: measured reduced
    assert mean_luma(big) == pytest.approx(expected, abs=0.5)


def test_random_flicker_is_evened_out(still):
    rng = np.random.default_rng(0)
    frames = [scaled(still, 1.0 + rng.uniform(-0.08, 0.08)) for _ in range(40)]
    out = list(Deflicker().process(frames))
    assert len(out) == len(frames)
    assert flicker(frames) > 4.0
    assert flicker(out) < 0.4 * flicker(frames)
    assert all(f.dtype == np.uint8 and f.shape == still.shape for f in out)


def test_a_linear_fade_passes(still):
    frames = [scaled(still, 1.0 - 0.02 * i) for i in range(20)]
    out = list(Deflicker(DeflickerConfig(radius=2)).process(frames))
    # A centred window has the fade's own level at its centre; only the ends see one side.
    for frame, result in list(zip(frames, out, strict=True))[2:-2]:
        assert np.abs(result.astype(int) - frame.astype(int)).max() <= 1


def test_a_steady_clip_is_returned_unchanged(still):
    frames = [still] * 6
    assert all(out is still for out in Deflicker().process(frames))


def test_a_cut_to_a_brighter_shot_is_not_dimmed(still, make):
    dark = scaled(still, 0.5)
    bright = make.other_scene(1)[0]
    frames = [dark] * 5 + [bright] * 5
    out = list(Deflicker().process(frames))
    for frame, result in zip(frames, out, strict=True):
        assert np.abs(result.astype(int) - frame.astype(int)).max() <= 1
    # Without the cut test the window spans both shots, and the last dark frames brighten.
    blind = list(Deflicker(DeflickerConfig(scene_threshold=1.0)).process(frames))
    assert mean_luma(blind[4]) > mean_luma(dark) + 5


def test_gain_is_limited_and_dark_frames_are_left_alone(still):
    frames = [still, still, scaled(still, 0.3), still, still]
    # (The cut test would call so deep a drop a new shot and leave it alone; here it may not.)
    config = DeflickerConfig(max_gain=1.25, scene_threshold=1.0)
    out = list(Deflicker(config).process(frames))
    assert mean_luma(out[2]) == pytest.approx(1.25 * mean_luma(frames[2]), rel=0.02)
    black = np.zeros_like(still)
    assert list(Deflicker().process([still, black, still]))[1] is black


def test_reads_only_radius_frames_ahead(still):
    pulled = []

    def source():
        for index in range(12):
            pulled.append(index)
            yield still

    stream = Deflicker(DeflickerConfig(radius=3)).process(source())
    next(stream)
    assert len(pulled) == 4  # the frame itself and three ahead


def test_short_streams(still):
    assert list(Deflicker().process([])) == []
    assert list(Deflicker().process([still]))[0] is still


def test_bad_input(still):
    with pytest.raises(MediaError, match="frame 1"):
        list(Deflicker().process([still, still[:20]]))
    with pytest.raises(MediaError):
        list(Deflicker().process([still.astype(np.float32)]))
    with pytest.raises(ParameterError, match="config"):
        Deflicker({"radius": 2})  # type: ignore[arg-type]


def test_config_round_trip_and_validation():
    config = DeflickerConfig(radius=4, max_gain=1.5)
    assert DeflickerConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown"):
        DeflickerConfig.from_dict({"radious": 2})
    for bad in ({"radius": 0}, {"radius": 2.5}, {"max_gain": 0.5}, {"scene_threshold": 0.0}):
        with pytest.raises(ConfigError, match="deflicker"):
            DeflickerConfig(**bad)
