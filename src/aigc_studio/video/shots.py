"""Shot boundaries: list the shots of a video file, or test one pair of frames for a cut.

:func:`detect_shots` runs PySceneDetect's ``ContentDetector`` over a file (decoding it with
PyAV, one frame at a time). :func:`is_scene_cut` is a much lighter test on two frames in
memory, for pipelines that already stream frames and must not blend across a cut (frame
interpolation, temporal smoothing of color). Neither detects gradual transitions (fades,
dissolves) reliably; both are for hard cuts.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from aigc_studio.errors import AigcError, MediaError, ParameterError
from aigc_studio.video.frame_checks import check_frame

__all__ = ["SCENE_CUT_THRESHOLD", "Shot", "detect_shots", "is_scene_cut", "scene_cut_score"]

#: Default threshold on :func:`scene_cut_score`, set on the opencv-doc sample clips: inside a
#: shot the score stays below 0.25 (camera shake in ``tree.avi`` peaks at 0.23, people walking
#: in ``vtest.avi`` at 0.06), while the hard cuts between similarly dark shots of
#: ``Megamind.avi`` score 0.44 to 0.46 and a cut between unrelated scenes 0.6 to 1.
SCENE_CUT_THRESHOLD = 0.33

#: Frames are compared at this width at most: histograms barely change with size, and a small
#: frame is cheap to convert and less sensitive to noise and compression artefacts.
_ANALYSIS_WIDTH = 160
_HUE_BINS, _SAT_BINS, _VALUE_BINS = 16, 16, 16
#: Mean HSV pixel change (in 8-bit levels, hue in OpenCV's 0-180 degrees/2) at which the pixel
#: term of the score saturates; PySceneDetect's ContentDetector cuts at 27 on a similar measure.
_FULL_PIXEL_CHANGE = 50.0


@dataclass(frozen=True)
class Shot:
    """One shot of a video: a run of frames between two cuts.

    Attributes
    ----------
    index : int
        Position of the shot in the video, from 0.
    start_frame : int
        Index of its first frame.
    end_frame : int
        Index one past its last frame (so ``end_frame - start_frame`` frames).
    start_s : float
        Start time in seconds.
    end_s : float
        End time in seconds (the start of the next shot).
    """

    index: int
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float

    @property
    def frames(self) -> int:
        """Number of frames in the shot."""
        return self.end_frame - self.start_frame

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        """Return the shot as a plain dict (for JSON)."""
        return asdict(self)


def _timecode_frame(timecode: Any) -> int:
    # PySceneDetect 0.7 has a ``frame_num`` property and deprecates 0.6's ``get_frames()``.
    value = getattr(timecode, "frame_num", None)
    return int(value if value is not None else timecode.get_frames())


def _timecode_seconds(timecode: Any) -> float:
    value = getattr(timecode, "seconds", None)
    return float(value if value is not None else timecode.get_seconds())


def detect_shots(
    path: str | os.PathLike[str], threshold: float = 27.0, *, min_scene_len: int = 15
) -> list[Shot]:
    """List the shots of a video file.

    Uses PySceneDetect's ``ContentDetector``: a cut is declared where the weighted change of
    hue, saturation, luminance and edges between consecutive frames exceeds ``threshold``
    (Castellano, PySceneDetect documentation, "Detection algorithms: content-aware").

    Parameters
    ----------
    path : str or PathLike
        A video file.
    threshold : float
        Content-change threshold in (0, 255]; lower finds more cuts. PySceneDetect's default,
        27, suits most footage.
    min_scene_len : int
        Shortest shot in frames (>= 1); a cut closer than this to the previous one is merged.

    Returns
    -------
    list of Shot
        The shots in order, covering the whole video; one shot if there is no cut, none if the
        video has no frames.

    Raises
    ------
    ParameterError
        If ``threshold`` or ``min_scene_len`` is out of range.
    MediaError
        If the file is missing, unreadable or has no video stream.

    Examples
    --------
    >>> for shot in detect_shots("film.mp4"):  # doctest: +SKIP
    ...     print(shot.index, shot.start_s, shot.end_s)
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ParameterError(f"threshold must be a number, got {threshold!r}")
    if not 0 < float(threshold) <= 255:
        raise ParameterError(f"threshold={threshold} is outside the supported range (0, 255]")
    if isinstance(min_scene_len, bool) or not isinstance(min_scene_len, int) or min_scene_len < 1:
        raise ParameterError(f"min_scene_len={min_scene_len!r} must be an integer >= 1")

    from scenedetect import ContentDetector, SceneManager, open_video

    from aigc_studio.media.video_io import VideoReader

    # Our reader refuses missing, corrupt and audio-only files with the studio's messages,
    # before PySceneDetect meets them with its own.
    with VideoReader(path) as reader:
        fps = reader.fps
    try:
        video = open_video(str(path), backend="pyav", suppress_output=True)
        manager = SceneManager()
        manager.add_detector(
            ContentDetector(threshold=float(threshold), min_scene_len=min_scene_len)
        )
        manager.detect_scenes(video=video)
        scenes = manager.get_scene_list(start_in_scene=True)
    except AigcError:
        raise
    except Exception as exc:  # PySceneDetect raises its own kinds on decoding failures
        raise MediaError(f"{path}: scene detection failed ({exc})") from exc
    shots = []
    # PySceneDetect numbers frames by their timestamps, so a stream whose first frame is stamped
    # one frame in (Megamind.avi) would start at frame 1; count from the first frame instead,
    # as VideoReader does.
    first = _timecode_frame(scenes[0][0]) if scenes else 0
    for index, (start, end) in enumerate(scenes):
        start_frame, end_frame = _timecode_frame(start) - first, _timecode_frame(end) - first
        shots.append(
            Shot(
                index=index,
                start_frame=start_frame,
                end_frame=end_frame,
                start_s=start_frame / fps,
                end_s=end_frame / fps,
            )
        )
    return shots


def _small_hsv(frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    if width > _ANALYSIS_WIDTH:
        size = (_ANALYSIS_WIDTH, max(1, round(height * _ANALYSIS_WIDTH / width)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)


def _histograms(hsv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Hue and saturation together (what colors), value apart (how bright): a gray scene has
    # all its pixels at saturation 0, where hue says nothing, so luminance must count alone.
    hue_sat = cv2.calcHist([hsv], [0, 1], None, [_HUE_BINS, _SAT_BINS], [0, 180, 0, 256])
    value = cv2.calcHist([hsv], [2], None, [_VALUE_BINS], [0, 256])
    return hue_sat / hue_sat.sum(), value / value.sum()


def _pixel_change(a: np.ndarray, b: np.ndarray) -> float:
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    hue = np.minimum(diff[..., 0], 180 - diff[..., 0])  # hue is an angle
    return float((hue.mean() + diff[..., 1].mean() + diff[..., 2].mean()) / 3.0)


def scene_cut_score(prev: np.ndarray, cur: np.ndarray) -> float:
    """Return how likely ``cur`` starts a new shot after ``prev``, from 0 to 1.

    A cut changes both what colors are in the picture and the pixels themselves, while motion
    inside a shot moves pixels but keeps the colors, and a slow change of light does neither
    much. The score is the geometric mean of two terms, on frames shrunk to at most 160 pixels
    wide and converted to HSV:

    - the mean of the Bhattacharyya distances between the frames' hue-saturation histograms
      (16x16 bins) and between their value histograms (16 bins) (Swain and Ballard 1991,
      "Color indexing"; Bhattacharyya 1943), in [0, 1];
    - the mean absolute HSV difference of co-located pixels (as PySceneDetect's
      ContentDetector measures), divided by 50 levels and capped at 1.

    Parameters
    ----------
    prev, cur : numpy.ndarray
        ``uint8`` RGB frames of shape ``(H, W, 3)``, of the same size.

    Returns
    -------
    float
        The score in [0, 1]; see :data:`SCENE_CUT_THRESHOLD` for typical values.

    Raises
    ------
    MediaError
        If a frame is not a uint8 (H, W, 3) array or the sizes differ.
    """
    check_frame(prev, what="prev")
    check_frame(cur, what="cur", shape=prev.shape)
    hsv_a, hsv_b = _small_hsv(prev), _small_hsv(cur)
    hs_a, v_a = _histograms(hsv_a)
    hs_b, v_b = _histograms(hsv_b)
    colors = 0.5 * (
        cv2.compareHist(hs_a, hs_b, cv2.HISTCMP_BHATTACHARYYA)
        + cv2.compareHist(v_a, v_b, cv2.HISTCMP_BHATTACHARYYA)
    )
    pixels = min(_pixel_change(hsv_a, hsv_b) / _FULL_PIXEL_CHANGE, 1.0)
    return float(np.sqrt(np.clip(colors, 0.0, 1.0) * pixels))


def is_scene_cut(prev: np.ndarray, cur: np.ndarray, threshold: float = SCENE_CUT_THRESHOLD) -> bool:
    """Tell whether ``cur`` starts a new shot after ``prev`` (a hard cut).

    Cheap enough to call on every pair of frames of a stream (about a millisecond at any
    resolution). See :func:`scene_cut_score` for the measure; fades and dissolves score low
    and are not reported.

    Parameters
    ----------
    prev, cur : numpy.ndarray
        Consecutive ``uint8`` RGB frames of shape ``(H, W, 3)``.
    threshold : float
        Cut when the score exceeds this, in (0, 1]; the default
        :data:`SCENE_CUT_THRESHOLD` (0.33) keeps camera shake and motion inside a shot. Pass
        1.0 to never report a cut.

    Returns
    -------
    bool
        True at a cut.

    Raises
    ------
    ParameterError
        If ``threshold`` is outside (0, 1].
    MediaError
        If a frame is not a uint8 (H, W, 3) array or the sizes differ.

    Examples
    --------
    >>> is_scene_cut(last_frame_of_shot, first_frame_of_next)  # doctest: +SKIP
    True
    """
    check_scene_threshold(threshold)
    if threshold >= 1.0:
        return False
    return scene_cut_score(prev, cur) > threshold


def check_scene_threshold(threshold: float, *, name: str = "threshold") -> float:
    """Return ``threshold`` as a float after checking that it lies in (0, 1].

    Raises
    ------
    ParameterError
        If it is not a number in (0, 1].
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.floating):
        raise ParameterError(f"{name} must be a number in (0, 1], got {threshold!r}")
    if not 0 < float(threshold) <= 1:
        raise ParameterError(f"{name}={threshold} is outside the supported range (0, 1]")
    return float(threshold)
