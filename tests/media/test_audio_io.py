from __future__ import annotations

import os
from pathlib import Path

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigc_studio.errors import AigcError, MediaError, ParameterError
from aigc_studio.media import load_audio, read_audio_tags, save_audio


def dominant_frequency(audio: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio[0]))
    return float(np.fft.rfftfreq(audio.shape[1], 1 / sr)[np.argmax(spectrum)])


def test_load_wav_gives_channels_first_float32(wav_file: Path, sine) -> None:
    expected, sr = sine
    audio, rate = load_audio(wav_file)
    assert rate == sr
    assert audio.dtype == np.float32
    assert audio.shape == expected.shape
    np.testing.assert_allclose(audio, expected, atol=1e-4)


def test_mono_averages_channels(wav_file: Path, sine) -> None:
    expected, _ = sine
    audio, _ = load_audio(wav_file, mono=True)
    assert audio.shape == (1, expected.shape[1])
    np.testing.assert_allclose(audio[0], expected.mean(axis=0), atol=1e-4)


def test_resampling_keeps_frequency_and_duration(wav_file: Path) -> None:
    audio, rate = load_audio(wav_file, sr=22_050)
    assert rate == 22_050
    assert abs(audio.shape[1] - 22_050) <= 2
    assert abs(dominant_frequency(audio, rate) - 440) < 3


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3", ".m4a", ".opus"])
def test_every_format_round_trips_with_tags(tmp_path: Path, sine, suffix: str) -> None:
    audio, sr = sine
    path = save_audio(tmp_path / f"out{suffix}", audio, sr, tags={"comment": "made by test"})
    loaded, rate = load_audio(path, sr=sr)
    assert loaded.shape[0] == 2
    # Lossy codecs add encoder delay/padding; the length stays within a few codec frames.
    assert abs(loaded.shape[1] - sr) < 0.1 * sr
    assert abs(dominant_frequency(loaded, rate) - 440) < 5
    assert read_audio_tags(path).get("comment") == "made by test"


def test_lossless_formats_are_bit_accurate_to_24_bits(tmp_path: Path, sine) -> None:
    audio, sr = sine
    for suffix in (".wav", ".flac"):
        loaded, _ = load_audio(save_audio(tmp_path / f"x{suffix}", audio, sr), sr=None)
        np.testing.assert_allclose(loaded, audio, atol=2.0**-22)


def test_over_full_scale_wav_is_stored_as_float_not_clipped(tmp_path: Path) -> None:
    loud = np.array([[0.0, 1.5, -2.0, 0.25]], dtype=np.float32)
    loaded, _ = load_audio(save_audio(tmp_path / "loud.wav", loud, 8000))
    np.testing.assert_allclose(loaded, loud)


def test_audio_track_of_a_video_is_read(tmp_path: Path, sine) -> None:
    av = pytest.importorskip("av")
    audio, sr = sine
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=sr, layout="stereo")
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(audio), format="fltp", layout="stereo"
        )
        frame.sample_rate = sr
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    loaded, rate = load_audio(path)
    assert rate == sr and loaded.shape[0] == 2
    assert abs(dominant_frequency(loaded, rate) - 440) < 5


# --- bad input -------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no such file"):
        load_audio(tmp_path / "nope.wav")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.wav").touch()
    with pytest.raises(MediaError, match="empty"):
        load_audio(tmp_path / "empty.wav")


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="folder"):
        load_audio(tmp_path)


def test_truncated_wav(tmp_path: Path, wav_file: Path) -> None:
    data = wav_file.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[:30])  # part of the header only
    with pytest.raises(MediaError, match=str(cut.name)):
        load_audio(cut)


def test_garbage_is_not_audio(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(os.urandom(2000))
    with pytest.raises(MediaError):
        load_audio(junk)


def test_file_without_audio_stream(tmp_path: Path) -> None:
    av = pytest.importorskip("av")
    path = tmp_path / "silent-video.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 40, np.uint8), "rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(MediaError, match="no audio stream"):
        load_audio(path)


def test_nan_samples_in_a_float_wav_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    sf.write(path, np.array([0.1, np.nan, 0.2], dtype=np.float32), 8000, subtype="FLOAT")
    with pytest.raises(MediaError, match="NaN"):
        load_audio(path)


def test_zero_length_wav_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros((0, 1), dtype=np.float32), 8000)
    with pytest.raises(MediaError, match="no samples"):
        load_audio(path)


def test_overlong_file_is_refused_before_decoding(wav_file: Path) -> None:
    with pytest.raises(MediaError, match="limit"):
        load_audio(wav_file, max_hours=0.5 / 3600)


@pytest.mark.parametrize("sr", [0, -16000, 10**9, 44.1, True])
def test_absurd_sample_rates(wav_file: Path, sr) -> None:
    with pytest.raises(ParameterError):
        load_audio(wav_file, sr=sr)


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.zeros((2, 0), np.float32), "no samples"),
        (np.array([[0.0, np.inf]], np.float32), "NaN or infinite"),
        (np.zeros((16000, 2), np.float32), "channels"),
        (np.zeros((1, 2, 3), np.float32), "shape"),
        (np.array(["a", "b"]), "numeric"),
    ],
)
def test_bad_arrays_are_refused_and_nothing_is_written(tmp_path: Path, array, match) -> None:
    with pytest.raises(MediaError, match=match):
        save_audio(tmp_path / "bad.wav", array, 16000)
    assert list(tmp_path.iterdir()) == []


def test_unsupported_suffix(tmp_path: Path, sine) -> None:
    with pytest.raises(ParameterError, match="suffix"):
        save_audio(tmp_path / "out.xyz", *sine)


def test_failed_write_keeps_the_previous_file(tmp_path: Path, sine) -> None:
    target = tmp_path / "keep.wav"
    target.write_bytes(b"previous")
    with pytest.raises(MediaError):
        save_audio(target, np.array([[np.nan]], np.float32), 16000)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.wav"]


def test_integer_pcm_arrays_are_scaled(tmp_path: Path) -> None:
    pcm = np.array([[0, 16384, -32768]], dtype=np.int16)
    loaded, _ = load_audio(save_audio(tmp_path / "pcm.wav", pcm, 8000))
    np.testing.assert_allclose(loaded, [[0.0, 0.5, -1.0]], atol=1e-6)


# --- properties: nothing but AigcError escapes ------------------------------------------------


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=3000), suffix=st.sampled_from([".wav", ".flac", ".mp3", ".m4a", ".ogg"])
)
def test_random_bytes_raise_only_media_errors(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    try:
        audio, sr = load_audio(path)
    except AigcError:
        return
    assert audio.dtype == np.float32 and np.isfinite(audio).all() and sr > 0


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    array=hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.int16]),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=70),
    ),
    sr=st.integers(min_value=-10, max_value=10**6),
)
def test_random_arrays_save_or_raise_aigc_errors(
    tmp_path: Path, array: np.ndarray, sr: int
) -> None:
    path = tmp_path / "random.flac"
    try:
        save_audio(path, array, sr)
    except AigcError:
        assert not path.exists()
        return
    loaded, rate = load_audio(path)
    assert rate == sr and np.isfinite(loaded).all()
    path.unlink()
