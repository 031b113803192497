"""Deblurring of frames: Wiener deconvolution with an estimated PSF, or unsharp masking.

The classical path works on luminance only (color fringes from sharpening chroma are more
visible than the chroma blur they remove) and on streams keeps one blur estimate per shot, so
that the amount of sharpening does not pump from frame to frame. It removes a uniform,
roughly isotropic blur (defocus, soft optics, upscaling); it does not undo motion blur along a
path or blur that varies across the picture, which is what a learned network is for: on a
9-pixel motion streak, Wiener deconvolution with the Gaussian estimate loses about 2 dB PSNR
(``benchmarks/bench_restoration.py``). Content without sharp edges (soft gradients, skies) reads
as blurred and gets sharpened. ``method="net"`` runs a learned network instead, given as a
callable (:data:`DeblurNetwork`), by default the shipped ``deblur-net``
(:func:`aigc_studio.video.learned.load_deblur_network`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np
import scipy.fft

from aigc_studio.config_values import dataclass_from_dict
from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.video.frame_checks import (
    check_frame,
    check_int,
    check_number,
    frame_from_model,
    to_uint8,
)
from aigc_studio.video.shots import SCENE_CUT_THRESHOLD, is_scene_cut

__all__ = [
    "DEBLUR_METHODS",
    "DISK_RADIUS_PER_SIGMA",
    "PSF_SHAPES",
    "DeblurConfig",
    "DeblurNetwork",
    "Deblurrer",
    "deblur_frame",
    "deblur_frames",
    "defocus_psf",
    "estimate_blur_sigma",
    "gaussian_psf",
    "unsharp_mask",
    "wiener_deconvolve",
]

#: Ways to deblur: Wiener deconvolution, unsharp masking, or a learned network.
DEBLUR_METHODS = ("wiener", "unsharp", "net")
#: Shapes of the point-spread function assumed by Wiener deconvolution.
PSF_SHAPES = ("gaussian", "defocus")

#: A learned deblurring network: takes a ``uint8`` RGB frame, returns the sharp frame as an
#: ``(H, W, 3)`` array (``uint8``, or float in the 0-255 range, which is rounded and clipped).
DeblurNetwork = Callable[[np.ndarray], np.ndarray]

#: BT.601 luma weights of R, G, B: the Y of YCrCb.
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
#: Blur (Gaussian sigma, pixels) that the edge-width estimate reports on in-focus footage: edges
#: of real cameras are never steps (optics, demosaicing, the estimator's own derivative filter).
#: Set on frames of ``vtest.avi`` (where the raw median reads 0.71); the estimate removes it in
#: quadrature, so an in-focus frame reads as (nearly) unblurred.
SHARP_EDGE_SIGMA = 0.7
#: Gain on the estimate after the sharp-edge correction: on ``vtest.avi`` frames blurred by a
#: known Gaussian (sigma 1 to 3) the corrected median reads 9 to 15 % low (the Sobel filter and
#: pixel sampling flatten the measured edge profiles), so it is scaled up by this much.
_CALIBRATION = 1.1
#: Largest blur the estimate reports, in pixels: beyond it too few edges survive to measure.
MAX_SIGMA = 8.0
#: Radius of the defocus disk per unit of estimated Gaussian sigma. A disk of radius r has a
#: per-axis standard deviation of r / 2, but its edge profile is steeper than a Gaussian's: on
#: ``vtest.avi`` frames blurred by disks of radius 2, 3 and 4, :func:`estimate_blur_sigma`
#: reads r / 1.75 (and Wiener deconvolution scores best with that radius).
DISK_RADIUS_PER_SIGMA = 1.75
#: Re-blur scale of the gradient-ratio estimate (Zhuo and Sim 2011 use 1).
_REBLUR_SIGMA = 1.0
#: Fewest edge pixels needed for an estimate; below it the frame counts as unblurred.
_MIN_EDGE_PIXELS = 50


def _luma(frame: np.ndarray) -> np.ndarray:
    """Float32 BT.601 luma (the Y of YCrCb) of a uint8 RGB frame, 0-255."""
    return (frame.astype(np.float32) @ _LUMA).astype(np.float32, copy=False)


def _with_luma(frame: np.ndarray, luma: np.ndarray, new_luma: np.ndarray) -> np.ndarray:
    """Return ``frame`` with its luma replaced by ``new_luma``, chroma unchanged.

    Adding the same ``ΔY`` to R, G and B changes Y by ``ΔY`` and leaves ``R - Y`` and ``B - Y``
    (hence Cr and Cb) as they were: the same as editing Y in YCrCb, without the round trip.
    """
    delta = (new_luma - luma)[..., None]
    return to_uint8(frame.astype(np.float32) + delta)


# -- point-spread functions ----------------------------------------------------------------


def gaussian_psf(sigma: float) -> np.ndarray:
    """Return a normalized isotropic Gaussian point-spread function.

    Parameters
    ----------
    sigma : float
        Standard deviation in pixels, in [0, 20]; 0 gives the identity (a single 1).

    Returns
    -------
    numpy.ndarray
        ``float32`` kernel of odd size ``2 ceil(3 sigma) + 1``, summing to 1.

    Raises
    ------
    ParameterError
        If ``sigma`` is out of range.
    """
    sigma = check_number(sigma, "sigma", 0.0, 20.0)
    if sigma < 1e-3:
        return np.ones((1, 1), np.float32)
    half = math.ceil(3 * sigma)
    axis = np.arange(-half, half + 1, dtype=np.float64)
    line = np.exp(-0.5 * (axis / sigma) ** 2)
    kernel = np.outer(line, line)
    return (kernel / kernel.sum()).astype(np.float32)


def defocus_psf(radius: float) -> np.ndarray:
    """Return a normalized disk (pillbox), the geometric-optics model of defocus blur.

    The disk's edge is anti-aliased by 8x8 supersampling of each pixel, so that fractional
    radii give distinct kernels.

    Parameters
    ----------
    radius : float
        Radius of the circle of confusion in pixels, in [0, 40]; below 0.5 the identity.

    Returns
    -------
    numpy.ndarray
        ``float32`` kernel of odd size ``2 ceil(radius) + 1``, summing to 1.

    Raises
    ------
    ParameterError
        If ``radius`` is out of range.
    """
    radius = check_number(radius, "radius", 0.0, 40.0)
    if radius < 0.5:
        return np.ones((1, 1), np.float32)
    half = math.ceil(radius)
    sub = 8
    offsets = (np.arange(sub) + 0.5) / sub - 0.5
    axis = (np.arange(-half, half + 1)[:, None] + offsets[None, :]).ravel()
    inside = (axis[:, None] ** 2 + axis[None, :] ** 2) <= radius * radius
    size = 2 * half + 1
    kernel = inside.reshape(size, sub, size, sub).mean(axis=(1, 3))
    return (kernel / kernel.sum()).astype(np.float32)


def _psf(shape: str, sigma: float) -> np.ndarray:
    return (
        gaussian_psf(sigma) if shape == "gaussian" else defocus_psf(DISK_RADIUS_PER_SIGMA * sigma)
    )


# -- blur estimation -----------------------------------------------------------------------


def _gradient_magnitude(image: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.magnitude(gx, gy)


def _edge_blur(luma: np.ndarray) -> np.ndarray:
    """Per-edge-pixel blur sigmas of a float luma image (the raw gradient-ratio estimates)."""
    gradient = _gradient_magnitude(luma)
    reblurred = _gradient_magnitude(cv2.GaussianBlur(luma, (0, 0), _REBLUR_SIGMA))
    # Canny thresholds relative to this frame's gradients, so that a soft or dark frame still
    # yields edges (fixed thresholds find none once the blur is strong).
    high = float(np.percentile(gradient, 95))
    if high < 4.0:  # a flat frame: nothing to measure
        return np.empty(0, np.float32)
    image8 = np.clip(luma, 0, 255).astype(np.uint8)
    edges = cv2.Canny(image8, 0.4 * high, high, L2gradient=True) > 0
    ratio = gradient[edges] / np.maximum(reblurred[edges], 1e-3)
    ratio = ratio[ratio > 1.0 + 1e-3]
    return (_REBLUR_SIGMA / np.sqrt(ratio * ratio - 1.0)).astype(np.float32)


def estimate_blur_sigma(frame: np.ndarray) -> float:
    """Estimate how blurred a frame is, as the sigma of an equivalent Gaussian blur in pixels.

    Gradient-ratio method of Zhuo and Sim 2011 ("Defocus map estimation from a single image",
    Pattern Recognition 44(9)): re-blurring a step edge of blur ``sigma`` with a known Gaussian
    ``sigma0`` lowers its gradient maximum by ``R = sqrt(sigma² + sigma0²) / sigma``, so
    ``sigma = sigma0 / sqrt(R² - 1)`` at each edge pixel. Edges are Canny's (Canny 1986) with
    thresholds at 40 % and 100 % of the frame's 95th-percentile gradient; the median over them
    is taken, which is robust to texture and to the few edges that are not steps. Real in-focus
    edges are never perfect steps, so :data:`SHARP_EDGE_SIGMA` is removed in quadrature and the
    result scaled by a calibration gain: ``1.1 sqrt(max(median² - 0.7², 0))`` (both constants
    set on ``vtest.avi`` frames with known synthetic blur).

    The estimate is for a blur that is the same over the whole frame; on a frame with both
    sharp and blurred areas it reads somewhere between them.

    Parameters
    ----------
    frame : numpy.ndarray
        ``uint8`` RGB frame of shape ``(H, W, 3)``.

    Returns
    -------
    float
        Blur sigma in pixels, in [0, :data:`MAX_SIGMA`]; 0.0 for a sharp frame or one without
        enough edges to measure.

    Raises
    ------
    MediaError
        If ``frame`` is not a uint8 (H, W, 3) array.

    Examples
    --------
    >>> estimate_blur_sigma(frame)  # doctest: +SKIP
    2.1
    """
    check_frame(frame)
    sigmas = _edge_blur(_luma(frame))
    return _sigma_from_edges(sigmas)


def _sigma_from_edges(sigmas: np.ndarray) -> float:
    if sigmas.size < _MIN_EDGE_PIXELS:
        return 0.0
    measured = float(np.median(sigmas))
    sigma = _CALIBRATION * math.sqrt(max(measured * measured - SHARP_EDGE_SIGMA**2, 0.0))
    return min(sigma, MAX_SIGMA)


# -- Wiener deconvolution ------------------------------------------------------------------


class _WienerFilter:
    """The frequency response of a Wiener filter for one PSF, padded-frame size and NSR."""

    def __init__(self, height: int, width: int, psf: np.ndarray, nsr: float) -> None:
        half_y, half_x = psf.shape[0] // 2, psf.shape[1] // 2
        # Reflected margins wider than the filter's reach keep the circular convolution of the
        # FFT from wrapping the opposite border into the picture (ringing at the edges).
        self.margin = max(8, 4 * max(half_y, half_x))
        self.height, self.width = height, width
        padded_h = scipy.fft.next_fast_len(height + 2 * self.margin, real=True)
        padded_w = scipy.fft.next_fast_len(width + 2 * self.margin, real=True)
        self.pad = (padded_h - height, padded_w - width)
        otf_input = np.zeros((padded_h, padded_w), np.float32)
        otf_input[: psf.shape[0], : psf.shape[1]] = psf
        # Centre the PSF on pixel (0, 0) so that the filter adds no shift.
        otf_input = np.roll(otf_input, (-half_y, -half_x), axis=(0, 1))
        otf = scipy.fft.rfft2(otf_input)
        self.response = (np.conj(otf) / (np.abs(otf) ** 2 + nsr)).astype(np.complex64)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        pad_y, pad_x = self.pad
        top, left = self.margin, self.margin
        padded = cv2.copyMakeBorder(
            image, top, pad_y - top, left, pad_x - left, cv2.BORDER_REFLECT_101
        )
        spectrum = scipy.fft.rfft2(padded)
        restored = scipy.fft.irfft2(spectrum * self.response, s=padded.shape)
        return np.ascontiguousarray(
            restored[top : top + self.height, left : left + self.width], dtype=np.float32
        )


def _check_psf(psf: object) -> np.ndarray:
    kernel = np.asarray(psf, dtype=np.float32)
    if kernel.ndim != 2 or kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        raise ParameterError(f"psf must be a 2-D kernel of odd size, got shape {kernel.shape}")
    total = float(kernel.sum())
    if not np.isfinite(kernel).all() or total <= 0:
        raise ParameterError("psf must be finite with a positive sum")
    return kernel / total


def wiener_deconvolve(image: np.ndarray, psf: np.ndarray, nsr: float = 0.005) -> np.ndarray:
    """Deconvolve a single-channel image by a known PSF with the Wiener filter.

    In the frequency domain, ``X = conj(H) / (|H|² + NSR) · Y`` (Wiener 1949, "Extrapolation,
    interpolation, and smoothing of stationary time series"; Gonzalez and Woods, Digital Image
    Processing, 5.8), where ``H`` is the PSF's transfer function and ``NSR`` a constant
    noise-to-signal power ratio: where the blur has wiped a frequency out (``|H|² << NSR``) it
    is left alone instead of amplifying the noise there without bound. The image is padded by
    reflection before the FFT so that its borders do not ring.

    Parameters
    ----------
    image : numpy.ndarray
        2-D ``float32`` (or ``uint8``) image, e.g. luminance in 0-255.
    psf : numpy.ndarray
        2-D kernel of odd size, e.g. from :func:`gaussian_psf` or :func:`defocus_psf`;
        normalized here to sum to 1.
    nsr : float
        Noise-to-signal ratio in [1e-6, 1]: larger is smoother and safer, smaller sharper.

    Returns
    -------
    numpy.ndarray
        The deconvolved ``float32`` image (not clipped).

    Raises
    ------
    ParameterError
        If ``image`` is not 2-D, ``psf`` not an odd-sized 2-D kernel with a positive sum, or
        ``nsr`` out of range.

    Examples
    --------
    >>> sharp = wiener_deconvolve(luma, gaussian_psf(2.0), nsr=0.005)  # doctest: +SKIP
    """
    image = np.asarray(image)
    if image.ndim != 2 or image.size == 0:
        raise ParameterError(f"image must be a non-empty 2-D array, got shape {image.shape}")
    kernel = _check_psf(psf)
    nsr = check_number(nsr, "nsr", 1e-6, 1.0)
    height, width = image.shape
    return _WienerFilter(height, width, kernel, nsr)(image.astype(np.float32))


# -- unsharp masking -----------------------------------------------------------------------


def unsharp_mask(
    frame: np.ndarray, *, sigma: float = 1.0, amount: float = 0.5, threshold: float = 0.0
) -> np.ndarray:
    """Sharpen a frame by adding back its high-pass detail (unsharp masking) on luminance.

    ``Y' = Y + amount · (Y - G_sigma * Y)`` where the detail exceeds ``threshold`` levels, the
    darkroom technique in digital form (Gonzalez and Woods, Digital Image Processing, 3.6.3).
    It does not model the blur, so it raises acutance rather than recovering detail; it is
    cheap and never rings far from an edge.

    Parameters
    ----------
    frame : numpy.ndarray
        ``uint8`` RGB frame of shape ``(H, W, 3)``.
    sigma : float
        Radius (Gaussian sigma) of the blur that defines detail, in [0.3, 20] pixels.
    amount : float
        Gain of the detail, in [0, 5]; 0 leaves the frame as it is.
    threshold : float
        Detail smaller than this (8-bit levels, in [0, 255]) is left alone, so that flat noisy
        areas are not sharpened.

    Returns
    -------
    numpy.ndarray
        The sharpened ``uint8`` RGB frame.

    Raises
    ------
    ParameterError
        If a parameter is out of range.
    MediaError
        If ``frame`` is not a uint8 (H, W, 3) array.

    Examples
    --------
    >>> crisp = unsharp_mask(frame, sigma=1.0, amount=0.6)  # doctest: +SKIP
    """
    check_frame(frame)
    sigma = check_number(sigma, "sigma", 0.3, 20.0)
    amount = check_number(amount, "amount", 0.0, 5.0)
    threshold = check_number(threshold, "threshold", 0.0, 255.0)
    luma = _luma(frame)
    return _with_luma(frame, luma, _unsharp_luma(luma, sigma, amount, threshold))


def _unsharp_luma(luma: np.ndarray, sigma: float, amount: float, threshold: float) -> np.ndarray:
    detail = luma - cv2.GaussianBlur(luma, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
    if threshold > 0:
        detail = np.where(np.abs(detail) >= threshold, detail, 0.0).astype(np.float32)
    return luma + amount * detail


# -- configuration and streams -------------------------------------------------------------


@dataclass
class DeblurConfig:
    """Settings of :class:`Deblurrer` and :func:`deblur_frame`.

    Attributes
    ----------
    method : {"wiener", "unsharp", "net"}
        Wiener deconvolution with an estimated PSF (default), unsharp masking, or a learned
        network (the one passed to :class:`Deblurrer`, else the shipped ``deblur-net``).
    strength : float
        In [0, 3]. Wiener: mix of the deconvolved luminance with the input (0 = no change,
        1 = the full Wiener estimate, above 1 extrapolates). Unsharp: the gain of the detail.
    psf : {"gaussian", "defocus"}
        Shape of the blur Wiener deconvolution assumes: a Gaussian (soft optics, scaling) or
        a disk (defocus) of radius ``1.75 sigma`` (:data:`DISK_RADIUS_PER_SIGMA`). The disk's
        transfer function has zeros whose place depends on the radius, so a radius estimated
        10 % off already rings; the Gaussian is the safer default even on defocus blur.
    sigma : float or None
        Blur sigma in pixels, in [0, 8]; None (default) estimates it with
        :func:`estimate_blur_sigma`. Unsharp masking uses it (at least 0.8) as its radius.
    nsr : float
        Noise-to-signal ratio of the Wiener filter, in [1e-6, 1].
    estimate_frames : int
        Frames at the start of each shot whose median blur estimate is used for the whole shot
        (so that the sharpening does not pump), in [1, 50].
    scene_threshold : float
        Threshold of :func:`~aigc_studio.video.shots.is_scene_cut` at which the blur is
        estimated again, in (0, 1]; 1 estimates once per video.
    """

    method: str = "wiener"
    strength: float = 1.0
    psf: str = "gaussian"
    sigma: float | None = None
    nsr: float = 0.005
    estimate_frames: int = 5
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
            if self.method not in DEBLUR_METHODS:
                raise ParameterError(
                    f"method={self.method!r} is not supported; use one of "
                    f"{', '.join(DEBLUR_METHODS)}"
                )
            if self.psf not in PSF_SHAPES:
                raise ParameterError(
                    f"psf={self.psf!r} is not supported; use one of {', '.join(PSF_SHAPES)}"
                )
            check_number(self.strength, "strength", 0.0, 3.0)
            if self.sigma is not None:
                check_number(self.sigma, "sigma", 0.0, MAX_SIGMA)
            check_number(self.nsr, "nsr", 1e-6, 1.0)
            check_int(self.estimate_frames, "estimate_frames", 1, 50)
            if check_number(self.scene_threshold, "scene_threshold", 0.0, 1.0) <= 0.0:
                raise ParameterError(f"scene_threshold={self.scene_threshold} must be above 0")
        except ParameterError as exc:
            raise ConfigError(f"deblur: {exc}") from None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DeblurConfig:
        """Build a config from a mapping, refusing unknown keys.

        Raises
        ------
        ConfigError
            On an unknown key or an invalid value.
        """
        return dataclass_from_dict(cls, d, "deblur")

    def to_dict(self) -> dict[str, Any]:
        """Return the config as a plain dict."""
        return asdict(self)


class Deblurrer:
    """Deblur a stream of frames with one blur estimate per shot.

    For Wiener deconvolution (and for the radius of unsharp masking), the blur is estimated
    with :func:`estimate_blur_sigma` on the first ``estimate_frames`` frames of each shot,
    which are held back meanwhile (so memory stays that many frames), and the median of those
    estimates is used for the whole shot: a per-frame estimate moves with what passes through
    the picture and would make the sharpness pump. A hard cut
    (:func:`~aigc_studio.video.shots.is_scene_cut`) starts a new estimate. The Wiener filter
    for the shot is computed once and applied to the luminance of every frame (chroma is kept).

    Parameters
    ----------
    config : DeblurConfig, optional
        Settings; defaults as in :class:`DeblurConfig`.
    network : callable, optional
        The learned deblurring network for ``method="net"`` (see :data:`DeblurNetwork`);
        default the shipped ``deblur-net``.

    Attributes
    ----------
    sigma : float or None
        The blur sigma in use (pixels).
    sigmas : list of float
        Every blur sigma set so far, one per shot.

    Raises
    ------
    ToolMissingError
        If ``method="net"``, no network is given and none is shipped.
    ParameterError
        If ``config`` is not a DeblurConfig.

    Examples
    --------
    >>> deblurrer = Deblurrer(DeblurConfig(method="wiener"))  # doctest: +SKIP
    >>> for frame in deblurrer.process(reader):  # doctest: +SKIP
    ...     writer.write(frame)
    """

    def __init__(
        self, config: DeblurConfig | None = None, *, network: DeblurNetwork | None = None
    ) -> None:
        self.config = config if config is not None else DeblurConfig()
        if not isinstance(self.config, DeblurConfig):
            raise ParameterError(f"config must be a DeblurConfig, got {type(self.config).__name__}")
        if self.config.method == "net" and network is None:
            from aigc_studio.video.learned import load_deblur_network

            network = load_deblur_network()
        self.network = network
        self._filters: dict[tuple[int, int], _WienerFilter] = {}
        self.sigmas: list[float] = []
        self.sigma: float | None = None

    @property
    def needs_estimate(self) -> bool:
        """Whether the blur must be estimated from the frames (no sigma given, not a network)."""
        return self.config.sigma is None and self.config.method != "net"

    def set_sigma(self, sigma: float) -> None:
        """Use blur ``sigma`` (pixels) from now on, e.g. an estimate made elsewhere."""
        self.sigma = min(check_number(sigma, "sigma", 0.0, 20.0), MAX_SIGMA)
        self.sigmas.append(self.sigma)
        self._filters.clear()

    def deblur(self, frame: np.ndarray) -> np.ndarray:
        """Deblur one frame with the current blur sigma (estimating it from this frame if none).

        Parameters
        ----------
        frame : numpy.ndarray
            ``uint8`` RGB frame of shape ``(H, W, 3)``.

        Returns
        -------
        numpy.ndarray
            The deblurred ``uint8`` RGB frame.

        Raises
        ------
        MediaError
            If ``frame`` is not a uint8 (H, W, 3) array.
        """
        check_frame(frame)
        config = self.config
        if config.method == "net":
            assert self.network is not None
            return frame_from_model(self.network(frame), frame.shape, who="the deblurring network")
        if self.sigma is None:
            self.set_sigma(config.sigma if config.sigma is not None else estimate_blur_sigma(frame))
        sigma = self.sigma
        assert sigma is not None
        luma = _luma(frame)
        if config.method == "unsharp":
            radius = max(sigma, 0.8)
            return _with_luma(frame, luma, _unsharp_luma(luma, radius, config.strength, 0.0))
        if sigma < 0.05 or config.strength == 0:
            return frame.copy()
        key = luma.shape
        wiener = self._filters.get(key)
        if wiener is None:
            wiener = _WienerFilter(*key, _psf(config.psf, sigma), config.nsr)
            self._filters[key] = wiener
        restored = wiener(luma)
        return _with_luma(frame, luma, luma + config.strength * (restored - luma))

    def process(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Deblur a stream of frames, estimating the blur once per shot.

        Parameters
        ----------
        frames : iterable of numpy.ndarray
            ``uint8`` RGB frames of shape ``(H, W, 3)``, all of one size.

        Yields
        ------
        numpy.ndarray
            The deblurred frames, one per input frame, in order.

        Raises
        ------
        MediaError
            If a frame is not a uint8 (H, W, 3) array or its size differs from the first.
        """
        config = self.config
        shape: tuple[int, ...] | None = None
        previous: np.ndarray | None = None
        pending: list[np.ndarray] = []  # start of a shot, held until its blur is estimated
        estimates: list[float] = []
        if self.needs_estimate:
            self.sigma = None
        for index, frame in enumerate(frames):
            check_frame(frame, what=f"frame {index}", shape=shape)
            shape = frame.shape
            if not self.needs_estimate:
                yield self.deblur(frame)
                continue
            if previous is not None and is_scene_cut(previous, frame, config.scene_threshold):
                yield from self._release(pending, estimates)
                self.sigma = None
            previous = frame
            if self.sigma is not None:
                yield self.deblur(frame)
                continue
            pending.append(frame)
            estimates.append(estimate_blur_sigma(frame))
            if len(pending) >= config.estimate_frames:
                yield from self._release(pending, estimates)
        yield from self._release(pending, estimates)

    def _release(self, pending: list[np.ndarray], estimates: list[float]) -> Iterator[np.ndarray]:
        """Set the shot's blur from the held frames' estimates, then deblur those frames."""
        if not pending:
            return
        self.set_sigma(float(np.median(estimates)))
        held = list(pending)
        pending.clear()
        estimates.clear()
        for frame in held:
            yield self.deblur(frame)


def deblur_frame(
    frame: np.ndarray, config: DeblurConfig | None = None, *, network: DeblurNetwork | None = None
) -> np.ndarray:
    """Deblur a single frame (the blur estimated on it, unless ``config.sigma`` is given).

    Parameters
    ----------
    frame : numpy.ndarray
        ``uint8`` RGB frame of shape ``(H, W, 3)``.
    config : DeblurConfig, optional
        Settings; see :class:`DeblurConfig`.
    network : callable, optional
        For ``method="net"``; see :data:`DeblurNetwork`.

    Returns
    -------
    numpy.ndarray
        The deblurred ``uint8`` RGB frame.

    Raises
    ------
    ToolMissingError
        If ``method="net"`` without a network and none is shipped.
    MediaError
        If ``frame`` is not a uint8 (H, W, 3) array.

    Examples
    --------
    >>> sharp = deblur_frame(photo, DeblurConfig(psf="defocus"))  # doctest: +SKIP
    """
    return Deblurrer(config, network=network).deblur(frame)


def deblur_frames(
    frames: Iterable[np.ndarray],
    config: DeblurConfig | None = None,
    *,
    network: DeblurNetwork | None = None,
) -> Iterator[np.ndarray]:
    """Deblur a stream of frames with one blur estimate per shot (see :class:`Deblurrer`).

    Parameters
    ----------
    frames : iterable of numpy.ndarray
        ``uint8`` RGB frames of shape ``(H, W, 3)``, all of one size.
    config : DeblurConfig, optional
        Settings; see :class:`DeblurConfig`.
    network : callable, optional
        For ``method="net"``; see :data:`DeblurNetwork`.

    Returns
    -------
    iterator of numpy.ndarray
        The deblurred frames, one per input frame.

    Raises
    ------
    ToolMissingError
        If ``method="net"`` without a network and none is shipped (at the call).

    Examples
    --------
    >>> for frame in deblur_frames(reader, DeblurConfig(method="unsharp", strength=0.5)):
    ...     writer.write(frame)  # doctest: +SKIP
    """
    return Deblurrer(config, network=network).process(frames)
