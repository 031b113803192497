"""Color correction of frames: white balance, contrast, saturation, transfer from a reference.

The single-frame functions (:func:`auto_white_balance`, :func:`enhance_contrast`,
:func:`adjust_saturation`, :func:`transfer_color`) estimate their parameters from the frame
they are given. On video that makes the result flicker, because those estimates move with
whatever passes through the picture; :class:`ColorCorrector` estimates the same parameters on
every frame but smooths them over time (an exponential moving average, restarted at scene cuts)
before applying them, and evens out the brightness of the stream before and after
(:mod:`aigc_studio.video.deflicker`), so that flicker in the input is taken out, not amplified.
White balance is white patch by default (the brightest colors are white), gray world on
request. Metrics of the result (flicker, gray-world error) are in
:mod:`aigc_studio.evaluation.video`. This is global and regional tone work, not denoising or
learned color grading.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from aigc_studio.config_values import dataclass_from_dict
from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.video.deflicker import Deflicker, DeflickerConfig
from aigc_studio.video.frame_checks import check_frame, check_int, check_number, to_uint8
from aigc_studio.video.shots import SCENE_CUT_THRESHOLD, is_scene_cut

__all__ = [
    "ColorCorrectionConfig",
    "ColorCorrector",
    "ColorStats",
    "WHITE_BALANCE_METHODS",
    "adjust_saturation",
    "auto_white_balance",
    "color_statistics",
    "enhance_contrast",
    "gray_world_gains",
    "transfer_color",
    "white_balance_gains",
    "white_patch_gains",
]

#: Pixels with a channel at or above this are left out of the gray-world means: a clipped
#: highlight has lost its color and would pull the gains toward the clipping.
_CLIPPED_LEVEL = 250
#: Largest ratio between the reference's and the frame's spread in a LAB channel: a flat frame
#: (a title card) would otherwise have its noise amplified without bound.
_MAX_STD_RATIO = 3.0
_MIN_STD = 1e-3
#: White patch takes its maxima on the frame reduced by this factor (area averaging).
_WHITE_PATCH_REDUCTION = 2
#: Ways of estimating the color cast (see :func:`white_balance_gains`).
WHITE_BALANCE_METHODS = ("white-patch", "gray-world")


def _check_tiles(tile_grid: object) -> int:
    if isinstance(tile_grid, bool) or not isinstance(tile_grid, int | np.integer):
        raise ParameterError(f"tile_grid must be an integer in [1, 64], got {tile_grid!r}")
    if not 1 <= int(tile_grid) <= 64:
        raise ParameterError(f"tile_grid={tile_grid} is outside the supported range [1, 64]")
    return int(tile_grid)


# -- white balance -------------------------------------------------------------------------


def gray_world_gains(frame: np.ndarray, *, max_gain: float = 2.0) -> np.ndarray:
    """Return the per-channel gains that make a frame's average color gray.

    Gray-world assumption (Buchsbaum 1980, "A spatial processor model for object colour
    perception"): the average of a varied scene is achromatic, so channel ``c`` gets the gain
    ``mean(means) / mean_c``, which keeps the overall brightness. Clipped pixels (a channel
    >= 250) are left out of the means, and each gain is clipped to
    ``[1 / max_gain, max_gain]`` so that a frame that really is mostly one color (a sunset, a
    lawn) is not turned gray.

    Parameters
    ----------
    frame : numpy.ndarray
        ``uint8`` RGB frame of shape ``(H, W, 3)``.
    max_gain : float
        Largest gain (and inverse of the smallest), in [1, 10].

    Returns
    -------
    numpy.ndarray
        ``float32`` gains of shape ``(3,)`` for R, G, B; ones for a black frame.

    Raises
    ------
    ParameterError
        If ``max_gain`` is out of range.
    MediaError
        If ``frame`` is not a uint8 (H, W, 3) array.
    """
    check_frame(frame)
    max_gain = check_number(max_gain, "max_gain", 1.0, 10.0)
    pixels = frame.reshape(-1, 3)
    unclipped = pixels.max(axis=1) < _CLIPPED_LEVEL
    # A frame that is mostly highlight says little; fall back to all pixels then.
    if np.count_nonzero(unclipped) >= 0.05 * len(pixels):
        pixels = pixels[unclipped]
    means = pixels.mean(axis=0, dtype=np.float64)
    if means.min() <= 0.5:  # a channel with no signal has no meaningful gain
        return np.ones(3, dtype=np.float32)
    gains = means.mean() / means
    return np.clip(gains, 1.0 / max_gain, max_gain).astype(np.float32)


def white_patch_gains(frame: np.ndarray, *, max_gain: float = 2.0) -> np.ndarray:
    """Return the per-channel gains that make a frame's brightest colors white.

    White patch (Max-RGB; Land & McCann 1971, "Lightness and retinex theory"): the brightest
    surfaces reflect the illuminant, so the largest value of each channel estimates its color.
    Following Funt & Shi 2010 ("The rehabilitation of MaxRGB"), the maxima are taken on the
    frame reduced to half size by area averaging, which keeps a single noisy pixel from
    deciding them; pixels near a clipped one (a channel >= 250 at full size) are left out, as
    clipping has lost their color. Channel ``c`` gets ``mean(maxima) / max_c``, clipped to
    ``[1 / max_gain, max_gain]``. On 18 opencv-doc photographs under six casts it leaves a
    mean cast of 1.8 degrees, gray world 8.0 (see ``benchmarks/bench_color.py`` for video).

    Parameters
    ----------
    frame : numpy.ndarray
        ``uint8`` RGB frame of shape ``(H, W, 3)``.
    max_gain : float
        Largest gain (and inverse of the smallest), in [1, 10].

    Returns
    -------
    numpy.ndarray
        ``float32`` gains of shape ``(3,)`` for R, G, B; ones for a frame with no usable
        pixel (black, or all clipped).

    Raises
    ------
    ParameterError
        If ``max_gain`` is out of range.
    MediaError
        If ``frame`` is not a uint8 (H, W, 3) array.
    """
    check_frame(frame)
    max_gain = check_number(max_gain, "max_gain", 1.0, 10.0)
    height, width = frame.shape[:2]
    clipped = (frame.max(axis=2) >= _CLIPPED_LEVEL).astype(np.uint8)
    if height >= 2 * _WHITE_PATCH_REDUCTION and width >= 2 * _WHITE_PATCH_REDUCTION:
        size = (width // _WHITE_PATCH_REDUCTION, height // _WHITE_PATCH_REDUCTION)
        kernel = np.ones((_WHITE_PATCH_REDUCTION, _WHITE_PATCH_REDUCTION), np.uint8)
        reduced = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        clipped = cv2.resize(cv2.dilate(clipped, kernel), size, interpolation=cv2.INTER_NEAREST)
    else:
        reduced = frame
    usable = reduced[clipped == 0]
    if usable.size == 0:
        return np.ones(3, dtype=np.float32)
    maxima = usable.reshape(-1, 3).max(axis=0).astype(np.float64)
    if maxima.min() < 1.0:  # a channel with no signal has no meaningful gain
        return np.ones(3, dtype=np.float32)
    gains = maxima.mean() / maxima
    return np.clip(gains, 1.0 / max_gain, max_gain).astype(np.float32)


def white_balance_gains(
    frame: np.ndarray, *, method: str = "white-patch", max_gain: float = 2.0
) -> np.ndarray:
    """Return the white-balance gains of a frame by one of :data:`WHITE_BALANCE_METHODS`.

    Parameters
    ----------
    frame : numpy.ndarray
        ``uint8`` RGB frame of shape ``(H, W, 3)``.
    method : {"white-patch", "gray-world"}
        :func:`white_patch_gains` (default: the brightest colors are white) or
        :func:`gray_world_gains` (the average color is gray; wrong for scenes that are
        mostly one color, such as a lawn or a stylized animation).
    max_gain : float
        Largest gain (and inverse of the smallest), in [1, 10].

    Returns
    -------
    numpy.ndarray
        ``float32`` gains of shape ``(3,)`` for R, G, B.

    Raises
    ------
    ParameterError
        If ``method`` is unknown or ``max_gain`` is out of range.
    MediaError
        If ``frame`` is not a uint8 (H, W, 3) array.
    """
    if method == "white-patch":
        return white_patch_gains(frame, max_gain=max_gain)
    if method == "gray-world":
        return gray_world_gains(frame, max_gain=max_gain)
    raise ParameterError(
        f"white-balance method {method!r} is unknown; use one of {', '.join(WHITE_BALANCE_METHODS)}"
    )


def _apply_gains(image: np.ndarray, gains: np.ndarray) -> np.ndarray:
    return np.clip(image * gains.astype(np.float32), 0.0, 255.0)


def auto_white_balance(
    frame: np.ndarray,
    *,
    strength: float = 1.0,
    max_gain: float = 2.0,
    method: str = "white-patch",
) -> np.ndarray:
    """Remove a color cast: white patch (default) or gray world.

    Parameters
    ----------
    frame : numpy.ndarray
        ``uint8`` RGB frame of shape ``(H, W, 3)``.
    strength : float
        0 leaves the frame as it is, 1 applies the full gains (they are raised to this power).
    max_gain : float
        Clip on each channel's gain, in [1, 10].
    method : {"white-patch", "gray-world"}
        How the cast is estimated; see :func:`white_balance_gains`.

    Returns
    -------
    numpy.ndarray
        The balanced ``uint8`` RGB frame.

    Raises
    ------
    ParameterError
        If ``strength``, ``max_gain`` or ``method`` is invalid.
    MediaError
        If ``frame`` is not a uint8 (H, W, 3) array.

    Examples
    --------
    >>> balanced = auto_white_balance(frame)  # doctest: +SKIP
    """
    strength = check_number(strength, "strength", 0.0, 1.0)
    gains = white_balance_gains(frame, method=method, max_gain=max_gain) ** strength
    return to_uint8(_apply_gains(frame.astype(np.float32), gains))


# -- contrast ------------------------------------------------------------------------------


def enhance_contrast(
    frame: np.ndarray, *, clip_limit: float = 2.0, tile_grid: int = 8
) -> np.ndarray:
    """Raise local contrast with CLAHE on the lightness channel of CIELAB.

    Contrast-limited adaptive histogram equalization (Zuiderveld 1994, "Contrast limited
    adaptive histogram equalization", Graphics Gems IV) equalizes the histogram of each tile
    of a ``tile_grid`` x ``tile_grid`` grid, with each histogram bin clipped at ``clip_limit``
    times the mean bin height so that noise in flat regions is not amplified, and interpolates
    bilinearly between the tiles' mappings. Working on L only leaves hue and saturation alone.

    Parameters
    ----------
    frame : numpy.ndarray
        ``uint8`` RGB frame of shape ``(H, W, 3)``.
    clip_limit : float
        Contrast limit in [1, 40]; 1 changes little, 2 (default) is moderate.
    tile_grid : int
        Tiles per side, in [1, 64].

    Returns
    -------
    numpy.ndarray
        The ``uint8`` RGB frame.

    Raises
    ------
    ParameterError
        If ``clip_limit`` or ``tile_grid`` is out of range.
    MediaError
        If ``frame`` is not a uint8 (H, W, 3) array.
    """
    check_frame(frame)
    clip_limit = check_number(clip_limit, "clip_limit", 1.0, 40.0)
    tiles = _check_tiles(tile_grid)
    lab = cv2.cvtColor(frame, cv2.COLOR_RGB2LAB)
    clahe = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tiles, tiles))
    lab[..., 0] = clahe.apply(np.ascontiguousarray(lab[..., 0]))
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def _clahe_luts(lightness: np.ndarray, clip_limit: float, tiles: int) -> np.ndarray:
    """Return CLAHE's per-tile mappings, ``float32`` of shape ``(tiles, tiles, 256)``.

    The same algorithm as OpenCV's ``cv2.CLAHE`` (tiling, clipping, redistribution of the
    excess), but the mappings are returned unrounded so that they can be smoothed over time,
    which OpenCV's API does not allow.
    """
    height, width = lightness.shape
    if height % tiles or width % tiles:
        # OpenCV pads both sides when either does not divide (reflect-101).
        lightness = cv2.copyMakeBorder(
            lightness, 0, tiles - height % tiles, 0, tiles - width % tiles, cv2.BORDER_REFLECT_101
        )
    tile_h, tile_w = lightness.shape[0] // tiles, lightness.shape[1] // tiles
    area = tile_h * tile_w
    blocks = lightness.reshape(tiles, tile_h, tiles, tile_w).transpose(0, 2, 1, 3)
    codes = blocks.reshape(tiles * tiles, area).astype(np.int64)
    codes += np.arange(tiles * tiles, dtype=np.int64)[:, None] * 256
    hist = np.bincount(codes.ravel(), minlength=tiles * tiles * 256).reshape(-1, 256)
    limit = max(int(clip_limit * area / 256), 1)
    excess = np.maximum(hist - limit, 0).sum(axis=1, keepdims=True)
    hist = np.minimum(hist, limit) + excess // 256
    residual = excess - (excess // 256) * 256
    step = np.maximum(256 // np.maximum(residual, 1), 1)
    bins = np.arange(256)[None, :]
    hist += ((bins % step == 0) & (bins // step < residual)).astype(hist.dtype)
    luts = np.cumsum(hist, axis=1).astype(np.float32) * (255.0 / area)
    return luts.reshape(tiles, tiles, 256)


def _apply_luts(lightness: np.ndarray, luts: np.ndarray) -> np.ndarray:
    """Map ``lightness`` through per-tile mappings with bilinear interpolation (as OpenCV)."""
    height, width = lightness.shape
    tiles = luts.shape[0]
    padded_h = (
        height if height % tiles == 0 and width % tiles == 0 else height + tiles - height % tiles
    )
    padded_w = (
        width if height % tiles == 0 and width % tiles == 0 else width + tiles - width % tiles
    )
    tile_h, tile_w = padded_h // tiles, padded_w // tiles

    def axis(size: int, tile: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.arange(size, dtype=np.float32) / tile - 0.5
        low = np.floor(pos).astype(np.int64)
        frac = (pos - low).astype(np.float32)
        return np.maximum(low, 0), np.minimum(low + 1, tiles - 1), frac

    y1, y2, fy = axis(height, tile_h)
    x1, x2, fx = axis(width, tile_w)
    flat = luts.reshape(-1)
    value = lightness.astype(np.int64)

    def sample(ty: np.ndarray, tx: np.ndarray) -> np.ndarray:
        return flat[(ty[:, None] * tiles + tx[None, :]) * 256 + value]

    fx, fy = fx[None, :], fy[:, None]
    top = sample(y1, x1) * (1 - fx) + sample(y1, x2) * fx
    bottom = sample(y2, x1) * (1 - fx) + sample(y2, x2) * fx
    return to_uint8(top * (1 - fy) + bottom * fy)


# -- saturation ----------------------------------------------------------------------------


def adjust_saturation(frame: np.ndarray, factor: float) -> np.ndarray:
    """Scale the saturation of a frame.

    Multiplies S in HSV (Smith 1978, "Color gamut transform pairs"), computed in floating
    point so that hue is not quantized, and clips it to [0, 1].

    Parameters
    ----------
    frame : numpy.ndarray
        ``uint8`` RGB frame of shape ``(H, W, 3)``.
    factor : float
        Saturation multiplier in [0, 4]: 0 gives grayscale, 1 no change.

    Returns
    -------
    numpy.ndarray
        The ``uint8`` RGB frame.

    Raises
    ------
    ParameterError
        If ``factor`` is out of range.
    MediaError
        If ``frame`` is not a uint8 (H, W, 3) array.
    """
    check_frame(frame)
    factor = check_number(factor, "factor", 0.0, 4.0)
    return to_uint8(_saturate(frame.astype(np.float32), factor))


def _saturate(image: np.ndarray, factor: float) -> np.ndarray:
    """Scale saturation of a float RGB image in [0, 255]."""
    if factor == 1.0:
        return image
    hsv = cv2.cvtColor(image / 255.0, cv2.COLOR_RGB2HSV)
    hsv[..., 1] = np.clip(hsv[..., 1] * factor, 0.0, 1.0)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0


# -- color transfer ------------------------------------------------------------------------


@dataclass(frozen=True)
class ColorStats:
    """Mean and standard deviation of each CIELAB channel of an image (L in 0-100).

    Attributes
    ----------
    mean : tuple of float
        Means of L, a, b.
    std : tuple of float
        Standard deviations of L, a, b.
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def to_dict(self) -> dict[str, list[float]]:
        """Return the statistics as a plain dict."""
        return {"mean": list(self.mean), "std": list(self.std)}


def _lab(image: np.ndarray) -> np.ndarray:
    """Float CIELAB of a float RGB image in [0, 255] (sRGB, D65)."""
    return cv2.cvtColor(np.ascontiguousarray(image, dtype=np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def _lab_moments(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = lab.reshape(-1, 3)
    return flat.mean(axis=0), flat.std(axis=0)


def color_statistics(image: np.ndarray) -> ColorStats:
    """Return the CIELAB channel means and standard deviations of an image.

    These are the statistics that Reinhard et al. 2001 ("Color transfer between images")
    match; compute them once on a reference image and pass them to :func:`transfer_color` or
    :class:`ColorCorrector`.

    Parameters
    ----------
    image : numpy.ndarray
        ``uint8`` RGB image of shape ``(H, W, 3)``.

    Returns
    -------
    ColorStats

    Raises
    ------
    MediaError
        If ``image`` is not a uint8 (H, W, 3) array.
    """
    check_frame(image, what="image")
    mean, std = _lab_moments(_lab(image.astype(np.float32)))
    return ColorStats(
        mean=tuple(float(v) for v in mean),  # type: ignore[arg-type]
        std=tuple(float(v) for v in std),  # type: ignore[arg-type]
    )


def _check_stats(stats: object) -> ColorStats:
    if not isinstance(stats, ColorStats):
        raise ParameterError(
            f"reference_stats must be ColorStats (from color_statistics), got "
            f"{type(stats).__name__}"
        )
    return stats


def _transfer(
    image: np.ndarray,
    source_mean: np.ndarray,
    source_std: np.ndarray,
    reference: ColorStats,
    lab: np.ndarray | None = None,
) -> np.ndarray:
    """Shift and scale the LAB channels of a float RGB image toward ``reference``."""
    lab = _lab(image) if lab is None else lab
    ratio = np.asarray(reference.std, np.float32) / np.maximum(source_std, _MIN_STD)
    ratio = np.clip(ratio, 1.0 / _MAX_STD_RATIO, _MAX_STD_RATIO).astype(np.float32)
    moved = (lab - source_mean.astype(np.float32)) * ratio + np.asarray(reference.mean, np.float32)
    moved[..., 0] = np.clip(moved[..., 0], 0.0, 100.0)
    rgb = cv2.cvtColor(moved.astype(np.float32), cv2.COLOR_Lab2RGB) * 255.0
    return np.clip(rgb, 0.0, 255.0)


def transfer_color(
    frame: np.ndarray, reference_stats: ColorStats, *, strength: float = 1.0
) -> np.ndarray:
    """Give a frame the color mood of a reference image (Reinhard et al. 2001).

    Each CIELAB channel of the frame is shifted and scaled so that its mean and standard
    deviation become the reference's: ``(x - mean_f) * std_r / std_f + mean_r``. Reinhard et
    al. work in Ruderman's lαβ space; CIELAB decorrelates the channels about as well and is
    what OpenCV provides. The scale is clipped to [1/3, 3] so that a flat frame keeps its
    noise down.

    Parameters
    ----------
    frame : numpy.ndarray
        ``uint8`` RGB frame of shape ``(H, W, 3)``.
    reference_stats : ColorStats
        Statistics of the reference, from :func:`color_statistics`.
    strength : float
        In [0, 1]: the result is mixed with the frame in this proportion.

    Returns
    -------
    numpy.ndarray
        The ``uint8`` RGB frame.

    Raises
    ------
    ParameterError
        If ``reference_stats`` is not a ColorStats or ``strength`` is out of range.
    MediaError
        If ``frame`` is not a uint8 (H, W, 3) array.

    Examples
    --------
    >>> look = color_statistics(reference_image)  # doctest: +SKIP
    >>> graded = transfer_color(frame, look)  # doctest: +SKIP
    """
    check_frame(frame)
    reference = _check_stats(reference_stats)
    strength = check_number(strength, "strength", 0.0, 1.0)
    image = frame.astype(np.float32)
    lab = _lab(image)
    mean, std = _lab_moments(lab)
    moved = _transfer(image, mean, std, reference, lab)
    return to_uint8(image + strength * (moved - image))


# -- temporally stable correction ----------------------------------------------------------


@dataclass
class ColorCorrectionConfig:
    """Settings of :class:`ColorCorrector`.

    Attributes
    ----------
    white_balance : bool
        Apply automatic white balance.
    white_balance_method : {"white-patch", "gray-world"}
        How the cast is estimated (see :func:`white_balance_gains`).
    max_gain : float
        Clip on the white-balance gains, in [1, 10].
    contrast : bool
        Apply CLAHE on lightness.
    clip_limit : float
        CLAHE contrast limit, in [1, 40].
    tile_grid : int
        CLAHE tiles per side, in [1, 64].
    saturation : float
        Saturation multiplier, in [0, 4].
    strength : float
        Mix of the corrected frame with the original, in [0, 1].
    smoothing : float
        Weight of the past in the moving average of the parameters, in [0, 1): 0 corrects each
        frame on its own, 0.9 (default) averages over about ten frames.
    deflicker : bool
        Even out frame-to-frame brightness before and after the correction
        (:class:`~aigc_studio.video.deflicker.Deflicker`, in :meth:`ColorCorrector.process`
        only), so that flicker in the input is removed rather than amplified by the contrast
        curve.
    deflicker_radius : int
        Frames either side in the deflicker window, in [1, 30].
    scene_threshold : float
        Threshold of :func:`~aigc_studio.video.shots.is_scene_cut` at which the average
        restarts, in (0, 1]; 1 never restarts.
    """

    white_balance: bool = True
    white_balance_method: str = "white-patch"
    max_gain: float = 2.0
    contrast: bool = True
    clip_limit: float = 2.0
    tile_grid: int = 8
    saturation: float = 1.0
    strength: float = 1.0
    smoothing: float = 0.9
    deflicker: bool = True
    deflicker_radius: int = 2
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
            for name in ("white_balance", "contrast", "deflicker"):
                if not isinstance(getattr(self, name), bool):
                    raise ParameterError(f"{name} must be true or false")
            if self.white_balance_method not in WHITE_BALANCE_METHODS:
                raise ParameterError(
                    f"white_balance_method={self.white_balance_method!r} is unknown; use one "
                    f"of {', '.join(WHITE_BALANCE_METHODS)}"
                )
            check_int(self.deflicker_radius, "deflicker_radius", 1, 30)
            check_number(self.max_gain, "max_gain", 1.0, 10.0)
            check_number(self.clip_limit, "clip_limit", 1.0, 40.0)
            _check_tiles(self.tile_grid)
            check_number(self.saturation, "saturation", 0.0, 4.0)
            check_number(self.strength, "strength", 0.0, 1.0)
            if check_number(self.smoothing, "smoothing", 0.0, 1.0) >= 1.0:
                raise ParameterError(f"smoothing={self.smoothing} must be below 1")
            if check_number(self.scene_threshold, "scene_threshold", 0.0, 1.0) <= 0.0:
                raise ParameterError(f"scene_threshold={self.scene_threshold} must be above 0")
        except ParameterError as exc:
            raise ConfigError(f"color correction: {exc}") from None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ColorCorrectionConfig:
        """Build a config from a mapping, refusing unknown keys.

        Raises
        ------
        ConfigError
            On an unknown key or an invalid value.
        """
        return dataclass_from_dict(cls, d, "color correction")

    def to_dict(self) -> dict[str, Any]:
        """Return the config as a plain dict."""
        return asdict(self)


class ColorCorrector:
    """Correct the color of a stream of frames without flicker.

    :meth:`process` evens out the brightness of the stream (a centred window of
    ``deflicker_radius`` frames either side, see :mod:`aigc_studio.video.deflicker`) before
    and after the correction: before, so that the estimates below see steady frames; after,
    because the contrast curve amplifies what flicker is left (on footage with 8% brightness
    flicker, both passes leave half the flicker of the first alone). Then, on each frame, the
    same parameters as the single-frame functions are estimated: the white-balance gains
    (white patch or gray world), the CLAHE tile mappings of the lightness (Zuiderveld 1994) and,
    with a reference, the frame's CIELAB statistics for Reinhard et al. 2001's transfer. Each
    is replaced by its exponential moving average ``p ← smoothing · p + (1 - smoothing) ·
    p_frame`` before it is applied, so that a passing object or a brightness flutter does not
    make the correction itself jump; the average restarts at a scene cut, where the new shot
    needs its own correction at once. The order is white balance, contrast, transfer,
    saturation, then a mix with the original by ``strength``.

    Parameters
    ----------
    config : ColorCorrectionConfig, optional
        Settings; defaults as in :class:`ColorCorrectionConfig`.
    reference : ColorStats, optional
        Look to transfer (from :func:`color_statistics` on a reference image).

    Raises
    ------
    ParameterError
        If ``reference`` is not a ColorStats.

    Examples
    --------
    >>> corrector = ColorCorrector(reference=color_statistics(still))  # doctest: +SKIP
    >>> for frame in corrector.process(reader):  # doctest: +SKIP
    ...     writer.write(frame)
    """

    def __init__(
        self, config: ColorCorrectionConfig | None = None, *, reference: ColorStats | None = None
    ) -> None:
        self.config = config if config is not None else ColorCorrectionConfig()
        if not isinstance(self.config, ColorCorrectionConfig):
            raise ParameterError(
                f"config must be a ColorCorrectionConfig, got {type(self.config).__name__}"
            )
        self.reference = _check_stats(reference) if reference is not None else None
        self.reset()

    def reset(self) -> None:
        """Forget the averaged parameters (the next frame is corrected on its own)."""
        self._state: dict[str, np.ndarray] = {}
        self._previous: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None

    def _smooth(self, name: str, value: np.ndarray) -> np.ndarray:
        old = self._state.get(name)
        if old is not None:
            alpha = self.config.smoothing
            value = alpha * old + (1.0 - alpha) * value
        self._state[name] = value
        return value

    def correct(self, frame: np.ndarray) -> np.ndarray:
        """Correct the next frame of the stream (without deflicker, which needs look-ahead).

        Parameters
        ----------
        frame : numpy.ndarray
            ``uint8`` RGB frame of shape ``(H, W, 3)``, of the size of the previous ones.

        Returns
        -------
        numpy.ndarray
            The corrected ``uint8`` RGB frame.

        Raises
        ------
        MediaError
            If ``frame`` is not a uint8 (H, W, 3) array or its size changed.
        """
        check_frame(frame, shape=self._shape)
        config = self.config
        if self._previous is not None and is_scene_cut(
            self._previous, frame, config.scene_threshold
        ):
            self._state.clear()
        self._previous, self._shape = frame, frame.shape
        original = frame.astype(np.float32)
        image = original
        if config.white_balance:
            gains = white_balance_gains(
                frame, method=config.white_balance_method, max_gain=config.max_gain
            )
            image = _apply_gains(image, self._smooth("gains", gains.astype(np.float64)))
        if config.contrast:
            lab = cv2.cvtColor(to_uint8(image), cv2.COLOR_RGB2LAB)
            lightness = np.ascontiguousarray(lab[..., 0])
            luts = _clahe_luts(lightness, config.clip_limit, config.tile_grid)
            lab[..., 0] = _apply_luts(lightness, self._smooth("luts", luts))
            image = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB).astype(np.float32)
        if self.reference is not None:
            lab = _lab(image)
            mean, std = _lab_moments(lab)
            image = _transfer(
                image, self._smooth("mean", mean), self._smooth("std", std), self.reference, lab
            )
        image = _saturate(image, config.saturation)
        if config.strength < 1.0:
            image = original + config.strength * (image - original)
        return to_uint8(image)

    def process(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Correct a stream of frames one at a time, continuing from the current state.

        Parameters
        ----------
        frames : iterable of numpy.ndarray
            ``uint8`` RGB frames of shape ``(H, W, 3)``.

        Yields
        ------
        numpy.ndarray
            The corrected frames, in order. With ``deflicker`` on, the stream is read
            ``2 * deflicker_radius`` frames ahead of what is yielded.
        """
        corrected = (self.correct(frame) for frame in self._deflickered(frames))
        yield from self._deflickered(corrected)

    def _deflickered(self, frames: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
        if not self.config.deflicker:
            return frames
        settings = DeflickerConfig(
            radius=self.config.deflicker_radius, scene_threshold=self.config.scene_threshold
        )
        return Deflicker(settings).process(frames)
