"""Tests for streaming video reading and writing (aigc_studio.media.video_io)."""

from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigc_studio.errors import MediaError, MediaWarning, ParameterError
from aigc_studio.media.video_io import (
    VideoReader,
    VideoWriter,
    default_video_codec,
    read_video_metadata,
)

FPS = 24
SR = 48_000


def moving_square(count: int, width: int = 64, height: int = 48) -> list[np.ndarray]:
    """Frames with a smooth gradient background and a white square moving to the right."""
    yy, xx = np.mgrid[0:height, 0:width]
    background = np.stack(
        [
            (xx * 255 // max(width - 1, 1)),
            (yy * 255 // max(height - 1, 1)),
            np.full_like(xx, 96),
        ],
        axis=-1,
    ).astype(np.uint8)
    side = max(4, min(width, height) // 4)
    frames = []
    for i in range(count):
        frame = background.copy()
        x0 = (i * 3) % max(width - side, 1)
        y0 = height // 3
        frame[y0 : y0 + side, x0 : x0 + side] = 255
        frames.append(frame)
    return frames


def sine(seconds: float, freq: float = 440.0, sr: int = SR, channels: int = 2) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    tone = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.tile(tone, (channels, 1))


def dominant_frequency(audio: np.ndarray, sr: int) -> float:
    mono = audio.mean(axis=0)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(mono.size)))
    return float(np.fft.rfftfreq(mono.size, 1 / sr)[np.argmax(spectrum)])


def write_clip(path: Path, frames: list[np.ndarray], **kwargs: object) -> Path:
    with VideoWriter(path, FPS, **kwargs) as writer:  # type: ignore[arg-type]
        for frame in frames:
            writer.write(frame)
    assert writer.frames_written == len(frames)
    return path


def read_all(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return list(reader)


@pytest.fixture(scope="module")
def clip_with_audio(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    frames = moving_square(12)
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    write_clip(path, frames, audio=sine(12 / FPS), audio_sr=SR)
    return path, frames


# -- round trips -------------------------------------------------------------------------------


def test_mp4_round_trip_frames_and_properties(clip_with_audio):
    path, frames = clip_with_audio
    with VideoReader(path) as reader:
        assert reader.size == (64, 48)
        assert (reader.width, reader.height) == (64, 48)
        assert reader.fps == pytest.approx(FPS)
        assert reader.frame_count == 12
        assert reader.duration == pytest.approx(12 / FPS, abs=1e-3)
        assert reader.has_audio
        assert reader.rotation == 0
        decoded = list(reader)
    assert len(decoded) == 12
    for got, want in zip(decoded, frames, strict=True):
        assert got.dtype == np.uint8 and got.shape == (48, 64, 3)
        assert np.abs(got.astype(int) - want.astype(int)).mean() < 8
    # The square moves, so the frames must come back in order, not all the same.
    assert not np.array_equal(decoded[0], decoded[-1])


def test_frames_with_time_counts_from_zero(clip_with_audio):
    path, _ = clip_with_audio
    with VideoReader(path) as reader:
        times = [t for t, _ in reader.frames_with_time()]
        # Iterating twice starts again from the first frame.
        assert len(list(reader.frames())) == 12
    assert times == pytest.approx([i / FPS for i in range(12)], abs=1e-3)


def test_audio_track_duration_and_pitch(clip_with_audio):
    path, _ = clip_with_audio
    with VideoReader(path) as reader:
        audio, sr = reader.read_audio()
    assert sr == SR
    assert audio.shape[0] == 2
    assert audio.shape[1] / sr == pytest.approx(12 / FPS, abs=0.05)
    assert dominant_frequency(audio, sr) == pytest.approx(440, abs=5)
    with av.open(str(path)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"


def test_odd_size_is_padded_and_readable(tmp_path):
    frames = moving_square(3, width=719, height=405)
    with pytest.warns(MediaWarning, match=r"719x405 frames are padded to 720x406"):
        path = write_clip(tmp_path / "odd.mp4", frames, preset="ultrafast")
    with VideoReader(path) as reader:
        assert reader.size == (720, 406)
        decoded = list(reader)
    assert len(decoded) == 3
    for got, want in zip(decoded, frames, strict=True):
        assert np.abs(got[:405, :719].astype(int) - want.astype(int)).mean() < 8
        # The padding repeats the last column and row.
        assert np.abs(got[:405, 719].astype(int) - want[:, 718].astype(int)).mean() < 8


def test_single_frame_video(tmp_path):
    frame = moving_square(1)[0]
    path = write_clip(tmp_path / "one.mp4", [frame])
    with VideoReader(path) as reader:
        assert reader.frame_count == 1
        decoded = list(reader)
    assert len(decoded) == 1
    assert np.abs(decoded[0].astype(int) - frame.astype(int)).mean() < 8


def test_ffv1_mkv_is_lossless(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(4)]
    path = write_clip(tmp_path / "lossless.mkv", frames, codec="ffv1")
    with VideoReader(path) as reader:
        assert reader.frame_count == 4
        assert reader.fps == pytest.approx(FPS)
        decoded = list(reader)
    assert len(decoded) == 4
    for got, want in zip(decoded, frames, strict=True):
        np.testing.assert_array_equal(got, want)


def test_ntsc_rate_is_kept_exactly(tmp_path):
    path = tmp_path / "ntsc.mp4"
    with VideoWriter(path, Fraction(30000, 1001), preset="ultrafast") as writer:
        for frame in moving_square(3):
            writer.write(frame)
    with av.open(str(path)) as container:
        assert container.streams.video[0].average_rate == Fraction(30000, 1001)


def test_audio_from_copies_aac_track(tmp_path, clip_with_audio):
    source, _ = clip_with_audio
    path = write_clip(tmp_path / "copy.mp4", moving_square(6), audio_from=source)
    with av.open(str(path)) as container, av.open(str(source)) as original:
        copied = container.streams.audio[0]
        assert copied.codec_context.name == "aac"
        # Stream copy: the packets are byte for byte those of the source.
        got = [bytes(p) for p in container.demux(copied) if p.size]
        want = [bytes(p) for p in original.demux(original.streams.audio[0]) if p.size]
        assert got == want
    with VideoReader(path) as reader:
        audio, sr = reader.read_audio()
    assert dominant_frequency(audio, sr) == pytest.approx(440, abs=5)


def test_audio_from_wav_is_reencoded(tmp_path):
    wav = tmp_path / "tone.wav"
    sf.write(wav, sine(0.5, freq=660, sr=22_050, channels=1).T, 22_050)
    path = write_clip(tmp_path / "reencoded.mp4", moving_square(12), audio_from=wav)
    with av.open(str(path)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
    with VideoReader(path) as reader:
        audio, sr = reader.read_audio()
    assert audio.shape[1] / sr == pytest.approx(0.5, abs=0.05)
    assert dominant_frequency(audio, sr) == pytest.approx(660, abs=5)


def test_mkv_audio_is_flac(tmp_path):
    path = write_clip(
        tmp_path / "a.mkv", moving_square(6), codec="ffv1", audio=sine(0.25), audio_sr=SR
    )
    with av.open(str(path)) as container:
        assert container.streams.audio[0].codec_context.name == "flac"
    with VideoReader(path) as reader:
        assert reader.frame_count == 6
        audio, sr = reader.read_audio()
    assert audio.shape[1] == int(0.25 * SR)
    assert dominant_frequency(audio, sr) == pytest.approx(440, abs=5)


def test_metadata_round_trip(tmp_path):
    tags = {"comment": "made by a test", "title": "Moving square"}
    mp4 = write_clip(tmp_path / "tags.mp4", moving_square(2), metadata=tags)
    got = read_video_metadata(mp4)
    assert got["comment"] == tags["comment"] and got["title"] == tags["title"]
    mkv = write_clip(
        tmp_path / "tags.mkv", moving_square(2), metadata={"aigc_seed": "42"}, preset="ultrafast"
    )
    assert read_video_metadata(mkv)["AIGC_SEED"] == "42"


# -- writer failures ---------------------------------------------------------------------------


def test_exception_in_with_block_leaves_no_file(tmp_path):
    path = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError, match="boom"), VideoWriter(path, FPS) as writer:
        writer.write(moving_square(1)[0])
        raise RuntimeError("boom")
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_closing_without_frames_fails_and_leaves_no_file(tmp_path):
    path = tmp_path / "empty.mp4"
    with pytest.raises(MediaError, match="no frames"), VideoWriter(path, FPS):
        pass
    assert list(tmp_path.iterdir()) == []


def test_existing_file_survives_failed_write(tmp_path):
    path = write_clip(tmp_path / "keep.mp4", moving_square(2))
    before = path.read_bytes()
    with pytest.raises(MediaError), VideoWriter(path, FPS) as writer:
        writer.write(np.zeros((48, 64, 3), dtype=np.float32))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.mp4"]


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((48, 64, 3), dtype=np.float32),
        np.zeros((48, 64), dtype=np.uint8),
        np.zeros((48, 64, 4), dtype=np.uint8),
        np.zeros((50, 64, 3), dtype=np.uint8),  # differs from the first frame
        "not an array",
    ],
)
def test_bad_frame_raises_media_error(tmp_path, bad):
    path = tmp_path / "bad.mp4"
    with pytest.raises(MediaError), VideoWriter(path, FPS) as writer:
        writer.write(np.zeros((48, 64, 3), dtype=np.uint8))
        writer.write(bad)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fps": 0},
        {"fps": -24},
        {"fps": 1001},
        {"fps": float("nan")},
        {"fps": FPS, "crf": -1},
        {"fps": FPS, "crf": 52},
        {"fps": FPS, "codec": "no-such-codec"},
        {"fps": FPS, "pix_fmt": "rgb48be"},
        {"fps": FPS, "audio": np.zeros((1, 100), np.float32)},  # no audio_sr
    ],
)
def test_bad_parameters_raise_parameter_error(tmp_path, kwargs):
    with pytest.raises(ParameterError):
        VideoWriter(tmp_path / "out.mp4", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_unsupported_suffix_raises_parameter_error(tmp_path):
    with pytest.raises(ParameterError, match=r"\.xyz"):
        VideoWriter(tmp_path / "out.xyz", FPS)


def test_audio_from_without_audio_raises(tmp_path):
    silent = write_clip(tmp_path / "silent.mp4", moving_square(2))
    with pytest.raises(MediaError, match="no audio stream"):
        VideoWriter(tmp_path / "out.mp4", FPS, audio_from=silent)
    assert not (tmp_path / "out.mp4").exists()


# -- reader failures ---------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        VideoReader(tmp_path / "nope.mp4")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        VideoReader(path)


def test_random_bytes_file(tmp_path):
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(MediaError, match="noise.mp4"):
        VideoReader(path)


def test_audio_only_file_has_no_video_stream(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, sine(0.1).T, SR)
    with pytest.raises(MediaError, match="no video stream"):
        VideoReader(path)


@pytest.mark.parametrize("keep", [0.4, 0.7])
def test_truncated_mp4_raises_media_error(tmp_path, clip_with_audio, keep):
    source, _ = clip_with_audio
    data = source.read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: int(len(data) * keep)])
    # Either opening or iterating may notice; both must say MediaError and name the file.
    with pytest.raises(MediaError, match="truncated.mp4"), VideoReader(path) as reader:
        for _ in reader:
            pass


def test_rotation_is_read_from_display_matrix(tmp_path):
    path = tmp_path / "rotated.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.set_display_rotation(90)
        for i, frame in enumerate(moving_square(2)):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts = i
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode())
    with VideoReader(path) as reader:
        assert reader.rotation == 90
        assert reader.size == (64, 48)  # frames are returned as stored


def test_read_audio_without_audio_track(tmp_path):
    path = write_clip(tmp_path / "silent.mp4", moving_square(2))
    with VideoReader(path) as reader:
        assert not reader.has_audio
        with pytest.raises(MediaError, match="no audio stream"):
            reader.read_audio()


def test_closed_reader_refuses_to_iterate(clip_with_audio):
    path, _ = clip_with_audio
    reader = VideoReader(path)
    reader.close()
    with pytest.raises(ValueError, match="closed"):
        next(iter(reader))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(min_size=1, max_size=4096))
def test_garbage_raises_only_media_error(tmp_path, data):
    path = tmp_path / "garbage.mp4"
    path.write_bytes(data)
    try:
        with VideoReader(path) as reader:
            for _ in reader:
                pass
    except MediaError:
        pass


# -- display rotation and variable frame rate ------------------------------------------------


def write_rotated(path: Path, frames: list[np.ndarray], degrees: int) -> Path:
    """Write ``frames`` as stored, with a display matrix asking players to turn them."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv444p"
        stream.options = {"qp": "0"}  # lossless, so that frames compare exactly
        stream.set_display_rotation(degrees)
        for i, frame in enumerate(frames):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts = i
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode())
    return path


@pytest.mark.parametrize(("degrees", "turns"), [(90, 1), (-90, 3), (180, 2)])
def test_upright_reader_applies_the_display_rotation(tmp_path, degrees, turns):
    frames = moving_square(3)
    path = write_rotated(tmp_path / f"rotated{degrees}.mp4", frames, degrees)
    with VideoReader(path) as stored:
        assert stored.display_size == stored.size == (64, 48)
        raw = list(stored)
    with VideoReader(path, upright=True) as reader:
        assert reader.size == (64, 48)  # as stored
        assert reader.display_size == ((48, 64) if turns % 2 else (64, 48))
        upright = [frame for _, frame in reader.frames_with_time()]
    assert len(upright) == 3
    for turned, stored_frame in zip(upright, raw, strict=True):
        assert turned.flags["C_CONTIGUOUS"]
        np.testing.assert_array_equal(turned, np.rot90(stored_frame, turns))


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg program")
def test_upright_frames_match_what_ffmpeg_shows(tmp_path):
    """A phone-style rotation tag written by ffmpeg comes out as ffmpeg's autorotate shows it."""
    plain = write_clip(tmp_path / "plain.mp4", moving_square(2), pix_fmt="yuv444p", crf=0)
    tagged = tmp_path / "tagged.mp4"
    for option in (
        ["-display_rotation", "90", "-i", str(plain)],  # ffmpeg >= 6
        ["-i", str(plain), "-metadata:s:v", "rotate=90"],
    ):  # ffmpeg 5
        command = ["ffmpeg", "-v", "error", "-y", *option, "-c", "copy", str(tagged)]
        if subprocess.run(command, capture_output=True).returncode == 0:
            break
    with VideoReader(tagged, upright=True) as reader:
        assert reader.rotation != 0
        ours = next(iter(reader))
    shown = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(tagged), "-frames:v", "1", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "pipe:1"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    height, width = ours.shape[:2]
    assert len(shown) == width * height * 3  # the same (turned) size
    theirs = np.frombuffer(shown, np.uint8).reshape(height, width, 3)
    assert np.abs(theirs.astype(int) - ours.astype(int)).mean() < 2


def test_writer_keeps_variable_frame_times(tmp_path):
    # A stall in the middle (as when a camera drops frames); even spacing at both ends, where
    # MP4's duration (the decoding-time span of B-frame video) then equals the display span.
    times = [0.0, 0.04, 0.08, 0.2, 0.24, 0.28]
    frames = moving_square(len(times))
    for suffix in (".mp4", ".mkv"):
        path = tmp_path / f"vfr{suffix}"
        with VideoWriter(path, 1 / 0.06) as writer:
            for time, frame in zip(times, frames, strict=True):
                writer.write(frame, time=time)
        with VideoReader(path) as reader:
            read = [t for t, _ in reader.frames_with_time()]
            decoded = list(reader)
            # The last frame lasts 1 / fps: the video ends one frame after it.
            assert reader.duration == pytest.approx(0.28 + 0.06, abs=0.002)
        assert read == pytest.approx(times, abs=0.002)
        assert len(decoded) == len(frames)


def test_frame_times_that_do_not_advance_are_moved_after_the_previous(tmp_path):
    path = tmp_path / "ties.mp4"
    with VideoWriter(path, FPS) as writer:
        for time, frame in zip([0.0, 0.0, 0.5], moving_square(3), strict=True):
            writer.write(frame, time=time)
    with VideoReader(path) as reader:
        times = [t for t, _ in reader.frames_with_time()]
    assert times[0] == 0.0 and 0 < times[1] < 0.01 and times[2] == pytest.approx(0.5, abs=1e-3)


@pytest.mark.parametrize("time", [-1.0, float("nan"), "0.5"])
def test_bad_frame_time_raises_parameter_error(tmp_path, time):
    with (
        pytest.raises(ParameterError, match="time"),
        VideoWriter(tmp_path / "bad.mp4", FPS) as writer,
    ):
        writer.write(moving_square(1)[0], time=time)
    assert not (tmp_path / "bad.mp4").exists()


def test_webm_is_vp9_with_opus_by_default(tmp_path):
    frames = moving_square(6)
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(12_000) / 48_000)).astype(np.float32)
    path = write_clip(tmp_path / "web.webm", frames, audio=tone[None], audio_sr=48_000)
    assert default_video_codec(path) == "libvpx-vp9" and default_video_codec("a.mp4") == "libx264"
    assert default_video_codec("a.mkv", "ffv1") == "ffv1" == default_video_codec("a.avi", "png")
    assert default_video_codec("a.mkv", "h264") == "libx264" == default_video_codec("a.mp4", "ffv1")
    import av

    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "vp9"
        assert container.streams.audio[0].codec_context.name == "opus"
    decoded = read_all(path)
    assert len(decoded) == 6
    assert np.abs(decoded[3].astype(int) - frames[3].astype(int)).mean() < 6


def test_webm_refuses_h264_in_one_clear_line(tmp_path):
    with pytest.raises(ParameterError, match="WebM holds VP8, VP9 or AV1 video, not libx264"):
        VideoWriter(tmp_path / "web.webm", FPS, codec="libx264")
    assert not list(tmp_path.iterdir())
