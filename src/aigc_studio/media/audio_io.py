"""Read and write audio files.

``load_audio`` reads WAV, FLAC, OGG and MP3 through soundfile (libsndfile) and everything else
PyAV's FFmpeg can decode (M4A/AAC, Opus, the audio track of video files) through PyAV. Audio is
returned as float32 of shape (channels, samples) with its sample rate, the studio's one convention.

``save_audio`` picks the format from the file suffix, embeds text tags (the studio uses them for
provenance) where the format has a place for them, and writes atomically.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from aigc_studio.errors import MediaError, ParameterError
from aigc_studio.media.atomic import atomic_output
from aigc_studio.media.checks import as_audio_array, check_sample_rate, existing_file
from aigc_studio.media.packets import decode_audio

#: Suffixes written through soundfile: suffix -> (libsndfile format, default subtype).
SOUNDFILE_FORMATS: dict[str, tuple[str, str]] = {
    ".wav": ("WAV", "PCM_24"),
    ".flac": ("FLAC", "PCM_24"),
    ".ogg": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}
#: Suffixes written through PyAV: suffix -> (container format, codec).
PYAV_FORMATS: dict[str, tuple[str, str]] = {
    ".m4a": ("ipod", "aac"),
    ".aac": ("adts", "aac"),
    ".opus": ("ogg", "libopus"),
}
#: Tag names that libsndfile can store (RIFF INFO for WAV, Vorbis comments for FLAC/OGG).
SOUNDFILE_TAGS = ("title", "copyright", "software", "artist", "comment", "date", "album", "license")
#: Longest signal ``load_audio`` decodes into memory unless told otherwise (hours).
DEFAULT_MAX_HOURS = 4.0


def load_audio(
    path: str | os.PathLike[str],
    sr: int | None = None,
    mono: bool = False,
    *,
    max_hours: float = DEFAULT_MAX_HOURS,
) -> tuple[np.ndarray, int]:
    """Load an audio file, or the audio track of a video file.

    Parameters
    ----------
    path : str or PathLike
        WAV, FLAC, OGG, MP3, M4A/AAC, Opus, or any video file with an audio track.
    sr : int, optional
        Resample to this rate (soxr, high quality). ``None`` keeps the file's rate.
    mono : bool
        Average the channels into one.
    max_hours : float
        Refuse files longer than this, so that a huge file does not exhaust memory; stream such
        files in blocks instead.

    Returns
    -------
    audio : np.ndarray
        float32, shape (channels, samples), nominally in [-1, 1].
    sr : int
        The sample rate of ``audio``.

    Raises
    ------
    MediaError
        If the file is missing, empty, corrupt, has no audio stream, holds no samples, or holds
        NaN/infinite samples.
    ParameterError
        If ``sr`` or ``max_hours`` is out of range.

    Examples
    --------
    >>> audio, sr = load_audio("voice.flac", sr=16000, mono=True)  # doctest: +SKIP
    >>> audio.shape  # doctest: +SKIP
    (1, 48000)
    """
    if sr is not None:
        sr = check_sample_rate(sr)
    if not max_hours > 0:
        raise ParameterError(f"max_hours must be positive, got {max_hours}")
    file = existing_file(path)
    try:
        audio, file_sr = _load_with_soundfile(file, max_hours)
    except _NotForSoundfileError:
        audio, file_sr = _load_with_pyav(file, max_hours)
    audio = as_audio_array(audio, what=str(file))
    if mono and audio.shape[0] > 1:
        audio = audio.mean(axis=0, keepdims=True)
    if sr is not None and sr != file_sr:
        audio = resample_audio(audio, file_sr, sr)
        file_sr = sr
    return audio, file_sr


def resample_audio(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample (channels, samples) audio with soxr's high-quality filter (through librosa).

    Raises
    ------
    ParameterError
        If a rate is out of range.
    """
    import librosa

    orig_sr = check_sample_rate(orig_sr, name="orig_sr")
    target_sr = check_sample_rate(target_sr, name="target_sr")
    if orig_sr == target_sr:
        return audio
    out = librosa.resample(audio, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq", axis=-1)
    return np.ascontiguousarray(out, dtype=np.float32)


class _NotForSoundfileError(Exception):
    """libsndfile does not know this format; PyAV should try."""


def _load_with_soundfile(file: Path, max_hours: float) -> tuple[np.ndarray, int]:
    try:
        info = sf.info(str(file))
    except sf.LibsndfileError as exc:
        raise _NotForSoundfileError from exc
    except Exception as exc:  # soundfile raises RuntimeError/TypeError on some junk
        raise _NotForSoundfileError from exc
    if info.samplerate <= 0 or info.channels <= 0:
        raise MediaError(f"{file}: invalid header (rate {info.samplerate}, {info.channels} ch)")
    if info.frames > max_hours * 3600 * info.samplerate:
        raise MediaError(
            f"{file}: {info.frames / info.samplerate / 3600:.1f} h is longer than the "
            f"{max_hours:g} h limit for loading into memory; process it in blocks"
        )
    try:
        data, file_sr = sf.read(str(file), dtype="float32", always_2d=True)
    except Exception as exc:
        raise MediaError(f"{file}: corrupt or truncated audio ({_reason(exc)})") from exc
    if data.shape[0] == 0:
        raise MediaError(f"{file}: audio has no samples")
    return data.T, int(file_sr)


def _load_with_pyav(file: Path, max_hours: float) -> tuple[np.ndarray, int]:
    try:
        container = av.open(str(file), mode="r")
    except Exception as exc:
        raise MediaError(f"{file}: not a readable audio or video file ({_reason(exc)})") from exc
    with container:
        if not container.streams.audio:
            raise MediaError(f"{file}: no audio stream")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate or stream.rate
        if not rate:
            raise MediaError(f"{file}: audio stream has no sample rate")
        limit = int(max_hours * 3600 * rate)
        blocks: list[np.ndarray] = []
        total = 0
        resampler = None
        try:
            for frame in decode_audio(container, stream, file):
                if resampler is None:
                    layout = frame.layout.name if frame.layout.channels else "mono"
                    resampler = av.AudioResampler(format="fltp", layout=layout, rate=frame.rate)
                for out in resampler.resample(frame):
                    block = out.to_ndarray()
                    blocks.append(block)
                    total += block.shape[1]
                if total > limit:
                    raise MediaError(
                        f"{file}: longer than the {max_hours:g} h limit for loading into memory; "
                        "process it in blocks"
                    )
            if resampler is not None:
                for out in resampler.resample(None):
                    blocks.append(out.to_ndarray())
        except MediaError:
            raise
        except Exception as exc:
            raise MediaError(f"{file}: corrupt or truncated audio ({_reason(exc)})") from exc
    if not blocks:
        raise MediaError(f"{file}: audio stream has no samples")
    return np.concatenate(blocks, axis=1), int(rate)


def save_audio(
    path: str | os.PathLike[str],
    audio: np.ndarray,
    sr: int,
    *,
    tags: Mapping[str, str] | None = None,
    subtype: str | None = None,
) -> Path:
    """Write audio to a file whose format is chosen by the suffix.

    WAV and FLAC are written as 24-bit PCM (WAV as 32-bit float when the signal exceeds full
    scale, so nothing is clipped), OGG as Vorbis, MP3 through libsndfile's LAME, M4A/AAC and
    Opus through PyAV. The file appears only when complete.

    Parameters
    ----------
    path : str or PathLike
        Destination; suffix one of .wav .flac .ogg .mp3 .m4a .aac .opus.
    audio : np.ndarray
        Shape (channels, samples) or (samples,), float (nominal range [-1, 1]) or integer PCM.
    sr : int
        Sample rate in Hz.
    tags : mapping of str to str, optional
        Text tags. WAV/FLAC/OGG/MP3 keep ``title``, ``comment``, ``software`` and the other
        names in ``SOUNDFILE_TAGS``; M4A keeps them as container metadata.
    subtype : str, optional
        libsndfile subtype (e.g. ``"PCM_16"``, ``"FLOAT"``) overriding the default.

    Returns
    -------
    Path
        The written path.

    Raises
    ------
    MediaError
        If the array is empty, malformed or holds NaN/infinite samples, or writing fails.
    ParameterError
        If the suffix is not supported or ``sr`` is out of range.
    """
    out = Path(path)
    suffix = out.suffix.lower()
    sr = check_sample_rate(sr)
    data = as_audio_array(audio)
    if suffix in SOUNDFILE_FORMATS:
        fmt, default_subtype = SOUNDFILE_FORMATS[suffix]
        peak = float(np.max(np.abs(data)))
        chosen = subtype or default_subtype
        if subtype is None and peak > 1.0:
            if fmt == "WAV":
                chosen = "FLOAT"
            else:
                warnings.warn(
                    f"{out}: peak {peak:.2f} exceeds full scale and is clipped in {fmt}; "
                    "normalize first or write WAV to keep it",
                    stacklevel=2,
                )
                data = np.clip(data, -1.0, 1.0)
        if not sf.check_format(fmt, chosen):
            raise ParameterError(f"subtype {chosen!r} is not valid for {fmt}")
        with atomic_output(out) as tmp:
            _write_with_soundfile(tmp, data, sr, fmt, chosen, tags or {})
    elif suffix in PYAV_FORMATS:
        container_format, codec = PYAV_FORMATS[suffix]
        with atomic_output(out) as tmp:
            _write_with_pyav(tmp, np.clip(data, -1.0, 1.0), sr, container_format, codec, tags or {})
    else:
        known = ", ".join(sorted([*SOUNDFILE_FORMATS, *PYAV_FORMATS]))
        raise ParameterError(f"{out}: unsupported audio suffix {suffix!r} (use one of {known})")
    return out


def _write_with_soundfile(
    tmp: Path, data: np.ndarray, sr: int, fmt: str, subtype: str, tags: Mapping[str, str]
) -> None:
    try:
        with sf.SoundFile(
            str(tmp), "w", samplerate=sr, channels=data.shape[0], format=fmt, subtype=subtype
        ) as handle:
            for name, value in tags.items():
                if name in SOUNDFILE_TAGS:
                    setattr(handle, name, value)
            handle.write(data.T)
    except Exception as exc:
        raise MediaError(f"{tmp.name}: cannot write {fmt} ({_reason(exc)})") from exc


def _write_with_pyav(
    tmp: Path,
    data: np.ndarray,
    sr: int,
    container_format: str,
    codec: str,
    tags: Mapping[str, str],
) -> None:
    channels = data.shape[0]
    if channels > 2:
        raise MediaError(f"{tmp.name}: {codec} output supports at most 2 channels, got {channels}")
    rate = 48_000 if codec == "libopus" else sr
    if rate != sr:
        data = resample_audio(data, sr, rate)
    layout = "mono" if channels == 1 else "stereo"
    try:
        with av.open(str(tmp), mode="w", format=container_format) as container:
            for name, value in tags.items():
                container.metadata[name] = value
            stream = container.add_stream(codec, rate=rate, layout=layout)
            if container_format == "ogg":  # Ogg keeps tags as Vorbis comments on the stream
                for name, value in tags.items():
                    stream.metadata[name] = value
            stream.bit_rate = 96_000 * channels if codec == "libopus" else 128_000 * channels
            block = 4096
            pts = 0
            for start in range(0, data.shape[1], block):
                chunk = np.ascontiguousarray(data[:, start : start + block])
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
                frame.sample_rate = rate
                frame.pts = pts
                pts += chunk.shape[1]
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
    except Exception as exc:
        raise MediaError(f"{tmp.name}: cannot encode {codec} ({_reason(exc)})") from exc


def read_audio_tags(path: str | os.PathLike[str]) -> dict[str, str]:
    """Return the text tags of an audio file (the ones ``save_audio`` writes).

    Raises
    ------
    MediaError
        If the file is missing, empty or not readable media.
    """
    file = existing_file(path)
    tags: dict[str, str] = {}
    try:
        with sf.SoundFile(str(file)) as handle:
            tags = {name: value for name in SOUNDFILE_TAGS if (value := getattr(handle, name))}
    except Exception:
        pass
    try:
        with av.open(str(file)) as container:
            found = {str(k).lower(): str(v) for k, v in container.metadata.items()}
            for stream in container.streams.audio[:1]:  # Ogg/Opus keep tags on the stream
                found.update({str(k).lower(): str(v) for k, v in stream.metadata.items()})
    except Exception as exc:
        if tags:
            return tags
        raise MediaError(f"{file}: not a readable audio file ({_reason(exc)})") from exc
    return {**found, **tags}


def _reason(exc: BaseException) -> str:
    """Return the first line of an exception's message, for one-line errors."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
