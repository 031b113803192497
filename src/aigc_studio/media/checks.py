"""Checks on input files and arrays shared by the media readers and writers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from aigc_studio.errors import MediaError, ParameterError

#: Sample rates outside this range are refused as absurd (telephony starts at 8 kHz, studio
#: formats end at 384 kHz; the limits leave room on both sides).
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 768_000
#: More channels than this means the array was probably passed as (samples, channels).
MAX_CHANNELS = 64


def existing_file(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a :class:`Path` after checking that it is a non-empty, readable file.

    Raises
    ------
    MediaError
        If the path does not exist, is a folder, is empty or cannot be read.
    """
    file = Path(path)
    if not file.exists():
        raise MediaError(f"{file}: no such file")
    if file.is_dir():
        raise MediaError(f"{file}: is a folder, expected a media file")
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise MediaError(f"{file}: cannot read ({exc.strerror or exc})") from exc
    if size == 0:
        raise MediaError(f"{file}: file is empty")
    if not os.access(file, os.R_OK):
        raise MediaError(f"{file}: permission denied")
    return file


def check_sample_rate(sr: int, *, name: str = "sr") -> int:
    """Return ``sr`` as an int after checking it is a plausible sample rate.

    Raises
    ------
    ParameterError
        If ``sr`` is not an integer in [1000, 768000] Hz.
    """
    if isinstance(sr, bool) or not isinstance(sr, int | np.integer):
        raise ParameterError(f"{name} must be an integer number of Hz, got {sr!r}")
    if not MIN_SAMPLE_RATE <= int(sr) <= MAX_SAMPLE_RATE:
        raise ParameterError(
            f"{name}={sr} Hz is outside the supported range {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz"
        )
    return int(sr)


def as_audio_array(audio: np.ndarray, *, what: str = "audio") -> np.ndarray:
    """Return ``audio`` as a C-contiguous float32 array of shape (channels, samples).

    A 1-D array is taken as mono.

    Raises
    ------
    MediaError
        If the array is not numeric, has the wrong number of dimensions, looks transposed, is
        empty, or holds NaN or infinite samples.
    """
    array = np.asarray(audio)
    if array.dtype.kind not in "fiu":
        raise MediaError(f"{what}: expected a numeric array, got dtype {array.dtype}")
    if array.ndim == 1:
        array = array[np.newaxis, :]
    if array.ndim != 2:
        raise MediaError(f"{what}: expected shape (channels, samples), got {array.shape}")
    if array.shape[0] > MAX_CHANNELS:
        raise MediaError(
            f"{what}: {array.shape[0]} channels; expected shape (channels, samples) "
            f"— was a (samples, channels) array passed?"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise MediaError(f"{what}: signal has no samples (shape {array.shape})")
    if array.dtype.kind in "iu":
        info = np.iinfo(array.dtype)
        array = array.astype(np.float32) / float(max(abs(info.min), info.max))
    with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf: refused below
        array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise MediaError(f"{what}: {bad} sample(s) are NaN or infinite")
    return array
