"""Remove brightness flicker from video: each frame scaled to the mean brightness around it.

Flicker is a fast, frame-to-frame change of overall brightness that the scene does not have:
lights on mains power filmed at an unlucky shutter speed, an auto-exposure that hunts, or a
correction estimated on each frame alone. :class:`Deflicker` measures the mean luma of every
frame, averages it over a window centred on the frame (``radius`` frames either side, within
the shot), and multiplies the frame by the ratio of the two, as ffmpeg's ``deflicker`` filter
does with its arithmetic mean. A steady change, such as a linear fade or a slow pan towards the
light, has the same mean over a centred window as at its centre, so it passes; only changes
faster than the window are evened out. The window restarts at a scene cut, so a cut to a
brighter shot is not dimmed. The stream is looked ahead by ``radius`` frames and no more.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from itertools import islice
from typing import Any

import cv2
import numpy as np

from aigc_studio.config_values import dataclass_from_dict
from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.evaluation.video import LUMA_WEIGHTS
from aigc_studio.video.frame_checks import check_frame, check_int, check_number, to_uint8
from aigc_studio.video.shots import SCENE_CUT_THRESHOLD, is_scene_cut

__all__ = ["DeflickerConfig", "Deflicker", "mean_luma"]

#: The mean luma is measured on the frame reduced to at most this many pixels a side.
_MEASURE_SIZE = 256
#: Frames darker than this (mean luma, 8-bit levels) are left alone: a ratio of tiny means is noise.
_DARK_LEVEL = 4.0


def mean_luma(frame: np.ndarray) -> float:
    """Return the mean BT.601 luma of an RGB frame, in 8-bit levels.

    Measured on the frame reduced by area averaging to at most 256 pixels a side, which gives
    the same mean to a fraction of a level at a fraction of the cost.

    Parameters
    ----------
    frame : numpy.ndarray
        ``uint8`` RGB frame of shape ``(H, W, 3)``.

    Returns
    -------
    float
        The mean luma in [0, 255].

    Raises
    ------
    MediaError
        If ``frame`` is not a uint8 (H, W, 3) array.
    """
    return _mean_luma(check_frame(frame))


def _mean_luma(frame: np.ndarray) -> float:
    """:func:`mean_luma` of a frame already checked."""
    height, width = frame.shape[:2]
    scale = _MEASURE_SIZE / max(height, width)
    if scale < 1.0:
        size = (max(round(width * scale), 1), max(round(height * scale), 1))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    return float(frame.reshape(-1, 3).mean(axis=0, dtype=np.float64) @ LUMA_WEIGHTS)


@dataclass
class DeflickerConfig:
    """Settings of :class:`Deflicker`.

    Attributes
    ----------
    radius : int
        Frames either side in the averaging window, in [1, 30]; 2 (default) averages 5 frames,
        as ffmpeg's ``deflicker`` does by default. Larger evens out slower flicker and also
        more of the scene's own quick changes.
    max_gain : float
        Largest brightness factor (and inverse of the smallest) applied to a frame, in
        [1, 4]: a flash or a frame that really is dark is corrected only this far.
    scene_threshold : float
        Threshold of :func:`~aigc_studio.video.shots.is_scene_cut` at which the window
        restarts, in (0, 1]; 1 never restarts.
    """

    radius: int = 2
    max_gain: float = 1.25
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
            check_int(self.radius, "radius", 1, 30)
            check_number(self.max_gain, "max_gain", 1.0, 4.0)
            if check_number(self.scene_threshold, "scene_threshold", 0.0, 1.0) <= 0.0:
                raise ParameterError(f"scene_threshold={self.scene_threshold} must be above 0")
        except ParameterError as exc:
            raise ConfigError(f"deflicker: {exc}") from None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DeflickerConfig:
        """Build a config from a mapping, refusing unknown keys.

        Raises
        ------
        ConfigError
            On an unknown key or an invalid value.
        """
        return dataclass_from_dict(cls, d, "deflicker")

    def to_dict(self) -> dict[str, Any]:
        """Return the config as a plain dict."""
        return asdict(self)


@dataclass
class _Measured:
    frame: np.ndarray
    level: float
    shot: int


class Deflicker:
    """Even out frame-to-frame brightness changes of a stream (see the module docstring).

    Parameters
    ----------
    config : DeflickerConfig, optional
        Settings; defaults as in :class:`DeflickerConfig`.

    Raises
    ------
    ParameterError
        If ``config`` is not a DeflickerConfig.

    Examples
    --------
    >>> for frame in Deflicker().process(reader):  # doctest: +SKIP
    ...     writer.write(frame)
    """

    def __init__(self, config: DeflickerConfig | None = None) -> None:
        self.config = config if config is not None else DeflickerConfig()
        if not isinstance(self.config, DeflickerConfig):
            raise ParameterError(
                f"config must be a DeflickerConfig, got {type(self.config).__name__}"
            )

    def process(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Deflicker a stream of frames, reading ``radius`` frames ahead.

        Parameters
        ----------
        frames : iterable of numpy.ndarray
            ``uint8`` RGB frames of shape ``(H, W, 3)``, all of one size.

        Yields
        ------
        numpy.ndarray
            One ``uint8`` RGB frame per input frame, in order.

        Raises
        ------
        MediaError
            If a frame is malformed or its size differs from the first frame's.
        """
        radius = self.config.radius
        window: deque[_Measured] = deque()  # up to `radius` frames before the current one
        source = iter(frames)
        previous: np.ndarray | None = None
        shot = 0
        current = 0  # index in `window` of the next frame to write
        for index, frame in enumerate(source):
            check_frame(
                frame, what=f"frame {index}", shape=None if previous is None else previous.shape
            )
            if previous is not None and is_scene_cut(previous, frame, self.config.scene_threshold):
                shot += 1
            previous = frame
            window.append(_Measured(frame, _mean_luma(frame), shot))
            if len(window) - 1 - current >= radius:
                yield self._corrected(window, current)
                current += 1
            while current > radius:
                window.popleft()
                current -= 1
        while current < len(window):
            yield self._corrected(window, current)
            current += 1

    def _corrected(self, window: deque[_Measured], current: int) -> np.ndarray:
        """Return frame ``window[current]`` scaled to the mean level of its shot's neighbours."""
        entry = window[current]
        radius = self.config.radius
        levels = [
            other.level
            for other in islice(window, max(current - radius, 0), current + radius + 1)
            if other.shot == entry.shot
        ]
        if entry.level < _DARK_LEVEL or len(levels) < 2:
            return entry.frame
        limit = self.config.max_gain
        gain = float(np.clip(np.mean(levels) / entry.level, 1.0 / limit, limit))
        if abs(gain - 1.0) < 1e-3:
            return entry.frame
        return to_uint8(entry.frame.astype(np.float32) * np.float32(gain))
