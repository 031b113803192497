"""Read and write video files frame by frame with PyAV.

:class:`VideoReader` decodes a video stream into ``uint8`` RGB frames of shape ``(H, W, 3)``, one
at a time, and :class:`VideoWriter` encodes such frames (H.264 in MP4/MOV/MKV/AVI by default, FFV1
for lossless work) with an optional audio track. Neither ever holds a whole video in memory, and a
written file appears at its destination only once it is complete.

This module only moves pixels and samples between files and arrays; it does no processing (scaling,
colour work, resampling beyond what an audio codec demands) and it never calls the ``ffmpeg``
program: PyAV carries its own FFmpeg libraries.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import av
import av.error
import numpy as np

from aigc_studio.errors import AigcError, MediaError, MediaWarning, ParameterError
from aigc_studio.media.atomic import atomic_output
from aigc_studio.media.checks import as_audio_array, check_sample_rate, existing_file
from aigc_studio.media.packets import decode_audio

__all__ = ["VideoReader", "VideoWriter", "default_video_codec", "read_video_metadata"]

#: Container format (FFmpeg muxer name) for each output file suffix.
CONTAINER_FORMATS: dict[str, str] = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".avi": "avi",
    ".webm": "webm",
}

#: Video encoder used when none is named: H.264 everywhere but in WebM, which holds only VP8,
#: VP9 and AV1.
_DEFAULT_VIDEO_CODECS: dict[str, str] = {"webm": "libvpx-vp9"}
#: Codecs whose video is stored without loss: an output made from one stays lossless (FFV1)
#: where its container can hold FFV1.
LOSSLESS_VIDEO_CODECS = frozenset(
    {"ffv1", "png", "rawvideo", "huffyuv", "ffvhuff", "utvideo", "magicyuv", "qtrle"}
)
_FFV1_CONTAINERS = frozenset({"matroska", "avi"})
#: The video encoders WebM accepts.
_WEBM_VIDEO_CODECS = frozenset({"libvpx", "libvpx-vp9", "libsvtav1", "libaom-av1"})

#: Codec used when an audio track must be encoded, per container. AVI gets PCM because AAC in AVI
#: is poorly supported by players; Matroska gets FLAC so that no quality is lost.
_AUDIO_ENCODERS: dict[str, str] = {
    "mp4": "aac",
    "mov": "aac",
    "matroska": "flac",
    "avi": "pcm_s16le",
    "webm": "libopus",
}

#: Audio codecs whose packets each container accepts as they are (stream copy, no re-encoding).
#: A video that stops this much (seconds, or share of its length, whichever is more) before
#: the length its header states is reported as truncated.
_TRUNCATION_SLACK_S = 0.5
_TRUNCATION_SLACK_SHARE = 0.1

_AUDIO_COPYABLE: dict[str, frozenset[str]] = {
    "mp4": frozenset({"aac", "mp3", "alac"}),
    "mov": frozenset({"aac", "mp3", "alac", "pcm_s16le", "pcm_s24le"}),
    "matroska": frozenset(
        {"aac", "mp3", "alac", "flac", "opus", "vorbis", "ac3", "eac3", "pcm_s16le", "pcm_s24le"}
    ),
    "avi": frozenset({"mp3", "ac3", "pcm_s16le"}),
    "webm": frozenset({"opus", "vorbis"}),
}

#: Pixel format used when none is given: 4:2:0 for lossy codecs (what every player decodes),
#: 8-bit RGB for FFV1 so that an RGB frame survives a round trip bit for bit.
_DEFAULT_PIX_FMT: dict[str, str] = {"ffv1": "bgr0"}

#: Muxer options per container. MP4/MOV put their index before the media data ("fast start"),
#: so that players can start before the whole file has arrived.
_MUXER_OPTIONS: dict[str, dict[str, str]] = {
    "mp4": {"movflags": "+faststart"},
    "mov": {"movflags": "+faststart"},
    "matroska": {},
    "avi": {},
    "webm": {},
}

#: Encoders that take the ``crf`` and ``preset`` options.
_CRF_CODECS = frozenset({"libx264", "libx264rgb", "libx265"})
#: Encoders run in libvpx's constant-quality mode: a CRF with the bit rate left free, at
#: cpu-used 5 (libvpx's faster half of its speed settings) with rows encoded in parallel.
_VPX_CODECS = frozenset({"libvpx", "libvpx-vp9"})

AAC_BIT_RATE = 192_000
#: Clock (ticks per second) of the video stream when frames are written with their times: the
#: 90 kHz of MPEG timestamps, a multiple of every common frame rate's tick.
_TIMED_CLOCK = 90_000
MAX_FPS = 1000.0
_AUDIO_BLOCK = 4096  # samples per frame handed to an audio encoder

_AV_ERRORS: tuple[type[BaseException], ...] = (av.error.FFmpegError, OSError, ValueError)


def _describe(exc: BaseException) -> str:
    """Return a short, one-line description of a PyAV error (FFmpeg's ``[Errno N]`` left out)."""
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", str(exc).strip()) or type(exc).__name__
    return " ".join(text.split())


def _open_input(path: Path) -> Any:
    """Open ``path`` for reading with PyAV, turning every failure into a MediaError."""
    try:
        return av.open(str(path), mode="r")
    except AigcError:
        raise
    except Exception as exc:  # av.open raises many kinds on garbage input
        raise MediaError(
            f"{path}: cannot open as a media file; it is corrupt, truncated or not audio/video "
            f"({_describe(exc)})"
        ) from exc


def _parse_duration_tag(value: str | None) -> float | None:
    """Parse a Matroska ``DURATION`` tag such as ``00:01:02.500000000`` into seconds."""
    if not value:
        return None
    match = re.fullmatch(r"\s*(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)\s*", value)
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


class VideoReader:
    """Stream the frames of a video file as RGB arrays.

    The file is opened and probed on construction, so that a missing, corrupt or audio-only file
    fails at once; frames are decoded only while they are iterated, one at a time.

    Parameters
    ----------
    path : str or PathLike
        A video file in any container and codec that FFmpeg (as shipped with PyAV) decodes.
    upright : bool
        Apply the display rotation recorded in the file (a phone's portrait video, say), so
        that frames come out the way players show them. Off by default: frames are then
        returned as stored.

    Raises
    ------
    MediaError
        If the file is missing, empty or not a readable media file, has no video stream, or has
        no usable frame rate. Errors while decoding are raised during iteration, also as
        MediaError, naming the index of the frame that failed.

    Notes
    -----
    By default frames are returned as they are stored: a display rotation recorded in the file
    is reported by :attr:`rotation` but not applied. With ``upright=True`` it is applied (as
    FFmpeg's ``autorotate`` does), in quarter turns: an angle that is not a multiple of 90
    degrees is rounded to the nearest one. :attr:`width`, :attr:`height` and :attr:`size` stay
    those of the stored frames; :attr:`display_size` is the size of the frames yielded.

    A variable frame rate is not evened out: every stored frame is yielded once, and
    :meth:`frames_with_time` gives its presentation time (pass it on to
    :meth:`VideoWriter.write` to keep the timing). :attr:`fps` is the average rate.

    Examples
    --------
    >>> with VideoReader("clip.mp4") as reader:  # doctest: +SKIP
    ...     print(reader.size, reader.fps)
    ...     for frame in reader:
    ...         ...  # frame is uint8, shape (height, width, 3)
    """

    def __init__(self, path: str | os.PathLike[str], *, upright: bool = False) -> None:
        self._path = existing_file(path)
        self._upright = bool(upright)
        self._closed = False
        self._open_iterations: set[Any] = set()
        self._rotation: int | None = None
        container = _open_input(self._path)
        try:
            self._probe(container)
        except AigcError:
            raise
        except Exception as exc:
            raise MediaError(
                f"{self._path}: cannot read stream information ({_describe(exc)})"
            ) from exc
        finally:
            container.close()

    def _probe(self, container: Any) -> None:
        if not container.streams.video:
            raise MediaError(f"{self._path}: no video stream (is it an audio file?)")
        stream = container.streams.video[0]
        self._stream_index: int = stream.index
        context = stream.codec_context
        if context is None:  # PyAV has no decoder for this codec id
            raise MediaError(f"{self._path}: the video codec is unknown or has no decoder")
        self._width = int(context.width or 0)
        self._height = int(context.height or 0)
        if self._width <= 0 or self._height <= 0:
            raise MediaError(f"{self._path}: video stream has no frame size")
        rate = None
        for candidate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
            if candidate is not None and candidate > 0:
                rate = candidate
                break
        if rate is None:
            raise MediaError(f"{self._path}: video stream has no frame rate")
        self._fps = float(rate)
        self._has_audio = bool(container.streams.audio)
        self._codec = str(stream.codec_context.name)
        self._start_time = (
            float(stream.start_time * stream.time_base)
            if stream.start_time is not None and stream.time_base is not None
            else 0.0
        )
        duration = None
        if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
            duration = float(stream.duration * stream.time_base)
        if duration is None:
            duration = _parse_duration_tag(stream.metadata.get("DURATION"))
        # The video stream's own length, as its header states it: a cut-off Matroska file
        # keeps the full one, which tells it apart from a short one (see _check_complete).
        self._stated_duration = duration
        if duration is None and container.duration is not None and container.duration > 0:
            duration = container.duration / av.time_base
        frames = int(stream.frames or 0)
        if duration is None:
            duration = frames / self._fps if frames > 0 else 0.0
        self._duration = float(duration)
        self._frame_count = frames if frames > 0 else int(round(self._duration * self._fps))
        # Where the container's frame index says the video data ends. A demuxer meets a cut-off
        # file (say, a download that stopped) as a plain end of file, so decoding just stops
        # early; comparing this with the file size tells the two apart. Formats without a
        # per-frame index (Matroska keeps only keyframe cues) give 0, and go unchecked.
        self._index_end = max(
            (entry.pos + entry.size for entry in stream.index_entries if entry.pos >= 0),
            default=0,
        )
        rotate = stream.metadata.get("rotate")
        if rotate is not None:
            try:
                # The legacy "rotate" tag is clockwise; report counter-clockwise like the
                # display matrix does.
                self._rotation = _normalize_degrees(-int(float(rotate)))
            except ValueError:
                self._rotation = None

    # -- properties -------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """Path of the file being read."""
        return self._path

    @property
    def fps(self) -> float:
        """Frame rate in frames per second (the stream's average rate)."""
        return self._fps

    @property
    def width(self) -> int:
        """Frame width in pixels, as stored (before any display rotation)."""
        return self._width

    @property
    def height(self) -> int:
        """Frame height in pixels, as stored (before any display rotation)."""
        return self._height

    @property
    def size(self) -> tuple[int, int]:
        """Frame size as ``(width, height)``."""
        return self._width, self._height

    @property
    def display_size(self) -> tuple[int, int]:
        """Size ``(width, height)`` of the frames yielded: swapped when ``upright`` turns them."""
        if self._quarter_turns() % 2:
            return self._height, self._width
        return self._width, self._height

    @property
    def frame_count(self) -> int:
        """Number of frames: as recorded in the container, else estimated from duration and fps."""
        return self._frame_count

    @property
    def duration(self) -> float:
        """Duration of the video stream in seconds (0.0 if the file does not say)."""
        return self._duration

    @property
    def has_audio(self) -> bool:
        """Whether the file also holds an audio stream."""
        return self._has_audio

    @property
    def codec(self) -> str:
        """FFmpeg name of the video stream's codec, e.g. ``"h264"`` or ``"ffv1"``."""
        return self._codec

    @property
    def rotation(self) -> int:
        """Display rotation in degrees, counter-clockwise, in [-180, 180]; 0 if none.

        Read from the stream's legacy ``rotate`` tag, else from the display matrix that the
        decoder attaches to the first frame (which takes decoding that frame once). Best effort:
        a file whose first frame cannot be decoded reports 0.
        """
        if self._rotation is None:
            self._rotation = 0
            try:
                for _, frame in self._decode():
                    self._rotation = _normalize_degrees(int(round(frame.rotation or 0)))
                    break
            except (AigcError, *_AV_ERRORS):
                pass
        return self._rotation

    # -- reading ----------------------------------------------------------------------------

    def _decode(self) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, av.VideoFrame)`` from a fresh demuxer, wrapping errors as MediaError."""
        if self._closed:
            raise ValueError(f"{self._path}: reader is closed")
        container = _open_input(self._path)
        self._open_iterations.add(container)
        index = 0
        try:
            stream = container.streams[self._stream_index]
            stream.thread_type = "AUTO"
            frames = container.decode(stream)
            last_time: float | None = None
            while True:
                try:
                    frame = next(frames)
                except StopIteration:
                    break
                except AigcError:
                    raise
                except Exception as exc:
                    raise MediaError(
                        f"{self._path}: cannot decode frame {index} ({_describe(exc)}); "
                        f"the file is corrupt or truncated"
                    ) from exc
                if frame.time is not None:
                    last_time = float(frame.time) - self._start_time
                yield index, frame
                index += 1
            self._check_complete(index, last_time)
        finally:
            self._open_iterations.discard(container)
            with contextlib.suppress(Exception):  # must not hide the real error
                container.close()

    def _check_complete(self, decoded: int, last_time: float | None) -> None:
        """Raise MediaError if the file ends before the data its index or header lists."""
        try:
            size = self._path.stat().st_size
        except OSError as exc:
            raise MediaError(f"{self._path}: cannot read ({exc.strerror or exc})") from exc
        if self._index_end > size:
            raise MediaError(
                f"{self._path}: file is truncated: decoding stopped after {decoded} of "
                f"{self._frame_count} frames ({self._index_end - size} bytes missing)"
            )
        stated = self._stated_duration
        if stated is not None and last_time is not None:
            shown_until = last_time + 1.0 / self._fps
            if shown_until < stated - max(_TRUNCATION_SLACK_S, _TRUNCATION_SLACK_SHARE * stated):
                raise MediaError(
                    f"{self._path}: file is truncated: the video stops at {shown_until:.2f} s "
                    f"of the {stated:.2f} s its header states"
                )

    def frames(self) -> Iterator[np.ndarray]:
        """Yield the frames in order as ``uint8`` RGB arrays of shape ``(H, W, 3)``.

        Each call starts again from the first frame.

        Yields
        ------
        numpy.ndarray
            One decoded frame.

        Raises
        ------
        MediaError
            If a frame cannot be decoded; the message names the frame index.
        """
        turns = self._quarter_turns()
        for index, frame in self._decode():
            yield self._turn(self._to_rgb(frame, index), turns)

    def frames_with_time(self) -> Iterator[tuple[float, np.ndarray]]:
        """Yield ``(time, frame)`` pairs, with the presentation time in seconds.

        Times count from the start of the video stream, so the first frame is at (about) 0.0;
        a frame without a timestamp gets ``index / fps``.

        Yields
        ------
        tuple of (float, numpy.ndarray)
            Presentation time and the ``uint8`` RGB frame.

        Raises
        ------
        MediaError
            If a frame cannot be decoded; the message names the frame index.
        """
        turns = self._quarter_turns()
        for index, frame in self._decode():
            time = frame.time
            seconds = float(time) - self._start_time if time is not None else index / self._fps
            yield seconds, self._turn(self._to_rgb(frame, index), turns)

    def _quarter_turns(self) -> int:
        """Counter-clockwise quarter turns that make frames upright (0 unless ``upright``)."""
        return round(self.rotation / 90) % 4 if self._upright else 0

    @staticmethod
    def _turn(image: np.ndarray, turns: int) -> np.ndarray:
        # np.rot90 turns counter-clockwise, the sense of the display matrix; it returns a view
        # with negative strides, which OpenCV and encoders refuse.
        return np.ascontiguousarray(np.rot90(image, turns)) if turns else image

    def _to_rgb(self, frame: Any, index: int) -> np.ndarray:
        try:
            return frame.to_ndarray(format="rgb24")
        except Exception as exc:
            raise MediaError(
                f"{self._path}: cannot convert frame {index} to RGB ({_describe(exc)})"
            ) from exc

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.frames()

    def read_audio(self, sr: int | None = None, mono: bool = False) -> tuple[np.ndarray, int]:
        """Decode the whole audio track.

        Parameters
        ----------
        sr : int, optional
            Resample to this rate; by default the track's own rate is kept.
        mono : bool
            Mix the channels down to one.

        Returns
        -------
        audio : numpy.ndarray
            ``float32`` samples, shape ``(channels, samples)``.
        sr : int
            Sample rate of ``audio``.

        Raises
        ------
        MediaError
            If the file has no audio stream or it cannot be decoded.
        """
        if not self._has_audio:
            raise MediaError(f"{self._path}: no audio stream in this video")
        from aigc_studio.media.audio_io import load_audio

        return load_audio(self._path, sr=sr, mono=mono)

    def close(self) -> None:
        """Release the file; iterating afterwards raises ValueError. A second call does nothing."""
        self._closed = True
        for container in list(self._open_iterations):
            with contextlib.suppress(Exception):  # nothing useful to report while releasing
                container.close()
        self._open_iterations.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"VideoReader({str(self._path)!r}, size={self._width}x{self._height}, "
            f"fps={self._fps:g}, frames={self._frame_count})"
        )


def _normalize_degrees(degrees: int) -> int:
    """Map an angle in degrees to the range [-180, 180)."""
    return (degrees + 180) % 360 - 180


def _check_fps(fps: float | Fraction) -> Fraction:
    if isinstance(fps, bool) or not isinstance(fps, int | float | Fraction | np.number):
        raise ParameterError(f"fps must be a number of frames per second, got {fps!r}")
    value = float(fps)
    if not math.isfinite(value) or not 0 < value <= MAX_FPS:
        raise ParameterError(f"fps={fps} is outside the supported range (0, {MAX_FPS:g}]")
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ParameterError(f"fps={fps} is too small to represent")
    return rate


def default_video_codec(path: str | os.PathLike[str], source_codec: str | None = None) -> str:
    """Return the video encoder for ``path`` when none is named.

    Parameters
    ----------
    path : str or PathLike
        The output file; its suffix picks the container.
    source_codec : str, optional
        Codec of the video the output is made from (:attr:`VideoReader.codec`): a lossless one
        (:data:`LOSSLESS_VIDEO_CODECS`) gives a lossless output (FFV1) where the container can
        hold it (``.mkv``, ``.avi``).

    Returns
    -------
    str
        ``"ffv1"`` for a lossless source into ``.mkv``/``.avi``; else ``"libx264"`` (H.264), or
        ``"libvpx-vp9"`` for ``.webm``. (:class:`VideoWriter`, which sees no source, uses the
        latter.)

    Raises
    ------
    ParameterError
        On an unsupported suffix.
    """
    container = _container_format(Path(path))
    if source_codec in LOSSLESS_VIDEO_CODECS and container in _FFV1_CONTAINERS:
        return "ffv1"
    return _DEFAULT_VIDEO_CODECS.get(container, "libx264")


def _container_format(path: Path) -> str:
    suffix = path.suffix.lower()
    try:
        return CONTAINER_FORMATS[suffix]
    except KeyError:
        known = ", ".join(sorted(CONTAINER_FORMATS))
        raise ParameterError(
            f"{path}: unsupported video file suffix {suffix or '(none)'!r}; use one of {known}"
        ) from None


class VideoWriter:
    """Encode RGB frames into a video file, one frame at a time.

    The file is written under a temporary name beside ``path`` and renamed into place by a
    successful :meth:`close`; if the ``with`` block raises, or closing fails, the temporary file is
    removed and nothing appears at ``path``.

    Parameters
    ----------
    path : str or PathLike
        Destination. Its suffix picks the container: ``.mp4``/``.m4v`` (MP4), ``.mov``,
        ``.mkv`` (Matroska) or ``.avi``.
    fps : float or Fraction
        Frame rate, in (0, 1000]. It is stored as a fraction with a denominator of at most 1001,
        so 30000/1001 (NTSC) is kept exactly.
    codec : str, optional
        FFmpeg video encoder, e.g. ``"libx264"`` or ``"ffv1"`` (lossless; use ``.mkv``); by
        default H.264 (``"libx264"``), or VP9 (``"libvpx-vp9"``) for ``.webm``, which holds
        only VP8, VP9 and AV1.
    crf : int
        Constant rate factor for x264 and VP9, 0-51; lower is better. 18 is visually
        near-lossless.
        Ignored by codecs without a CRF mode (such as FFV1) but still checked.
    pix_fmt : str, optional
        Pixel format to encode. Default ``"yuv420p"`` (what every player decodes), or ``"bgr0"``
        for FFV1, which keeps RGB frames bit-exact.
    preset : str
        x264 speed/size preset (``"ultrafast"`` ... ``"veryslow"``).
    audio : numpy.ndarray, optional
        Audio track as ``float32`` samples of shape ``(channels, samples)``; needs ``audio_sr``.
        Encoded as AAC at 192 kb/s in MP4/MOV, FLAC in MKV, 16-bit PCM in AVI.
    audio_sr : int, optional
        Sample rate of ``audio``. AAC takes only standard rates; another rate is resampled to
        48 kHz by the encoder.
    audio_from : str or PathLike, optional
        A media file whose first audio track is copied in. Its packets are copied unchanged when
        the container accepts its codec (e.g. AAC, MP3 or ALAC into MP4), else the track is
        decoded and re-encoded block by block as for ``audio``.
    metadata : mapping of str to str, optional
        Container-level tags. MP4/MOV keep only the tags the format defines (among them
        ``"title"``, ``"comment"``, ``"description"``, ``"artist"``, ``"date"``) and drop the
        rest silently; Matroska keeps any tag.

    Raises
    ------
    ParameterError
        On an unsupported suffix or codec/pixel format, fps outside (0, 1000], crf outside
        0-51, both ``audio`` and ``audio_from``, or ``audio`` without ``audio_sr``.
    MediaError
        If the output cannot be created, ``audio`` is not a valid signal, or ``audio_from`` is
        missing, unreadable or has no audio stream.

    Notes
    -----
    The frame size is taken from the first frame. Pixel formats with chroma subsampling (such as
    ``yuv420p``) need even dimensions, so a frame of odd width or height is padded by repeating
    its last column or row: a 719x405 input is stored as 720x406.

    The audio track is encoded and muxed at :meth:`close`, after all video; the muxer interleaves
    the two streams.

    Examples
    --------
    >>> with VideoWriter("out.mp4", fps=24, audio=tone, audio_sr=48000) as writer:  # doctest: +SKIP
    ...     for frame in frames:
    ...         writer.write(frame)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float | Fraction,
        *,
        codec: str | None = None,
        crf: int = 18,
        pix_fmt: str | None = None,
        preset: str = "medium",
        audio: np.ndarray | None = None,
        audio_sr: int | None = None,
        audio_from: str | os.PathLike[str] | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self._path = Path(path)
        self._format = _container_format(self._path)
        self._rate = _check_fps(fps)
        if isinstance(crf, bool) or not isinstance(crf, int | np.integer) or not 0 <= crf <= 51:
            raise ParameterError(f"crf={crf!r} is outside the supported range 0-51")
        codec = codec if codec is not None else default_video_codec(self._path)
        if self._format == "webm" and codec not in _WEBM_VIDEO_CODECS:
            raise ParameterError(
                f"{self._path}: WebM holds VP8, VP9 or AV1 video, not {codec}; use "
                f"{_DEFAULT_VIDEO_CODECS['webm']} (the default for .webm) or another suffix"
            )
        try:
            video_codec = av.codec.Codec(codec, "w")
        except (av.codec.codec.UnknownCodecError, ValueError):
            raise ParameterError(f"codec={codec!r} is not an available video encoder") from None
        if video_codec.type != "video":
            raise ParameterError(f"codec={codec!r} is a {video_codec.type} encoder, not video")
        pix_fmt = pix_fmt or _DEFAULT_PIX_FMT.get(video_codec.name, "yuv420p")
        supported = [f.name for f in (video_codec.video_formats or [])]
        if supported and pix_fmt not in supported:
            raise ParameterError(
                f"pix_fmt={pix_fmt!r} is not accepted by {codec}; use one of {', '.join(supported)}"
            )
        if audio is not None and audio_from is not None:
            raise ParameterError("give either audio or audio_from, not both")
        if audio is not None and audio_sr is None:
            raise ParameterError("audio_sr is required with audio")
        tags = dict(metadata or {})
        for key, value in tags.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ParameterError(f"metadata must map str to str, got {key!r}: {value!r}")

        self._codec = video_codec.name
        self._pix_fmt = pix_fmt
        chroma = av.VideoFormat(pix_fmt)
        self._even_width = chroma.chroma_width(2) != 2
        self._even_height = chroma.chroma_height(2) != 2
        self._options: dict[str, str] = {}
        if self._codec in _CRF_CODECS:
            self._options = {"crf": str(int(crf)), "preset": preset}
        elif self._codec in _VPX_CODECS:
            self._options = {"crf": str(int(crf)), "b": "0", "cpu-used": "5", "row-mt": "1"}
        self._audio: np.ndarray | None = None
        self._audio_sr: int | None = None
        if audio is not None:
            self._audio = as_audio_array(audio, what="audio")
            self._audio_sr = check_sample_rate(audio_sr, name="audio_sr")  # type: ignore[arg-type]

        self._frames_written = 0
        self._last_pts: int | None = None
        self._input_size: tuple[int, int] | None = None  # (width, height) of the frames given
        self._closed = False
        self._source: Any = None
        self._source_stream: Any = None
        self._copy_audio = False
        self._audio_stream: Any = None

        self._atomic = atomic_output(self._path)
        self._tmp = self._atomic.__enter__()
        try:
            self._container = av.open(
                str(self._tmp), mode="w", format=self._format, options=_MUXER_OPTIONS[self._format]
            )
        except Exception as exc:
            self._discard(exc)
            raise MediaError(f"{self._path}: cannot create video file ({_describe(exc)})") from exc
        try:
            self._setup_streams(tags, audio_from)
        except BaseException as exc:
            self._abort(exc)
            if isinstance(exc, AigcError) or not isinstance(exc, Exception):
                raise
            raise MediaError(f"{self._path}: cannot set up the output ({_describe(exc)})") from exc

    def _setup_streams(self, tags: dict[str, str], audio_from: Any) -> None:
        container = self._container
        for key, value in tags.items():
            container.metadata[key] = value
        self._video = container.add_stream(self._codec, rate=self._rate)
        self._video.pix_fmt = self._pix_fmt
        self._video.codec_context.time_base = 1 / self._rate
        if self._options:
            self._video.options = self._options
        if self._audio is not None:
            self._audio_stream = self._add_audio_encoder(self._audio_sr, self._audio.shape[0])
        elif audio_from is not None:
            source_path = existing_file(audio_from)
            self._source = _open_input(source_path)
            if not self._source.streams.audio:
                raise MediaError(f"{source_path}: no audio stream to copy")
            self._source_stream = self._source.streams.audio[0]
            name = self._source_stream.codec_context.name
            self._copy_audio = name in _AUDIO_COPYABLE[self._format]
            if self._copy_audio:
                self._audio_stream = container.add_stream_from_template(self._source_stream)
            else:
                ctx = self._source_stream.codec_context
                self._audio_stream = self._add_audio_encoder(ctx.sample_rate, ctx.channels)

    def _add_audio_encoder(self, sr: int | None, channels: int) -> Any:
        name = _AUDIO_ENCODERS[self._format]
        rates = av.codec.Codec(name, "w").audio_rates
        rate = int(sr or 48_000)
        if rates and rate not in rates:
            rate = 48_000  # the encoder's own resampler converts
        stream = self._container.add_stream(name, rate=rate)
        stream.layout = _layout_for(channels)
        if name == "aac":
            stream.bit_rate = AAC_BIT_RATE
        return stream

    @property
    def path(self) -> Path:
        """Final destination of the file."""
        return self._path

    @property
    def frames_written(self) -> int:
        """Number of frames accepted by :meth:`write` so far."""
        return self._frames_written

    def write(self, frame: np.ndarray, *, time: float | None = None) -> None:
        """Encode one frame.

        Parameters
        ----------
        frame : numpy.ndarray
            ``uint8`` RGB array of shape ``(H, W, 3)``; every frame must have the size of the first.
        time : float, optional
            Presentation time in seconds from the start of the video. Without it, each frame
            follows the previous one after ``1 / fps``. With it, the frame is shown at that
            time, so that a variable-frame-rate input keeps its timing (and its audio the
            sync) when the times of :meth:`VideoReader.frames_with_time` are passed on. Give
            times from the first frame on: only then is the stream's clock made fine enough
            (90 kHz) to hold them; a frame whose time is not after the previous one's is
            moved just after it. AVI stores no times, only a constant rate: there, each time
            is rounded to the ``1 / fps`` grid, and gaps become dropped frames. MP4 and MOV
            record as duration the span of decoding times, which for H.264 with B-frames
            differs from the display span when the spacing of the first and last few frames
            differs; the frame times themselves are kept exactly.

        Raises
        ------
        ParameterError
            If ``time`` is negative or not a finite number.
        MediaError
            If the frame is not a uint8 (H, W, 3) array, its size differs from the first frame,
            or the encoder fails.
        """
        if self._closed:
            raise ValueError(f"{self._path}: writer is closed")
        if time is not None:
            if isinstance(time, bool) or not isinstance(time, int | float | np.number):
                raise ParameterError(f"time must be a number of seconds, got {time!r}")
            if not math.isfinite(float(time)) or float(time) < 0:
                raise ParameterError(f"time={time} must be a finite number of seconds >= 0")
        if self._frames_written == 0 and time is not None and self._format != "avi":
            # Timed frames get a fine clock, so that their times survive; AVI has no
            # timestamps, only a constant rate, and keeps the 1 / fps clock.
            self._video.codec_context.time_base = Fraction(1, _TIMED_CLOCK)
        tick = self._video.codec_context.time_base
        frame_ticks = max(1, round(1 / (self._rate * tick)))
        pts = 0 if self._last_pts is None else self._last_pts + frame_ticks
        if time is not None:
            earliest = 0 if self._last_pts is None else self._last_pts + 1
            pts = max(round(float(time) / tick), earliest)
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
            kind = frame.dtype if isinstance(frame, np.ndarray) else type(frame).__name__
            raise MediaError(
                f"{self._path}: frame {self._frames_written} must be a uint8 array, got {kind}"
            )
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] == 0 or frame.shape[1] == 0:
            raise MediaError(
                f"{self._path}: frame {self._frames_written} must have shape (H, W, 3), "
                f"got {frame.shape}"
            )
        height, width = frame.shape[:2]
        if self._input_size is None:
            self._input_size = (width, height)
            self._video.width = width + (width % 2 if self._even_width else 0)
            self._video.height = height + (height % 2 if self._even_height else 0)
            if (self._video.width, self._video.height) != (width, height):
                warnings.warn(
                    f"{self._path}: {width}x{height} frames are padded to "
                    f"{self._video.width}x{self._video.height} by repeating the edge "
                    f"({self._pix_fmt} needs even sizes; the ffv1 codec keeps the size)",
                    MediaWarning,
                    stacklevel=2,
                )
        elif self._input_size != (width, height):
            raise MediaError(
                f"{self._path}: frame {self._frames_written} is {width}x{height}, but the video is "
                f"{self._input_size[0]}x{self._input_size[1]} (set by the first frame)"
            )
        pad_w = self._video.width - width
        pad_h = self._video.height - height
        if pad_w or pad_h:
            frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        try:
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            video_frame.pts = pts
            video_frame.time_base = self._video.codec_context.time_base
            self._container.mux(self._video.encode(video_frame))
        except Exception as exc:
            raise MediaError(
                f"{self._path}: cannot encode frame {self._frames_written} ({_describe(exc)})"
            ) from exc
        self._frames_written += 1
        self._last_pts = pts

    def close(self) -> None:
        """Finish encoding, add the audio track and move the file into place.

        Calling it again does nothing.

        Raises
        ------
        MediaError
            If no frame was written or encoding/muxing fails; no file then appears at ``path``.
        """
        if self._closed:
            return
        if self._frames_written == 0:
            error = MediaError(f"{self._path}: no frames were written; no video file made")
            self._abort(error)
            raise error
        try:
            self._container.mux(self._video.encode(None))
            if self._audio is not None:
                self._mux_audio_array()
            elif self._source is not None:
                self._mux_audio_from_source()
            self._container.close()
        except BaseException as exc:
            self._abort(exc)
            if isinstance(exc, AigcError) or not isinstance(exc, Exception):
                raise
            raise MediaError(
                f"{self._path}: cannot finish the video file ({_describe(exc)})"
            ) from exc
        self._close_source()
        self._closed = True
        self._atomic.__exit__(None, None, None)

    def _mux_audio_array(self) -> None:
        assert self._audio is not None and self._audio_sr is not None
        audio, stream = self._audio, self._audio_stream
        layout = stream.layout.name
        time_base = Fraction(1, self._audio_sr)
        for start in range(0, audio.shape[1], _AUDIO_BLOCK):
            block = np.ascontiguousarray(audio[:, start : start + _AUDIO_BLOCK])
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
            frame.sample_rate = self._audio_sr
            frame.pts = start
            frame.time_base = time_base
            self._container.mux(stream.encode(frame))
        self._container.mux(stream.encode(None))

    def _mux_audio_from_source(self) -> None:
        source, stream = self._source_stream, self._audio_stream
        if self._copy_audio:
            for packet in self._source.demux(source):
                if packet.dts is None:  # the demuxer's end-of-stream marker
                    continue
                packet.stream = stream
                self._container.mux(packet)
            return
        for frame in decode_audio(self._source, source, self._source.name):
            self._container.mux(stream.encode(frame))
        self._container.mux(stream.encode(None))

    def _close_source(self) -> None:
        if self._source is not None:
            with contextlib.suppress(Exception):  # the input is only read; nothing to report
                self._source.close()
            self._source = None

    def _discard(self, exc: BaseException) -> None:
        """Remove the temporary file (via atomic_output) without re-raising ``exc``."""
        self._closed = True
        self._close_source()
        try:
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)
        except BaseException as raised:
            if raised is not exc:
                raise

    def _abort(self, exc: BaseException) -> None:
        """Close the half-written container and remove the temporary file."""
        container = getattr(self, "_container", None)
        if container is not None:
            with contextlib.suppress(Exception):  # the file is discarded anyway
                container.close()
        self._discard(exc)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            if not self._closed:
                self._abort(exc)
            return
        self.close()

    def __repr__(self) -> str:
        return (
            f"VideoWriter({str(self._path)!r}, fps={self._rate}, codec={self._codec!r}, "
            f"frames_written={self._frames_written})"
        )


def _layout_for(channels: int) -> str:
    layouts = {1: "mono", 2: "stereo", 3: "3.0", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
    try:
        return layouts[int(channels)]
    except KeyError:
        raise MediaError(f"audio has {channels} channels; at most 8 can be encoded") from None


def read_video_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """Return the container-level metadata tags of a media file.

    Parameters
    ----------
    path : str or PathLike
        Any media file PyAV opens.

    Returns
    -------
    dict of str to str
        The tags, e.g. ``{"title": ..., "comment": ..., "encoder": "Lavf..."}``.

    Raises
    ------
    MediaError
        If the file is missing, empty or not a readable media file.

    Examples
    --------
    >>> read_video_metadata("out.mp4")["comment"]  # doctest: +SKIP
    'made with aigc-studio'
    """
    file = existing_file(path)
    container = _open_input(file)
    try:
        return {str(key): str(value) for key, value in container.metadata.items()}
    finally:
        container.close()
