"""Frame interpolation and retiming by bidirectional optical flow, never across a scene cut.

For each pair of neighbouring frames, DIS optical flow is estimated both ways once; a frame at
any time ``t`` in between is made by warping both neighbours to ``t`` and blending them with
per-pixel weights that favour the neighbour in which the pixel is visible (the classical half of
Jiang et al. 2018, "Super SloMo"). A learned network that corrects the warped estimate can be
plugged in through ``refine`` (the shipped one:
:func:`aigc_studio.video.learned.load_frame_refiner`). Streams whose frames carry presentation
times (a phone's variable frame rate) go through :func:`interpolate_timed` and
:func:`retime_timed`, which place each new frame by its neighbours' own times. Reading and
writing files is the caller's job (see :mod:`aigc_studio.media.video_io`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

from aigc_studio.errors import ParameterError
from aigc_studio.video.frame_checks import check_frame, frame_from_model
from aigc_studio.video.optical_flow import DISFlow, flow_inconsistency, warp_backward
from aigc_studio.video.shots import SCENE_CUT_THRESHOLD, check_scene_threshold, is_scene_cut

__all__ = [
    "FACTORS",
    "FLOW_APPROXIMATIONS",
    "PairInterpolator",
    "Refiner",
    "WarpEstimate",
    "interpolate_frames",
    "interpolate_pair",
    "interpolate_timed",
    "retime",
    "retime_timed",
    "retimed_frame_count",
]

#: Frame-rate multipliers :func:`interpolate_frames` accepts.
FACTORS = (2, 4, 8)
#: Ways to approximate the flows from the intermediate time to the two neighbours.
FLOW_APPROXIMATIONS = ("superslomo", "fixed_point")
#: Highest frame rate accepted (that of :class:`~aigc_studio.media.video_io.VideoWriter`).
MAX_FPS = 1000.0

#: Soft occlusion: 0 up to this inconsistency (see ``flow_inconsistency``), rising linearly to 1
#: at ``_OCCLUDED_AT``. Sundaram et al.'s own threshold is 1, but flow noise on real footage
#: crosses it often; from 2, disagreements of about 1.5 pixels start to count.
_OCCLUSION_START = 2.0
_OCCLUDED_AT = 10.0
#: Keeps the blend defined where both neighbours look occluded; it then falls back to the
#: linear (1 - t, t) weights.
_WEIGHT_FLOOR = 1e-3
_FIXED_POINT_ITERATIONS = 4


@dataclass(frozen=True)
class WarpEstimate:
    """What the classical interpolation computed for one intermediate frame.

    This is the input of a ``refine`` network. Images are ``float32`` in the 0-255 range of the
    ``uint8`` frames, flows are ``float32`` ``(H, W, 2)`` in pixels.

    Attributes
    ----------
    frame0, frame1 : numpy.ndarray
        The two neighbours, ``uint8`` RGB ``(H, W, 3)``.
    t : float
        Time of the estimate in (0, 1), from ``frame0`` (0) to ``frame1`` (1).
    flow_t0, flow_t1 : numpy.ndarray
        Approximate flows from time ``t`` to each neighbour.
    warped0, warped1 : numpy.ndarray
        Each neighbour backward-warped to time ``t``, ``(H, W, 3)``.
    weight0 : numpy.ndarray
        Per-pixel weight of ``warped0`` in the blend, ``(H, W)`` in [0, 1]; ``warped1`` has
        ``1 - weight0``.
    blended : numpy.ndarray
        The classical estimate, ``weight0 * warped0 + (1 - weight0) * warped1``.
    """

    frame0: np.ndarray
    frame1: np.ndarray
    t: float
    flow_t0: np.ndarray
    flow_t1: np.ndarray
    warped0: np.ndarray
    warped1: np.ndarray
    weight0: np.ndarray
    blended: np.ndarray


#: A learned refinement: takes the warped estimate, returns the corrected frame as an
#: ``(H, W, 3)`` array (``uint8``, or float in the 0-255 range, which is rounded and clipped).
Refiner = Callable[[WarpEstimate], np.ndarray]


def _check_approximation(flow_approximation: str) -> str:
    if flow_approximation not in FLOW_APPROXIMATIONS:
        raise ParameterError(
            f"flow_approximation={flow_approximation!r} is not supported; use one of "
            f"{', '.join(FLOW_APPROXIMATIONS)}"
        )
    return flow_approximation


def _check_t(t: float) -> float:
    if isinstance(t, bool) or not isinstance(t, int | float | Fraction | np.floating):
        raise ParameterError(f"t must be a number in (0, 1), got {t!r}")
    if not 0 < float(t) < 1:
        raise ParameterError(f"t={t} is outside the supported range (0, 1)")
    return float(t)


class PairInterpolator:
    """Make frames at any time between two neighbouring frames, from their bidirectional flow.

    The flows ``F_0→1`` and ``F_1→0`` (DIS, Kroeger et al. 2016) and the occlusion maps are
    computed once on construction; :meth:`frame` then costs a few warps per time ``t``:

    1. Flows from time ``t`` to the neighbours. With ``"superslomo"`` (the default), the
       approximation of Jiang et al. 2018, eq. 4: ``F_t→0 ≈ -(1-t) t F_0→1 + t² F_1→0`` and
       ``F_t→1 ≈ (1-t)² F_0→1 - t (1-t) F_1→0``; it assumes locally linear motion and is
       exact for uniform translation, but blurs motion boundaries because it reads the flows at
       the target pixel rather than where the motion started. ``"fixed_point"`` starts there and
       then solves ``F_t→0(x) = -t F_0→1(x + F_t→0(x))`` (and the same for ``F_t→1`` with
       ``1-t`` and ``F_1→0``) by fixed-point iteration (4 steps), which follows each point along
       its own motion; on the opencv-doc sample clips the two score within 0.1 dB PSNR.
    2. Each neighbour is backward-warped to ``t`` (bilinear ``cv2.remap``).
    3. Occlusion-aware blending, as Super SloMo's fusion (eq. 5) but with visibility from the
       forward-backward consistency test (Sundaram et al. 2010, softened) instead of a
       network: where the pixel taken from frame 0 is not visible in frame 1 (content being
       covered), frame 1's sample is wrong and gets no weight, and vice versa for content
       being uncovered; elsewhere the weights are ``1 - t`` and ``t``. DIS flow is smooth
       across motion boundaries, so the test is blunt there: on the opencv-doc clips these
       weights score within 0.15 dB PSNR of plain ``(1 - t, t)`` blending (slightly below).
       The visibility they carry is passed on to a ``refine`` network in
       :attr:`WarpEstimate.weight0`.

    Parameters
    ----------
    frame0, frame1 : numpy.ndarray
        Neighbouring ``uint8`` RGB frames of shape ``(H, W, 3)``.
    flow_preset : str
        DIS preset, ``"medium"`` (default), ``"fast"`` or ``"ultrafast"``.
    flow_approximation : {"superslomo", "fixed_point"}
        How the flows from time ``t`` are approximated (see above).
    flow : DISFlow, optional
        An estimator to reuse across pairs (saves its set-up); overrides ``flow_preset``.

    Raises
    ------
    MediaError
        If a frame is not a uint8 (H, W, 3) array or the sizes differ.
    ParameterError
        If ``flow_preset`` or ``flow_approximation`` is unknown.

    Examples
    --------
    >>> pair = PairInterpolator(frame0, frame1)  # doctest: +SKIP
    >>> quarter, middle = pair.frame(0.25), pair.frame(0.5)  # doctest: +SKIP
    """

    def __init__(
        self,
        frame0: np.ndarray,
        frame1: np.ndarray,
        *,
        flow_preset: str = "medium",
        flow_approximation: str = "superslomo",
        flow: DISFlow | None = None,
    ) -> None:
        check_frame(frame0, what="frame0")
        check_frame(frame1, what="frame1", shape=frame0.shape)
        self._approximation = _check_approximation(flow_approximation)
        estimator = flow if flow is not None else DISFlow(flow_preset)
        self.frame0 = frame0
        self.frame1 = frame1
        luma0, luma1 = estimator.luma(frame0), estimator.luma(frame1)
        self.flow01 = estimator.gray(luma0, luma1)
        self.flow10 = estimator.gray(luma1, luma0)
        self._occlusion0 = self._soft_occlusion(flow_inconsistency(self.flow01, self.flow10))
        self._occlusion1 = self._soft_occlusion(flow_inconsistency(self.flow10, self.flow01))
        self._float0 = frame0.astype(np.float32)
        self._float1 = frame1.astype(np.float32)

    @staticmethod
    def _soft_occlusion(inconsistency: np.ndarray) -> np.ndarray:
        ramp = (inconsistency - _OCCLUSION_START) / (_OCCLUDED_AT - _OCCLUSION_START)
        return np.clip(ramp, 0.0, 1.0)

    def _flows_from(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        f01, f10 = self.flow01, self.flow10
        flow_t0 = cv2.addWeighted(f01, -(1 - t) * t, f10, t * t, 0.0)
        flow_t1 = cv2.addWeighted(f01, (1 - t) * (1 - t), f10, -t * (1 - t), 0.0)
        if self._approximation == "fixed_point":
            for _ in range(_FIXED_POINT_ITERATIONS):
                flow_t0 = -t * warp_backward(f01, flow_t0)
                flow_t1 = -(1 - t) * warp_backward(f10, flow_t1)
        return flow_t0.astype(np.float32, copy=False), flow_t1.astype(np.float32, copy=False)

    def estimate(self, t: float) -> WarpEstimate:
        """Return the classical estimate at time ``t`` with everything that produced it.

        Parameters
        ----------
        t : float
            Time in (0, 1) from ``frame0`` to ``frame1``.

        Returns
        -------
        WarpEstimate

        Raises
        ------
        ParameterError
            If ``t`` is outside (0, 1).
        """
        t = _check_t(t)
        flow_t0, flow_t1 = self._flows_from(t)
        warped0 = warp_backward(self._float0, flow_t0)
        warped1 = warp_backward(self._float1, flow_t1)
        # Occlusion of the very points each warp sampled.
        hidden_in_1 = warp_backward(self._occlusion0, flow_t0)
        hidden_in_0 = warp_backward(self._occlusion1, flow_t1)
        weight0 = (1 - t) * (1.0 - hidden_in_0 + _WEIGHT_FLOOR)
        weight1 = t * (1.0 - hidden_in_1 + _WEIGHT_FLOOR)
        weight0 = (weight0 / (weight0 + weight1)).astype(np.float32)
        blended = warped1 + weight0[..., None] * (warped0 - warped1)
        return WarpEstimate(
            frame0=self.frame0,
            frame1=self.frame1,
            t=t,
            flow_t0=flow_t0,
            flow_t1=flow_t1,
            warped0=warped0,
            warped1=warped1,
            weight0=weight0,
            blended=blended,
        )

    def frame(self, t: float, refine: Refiner | None = None) -> np.ndarray:
        """Return the interpolated frame at time ``t``.

        Parameters
        ----------
        t : float
            Time in (0, 1) from ``frame0`` to ``frame1``.
        refine : callable, optional
            A learned refinement applied to the :class:`WarpEstimate`; it returns the corrected
            ``(H, W, 3)`` frame. Without one, the blended estimate is returned.

        Returns
        -------
        numpy.ndarray
            ``uint8`` RGB frame of shape ``(H, W, 3)``.

        Raises
        ------
        ParameterError
            If ``t`` is outside (0, 1) or ``refine`` returns the wrong shape.
        """
        estimate = self.estimate(t)
        if refine is not None:
            return frame_from_model(refine(estimate), self.frame0.shape, who="refine")
        return frame_from_model(estimate.blended, self.frame0.shape, who="blending")


class _Pair:
    """A pair of neighbours inside a stream: interpolated, or held if a cut separates them."""

    def __init__(
        self,
        frame0: np.ndarray,
        frame1: np.ndarray,
        *,
        scene_threshold: float,
        flow: DISFlow,
        flow_approximation: str,
    ) -> None:
        self._frames = (frame0, frame1)
        self._interpolator: PairInterpolator | None = None
        if not is_scene_cut(frame0, frame1, scene_threshold):
            self._interpolator = PairInterpolator(
                frame0, frame1, flow=flow, flow_approximation=flow_approximation
            )

    def frame(self, t: float, refine: Refiner | None) -> np.ndarray:
        if self._interpolator is None:
            # A cut: blending two shots makes a ghost frame, so hold the nearer one instead.
            return self._frames[0] if t < 0.5 else self._frames[1]
        return self._interpolator.frame(t, refine)


def _next_frame(
    frames: Iterator[np.ndarray], index: int, shape: tuple[int, ...]
) -> np.ndarray | None:
    frame = next(frames, None)
    if frame is not None:
        check_frame(frame, what=f"frame {index}", shape=shape)
    return frame


def _resample(
    frames: Iterable[np.ndarray],
    step: Fraction,
    *,
    scene_threshold: float,
    refine: Refiner | None,
    flow: DISFlow,
    flow_approximation: str,
) -> Iterator[np.ndarray]:
    """Yield output frame ``j`` at source position ``j * step`` (in source frames).

    Frame ``i`` of the source covers positions ``[i, i + 1)``, so a source of ``n`` frames
    gives ``ceil(n / step)`` output frames and the duration is kept; positions after the last
    source frame hold it.
    """
    source = iter(frames)
    first = next(source, None)
    if first is None:
        return
    check_frame(first, what="frame 0")
    shape = first.shape
    previous, previous_index = first, 0
    following = _next_frame(source, 1, shape)
    pair: _Pair | None = None
    out_index = 0
    while True:
        position = out_index * step
        index = position.numerator // position.denominator
        while following is not None and index > previous_index:
            previous, previous_index = following, previous_index + 1
            following = _next_frame(source, previous_index + 1, shape)
            pair = None
        if index > previous_index:
            return
        t = position - index
        if t == 0 or following is None:
            yield previous
        else:
            if pair is None:
                pair = _Pair(
                    previous,
                    following,
                    scene_threshold=scene_threshold,
                    flow=flow,
                    flow_approximation=flow_approximation,
                )
            yield pair.frame(float(t), refine)
        out_index += 1


def _check_fps(fps: float | Fraction, name: str) -> Fraction:
    if isinstance(fps, bool) or not isinstance(fps, int | float | Fraction | np.number):
        raise ParameterError(f"{name} must be a number of frames per second, got {fps!r}")
    value = float(fps)
    if not math.isfinite(value) or not 0 < value <= MAX_FPS:
        raise ParameterError(f"{name}={fps} is outside the supported range (0, {MAX_FPS:g}]")
    # As the video writer stores rates: 30000/1001 stays exact, 29.97 becomes it.
    return Fraction(fps).limit_denominator(1001)


def interpolate_frames(
    frames: Iterable[np.ndarray],
    factor: int,
    *,
    scene_threshold: float = SCENE_CUT_THRESHOLD,
    refine: Refiner | None = None,
    flow_preset: str = "medium",
    flow_approximation: str = "superslomo",
) -> Iterator[np.ndarray]:
    """Multiply the frame rate of a stream by 2, 4 or 8 with flow-based interpolation.

    Between each pair of neighbours, ``factor - 1`` frames at times ``k / factor`` are made by
    :class:`PairInterpolator` (bidirectional DIS flow, Super SloMo's intermediate-flow
    approximation and occlusion-aware blending; Jiang et al. 2018). Where :func:`is_scene_cut`
    finds a cut between the neighbours, nothing is blended: times before the middle repeat the
    earlier frame and the rest the later one. Frames are read and yielded one at a time.

    Parameters
    ----------
    frames : iterable of numpy.ndarray
        ``uint8`` RGB frames of shape ``(H, W, 3)``, all of one size.
    factor : {2, 4, 8}
        Output frames per input frame.
    scene_threshold : float
        Threshold of :func:`~aigc_studio.video.shots.is_scene_cut`, in (0, 1]; 1.0 never
        detects a cut.
    refine : callable, optional
        A learned refinement applied to each :class:`WarpEstimate` (see
        :meth:`PairInterpolator.frame`).
    flow_preset : str
        DIS preset: ``"medium"``, ``"fast"`` or ``"ultrafast"``.
    flow_approximation : {"superslomo", "fixed_point"}
        See :class:`PairInterpolator`.

    Yields
    ------
    numpy.ndarray
        ``len(frames) * factor`` frames: every input frame followed by its interpolated
        successors; the last input frame is held ``factor - 1`` times, so that the output at
        ``factor`` times the rate lasts exactly as long as the input. Input frames are yielded
        as the same objects, not copies.

    Raises
    ------
    ParameterError
        If ``factor`` is not 2, 4 or 8, or another parameter is out of range (at the call).
    MediaError
        If a frame is not a uint8 (H, W, 3) array or its size differs from the first (while
        iterating).

    Examples
    --------
    >>> with VideoReader("in.mp4") as reader, VideoWriter("out.mp4", 2 * reader.fps) as w:
    ...     for frame in interpolate_frames(reader, 2):  # doctest: +SKIP
    ...         w.write(frame)
    """
    if (
        isinstance(factor, bool)
        or not isinstance(factor, int | np.integer)
        or factor not in FACTORS
    ):
        raise ParameterError(
            f"factor={factor!r} is not supported; use one of {', '.join(map(str, FACTORS))}"
        )
    return _resample(
        frames,
        Fraction(1, int(factor)),
        scene_threshold=check_scene_threshold(scene_threshold, name="scene_threshold"),
        refine=refine,
        flow=DISFlow(flow_preset),
        flow_approximation=_check_approximation(flow_approximation),
    )


def retime(
    frames: Iterable[np.ndarray],
    source_fps: float | Fraction,
    target_fps: float | Fraction,
    *,
    scene_threshold: float = SCENE_CUT_THRESHOLD,
    refine: Refiner | None = None,
    flow_preset: str = "medium",
    flow_approximation: str = "superslomo",
) -> Iterator[np.ndarray]:
    """Convert a stream from one frame rate to another, interpolating frames in between.

    Output frame ``j`` shows time ``j / target_fps``; when that falls between two source
    frames it is made as in :func:`interpolate_frames` (and never across a scene cut), when it
    falls on one (within exact rational arithmetic) that frame is passed through. Lowering the
    rate drops frames without computing flow for them. To slow motion down, write the output at
    ``source_fps`` instead of ``target_fps``: it then lasts ``target_fps / source_fps`` times
    longer.

    Parameters
    ----------
    frames : iterable of numpy.ndarray
        ``uint8`` RGB frames of shape ``(H, W, 3)``, all of one size.
    source_fps, target_fps : float or Fraction
        Frame rates in (0, 1000]; floats are read as fractions with a denominator of at most
        1001 (29.97 as 30000/1001).
    scene_threshold, refine, flow_preset, flow_approximation
        As in :func:`interpolate_frames`.

    Yields
    ------
    numpy.ndarray
        ``ceil(n * target_fps / source_fps)`` frames for ``n`` input frames, so that the
        duration is kept; the last input frame is held to the end.

    Raises
    ------
    ParameterError
        If a rate or another parameter is out of range (at the call).
    MediaError
        If a frame is not a uint8 (H, W, 3) array or its size differs from the first.

    Examples
    --------
    >>> frames_60 = retime(reader, reader.fps, 60)  # doctest: +SKIP
    """
    source = _check_fps(source_fps, "source_fps")
    target = _check_fps(target_fps, "target_fps")
    return _resample(
        frames,
        source / target,
        scene_threshold=check_scene_threshold(scene_threshold, name="scene_threshold"),
        refine=refine,
        flow=DISFlow(flow_preset),
        flow_approximation=_check_approximation(flow_approximation),
    )


def retimed_frame_count(frame_count: int, source_fps: float, target_fps: float) -> int:
    """Return how many frames :func:`retime` yields for ``frame_count`` input frames.

    Parameters
    ----------
    frame_count : int
        Number of input frames (>= 0).
    source_fps, target_fps : float
        The rates given to :func:`retime`.

    Returns
    -------
    int
        ``ceil(frame_count * target_fps / source_fps)`` in exact rational arithmetic.
    """
    step = _check_fps(source_fps, "source_fps") / _check_fps(target_fps, "target_fps")
    return math.ceil(Fraction(max(0, int(frame_count))) / step)


def interpolate_pair(
    frame0: np.ndarray,
    frame1: np.ndarray,
    t: float = 0.5,
    *,
    scene_threshold: float = SCENE_CUT_THRESHOLD,
    refine: Refiner | None = None,
    flow_preset: str = "medium",
    flow_approximation: str = "superslomo",
) -> np.ndarray:
    """Return the frame at time ``t`` between two frames (the nearer one across a scene cut).

    A one-off shortcut for :class:`PairInterpolator`; to make several frames between the same
    two, use the class, which computes the flows once.

    Parameters
    ----------
    frame0, frame1 : numpy.ndarray
        ``uint8`` RGB frames of shape ``(H, W, 3)``, of the same size.
    t : float
        Time in (0, 1) from ``frame0`` to ``frame1``.
    scene_threshold, refine, flow_preset, flow_approximation
        As in :func:`interpolate_frames`.

    Returns
    -------
    numpy.ndarray
        ``uint8`` RGB frame of shape ``(H, W, 3)``.

    Raises
    ------
    ParameterError
        If a parameter is out of range.
    MediaError
        If a frame is not a uint8 (H, W, 3) array or the sizes differ.

    Examples
    --------
    >>> middle = interpolate_pair(frame0, frame1)  # doctest: +SKIP
    """
    t = _check_t(t)
    pair = _Pair(
        check_frame(frame0, what="frame0"),
        check_frame(frame1, what="frame1", shape=frame0.shape),
        scene_threshold=check_scene_threshold(scene_threshold, name="scene_threshold"),
        flow=DISFlow(flow_preset),
        flow_approximation=_check_approximation(flow_approximation),
    )
    return pair.frame(t, refine)


def _check_duration(frame_duration: object) -> float:
    number = isinstance(frame_duration, int | float) and not isinstance(frame_duration, bool)
    if not number or not 0 < frame_duration < math.inf:  # type: ignore[operator]
        raise ParameterError(f"frame_duration={frame_duration!r} must be a positive number")
    return float(frame_duration)  # type: ignore[arg-type]


def _hold_after(times: list[float], fallback: float) -> float:
    """Return how long the last of ``times`` is shown: the previous interval, or ``fallback``."""
    if len(times) >= 2 and times[-1] > times[-2]:
        return times[-1] - times[-2]
    return fallback


def interpolate_timed(
    frames: Iterable[tuple[float, np.ndarray]],
    factor: int,
    *,
    frame_duration: float,
    scene_threshold: float = SCENE_CUT_THRESHOLD,
    refine: Refiner | None = None,
    flow_preset: str = "medium",
    flow_approximation: str = "superslomo",
) -> Iterator[tuple[float, np.ndarray]]:
    """Multiply the frames of a timed stream (a variable frame rate kept) by 2, 4 or 8.

    As :func:`interpolate_frames`, but each frame comes with its presentation time
    (:meth:`~aigc_studio.media.video_io.VideoReader.frames_with_time`) and each output frame
    leaves with one: the ``k``-th frame between source times ``t0`` and ``t1`` is made at
    ``k / factor`` of the way and shown at ``t0 + (k / factor) (t1 - t0)``, so that uneven
    spacing in the source (a phone's variable frame rate) stays where it was, and the audio in
    sync, when the times are passed on to :meth:`~aigc_studio.media.video_io.VideoWriter.write`.

    Parameters
    ----------
    frames : iterable of (float, numpy.ndarray)
        Presentation times in seconds (increasing) and ``uint8`` RGB frames of one size.
    factor : {2, 4, 8}
        Output frames per input frame.
    frame_duration : float
        How long the last frame is shown when the stream has a single frame (otherwise the
        last interval is repeated), in seconds (> 0), e.g. ``1 / reader.fps``.
    scene_threshold, refine, flow_preset, flow_approximation
        As in :func:`interpolate_frames`.

    Yields
    ------
    tuple of (float, numpy.ndarray)
        ``len(frames) * factor`` timed frames.

    Raises
    ------
    ParameterError, MediaError
        As :func:`interpolate_frames`; also if ``frame_duration`` is not positive.
    """
    _check_duration(frame_duration)
    times: dict[int, float] = {}  # source index -> time, for the frames still needed

    def untimed() -> Iterator[np.ndarray]:
        for index, (time, frame) in enumerate(frames):
            times[index] = float(time)
            yield frame

    for index, frame in enumerate(
        interpolate_frames(
            untimed(),
            factor,
            scene_threshold=scene_threshold,
            refine=refine,
            flow_preset=flow_preset,
            flow_approximation=flow_approximation,
        )
    ):
        source, step = divmod(index, factor)
        start = times[source]
        if source + 1 in times:
            span = times[source + 1] - start
        else:  # the last frame: shown for the interval before it
            span = _hold_after(
                [times[i] for i in (source - 1, source) if i in times], frame_duration
            )
        yield start + span * step / factor, frame
        times.pop(source - 2, None)  # from here on, only this frame's neighbours are needed


def retime_timed(
    frames: Iterable[tuple[float, np.ndarray]],
    target_fps: float | Fraction,
    *,
    frame_duration: float,
    scene_threshold: float = SCENE_CUT_THRESHOLD,
    refine: Refiner | None = None,
    flow_preset: str = "medium",
    flow_approximation: str = "superslomo",
) -> Iterator[np.ndarray]:
    """Resample a timed stream (constant or variable frame rate) to a constant rate.

    Output frame ``j`` shows the time ``t_first + j / target_fps``: between source frames at
    ``t0 <= T < t1`` it is made at ``(T - t0) / (t1 - t0)`` of the way (as in
    :func:`interpolate_frames`, never across a scene cut); on a source frame (to a millionth
    of the interval) that frame is passed through. The last source frame is shown for the
    last interval (or ``frame_duration`` if there is only one), so a constant-rate source of
    ``n`` frames gives what :func:`retime` gives, and a variable-rate one keeps the timing of
    its content.

    Parameters
    ----------
    frames : iterable of (float, numpy.ndarray)
        Presentation times in seconds (increasing) and ``uint8`` RGB frames of one size.
    target_fps : float or Fraction
        Output rate in (0, 1000].
    frame_duration : float
        How long a single-frame stream is shown, in seconds (> 0).
    scene_threshold, refine, flow_preset, flow_approximation
        As in :func:`interpolate_frames`.

    Yields
    ------
    numpy.ndarray
        The frames at ``target_fps``.

    Raises
    ------
    ParameterError
        If a parameter is out of range (at the call).
    MediaError
        If a frame is malformed or its size differs from the first.
    """
    target = _check_fps(target_fps, "target_fps")
    return _resample_timed(
        iter(frames),
        1.0 / float(target),
        frame_duration=_check_duration(frame_duration),
        scene_threshold=check_scene_threshold(scene_threshold, name="scene_threshold"),
        refine=refine,
        flow=DISFlow(flow_preset),
        flow_approximation=_check_approximation(flow_approximation),
    )


def _resample_timed(
    source: Iterator[tuple[float, np.ndarray]],
    period: float,
    *,
    frame_duration: float,
    scene_threshold: float,
    refine: Refiner | None,
    flow: DISFlow,
    flow_approximation: str,
) -> Iterator[np.ndarray]:
    first = next(source, None)
    if first is None:
        return
    start, frame = first
    check_frame(frame, what="frame 0")
    shape = frame.shape
    times = [float(start)]
    previous = frame
    following = next(source, None)
    if following is not None:
        check_frame(following[1], what="frame 1", shape=shape)
    pair: _Pair | None = None
    index, out_index = 1, 0
    while True:
        moment = start + out_index * period
        while following is not None and moment >= following[0]:
            times.append(float(following[0]))
            previous = following[1]
            following = next(source, None)
            index += 1
            if following is not None:
                check_frame(following[1], what=f"frame {index}", shape=shape)
            pair = None
            del times[:-2]
        if following is None:
            if moment >= times[-1] + _hold_after(times, frame_duration) - 1e-9:
                return
            yield previous
        else:
            span = following[0] - times[-1]
            t = (moment - times[-1]) / span if span > 0 else 0.0
            if t < 1e-6:
                yield previous
            else:
                if pair is None:
                    pair = _Pair(
                        previous,
                        following[1],
                        scene_threshold=scene_threshold,
                        flow=flow,
                        flow_approximation=flow_approximation,
                    )
                yield pair.frame(min(t, 1.0 - 1e-6), refine)
        out_index += 1
