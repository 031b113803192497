"""Tests for ``aigc video`` commands on tiny clips (shots, interpolate, color, restoration)."""

from __future__ import annotations

import json
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import soundfile as sf

from aigc_studio.cli import run
from aigc_studio.errors import DamagedMediaWarning
from aigc_studio.evaluation.video import psnr
from aigc_studio.library import Provenance
from aigc_studio.media.video_io import VideoReader, VideoWriter, read_video_metadata
from aigc_studio.video.interpolate import interpolate_pair
from aigc_studio.weights import shipped_weights

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
        (["--factor", "3"], "--factor 3 is not supported"),
        (["--factor", "0"], "--factor 0 is not supported"),
        (["--factor", "2", "--fps", "60"], "either"),
        ([], "either"),
        (["--fps", "0"], "--fps 0 is outside"),
        (["--fps", "nan"], "--fps nan is outside"),
        (["--factor", "2", "--slowmo", "--audio", "keep"], "slowmo"),
        (["--factor", "2", "--audio", "stretch"], "slowmo"),
        (["--factor", "2", "--audio", "loud"], "--audio loud is not supported"),
        (["--fps", "12", "--slowmo"], "slowmo"),
        (["--factor", "2", "--scene-threshold", "2"], "--scene-threshold"),
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
    assert run(["video", "color", str(clip), "-o", str(out), "--white-balance", "auto"]) == 2
    assert "--white-balance 'auto' is unknown" in one_line_error(capsys)
    assert not out.exists()


def test_color_white_balance_choices_reach_the_provenance(clip, tmp_path):
    out = tmp_path / "plain.mkv"
    args = ["video", "color", str(clip), "-o", str(out), "--codec", "ffv1"]
    assert run([*args, "--white-balance", "off", "--no-deflicker", "--no-contrast"]) == 0
    for before, after in zip(read_frames(clip), read_frames(out), strict=True):
        np.testing.assert_array_equal(after, before)  # every step off: the frames as they were
    params = Provenance.parse_embedded(read_video_metadata(out)["COMMENT"]).params
    assert params["white_balance"] is False and params["deflicker"] is False
    gray = tmp_path / "gray.mkv"
    args = ["video", "color", str(clip), "-o", str(gray), "--codec", "ffv1"]
    assert run([*args, "--white-balance", "gray-world"]) == 0
    params = Provenance.parse_embedded(read_video_metadata(gray)["COMMENT"]).params
    assert params["white_balance_method"] == "gray-world" and params["deflicker"] is True


# -- restoration: deblur, inpaint, denoise, enhance -----------------------------------------

RESTORE_COMMANDS = ("deblur", "inpaint", "denoise", "enhance")


def restore_options(command: str) -> list[str]:
    return ["--box", "4,4,8,8"] if command == "inpaint" else []


def panning_frames(
    count: int, width: int = 64, height: int = 48, seed: int = 1
) -> list[np.ndarray]:
    """A camera panning 2 pixels per frame over smooth colored texture."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(30, 220, (height // 6 + 2, width // 6 + 8, 3)).astype(np.float32)
    world = cv2.resize(small, (width + 2 * count + 8, height), interpolation=cv2.INTER_CUBIC)
    world = np.clip(world, 0, 255).astype(np.uint8)
    return [np.ascontiguousarray(world[:, 2 * i : 2 * i + width]) for i in range(count)]


def write_frames(path: Path, frames: list[np.ndarray], **kwargs: Any) -> Path:
    with VideoWriter(path, FPS, preset="ultrafast", **kwargs) as writer:
        for frame in frames:
            writer.write(frame)
    return path


@pytest.fixture(scope="module")
def panning_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 frames of a panning camera with a white logo box at (24, 16, 12, 10), and a tone."""
    frames = panning_frames(8)
    for frame in frames:
        frame[16:26, 24:36] = 255
    t = np.arange(int(8 / FPS * SR)) / SR
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    path = tmp_path_factory.mktemp("restore") / "pan.mp4"
    return write_frames(path, frames, audio=tone, audio_sr=SR)


def read_frames(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return list(reader)


def test_help_lists_the_restoration_commands(capsys):
    assert run(["video", "--help"]) == 0
    out = capsys.readouterr().out
    for command in RESTORE_COMMANDS:
        assert command in out
    assert run(["video", "enhance", "--help"]) == 0
    assert "--no-denoise" in capsys.readouterr().out


def shapes(count: int) -> list[np.ndarray]:
    """Colored rectangles on gray, moving right: sharp edges for the blur estimate to measure."""
    rng = np.random.default_rng(4)
    world = np.full((48, 64 + 2 * count, 3), 90, np.uint8)
    for _ in range(30):
        x, y = (int(v) for v in rng.integers(0, (64 + 2 * count, 48)))
        w, h = (int(v) for v in rng.integers(4, 16, 2))
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.rectangle(world, (x, y), (x + w, y + h), color, -1)
    return [np.ascontiguousarray(world[:, 2 * i : 2 * i + 64]) for i in range(count)]


def luma_psnr(reference: np.ndarray, estimate: np.ndarray) -> float:
    gray = cv2.COLOR_RGB2GRAY
    return psnr(cv2.cvtColor(reference, gray), cv2.cvtColor(estimate, gray))


def test_deblur_sharpens_and_keeps_audio_and_provenance(tmp_path, capsys):
    sharp = shapes(6)
    blurred = [cv2.GaussianBlur(f, (0, 0), 1.5) for f in sharp]
    t = np.arange(int(6 / FPS * SR)) / SR
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    source = write_frames(tmp_path / "soft.mkv", blurred, codec="ffv1", audio=tone, audio_sr=SR)
    out = tmp_path / "sharp.mkv"
    assert run(["video", "deblur", str(source), "-o", str(out), "--codec", "ffv1"]) == 0
    assert "estimated blur sigma" in capsys.readouterr().err
    restored = read_frames(out)
    assert len(restored) == 6
    gains = [
        luma_psnr(s, r) - luma_psnr(s, b) for s, r, b in zip(sharp, restored, blurred, strict=True)
    ]
    assert np.mean(gains) > 2.0
    assert "video deblur" in read_video_metadata(out)["COMMENT"]  # Matroska tags are upper case
    assert audio_seconds(out) == pytest.approx(audio_seconds(source), abs=0.03)


def test_deblur_net_without_weights_and_unknown_methods_are_clear_errors(
    panning_clip, tmp_path, capsys, monkeypatch
):
    import aigc_studio.weights

    monkeypatch.setattr(aigc_studio.weights, "shipped_weights", lambda name: None)
    out = tmp_path / "never.mp4"
    assert run(["video", "deblur", str(panning_clip), "-o", str(out), "--method", "net"]) == 2
    assert "make weights-deblur-net" in one_line_error(capsys)
    assert not out.exists()
    assert run(["video", "deblur", str(panning_clip), "-o", str(out), "--method", "x"]) == 2
    assert "method='x'" in one_line_error(capsys)


@pytest.mark.skipif(shipped_weights("deblur-net") is None, reason="deblur-net not shipped")
def test_deblur_net_runs_the_shipped_network_and_records_it(panning_clip, tmp_path):
    out = tmp_path / "net.mp4"
    assert run(["video", "deblur", str(panning_clip), "-o", str(out), "--method", "net"]) == 0
    with VideoReader(out) as reader, VideoReader(panning_clip) as source:
        assert sum(1 for _ in reader) == sum(1 for _ in source)
    comment = read_video_metadata(out)["comment"]
    assert "frame-restorer" in comment and '"method":"net"' in comment


def test_interpolate_refine_needs_the_refiner_and_is_off_by_default(
    clip, tmp_path, capsys, monkeypatch
):
    import aigc_studio.weights

    monkeypatch.setattr(aigc_studio.weights, "shipped_weights", lambda name: None)
    out = tmp_path / "never.mp4"
    args = ["video", "interpolate", str(clip), "--factor", "2"]
    assert run([*args, "-o", str(out), "--refine"]) == 2
    assert "make weights-frame-refiner" in one_line_error(capsys)
    assert not out.exists()
    plain = tmp_path / "plain.mp4"
    assert run([*args, "-o", str(plain)]) == 0  # off by default
    assert "learned refinement" not in read_video_metadata(plain)["comment"]


@pytest.mark.skipif(shipped_weights("frame-refiner") is None, reason="frame-refiner not shipped")
def test_interpolate_refine_runs_the_network_and_records_it(clip, tmp_path):
    out = tmp_path / "refined.mp4"
    args = ["video", "interpolate", str(clip), "-o", str(out), "--factor", "2", "--refine"]
    assert run(args) == 0
    with VideoReader(out) as reader:
        assert sum(1 for _ in reader) == 2 * FRAMES
    comment = read_video_metadata(out)["comment"]
    assert "learned refinement" in comment and "frame-restorer" in comment


def test_inpaint_box_removes_the_logo_and_keeps_audio(panning_clip, tmp_path, capsys):
    out = tmp_path / "clean.mp4"
    args = ["video", "inpaint", str(panning_clip), "-o", str(out), "--box", "24,16,12,10"]
    assert run(args) == 0
    assert "filled from other frames" in capsys.readouterr().err
    frames = read_frames(out)
    assert len(frames) == 8
    truth = panning_frames(8)
    for filled, clean in zip(frames, truth, strict=True):
        assert filled[16:26, 24:36].mean() < clean[16:26, 24:36].mean() + 25  # logo gone
    assert audio_seconds(out) == pytest.approx(audio_seconds(panning_clip), abs=0.03)


def test_inpaint_with_a_mask_picture_and_a_mask_video(panning_clip, tmp_path):
    mask = np.zeros((48, 64, 3), np.uint8)
    mask[16:26, 24:36] = 255
    picture = tmp_path / "logo.png"
    cv2.imwrite(str(picture), mask)
    out = tmp_path / "from-png.mp4"
    assert run(["video", "inpaint", str(panning_clip), "-o", str(out), "--mask", str(picture)]) == 0
    assert read_frames(out)[4][16:26, 24:36].mean() < 200
    video_mask = write_frames(tmp_path / "mask.mkv", [mask] * 8, codec="ffv1")
    out = tmp_path / "from-video.mp4"
    assert (
        run(["video", "inpaint", str(panning_clip), "-o", str(out), "--mask", str(video_mask)]) == 0
    )
    assert len(read_frames(out)) == 8


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ([], "either --mask or --box"),
        (["--box", "1,1,4,4", "--mask", "m.png"], "either --mask or --box"),
        (["--box", "60,40,10,10"], "reaches outside the 64x48 frame"),
        (["--box", "1,2,3"], "four integers"),
        (["--neighbours", "99", "--box", "1,1,4,4"], "neighbours"),
    ],
)
def test_inpaint_refuses_bad_masks(panning_clip, tmp_path, capsys, extra, match):
    out = tmp_path / "never.mp4"
    assert run(["video", "inpaint", str(panning_clip), "-o", str(out), *extra]) == 2
    assert match in one_line_error(capsys)
    assert not out.exists()


def test_inpaint_mask_of_the_wrong_size_names_both_sizes(panning_clip, tmp_path, capsys):
    picture = tmp_path / "small.png"
    cv2.imwrite(str(picture), np.full((20, 30), 255, np.uint8))
    out = tmp_path / "never.mp4"
    assert run(["video", "inpaint", str(panning_clip), "-o", str(out), "--mask", str(picture)]) == 2
    error = one_line_error(capsys)
    assert "30x20" in error and "64x48" in error
    assert not out.exists()


def test_inpaint_empty_mask_copies_with_a_note(panning_clip, tmp_path, capsys):
    picture = tmp_path / "empty.png"
    cv2.imwrite(str(picture), np.zeros((48, 64), np.uint8))
    out = tmp_path / "same.mkv"
    args = ["video", "inpaint", str(panning_clip), "-o", str(out), "--mask", str(picture)]
    assert run([*args, "--codec", "ffv1"]) == 0
    assert "mask is empty" in capsys.readouterr().err
    for before, after in zip(read_frames(panning_clip), read_frames(out), strict=True):
        np.testing.assert_array_equal(after, before)


def test_denoise_reduces_noise(tmp_path, capsys):
    clean = panning_frames(6)
    rng = np.random.default_rng(0)
    noisy = [np.clip(f + rng.normal(0, 12, f.shape), 0, 255).astype(np.uint8) for f in clean]
    source = write_frames(tmp_path / "noisy.mkv", noisy, codec="ffv1")
    out = tmp_path / "denoised.mkv"
    assert run(["video", "denoise", str(source), "-o", str(out), "--codec", "ffv1"]) == 0
    assert "measured noise" in capsys.readouterr().err
    denoised = read_frames(out)
    gains = [psnr(c, d) - psnr(c, n) for c, d, n in zip(clean, denoised, noisy, strict=True)]
    assert np.mean(gains) > 3


def test_enhance_runs_the_chain_and_its_switches(panning_clip, tmp_path, capsys):
    out = tmp_path / "enhanced.mp4"
    assert run(["video", "enhance", str(panning_clip), "-o", str(out)]) == 0
    with VideoReader(out) as reader:
        assert reader.has_audio and sum(1 for _ in reader) == 8
    comment = read_video_metadata(out)["comment"]
    assert all(step in comment for step in ('"denoise"', '"sharpen"', '"color"'))
    only_color = tmp_path / "color-only.mp4"
    args = ["video", "enhance", str(panning_clip), "-o", str(only_color), "--no-denoise"]
    assert run([*args, "--no-deblur"]) == 0
    assert '"denoise"' not in read_video_metadata(only_color)["comment"]
    never = tmp_path / "never.mp4"
    capsys.readouterr()
    args = ["video", "enhance", str(panning_clip), "-o", str(never), "--no-denoise"]
    assert run([*args, "--no-deblur", "--no-color"]) == 2
    assert "nothing to do" in one_line_error(capsys)
    assert not never.exists()


# -- restoration commands on awkward input --------------------------------------------------


@pytest.mark.parametrize("command", RESTORE_COMMANDS)
def test_restoration_of_an_audio_only_file_is_a_one_line_error(tmp_path, capsys, command):
    wav = tmp_path / "tone.wav"
    sf.write(wav, np.zeros(4800, np.float32), SR)
    out = tmp_path / "out.mp4"
    assert run(["video", command, str(wav), "-o", str(out), *restore_options(command)]) == 2
    assert "no video stream" in one_line_error(capsys)
    assert not out.exists()


@pytest.mark.parametrize("command", ["deblur", "inpaint", "denoise", "color"])
def test_a_one_frame_video_is_processed(tmp_path, command):
    source = write_frames(tmp_path / "one.mp4", panning_frames(1))
    out = tmp_path / "out.mp4"
    assert run(["video", command, str(source), "-o", str(out), *restore_options(command)]) == 0
    assert len(read_frames(out)) == 1


def test_odd_sizes_are_padded_in_mp4_and_kept_in_ffv1(tmp_path, capsys):
    """H.264 in 4:2:0 needs even sizes: the writer repeats the last column and row."""
    frames = panning_frames(2, width=719, height=405)
    source = write_frames(tmp_path / "odd.mkv", frames, codec="ffv1")
    mp4 = tmp_path / "odd.mp4"
    assert run(["video", "deblur", str(source), "-o", str(mp4), "--sigma", "1"]) == 0
    assert "warning: " in capsys.readouterr().err  # the user is told, on one line
    with VideoReader(mp4) as reader:
        assert reader.size == (720, 406)
        first = next(iter(reader))
    # The added column and row repeat their neighbours (up to compression).
    assert np.abs(first[:, 719].astype(int) - first[:, 718]).mean() < 4
    assert np.abs(first[405].astype(int) - first[404]).mean() < 4
    mkv = tmp_path / "odd.mkv.out.mkv"
    assert run(["video", "denoise", str(source), "-o", str(mkv), "--codec", "ffv1"]) == 0
    assert "warning" not in capsys.readouterr().err
    with VideoReader(mkv) as reader:
        assert reader.size == (719, 405) and sum(1 for _ in reader) == 2


def test_a_rotated_video_comes_out_upright(tmp_path):
    import av

    frames = panning_frames(3)
    path = tmp_path / "portrait.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv444p"
        stream.options = {"qp": "0"}
        stream.set_display_rotation(90)
        for i, frame in enumerate(frames):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts = i
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode())
    out = tmp_path / "upright.mkv"
    assert (
        run(["video", "deblur", str(path), "-o", str(out), "--strength", "0", "--codec", "ffv1"])
        == 0
    )
    with VideoReader(out) as reader:
        assert reader.rotation == 0 and reader.size == (48, 64)
        written = list(reader)
    for got, stored in zip(written, frames, strict=True):
        assert np.abs(got.astype(int) - np.rot90(stored).astype(int)).mean() < 1.5
    # Every command that writes frames turns them upright (the output carries no rotation).
    others = {
        "convert": [],
        "color": [],
        "interpolate": ["--factor", "2"],
        "enhance": [],
        "denoise": [],
        "inpaint": ["--box", "4,4,8,8"],
    }
    for command, options in others.items():
        out = tmp_path / f"{command}.mp4"
        assert run(["video", command, str(path), "-o", str(out), *options]) == 0
        with VideoReader(out) as reader:
            assert (reader.rotation, reader.size) == (0, (48, 64)), command


def test_variable_frame_rate_keeps_its_timing_and_duration(tmp_path):
    import av

    # A stall in the middle, as when a camera drops frames: 8 frames over 0.56 s.
    times = [0.0, 0.04, 0.08, 0.12, 0.4, 0.44, 0.48, 0.52]
    frames = panning_frames(len(times))
    path = tmp_path / "vfr.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for time, frame in zip(times, frames, strict=True):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts, video_frame.time_base = round(time * 1000), Fraction(1, 1000)
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode())
    with VideoReader(path) as reader:
        source_duration, frame_time = reader.duration, 1 / reader.fps
    for command in ("denoise", "inpaint", "color", "enhance", "convert"):
        out = tmp_path / f"{command}.mp4"
        assert run(["video", command, str(path), "-o", str(out), *restore_options(command)]) == 0
        with VideoReader(out) as reader:
            written = [t for t, _ in reader.frames_with_time()]
            assert abs(reader.duration - source_duration) <= frame_time
        assert written == pytest.approx(times, abs=0.002), command
    # Doubling the rate puts each new frame half way between its neighbours' own times.
    out = tmp_path / "double.mp4"
    assert run(["video", "interpolate", str(path), "-o", str(out), "--factor", "2"]) == 0
    halves = [t + d / 2 for t, d in zip(times, np.diff([*times, times[-1] + 0.04]), strict=True)]
    with VideoReader(out) as reader:
        written = [t for t, _ in reader.frames_with_time()]
    assert written == pytest.approx(sorted(times + halves), abs=0.002)
    # Resampling to a constant 50 fps: the frame at 0.26 s is made half way through the stall
    # (0.12 -> 0.40 s), not from the frames that were at 0.24 s in a constant-rate reading.
    out = tmp_path / "fifty.mkv"
    args = ["video", "interpolate", str(path), "-o", str(out), "--fps", "50", "--codec", "ffv1"]
    assert run(args) == 0
    with VideoReader(out) as reader:
        resampled = list(reader)
    assert len(resampled) == 28  # 0.56 s at 50 fps
    with VideoReader(path) as reader:
        decoded = list(reader)
    expected = interpolate_pair(decoded[3], decoded[4], 0.5)
    assert np.abs(resampled[13].astype(int) - expected.astype(int)).mean() < 1.0


def test_a_truncated_file_is_a_one_line_error(panning_clip, tmp_path, capsys):
    data = panning_clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "never.mp4"
    assert run(["video", "denoise", str(cut), "-o", str(out)]) == 2
    error = one_line_error(capsys)
    assert "cut.mp4" in error and ("truncated" in error or "corrupt" in error)
    assert not out.exists()


def test_a_truncated_matroska_file_is_a_one_line_error(tmp_path, capsys):
    # Matroska has no per-frame index to compare with the file size; its header's duration
    # (kept in a cut-off file) tells a truncated file from a short one.
    whole = write_frames(tmp_path / "whole.mkv", panning_frames(48))  # 2 s
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    out = tmp_path / "never.mp4"
    assert run(["video", "convert", str(cut), "-o", str(out)]) == 2
    error = one_line_error(capsys)
    assert "cut.mkv: file is truncated: the video stops at" in error and "of the 2.0" in error
    assert not out.exists()
    assert run(["video", "convert", str(whole), "-o", str(out)]) == 0


def test_warnings_are_one_line_and_quiet_hides_them(clip, tmp_path, monkeypatch, capsys):
    from aigc_studio.media import video_io

    real = video_io.decode_audio

    def damaged(container: Any, stream: Any, path: Any) -> Any:
        yield from real(container, stream, path)
        warnings.warn(f"{path}: skipped 1 damaged audio packet", DamagedMediaWarning, stacklevel=2)

    monkeypatch.setattr(video_io, "decode_audio", damaged)
    out = tmp_path / "converted.avi"  # AAC is not copied into AVI: decoded, so warned about
    assert run(["video", "convert", str(clip), "-o", str(out)]) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == f"warning: {clip}: skipped 1 damaged audio packet"
    assert lines[1].startswith("wrote ") and len(lines) == 2
    assert run(["--quiet", "video", "convert", str(clip), "-o", str(tmp_path / "q.avi")]) == 0
    assert capsys.readouterr().err == ""


def test_webm_output_is_vp9_and_keeps_the_audio(clip, tmp_path, capsys):
    out = tmp_path / "web.webm"
    assert run(["video", "color", str(clip), "-o", str(out)]) == 0
    with VideoReader(out) as reader:
        assert reader.has_audio and sum(1 for _ in reader) == FRAMES
    assert audio_seconds(out) == pytest.approx(audio_seconds(clip), abs=0.03)
    comment = Provenance.parse_embedded(read_video_metadata(out)["COMMENT"])
    assert comment is not None and comment.params["codec"] == "libvpx-vp9"
    capsys.readouterr()
    never = tmp_path / "never.webm"
    args = ["video", "interpolate", str(clip), "-o", str(never), "--factor", "2"]
    assert run([*args, "--codec", "libx264"]) == 2
    assert "WebM holds VP8, VP9 or AV1 video" in one_line_error(capsys)
    assert not never.exists()


def test_a_lossless_input_stays_lossless_where_the_container_allows(tmp_path, capsys):
    frames = panning_frames(4)
    source = write_frames(tmp_path / "master.mkv", frames, codec="ffv1")
    for suffix in (".mkv", ".avi"):
        out = tmp_path / f"same{suffix}"
        assert run(["video", "convert", str(source), "-o", str(out)]) == 0
        with VideoReader(out) as reader:
            assert reader.codec == "ffv1"
        for before, after in zip(frames, read_frames(out), strict=True):
            np.testing.assert_array_equal(after, before)
    capsys.readouterr()
    mp4 = tmp_path / "lossy.mp4"
    assert run(["video", "convert", str(source), "-o", str(mp4)]) == 0
    assert "the input is lossless (ffv1); .mp4 gets libx264" in capsys.readouterr().err
    with VideoReader(mp4) as reader:
        assert reader.codec == "h264"
    args = ["video", "convert", str(source), "-o", str(tmp_path / "x264.mkv")]
    assert run([*args, "--codec", "libx264"]) == 0  # asked for: no note
    assert "the input is lossless" not in capsys.readouterr().err
