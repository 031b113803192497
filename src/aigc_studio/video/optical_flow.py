"""Dense optical flow between two frames, backward warping, and the flow consistency test.

Flow fields are ``float32`` arrays of shape ``(H, W, 2)`` holding ``(dx, dy)`` in pixels, with
the convention of OpenCV: ``flow = F_a→b`` means ``a[y, x] ≈ b[y + dy, x + dx]``. This module
only estimates and applies flow; deciding which flows to combine for an intermediate frame is
:mod:`aigc_studio.video.interpolate`'s job.
"""

from __future__ import annotations

import cv2
import numpy as np

from aigc_studio.errors import ParameterError
from aigc_studio.video.frame_checks import check_frame

__all__ = ["DIS_PRESETS", "DISFlow", "flow_inconsistency", "warp_backward"]

#: DIS presets by name, fastest first.
DIS_PRESETS: dict[str, int] = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}

#: Constants of the consistency test of Sundaram et al. 2010: a point is occluded when
#: |w + ŵ|² > 0.01 (|w|² + |ŵ|²) + 0.5 (pixels²).
_CONSISTENCY_RELATIVE = 0.01
_CONSISTENCY_ABSOLUTE = 0.5
#: Inconsistency given to pixels whose flow leaves the frame: far above any threshold, finite so
#: that arithmetic on it stays finite.
_LEFT_FRAME = 1e3

#: Smallest side DIS accepts (it needs room for its 8-pixel patches); smaller frames are padded.
_DIS_MIN_SIZE = 16

_grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (x, y) pixel coordinates as float32 maps, cached per size."""
    key = (height, width)
    grid = _grids.get(key)
    if grid is None:
        if len(_grids) > 8:  # a long-running process may see many sizes; keep a few
            _grids.clear()
        xs, ys = np.meshgrid(
            np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
        )
        grid = (xs, ys)
        _grids[key] = grid
    return grid


class DISFlow:
    """Estimate dense optical flow with DIS, Dense Inverse Search (Kroeger et al. 2016).

    DIS matches patches by inverse-compositional search on a coarse-to-fine pyramid and then
    densifies with variational refinement. It handles large motion, runs in real time on a CPU
    at SD sizes with the ``"medium"`` preset, and is deterministic. Frames are compared as
    grayscale (BT.601 luma).

    Parameters
    ----------
    preset : {"medium", "fast", "ultrafast"}
        OpenCV's DIS preset: speed against accuracy.

    Raises
    ------
    ParameterError
        If ``preset`` is unknown.

    Examples
    --------
    >>> flow = DISFlow()(frame0, frame1)  # doctest: +SKIP
    >>> flow.shape
    (480, 640, 2)
    """

    def __init__(self, preset: str = "medium") -> None:
        if preset not in DIS_PRESETS:
            raise ParameterError(
                f"preset={preset!r} is not a DIS preset; use one of {', '.join(DIS_PRESETS)}"
            )
        self.preset = preset
        self._dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])

    def __call__(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Return the flow from ``source`` to ``target``.

        Parameters
        ----------
        source, target : numpy.ndarray
            ``uint8`` RGB frames of shape ``(H, W, 3)``, of the same size.

        Returns
        -------
        numpy.ndarray
            ``float32`` flow of shape ``(H, W, 2)``: ``source[y, x] ≈ target[y + dy, x + dx]``.

        Raises
        ------
        MediaError
            If a frame is not a uint8 (H, W, 3) array or the sizes differ.
        """
        check_frame(source, what="source")
        check_frame(target, what="target", shape=source.shape)
        return self.gray(self.luma(source), self.luma(target))

    @staticmethod
    def luma(frame: np.ndarray) -> np.ndarray:
        """Return the BT.601 luma of an RGB frame, the image DIS works on."""
        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)

    def gray(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Return the flow between two ``uint8`` grayscale images (no checks).

        Lets a caller that needs both directions convert each frame to luma once.
        """
        height, width = source.shape
        if height >= _DIS_MIN_SIZE and width >= _DIS_MIN_SIZE:
            return self._dis.calc(source, target, None)
        # DIS refuses images smaller than its patches; replicated borders add no motion.
        pad_y, pad_x = max(0, _DIS_MIN_SIZE - height), max(0, _DIS_MIN_SIZE - width)
        source, target = (
            cv2.copyMakeBorder(image, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)
            for image in (source, target)
        )
        return np.ascontiguousarray(self._dis.calc(source, target, None)[:height, :width])

    def __repr__(self) -> str:
        return f"DISFlow(preset={self.preset!r})"


def warp_backward(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Resample ``image`` along ``flow``: ``out[y, x] = image[y + dy, x + dx]``.

    Backward warping with bilinear interpolation; samples that fall outside the image take the
    nearest border pixel. Every output pixel gets a value (no holes), unlike forward splatting.

    Parameters
    ----------
    image : numpy.ndarray
        Array of shape ``(H, W)`` or ``(H, W, C)`` with ``C <= 4``, ``uint8`` or ``float32``.
    flow : numpy.ndarray
        ``float32`` flow of shape ``(H, W, 2)`` in pixels.

    Returns
    -------
    numpy.ndarray
        The warped image, of ``image``'s shape and dtype.

    Raises
    ------
    ParameterError
        If the shapes do not match.
    """
    if flow.ndim != 3 or flow.shape[2] != 2 or flow.shape[:2] != image.shape[:2]:
        raise ParameterError(
            f"flow must have shape (H, W, 2) matching the image {image.shape[:2]}, got {flow.shape}"
        )
    xs, ys = _pixel_grid(*image.shape[:2])
    map_x = xs + flow[..., 0]
    map_y = ys + flow[..., 1]
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def flow_inconsistency(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Return, per pixel of the first frame, how badly the forward and backward flows disagree.

    For a pixel ``x`` with forward flow ``w = F_a→b(x)`` and the backward flow met where it
    lands, ``ŵ = F_b→a(x + w)``, a point seen in both frames has ``w + ŵ ≈ 0``. The value
    returned is ``|w + ŵ|² / (0.01 (|w|² + |ŵ|²) + 0.5)``, so that the test of Sundaram, Brox
    and Keutzer 2010 ("Dense point trajectories by GPU-accelerated large displacement optical
    flow") reads ``occluded = value > 1``. Pixels whose flow leaves the frame count as
    occluded.

    Parameters
    ----------
    forward : numpy.ndarray
        ``F_a→b``, ``float32`` of shape ``(H, W, 2)``.
    backward : numpy.ndarray
        ``F_b→a``, of the same shape.

    Returns
    -------
    numpy.ndarray
        ``float32`` of shape ``(H, W)``, >= 0; above 1 means "not visible in b" (or a flow
        error there).

    Raises
    ------
    ParameterError
        If the shapes differ or are not (H, W, 2).
    """
    if forward.shape != backward.shape or forward.ndim != 3 or forward.shape[2] != 2:
        raise ParameterError(
            f"forward and backward flows must both be (H, W, 2), got {forward.shape} and "
            f"{backward.shape}"
        )
    height, width = forward.shape[:2]
    returned = warp_backward(backward, forward)
    # Separate contiguous planes: elementwise work on them is several times faster than on
    # the interleaved (H, W, 2) layout.
    fx, fy = cv2.split(np.ascontiguousarray(forward, dtype=np.float32))
    rx, ry = cv2.split(returned.astype(np.float32, copy=False))
    sx, sy = fx + rx, fy + ry
    error = sx * sx + sy * sy
    scale = _CONSISTENCY_RELATIVE * (fx * fx + fy * fy + rx * rx + ry * ry)
    ratio = error / (scale + _CONSISTENCY_ABSOLUTE)
    xs, ys = _pixel_grid(height, width)
    land_x, land_y = xs + fx, ys + fy
    outside = (land_x < -0.5) | (land_x > width - 0.5) | (land_y < -0.5) | (land_y > height - 0.5)
    ratio[outside] = _LEFT_FRAME
    return ratio.astype(np.float32, copy=False)
