"""Video and image quality metrics: PSNR, SSIM, flicker and gray-world error.

Pure functions on ``uint8`` RGB frames of shape ``(H, W, 3)`` (or streams of them) returning
numbers, so that they score our outputs and other tools' alike. They do not read files.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import cv2
import numpy as np

from aigc_studio.errors import MediaError

__all__ = ["flicker", "gray_world_error", "psnr", "ssim"]

#: BT.601 luma weights of R, G, B (what ``cv2.COLOR_RGB2GRAY`` uses).
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])


def _check_pair(reference: np.ndarray, estimate: np.ndarray) -> None:
    for name, frame in (("reference", reference), ("estimate", estimate)):
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim not in (2, 3):
            raise MediaError(f"{name} must be a uint8 image of shape (H, W) or (H, W, C)")
    if reference.shape != estimate.shape:
        raise MediaError(
            f"reference and estimate differ in shape: {reference.shape} vs {estimate.shape}"
        )


def _luma(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return frame.astype(np.float64)
    if frame.shape[2] != 3:
        raise MediaError(f"expected an RGB frame (H, W, 3), got {frame.shape}")
    return frame.astype(np.float64) @ LUMA_WEIGHTS


def psnr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Return the peak signal-to-noise ratio of ``estimate`` against ``reference``, in dB.

    ``10 log10(255² / MSE)`` over all pixels and channels of 8-bit images.

    Parameters
    ----------
    reference, estimate : numpy.ndarray
        ``uint8`` images of the same shape.

    Returns
    -------
    float
        PSNR in dB; ``inf`` for identical images.

    Raises
    ------
    MediaError
        If the images are not uint8 or differ in shape.
    """
    _check_pair(reference, estimate)
    mse = float(np.mean((reference.astype(np.float64) - estimate.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def ssim(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Return the mean structural similarity of two images' luma.

    SSIM as defined by Wang, Bovik, Sheikh and Simoncelli 2004 ("Image quality assessment:
    from error visibility to structural similarity"): local means, variances and covariance
    under an 11x11 Gaussian window with sigma 1.5, ``K1 = 0.01``, ``K2 = 0.03``, dynamic
    range 255, averaged over the window positions that lie fully inside the image (their
    "valid" region). RGB images are compared on BT.601 luma.

    Parameters
    ----------
    reference, estimate : numpy.ndarray
        ``uint8`` images of the same shape, ``(H, W)`` or ``(H, W, 3)``.

    Returns
    -------
    float
        SSIM in [-1, 1]; 1 for identical images.

    Raises
    ------
    MediaError
        If the images are not uint8 or differ in shape.
    """
    _check_pair(reference, estimate)
    x, y = _luma(reference), _luma(estimate)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov = blur(x * y) - mu_x * mu_y
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    )
    if min(index.shape) > 10:
        index = index[5:-5, 5:-5]
    return float(index.mean())


def flicker(frames: Iterable[np.ndarray]) -> float:
    """Return the mean absolute frame-to-frame change of mean luminance, in 8-bit levels.

    ``mean_k |Y_k - Y_(k-1)|`` where ``Y_k`` is the mean BT.601 luma of frame ``k``: a
    steady video scores near 0, one whose brightness pumps scores the size of the pumping.
    Frames are read one at a time.

    Parameters
    ----------
    frames : iterable of numpy.ndarray
        ``uint8`` RGB frames of shape ``(H, W, 3)``.

    Returns
    -------
    float
        The flicker; 0.0 for fewer than two frames.

    Raises
    ------
    MediaError
        If a frame is not a uint8 (H, W, 3) array.
    """
    previous: float | None = None
    total, count = 0.0, 0
    for index, frame in enumerate(frames):
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3:
            raise MediaError(f"frame {index} must be a uint8 RGB array of shape (H, W, 3)")
        level = float(frame.reshape(-1, 3).mean(axis=0, dtype=np.float64) @ LUMA_WEIGHTS)
        if previous is not None:
            total += abs(level - previous)
            count += 1
        previous = level
    return total / count if count else 0.0


def gray_world_error(frame: np.ndarray) -> float:
    """Return how far a frame's average color is from gray.

    The mean absolute deviation of the R, G and B channel means from their common mean,
    divided by that mean: 0 for a frame that satisfies the gray-world assumption (Buchsbaum
    1980), about 0.3 for a strong color cast. Brightness does not change it.

    Parameters
    ----------
    frame : numpy.ndarray
        ``uint8`` RGB frame of shape ``(H, W, 3)``.

    Returns
    -------
    float
        The relative error, >= 0; 0.0 for a black frame.

    Raises
    ------
    MediaError
        If ``frame`` is not a uint8 (H, W, 3) array.
    """
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3:
        raise MediaError("frame must be a uint8 RGB array of shape (H, W, 3)")
    means = frame.reshape(-1, 3).mean(axis=0, dtype=np.float64)
    gray = float(means.mean())
    return 0.0 if gray == 0 else float(np.abs(means - gray).mean() / gray)
