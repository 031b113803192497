"""Checks on the frames and settings handed to the video functions, with messages that name them.

Besides validation, only the one conversion every stage ends with lives here: float pixels back to
``uint8`` frames (:func:`to_uint8`), and the same for what a pluggable model returns
(:func:`frame_from_model`). Fixing frames is the caller's job.
"""

from __future__ import annotations

import numpy as np

from aigc_studio.errors import MediaError, ParameterError


def check_frame(
    frame: object, *, what: str = "frame", shape: tuple[int, ...] | None = None
) -> np.ndarray:
    """Return ``frame`` after checking that it is a ``uint8`` RGB array of shape ``(H, W, 3)``.

    Parameters
    ----------
    frame : object
        The value to check.
    what : str
        How to name the frame in an error message, e.g. ``"frame 12"``.
    shape : tuple of int, optional
        The shape the frame must have (that of the stream's first frame).

    Returns
    -------
    numpy.ndarray
        ``frame`` itself.

    Raises
    ------
    MediaError
        If ``frame`` is not a uint8 array of shape (H, W, 3) with H, W > 0, or differs from
        ``shape``.
    """
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        kind = frame.dtype if isinstance(frame, np.ndarray) else type(frame).__name__
        raise MediaError(f"{what} must be a uint8 RGB array, got {kind}")
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] == 0 or frame.shape[1] == 0:
        raise MediaError(f"{what} must have shape (H, W, 3), got {frame.shape}")
    if shape is not None and frame.shape != shape:
        raise MediaError(
            f"{what} is {frame.shape[1]}x{frame.shape[0]}, but the stream is "
            f"{shape[1]}x{shape[0]} (set by its first frame)"
        )
    return frame


def check_number(value: object, name: str, low: float, high: float) -> float:
    """Return ``value`` as a float if it is a number in ``[low, high]``.

    Raises
    ------
    ParameterError
        If it is not a number (booleans included) or lies outside the range (NaN included).
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ParameterError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}")
    number = float(value)
    if not low <= number <= high:  # also refuses nan
        raise ParameterError(f"{name}={value} is outside the supported range [{low:g}, {high:g}]")
    return number


def check_int(value: object, name: str, low: int, high: int) -> int:
    """Return ``value`` as an int if it is an integer (numpy's too) in ``[low, high]``.

    Raises
    ------
    ParameterError
        If it is not an integer (booleans included) or lies outside the range.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ParameterError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    if not low <= int(value) <= high:
        raise ParameterError(f"{name}={value} is outside the supported range [{low}, {high}]")
    return int(value)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Round float pixel values to ``uint8``, clipping them to 0-255."""
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def frame_from_model(result: object, shape: tuple[int, ...], *, who: str) -> np.ndarray:
    """Return what a model made of a frame as a ``uint8`` frame of ``shape``.

    ``uint8`` output is kept as it is; integer or float output is rounded and clipped.

    Parameters
    ----------
    result : object
        The model's output (an array or anything ``numpy.asarray`` takes).
    shape : tuple of int
        The shape the frame must have.
    who : str
        How to name the model in an error message, e.g. ``"refine"``.

    Raises
    ------
    ParameterError
        If the output has another shape or a non-numeric dtype.
    """
    array = np.asarray(result)
    if array.shape != shape:
        raise ParameterError(f"{who} returned shape {array.shape}, expected {shape}")
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind not in "fiu":
        raise ParameterError(f"{who} returned dtype {array.dtype}, expected uint8 or float")
    return to_uint8(array)
