"""Remove a logo, watermark or object from video: fill the hole from other frames, then spatially.

Where the camera moves, the background behind a static logo shows in neighbouring frames; the
masked pixels are taken from there, found along dense optical flow (DIS) that is interpolated
into the hole from around it. What no frame shows (a static logo on a static shot) is filled by
spatial inpainting (Telea 2004). Masks are boolean arrays of shape ``(H, W)``, True where
pixels are to be removed: one for the whole video, or one per frame (a mask video). Reading
mask files is the caller's job (see :mod:`aigc_studio.media.video_io`). This is classical
propagation, not learned video completion: it does not invent structure that no frame shows,
and it does not match the brightness of filled pixels to the frame (no Poisson blending).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from itertools import repeat
from typing import Any

import cv2
import numpy as np

from aigc_studio.config_values import dataclass_from_dict
from aigc_studio.errors import ConfigError, MediaError, ParameterError
from aigc_studio.video.frame_checks import check_frame, check_int, check_number, to_uint8
from aigc_studio.video.optical_flow import DIS_PRESETS, DISFlow, warp_backward
from aigc_studio.video.shots import SCENE_CUT_THRESHOLD, is_scene_cut

__all__ = [
    "InpaintConfig",
    "VideoInpainter",
    "box_mask",
    "check_mask",
    "inpaint_frame",
    "inpaint_frames",
    "mask_from_image",
]

#: A source sample counts as unmasked when the bilinear weight it takes from masked pixels of
#: its frame is below this.
_MASKED_WEIGHT = 0.01
#: The flow is replaced (interpolated from around) this far beyond the hole, in pixels: DIS
#: matches 8-pixel patches, so flow that close to a static logo is dragged by it.
_FLOW_GUARD = 8
#: Width (pixels) of the band around the guarded hole where a neighbour's alignment is checked.
_BAND = 8
#: A neighbour is used only if its alignment error in the band (mean absolute luma difference,
#: 8-bit levels) is at most this many times the best neighbour's plus the slack, and at most the
#: maximum: neighbours of the same shot align to within a few levels, lost ones by tens. The
#: maximum was 30 until this was measured on real footage: chosen among 5, 8, 10, 15 and 30 on
#: Megamind.avi frames 100-148 (a range the benchmark does not score; 18.1 -> 18.2 dB in the
#: hole), it also keeps the misaligned samples of handheld tree.avi out (see the README).
_ALIGNMENT_RATIO = 2.0
_ALIGNMENT_SLACK = 4.0
_ALIGNMENT_MAX = 10.0
#: Radius (pixels, at the reduced size) of Telea's inpainting of the flow field in the hole.
_FLOW_FILL_RADIUS = 3
#: The flow field is filled in at this fraction of the crop's size.
_FLOW_FILL_SCALE = 4
#: About this many flow vectors around the hole are given to the homography fit.
_HOMOGRAPHY_POINTS = 400
#: RANSAC inlier tolerance of the homography fit, in pixels.
_HOMOGRAPHY_TOLERANCE = 1.0
#: Share of the vectors around the hole that must agree with the homography for it to be used.
_HOMOGRAPHY_INLIERS = 0.5


# -- masks ---------------------------------------------------------------------------------


def box_mask(width: int, height: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """Return the mask of a rectangle in a ``width`` x ``height`` frame.

    Parameters
    ----------
    width, height : int
        Frame size in pixels (>= 1).
    box : tuple of int
        ``(x, y, w, h)``: left and top edge, width and height in pixels. The box must lie
        inside the frame.

    Returns
    -------
    numpy.ndarray
        ``bool`` array of shape ``(height, width)``, True inside the box.

    Raises
    ------
    ParameterError
        If the box is not four integers, is empty, or reaches outside the frame (the message
        gives the frame size).

    Examples
    --------
    >>> box_mask(8, 6, (2, 1, 3, 2)).sum()
    np.int64(6)
    """
    width = check_int(width, "width", 1, 1 << 16)
    height = check_int(height, "height", 1, 1 << 16)
    try:
        x, y, w, h = (int(v) for v in box)
    except (TypeError, ValueError):
        raise ParameterError(f"box must be four integers x,y,w,h, got {box!r}") from None
    if w < 1 or h < 1:
        raise ParameterError(f"box {x},{y},{w},{h} is empty; width and height must be >= 1")
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise ParameterError(
            f"box {x},{y},{w},{h} reaches outside the {width}x{height} frame; it must satisfy "
            f"0 <= x, x + w <= {width}, 0 <= y, y + h <= {height}"
        )
    mask = np.zeros((height, width), bool)
    mask[y : y + h, x : x + w] = True
    return mask


def mask_from_image(image: np.ndarray) -> np.ndarray:
    """Turn a mask picture into a boolean mask: white (luma above 127) marks pixels to remove.

    Parameters
    ----------
    image : numpy.ndarray
        ``uint8`` image of shape ``(H, W)`` or ``(H, W, 3)`` (RGB), or a ``bool`` array.

    Returns
    -------
    numpy.ndarray
        ``bool`` array of shape ``(H, W)``.

    Raises
    ------
    MediaError
        If ``image`` is not such an array.
    """
    if isinstance(image, np.ndarray) and image.dtype == bool and image.ndim == 2:
        return image
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.size == 0:
        raise MediaError("a mask must be a uint8 image (white = remove) or a bool array")
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if image.ndim != 2:
        raise MediaError(f"a mask must have shape (H, W) or (H, W, 3), got {image.shape}")
    return image > 127


def check_mask(mask: object, shape: tuple[int, ...], *, what: str = "mask") -> np.ndarray:
    """Return ``mask`` as a boolean ``(H, W)`` array after checking it fits frames of ``shape``.

    Parameters
    ----------
    mask : numpy.ndarray
        Boolean mask, or a ``uint8`` mask picture (see :func:`mask_from_image`).
    shape : tuple of int
        Shape of the frames, ``(H, W)`` or ``(H, W, 3)``.
    what : str
        How to name the mask in an error message, e.g. ``"mask frame 3"``.

    Returns
    -------
    numpy.ndarray
        ``bool`` array of shape ``(H, W)``.

    Raises
    ------
    MediaError
        If the mask is not an image, its size differs from the frames' (naming both sizes), or
        it covers every pixel (nothing is left to fill from).
    """
    try:
        boolean = mask_from_image(mask)  # type: ignore[arg-type]
    except MediaError as exc:
        raise MediaError(f"{what}: {exc}") from None
    height, width = shape[:2]
    if boolean.shape != (height, width):
        raise MediaError(
            f"{what} is {boolean.shape[1]}x{boolean.shape[0]} but the video is {width}x{height}; "
            f"make the mask the size of the video"
        )
    if boolean.all():
        raise MediaError(f"{what} covers the whole frame; nothing is left to fill the hole from")
    return boolean


def inpaint_frame(frame: np.ndarray, mask: np.ndarray, *, radius: int = 5) -> np.ndarray:
    """Fill the masked pixels of one frame from their surroundings (spatial inpainting only).

    Telea's fast marching method (Telea 2004, "An image inpainting technique based on the
    fast marching method", Journal of Graphics Tools 9(1)): the hole is filled from its border
    inward, each pixel from a weighted average of the known pixels within ``radius``. It
    continues smooth areas and short edges well and smears texture; use
    :class:`VideoInpainter` on video, which first takes the pixels from other frames.

    Parameters
    ----------
    frame : numpy.ndarray
        ``uint8`` RGB frame of shape ``(H, W, 3)``.
    mask : numpy.ndarray
        ``bool`` (or ``uint8`` picture) mask of shape ``(H, W)``, True where to fill.
    radius : int
        Neighbourhood radius in pixels, in [1, 50].

    Returns
    -------
    numpy.ndarray
        The filled ``uint8`` RGB frame (a copy even if the mask is empty).

    Raises
    ------
    MediaError
        If the frame or mask is malformed or their sizes differ.
    ParameterError
        If ``radius`` is out of range.
    """
    check_frame(frame)
    boolean = check_mask(mask, frame.shape)
    radius = check_int(radius, "radius", 1, 50)
    if not boolean.any():
        return frame.copy()
    return cv2.inpaint(frame, boolean.astype(np.uint8), radius, cv2.INPAINT_TELEA)


# -- configuration -------------------------------------------------------------------------


@dataclass
class InpaintConfig:
    """Settings of :class:`VideoInpainter`.

    Attributes
    ----------
    neighbours : int
        Frames on each side of the current one searched for the hidden pixels, in [0, 16]; the
        window (``2 neighbours + 1`` frames) is all that is held in memory. 0 fills spatially
        only.
    flow_preset : str
        DIS preset: ``"medium"`` (default), ``"fast"`` or ``"ultrafast"``.
    dilate : int
        Grow the mask by this many pixels first, in [0, 64], so that the soft edge or the
        compression halo of a logo goes too.
    context : int
        Flow is computed on the part of the frame within this many pixels of the hole, in
        [16, 4096]; it must hold enough background around the hole to measure the motion.
    spatial_radius : int
        Radius of Telea's spatial inpainting for what no frame shows, in [1, 50].
    scene_threshold : float
        Threshold of :func:`~aigc_studio.video.shots.is_scene_cut`, in (0, 1]: frames of
        another shot are never used.
    """

    neighbours: int = 4
    flow_preset: str = "medium"
    dilate: int = 2
    context: int = 64
    spatial_radius: int = 5
    scene_threshold: float = SCENE_CUT_THRESHOLD

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field.

        Raises
        ------
        ConfigError
            If a field has the wrong type or is out of range.
        """
        try:
            check_int(self.neighbours, "neighbours", 0, 16)
            if self.flow_preset not in DIS_PRESETS:
                raise ParameterError(
                    f"flow_preset={self.flow_preset!r} is not a DIS preset; use one of "
                    f"{', '.join(DIS_PRESETS)}"
                )
            check_int(self.dilate, "dilate", 0, 64)
            check_int(self.context, "context", 16, 4096)
            check_int(self.spatial_radius, "spatial_radius", 1, 50)
            if check_number(self.scene_threshold, "scene_threshold", 0.0, 1.0) <= 0.0:
                raise ParameterError(f"scene_threshold={self.scene_threshold} must be above 0")
        except ParameterError as exc:
            raise ConfigError(f"inpaint: {exc}") from None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InpaintConfig:
        """Build a config from a mapping, refusing unknown keys.

        Raises
        ------
        ConfigError
            On an unknown key or an invalid value.
        """
        return dataclass_from_dict(cls, d, "inpaint")

    def to_dict(self) -> dict[str, Any]:
        """Return the config as a plain dict."""
        return asdict(self)


# -- video inpainting ----------------------------------------------------------------------


@dataclass
class _Entry:
    """A frame in the window, with what every target frame needs of it."""

    frame: np.ndarray
    mask: np.ndarray  # bool (H, W), dilated
    masked: np.ndarray  # float32 (H, W): 1 where masked, for bilinear validity tests
    luma: np.ndarray  # uint8 (H, W), the masked area pre-filled so that flow ignores it
    shot: int
    index: int


class VideoInpainter:
    """Fill masked pixels of a stream from the frames around them, then spatially.

    For each frame ``t`` with a non-empty mask:

    1. **Flow.** DIS optical flow (Kroeger et al. 2016) from ``t`` to each frame ``s`` of the
       window (up to ``neighbours`` frames each side, the same shot only), on the luma of a
       crop around the hole. In both frames the masked area is first filled spatially, so that
       a static logo does not pull the flow to zero; inside the hole (grown by 8 pixels) the
       flow is then replaced by Telea inpainting of the flow around it: the motion of the
       background behind the hole is assumed to continue that of the background beside it.
    2. **Propagation.** Each hole pixel ``x`` is looked up in each window frame at
       ``x + F_t→s(x)`` (bilinear); a sample counts only if it lies inside the frame and
       none of its bilinear footprint is masked in ``s``. The pixel takes the per-channel
       median of its valid samples, robust to a few misaligned ones (the classical
       propagation step of flow-guided video completion, as in Xu et al. 2019, "Deep
       flow-guided video inpainting", without their learned flow completion).
    3. **Memory.** A pixel with no valid sample in the window takes the previous output frame
       along the flow, where that frame's pixel came from real footage (not from step 4);
       so background seen once keeps filling the hole after the window has moved on.
    4. **Spatial fill.** What is left is filled by Telea's method (:func:`inpaint_frame`).

    Frames are read ``neighbours`` ahead, so memory stays at ``2 neighbours + 1`` frames.

    The gain depends on the motion: where the camera moves, the hole is filled with what was
    really behind it (on a camera drifting 1 to 4 pixels per frame, 9 to 17 dB PSNR above
    spatial inpainting with 4 neighbours, more with 8); on a near-static shot little of the
    hole is ever seen, and the result is that of spatial inpainting (within 1 dB, see
    ``benchmarks/bench_restoration.py``).

    Parameters
    ----------
    config : InpaintConfig, optional
        Settings; defaults as in :class:`InpaintConfig`.

    Attributes
    ----------
    filled_from_frames : int
        Hole pixels filled so far from other frames (steps 2 and 3), summed over frames.
    filled_spatially : int
        Hole pixels filled so far by spatial inpainting (step 4).

    Raises
    ------
    ParameterError
        If ``config`` is not an InpaintConfig.

    Examples
    --------
    >>> inpainter = VideoInpainter()  # doctest: +SKIP
    >>> for frame in inpainter.process(reader, logo_mask):  # doctest: +SKIP
    ...     writer.write(frame)
    """

    def __init__(self, config: InpaintConfig | None = None) -> None:
        self.config = config if config is not None else InpaintConfig()
        if not isinstance(self.config, InpaintConfig):
            raise ParameterError(
                f"config must be an InpaintConfig, got {type(self.config).__name__}"
            )
        self._flow = DISFlow(self.config.flow_preset)
        size = 2 * self.config.dilate + 1
        self._dilation = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        guard = 2 * _FLOW_GUARD + 1
        self._guard = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (guard, guard))
        band = 2 * _BAND + 1
        self._band = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (band, band))
        self.filled_from_frames = 0
        self.filled_spatially = 0

    def process(
        self, frames: Iterable[np.ndarray], masks: np.ndarray | Iterable[np.ndarray]
    ) -> Iterator[np.ndarray]:
        """Remove the masked pixels from every frame of a stream.

        Parameters
        ----------
        frames : iterable of numpy.ndarray
            ``uint8`` RGB frames of shape ``(H, W, 3)``, all of one size.
        masks : numpy.ndarray or iterable of numpy.ndarray
            One mask for every frame (a ``bool`` ``(H, W)`` array or a ``uint8`` mask picture,
            white = remove), or an iterable of them, one per frame (extra masks are ignored).

        Yields
        ------
        numpy.ndarray
            The filled frames, one per input frame; a frame whose mask is empty comes through
            unchanged.

        Raises
        ------
        MediaError
            If a frame or mask is malformed, a mask's size differs from the frames', a mask
            covers the whole frame, or the masks run out before the frames.
        """
        mask_source: Iterator[Any] = repeat(masks) if isinstance(masks, np.ndarray) else iter(masks)
        source = iter(frames)
        state: dict[str, Any] = {"index": 0, "shape": None, "last": None}
        neighbours = self.config.neighbours

        def read() -> _Entry | None:
            frame = next(source, None)
            if frame is None:
                return None
            index = state["index"]
            check_frame(frame, what=f"frame {index}", shape=state["shape"])
            mask = next(mask_source, None)
            if mask is None:
                raise MediaError(f"the masks ran out at frame {index}; give one mask per frame")
            entry = self._entry(frame, check_mask(mask, frame.shape, what=f"mask {index}"), index)
            last = state["last"]
            if last is not None:
                cut = is_scene_cut(last.frame, frame, self.config.scene_threshold)
                entry.shot = last.shot + int(cut)
            state.update(index=index + 1, shape=frame.shape, last=entry)
            return entry

        past: deque[_Entry] = deque(maxlen=neighbours)
        future: deque[_Entry] = deque()
        current = read()
        while current is not None and len(future) < neighbours:
            entry = read()
            if entry is None:
                break
            future.append(entry)
        memory: tuple[np.ndarray, np.ndarray, int] | None = None  # output, known map, shot
        while current is not None:
            output, known = self._fill(current, past, future, memory)
            memory = (output, known, current.shot)
            yield output
            past.append(current)
            entry = read()
            if entry is not None:
                future.append(entry)
            current = future.popleft() if future else None

    def _entry(self, frame: np.ndarray, mask: np.ndarray, index: int) -> _Entry:
        if self.config.dilate and mask.any():
            mask = cv2.dilate(mask.astype(np.uint8), self._dilation) > 0
        luma = DISFlow.luma(frame)
        if mask.any():
            luma = cv2.inpaint(luma, mask.astype(np.uint8), 3, cv2.INPAINT_TELEA)
        return _Entry(frame, mask, mask.astype(np.float32), luma, shot=0, index=index)

    def _fill(
        self,
        target: _Entry,
        past: deque[_Entry],
        future: deque[_Entry],
        memory: tuple[np.ndarray, np.ndarray, int] | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the filled frame and its map of pixels that come from real footage."""
        hole = target.mask
        if not hole.any():
            return target.frame, np.ones(hole.shape, bool)
        height, width = hole.shape
        ys, xs = np.nonzero(hole)
        crop = self._crop(ys, xs, height, width)
        guard = cv2.dilate(hole[crop].astype(np.uint8), self._guard)
        band = (cv2.dilate(guard, self._band) > 0) & (guard == 0)
        crop_y, crop_x = ys - crop[0].start, xs - crop[1].start
        sources = [e for e in _by_distance(list(past), list(future)) if e.shot == target.shot]
        previous = past[-1] if past else None
        samples, valids, errors = [], [], []
        previous_flow: np.ndarray | None = None
        # The last field found in each direction of time, with its distance in frames: the
        # motion to the next frame out is predicted from it (constant velocity), so that DIS
        # only has to find the difference, not a displacement that grows with the distance.
        last_field: dict[bool, tuple[int, np.ndarray]] = {}
        for source in sources:
            forward = source.index > target.index
            distance = abs(source.index - target.index)
            prediction = None
            if forward in last_field:
                known_distance, known_field = last_field[forward]
                prediction = known_field * np.float32(distance / known_distance)
            field, error = self._hole_flow(target, source, crop, guard, band, prediction)
            last_field[forward] = (distance, field)
            flow = field[crop_y, crop_x]
            map_x = (xs + flow[:, 0]).astype(np.float32).reshape(-1, 1)
            map_y = (ys + flow[:, 1]).astype(np.float32).reshape(-1, 1)
            sample = cv2.remap(source.frame, map_x, map_y, cv2.INTER_LINEAR)
            touched = cv2.remap(
                source.masked, map_x, map_y, cv2.INTER_LINEAR, borderValue=1.0,
                borderMode=cv2.BORDER_CONSTANT,
            )  # fmt: skip
            inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
            samples.append(sample.reshape(-1, 3).astype(np.float32))
            valids.append((inside & (touched < _MASKED_WEIGHT)).ravel())
            errors.append(error)
            if source is previous:
                previous_flow = np.stack([map_x.ravel(), map_y.ravel()], axis=1)
        # A neighbour whose motion model misses the background around the hole (large motion
        # that DIS lost, a cut that the cut test missed) would put wrong pixels in it.
        if errors:
            limit = min(_ALIGNMENT_RATIO * min(errors) + _ALIGNMENT_SLACK, _ALIGNMENT_MAX)
            for index, error in enumerate(errors):
                if error > limit:
                    valids[index] = np.zeros_like(valids[index])
                    if sources[index] is previous:
                        previous_flow = None
        output = target.frame.copy()
        known = np.ones(hole.shape, bool)
        filled = np.zeros(ys.size, bool)
        if samples:
            stack = np.stack(samples)
            valid = np.stack(valids)
            stack[~valid] = np.nan
            filled = valid.any(axis=0)
            if filled.any():
                median = np.nanmedian(stack[:, filled], axis=0)
                output[ys[filled], xs[filled]] = to_uint8(median)
        if memory is not None and memory[2] == target.shot and previous_flow is not None:
            remembered, remembered_known, _ = memory
            left = ~filled
            if left.any():
                map_x = previous_flow[left, 0].reshape(-1, 1).astype(np.float32)
                map_y = previous_flow[left, 1].reshape(-1, 1).astype(np.float32)
                trusted = cv2.remap(
                    remembered_known.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT, borderValue=0.0,
                ).ravel() > 1.0 - _MASKED_WEIGHT  # fmt: skip
                if trusted.any():
                    values = cv2.remap(remembered, map_x, map_y, cv2.INTER_LINEAR).reshape(-1, 3)
                    picked = np.flatnonzero(left)[trusted]
                    output[ys[picked], xs[picked]] = values[trusted]
                    filled[picked] = True
        rest = ~filled
        self.filled_from_frames += int(filled.sum())
        self.filled_spatially += int(rest.sum())
        if rest.any():
            remaining = np.zeros(hole.shape, np.uint8)
            remaining[ys[rest], xs[rest]] = 1
            output = cv2.inpaint(output, remaining, self.config.spatial_radius, cv2.INPAINT_TELEA)
            known[ys[rest], xs[rest]] = False
        return output, known

    def _crop(self, ys: np.ndarray, xs: np.ndarray, height: int, width: int) -> tuple[slice, slice]:
        margin = self.config.context
        top, bottom = max(int(ys.min()) - margin, 0), min(int(ys.max()) + margin + 1, height)
        left, right = max(int(xs.min()) - margin, 0), min(int(xs.max()) + margin + 1, width)
        return slice(top, bottom), slice(left, right)

    def _hole_flow(
        self, target: _Entry, source: _Entry, crop: tuple[slice, slice], guard: np.ndarray,
        band: np.ndarray, prediction: np.ndarray | None = None,
    ) -> tuple[np.ndarray, float]:  # fmt: skip
        """Return the motion field from ``target`` to ``source`` over the crop, and its error.

        The field is that of a homography fitted with RANSAC to the DIS flow around the hole
        (the background behind a logo is usually far enough to move as a plane); where too
        little of the surroundings agrees on one, the DIS flow with the hole inpainted. The
        error is the mean absolute luma difference, over a band just outside the hole, between
        the target and the source warped by the field. With a ``prediction`` of the field, the
        source is warped by it first and DIS measures only what is left.
        """
        target_luma = np.ascontiguousarray(target.luma[crop])
        source_luma = np.ascontiguousarray(source.luma[crop])
        if prediction is None:
            flow = self._flow.gray(target_luma, source_luma)
        else:
            # target(x) ≈ aligned(x + r) = source(x + r + p(x + r)) ≈ source(x + r + p(x)) for a
            # smooth prediction p, so the flow is p + r.
            aligned = warp_backward(source_luma, prediction)
            flow = prediction + self._flow.gray(target_luma, aligned)
        if guard.all():  # no background around the hole: assume no motion, unchecked
            return np.zeros_like(flow), 0.0
        model = _homography_flow(flow, guard == 0)
        if model is None:
            model = flow.copy()
            inside = guard.astype(bool)
            model[inside] = _inpainted_flow(flow, guard)[inside]
        band_y, band_x = np.nonzero(band)
        if band_y.size == 0:
            return model, 0.0
        map_x = (band_x + model[band_y, band_x, 0]).astype(np.float32).reshape(-1, 1)
        map_y = (band_y + model[band_y, band_x, 1]).astype(np.float32).reshape(-1, 1)
        warped = cv2.remap(source_luma, map_x, map_y, cv2.INTER_LINEAR).ravel()
        masked = cv2.remap(
            np.ascontiguousarray(source.masked[crop]), map_x, map_y, cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT, borderValue=1.0,
        ).ravel() >= _MASKED_WEIGHT  # fmt: skip
        usable = ~masked
        if not usable.any():
            return model, _ALIGNMENT_MAX
        difference = np.abs(warped[usable].astype(np.float32) - target_luma[band_y, band_x][usable])
        return model, float(difference.mean())


def _homography_flow(flow: np.ndarray, known: np.ndarray) -> np.ndarray | None:
    """Fit a homography to ``flow`` where ``known`` (RANSAC); return its flow, or None."""
    height, width = known.shape
    step = max(1, int(np.sqrt(known.sum() / _HOMOGRAPHY_POINTS)))
    ys, xs = np.nonzero(known[::step, ::step])
    if ys.size < 16:
        return None
    ys, xs = ys * step, xs * step
    points = np.stack([xs, ys], axis=1).astype(np.float32)
    moved = points + flow[ys, xs]
    matrix, inliers = cv2.findHomography(points, moved, cv2.RANSAC, _HOMOGRAPHY_TOLERANCE)
    if matrix is None or inliers is None or inliers.mean() < _HOMOGRAPHY_INLIERS:
        return None
    grid_x, grid_y = np.meshgrid(
        np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
    )
    grid = np.stack([grid_x, grid_y], axis=-1).reshape(-1, 1, 2)
    mapped = cv2.perspectiveTransform(grid, matrix).reshape(height, width, 2)
    result = mapped - np.stack([grid_x, grid_y], axis=-1)
    return result.astype(np.float32) if np.isfinite(result).all() else None


def _inpainted_flow(flow: np.ndarray, guard: np.ndarray) -> np.ndarray:
    """Continue the flow around the guarded hole into it by Telea inpainting, at 1/4 size."""
    height, width = guard.shape
    # Flow is smooth, and Telea's cost grows with the hole's area times the radius squared.
    scale = _FLOW_FILL_SCALE if min(height, width) >= 16 * _FLOW_FILL_SCALE else 1
    small_size = (max(width // scale, 1), max(height // scale, 1))
    weight = cv2.resize((1 - guard).astype(np.float32), small_size, interpolation=cv2.INTER_AREA)
    small_flow = cv2.resize(flow * (1 - guard)[..., None], small_size, interpolation=cv2.INTER_AREA)
    small_guard = (weight < 0.5).astype(np.uint8)
    small_flow /= np.maximum(weight, 1e-6)[..., None]
    filled = np.stack(
        [cv2.inpaint(np.ascontiguousarray(small_flow[..., c]), small_guard, _FLOW_FILL_RADIUS,
                     cv2.INPAINT_TELEA) for c in range(2)],
        axis=-1,
    )  # fmt: skip
    if scale > 1:
        filled = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
    return filled


def _by_distance(past: list[_Entry], future: list[_Entry]) -> list[_Entry]:
    """Interleave the window's frames by distance from the current one: t-1, t+1, t-2, ..."""
    order: list[_Entry] = []
    before, after = past[::-1], future
    for step in range(max(len(before), len(after))):
        if step < len(before):
            order.append(before[step])
        if step < len(after):
            order.append(after[step])
    return order


def inpaint_frames(
    frames: Iterable[np.ndarray],
    masks: np.ndarray | Iterable[np.ndarray],
    config: InpaintConfig | None = None,
) -> Iterator[np.ndarray]:
    """Remove masked pixels from a stream: from other frames first, then spatially.

    See :class:`VideoInpainter` for the method.

    Parameters
    ----------
    frames : iterable of numpy.ndarray
        ``uint8`` RGB frames of shape ``(H, W, 3)``, all of one size.
    masks : numpy.ndarray or iterable of numpy.ndarray
        One mask for all frames (``bool`` ``(H, W)``, True = remove; or a ``uint8`` mask
        picture, white = remove), or one mask per frame.
    config : InpaintConfig, optional
        Settings; see :class:`InpaintConfig`.

    Returns
    -------
    iterator of numpy.ndarray
        The filled frames, one per input frame.

    Examples
    --------
    >>> mask = box_mask(reader.width, reader.height, (20, 20, 120, 40))  # doctest: +SKIP
    >>> for frame in inpaint_frames(reader, mask):  # doctest: +SKIP
    ...     writer.write(frame)
    """
    return VideoInpainter(config).process(frames, masks)
