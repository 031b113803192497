"""One-pass video improvement: denoise, then sharpen lightly, then correct color.

The chain behind ``aigc video enhance``, on frame iterators: each step is the stage of its own
module with that module's defaults (:class:`~aigc_studio.video.denoise.VideoDenoiser`,
:class:`~aigc_studio.video.deblur.Deblurrer` as unsharp masking at a light gain,
:class:`~aigc_studio.video.color.ColorCorrector`), streamed one after the other, so memory stays
that of the steps' own look-ahead. Denoising comes first because sharpening would amplify the
noise; color last, so that it sees the final detail.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aigc_studio.errors import ParameterError
from aigc_studio.video.color import ColorCorrectionConfig, ColorCorrector
from aigc_studio.video.deblur import DeblurConfig, Deblurrer
from aigc_studio.video.denoise import DenoiseConfig, VideoDenoiser

__all__ = ["ENHANCE_SHARPEN", "EnhanceConfig", "VideoEnhancer", "enhance_frames"]

#: Unsharp gain of the sharpening step: a light touch, since the step runs on every video,
#: blurred or not.
ENHANCE_SHARPEN = 0.5


def _light_sharpening() -> DeblurConfig:
    return DeblurConfig(method="unsharp", strength=ENHANCE_SHARPEN)


@dataclass
class EnhanceConfig:
    """Which steps :class:`VideoEnhancer` runs, and each step's settings.

    Attributes
    ----------
    denoise, sharpen, color : DenoiseConfig, DeblurConfig or ColorCorrectionConfig, or None
        The settings of each step; ``None`` leaves the step out. By default all three run, the
        sharpening as unsharp masking at :data:`ENHANCE_SHARPEN`.
    """

    denoise: DenoiseConfig | None = field(default_factory=DenoiseConfig)
    sharpen: DeblurConfig | None = field(default_factory=_light_sharpening)
    color: ColorCorrectionConfig | None = field(default_factory=ColorCorrectionConfig)

    def __post_init__(self) -> None:
        kinds = {"denoise": DenoiseConfig, "sharpen": DeblurConfig, "color": ColorCorrectionConfig}
        for name, kind in kinds.items():
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise ParameterError(
                    f"{name} must be a {kind.__name__} or None, got {type(value).__name__}"
                )
        if self.denoise is None and self.sharpen is None and self.color is None:
            raise ParameterError("every step is off (denoise, sharpen and color); nothing to do")

    @property
    def steps(self) -> list[str]:
        """Names of the steps that run, in order."""
        return [name for name in ("denoise", "sharpen", "color") if getattr(self, name) is not None]

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a plain dict: each running step's config, and ``steps``."""
        return {
            **{name: getattr(self, name).to_dict() for name in self.steps},
            "steps": self.steps,
        }


class VideoEnhancer:
    """Denoise, sharpen and correct the color of a stream of frames (see the module docstring).

    Parameters
    ----------
    config : EnhanceConfig, optional
        Which steps run and how; all three with their defaults if not given.

    Raises
    ------
    ParameterError
        If ``config`` is not an EnhanceConfig.

    Examples
    --------
    >>> enhancer = VideoEnhancer()  # doctest: +SKIP
    >>> for frame in enhancer.process(reader):  # doctest: +SKIP
    ...     writer.write(frame)
    >>> enhancer.denoiser.noise_sigma  # doctest: +SKIP
    """

    def __init__(self, config: EnhanceConfig | None = None) -> None:
        self.config = config if config is not None else EnhanceConfig()
        if not isinstance(self.config, EnhanceConfig):
            raise ParameterError(
                f"config must be an EnhanceConfig, got {type(self.config).__name__}"
            )
        config = self.config
        self.denoiser = VideoDenoiser(config.denoise) if config.denoise is not None else None
        self.sharpener = Deblurrer(config.sharpen) if config.sharpen is not None else None
        self.corrector = ColorCorrector(config.color) if config.color is not None else None

    def process(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Run the steps over a stream of frames.

        Parameters
        ----------
        frames : iterable of numpy.ndarray
            ``uint8`` RGB frames of shape ``(H, W, 3)``, all of one size.

        Yields
        ------
        numpy.ndarray
            One improved frame per input frame, in order.

        Raises
        ------
        MediaError
            If a frame is malformed or its size differs from the first frame's.
        """
        stream: Iterable[np.ndarray] = frames
        for step in (self.denoiser, self.sharpener, self.corrector):
            if step is not None:
                stream = step.process(stream)
        yield from stream


def enhance_frames(
    frames: Iterable[np.ndarray], config: EnhanceConfig | None = None
) -> Iterator[np.ndarray]:
    """Denoise, sharpen lightly and correct the color of a stream (see :class:`VideoEnhancer`).

    Parameters
    ----------
    frames : iterable of numpy.ndarray
        ``uint8`` RGB frames of shape ``(H, W, 3)``, all of one size.
    config : EnhanceConfig, optional
        Which steps run and how.

    Returns
    -------
    iterator of numpy.ndarray
        One improved frame per input frame, read and yielded one at a time.

    Raises
    ------
    ParameterError
        If ``config`` is invalid (at the call).

    Examples
    --------
    >>> better = list(enhance_frames(frames, EnhanceConfig(sharpen=None)))  # doctest: +SKIP
    """
    return VideoEnhancer(config).process(frames)
