"""Tests for ``aigc video`` commands on tiny clips (shots, interpolate, color)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf

from aigc_studio.cli import run
from aigc_studio.media.video_io import VideoReader, VideoWriter, read_video_metadata

FPS = 24
SR = 48_000
FRAMES = 12


def frames_with_cut() -> list[np.ndarray]:
    """6 frames of a gradient with a moving square, then 6 of a warm textured scene."""
    yy, xx = np.mgrid[0:48, 0:64]
    background = np.stack([xx * 4, yy * 5, np.full_like(xx, 96)], axis=-1).astype(np.uint8)
    first = []
    for i in range(6):
        frame = background.copy()
        frame[16:32, 8 + 2 * i : 24 + 2 * i] = 230
        first.append(frame)
    rng = np.random.default_rng(0)
    warm = cv2.resize(rng.uniform(0, 255, (6, 8)).astype(np.float32), (64, 48))
    scene = np.stack([warm * 0.5 + 120, warm * 0.4 + 40, warm * 0.1], axis=-1).astype(np.uint8)
    return first + [np.roll(scene, i, axis=1) for i in range(6)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 frames at 24 fps with a cut at frame 6 and a 0.5 s AAC tone."""
    path = tmp_path_factory.mktemp("video-cli") / "clip.mp4"
    t = np.arange(int(FRAMES / FPS * SR)) / SR
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    with VideoWriter(path, FPS, preset="ultrafast", audio=tone, audio_sr=SR) as writer:
        for frame in frames_with_cut():
            writer.write(frame)
    return path


def audio_seconds(path: Path) -> float:
    with VideoReader(path) as reader:
        audio, sr = reader.read_audio()
    return audio.shape[1] / sr


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_help_lists_the_new_commands(capsys):
    assert run(["video", "--help"]) == 0
    out = capsys.readouterr().out
    for command in ("info", "convert", "shots", "interpolate", "color"):
        assert command in out
    assert run(["video", "interpolate", "--help"]) == 0
    assert "Example" in capsys.readouterr().out


def test_shots_json_and_table(clip, capsys):
    assert run(["video", "shots", str(clip), "--json", "--min-scene-len", "2"]) == 0
    shots = json.loads(capsys.readouterr().out)
    assert [(s["start_frame"], s["end_frame"]) for s in shots] == [(0, 6), (6, 12)]
    assert shots[1]["start_s"] == pytest.approx(0.25)
    assert run(["video", "shots", str(clip), "--min-scene-len", "2"]) == 0
    table = capsys.readouterr().out
    assert "0.250" in table and "shot" in table


def test_interpolate_doubles_the_rate_and_keeps_audio(clip, tmp_path, capsys):
    out = tmp_path / "x2.mp4"
    assert run(["video", "interpolate", str(clip), "-o", str(out), "--factor", "2"]) == 0
    with VideoReader(out) as reader:
        assert reader.fps == pytest.approx(2 * FPS)
        assert reader.has_audio
        frames = list(reader)
    assert len(frames) == 2 * FRAMES
    assert audio_seconds(out) == pytest.approx(audio_seconds(clip), abs=0.03)
    assert "video interpolate" in read_video_metadata(out)["comment"]
    # At the cut (between source frames 5 and 6) a source frame is held, not a blend: the
    # output at t = 0.5 looks like the warm scene (red well above blue), not a mix.
    at_cut = frames[11].reshape(-1, 3).mean(axis=0)
    assert at_cut[0] > 120 and at_cut[2] < 40


def test_interpolate_to_a_target_fps(clip, tmp_path):
    out = tmp_path / "36.mkv"
    assert run(["video", "interpolate", str(clip), "-o", str(out), "--fps", "36"]) == 0
    with VideoReader(out) as reader:
        assert reader.fps == pytest.approx(36)
        assert sum(1 for _ in reader) == 18  # 12 frames * 36 / 24
        assert reader.has_audio


def test_slowmo_drops_audio_by_default(clip, tmp_path):
    out = tmp_path / "slow.mp4"
    args = ["video", "interpolate", str(clip), "-o", str(out), "--factor", "2", "--slowmo"]
    assert run(args) == 0
    with VideoReader(out) as reader:
        assert reader.fps == pytest.approx(FPS)
        assert not reader.has_audio
        assert sum(1 for _ in reader) == 2 * FRAMES


def test_slowmo_can_stretch_audio(clip, tmp_path):
    out = tmp_path / "slow-audio.mp4"
    args = ["video", "interpolate", str(clip), "-o", str(out), "--factor", "2", "--slowmo"]
    assert run([*args, "--audio", "stretch"]) == 0
    assert audio_seconds(out) == pytest.approx(2 * audio_seconds(clip), abs=0.05)
    with VideoReader(out) as reader:
        audio, sr = reader.read_audio()
    spectrum = np.abs(np.fft.rfft(audio.mean(axis=0)))
    assert np.fft.rfftfreq(audio.shape[1], 1 / sr)[np.argmax(spectrum)] == pytest.approx(
        440, abs=10
    )  # stretched in time, not in pitch


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--factor", "3"], "factor=3"),
        (["--factor", "0"], "factor=0"),
        (["--factor", "2", "--fps", "60"], "either"),
        ([], "either"),
        (["--fps", "0"], "fps"),
        (["--factor", "2", "--slowmo", "--audio", "keep"], "slowmo"),
        (["--factor", "2", "--audio", "stretch"], "slowmo"),
        (["--factor", "2", "--audio", "loud"], "audio"),
        (["--fps", "12", "--slowmo"], "slowmo"),
        (["--factor", "2", "--scene-threshold", "2"], "scene_threshold"),
    ],
)
def test_interpolate_refuses_bad_options(clip, tmp_path, capsys, extra, match):
    out = tmp_path / "never.mp4"
    assert run(["video", "interpolate", str(clip), "-o", str(out), *extra]) == 2
    assert match in one_line_error(capsys)
    assert not out.exists()


@pytest.mark.parametrize("command", ["interpolate", "color", "shots"])
def test_missing_and_audio_only_inputs_are_one_line_errors(tmp_path, capsys, command):
    options = {"interpolate": ["--factor", "2"], "color": [], "shots": []}[command]
    output = [] if command == "shots" else ["-o", str(tmp_path / "out.mp4")]
    assert run(["video", command, str(tmp_path / "missing.mp4"), *output, *options]) == 2
    assert "missing.mp4" in one_line_error(capsys)
    wav = tmp_path / "tone.wav"
    sf.write(wav, np.zeros(4800, np.float32), SR)
    assert run(["video", command, str(wav), *output, *options]) == 2
    assert "no video stream" in one_line_error(capsys)
    assert not (tmp_path / "out.mp4").exists()


def test_output_may_not_overwrite_input(clip, capsys):
    before = clip.read_bytes()
    assert run(["video", "interpolate", str(clip), "-o", str(clip), "--factor", "2"]) == 2
    assert "overwrite" in one_line_error(capsys)
    assert clip.read_bytes() == before


def test_color_keeps_frames_and_audio(clip, tmp_path):
    out = tmp_path / "color.mp4"
    assert run(["video", "color", str(clip), "-o", str(out), "--saturation", "1.2"]) == 0
    with VideoReader(out) as reader:
        assert reader.fps == pytest.approx(FPS) and reader.has_audio
        assert sum(1 for _ in reader) == FRAMES
    assert audio_seconds(out) == pytest.approx(audio_seconds(clip), abs=0.03)


def test_color_with_reference_image(clip, tmp_path):
    reference = tmp_path / "look.png"
    blue = np.zeros((32, 32, 3), np.uint8)
    blue[..., 0] = 200  # BGR for OpenCV: a blue picture
    blue[8:24, 8:24] = (230, 120, 40)
    cv2.imwrite(str(reference), blue)
    out = tmp_path / "graded.mp4"
    args = ["video", "color", str(clip), "-o", str(out), "--reference", str(reference)]
    assert run(args) == 0
    with VideoReader(out) as reader:
        last = list(reader)[-1].reshape(-1, 3).mean(axis=0)
    assert last[2] > last[0]  # the warm last shot now leans blue


def test_color_refuses_bad_strength(clip, tmp_path, capsys):
    out = tmp_path / "never.mp4"
    assert run(["video", "color", str(clip), "-o", str(out), "--strength", "2"]) == 2
    assert "strength" in one_line_error(capsys)
    assert not out.exists()
