"""A small residual CNN that corrects frames: interpolation refinement and deblurring.

One trunk serves both learned video stages. The input is a stack of maps scaled to about
[0, 1], folded into a coarser grid by pixel unshuffling (Shi et al. 2016), which gives every
3x3 convolution a wider view and cuts the cost per output pixel by the square of the factor,
passed through residual blocks of two 3x3 convolutions (EDSR, Lim et al. 2017, without batch
norm) and unfolded again. Its last layer starts at zero, so an untrained network changes
nothing. Two heads:

- ``output="image"`` (deblurring): the trunk's three maps are added to one of the input images
  (the blurred frame): the network predicts a correction.
- ``output="flow"`` (interpolation refinement, the second stage of Super SloMo, Jiang et al.
  2018): the input is the classical estimate (both neighbours warped to the middle time, their
  blend and its weight) and the two flows; the trunk predicts corrections of both flows, of the
  blend weight's logit, and a residual. :func:`compose_refined` applies them: it warps the
  neighbours again along the corrected flows, blends with the corrected weight and adds the
  residual, so the network can fix motion where the optical flow was wrong, not only paint
  over it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from aigc_studio.config_values import dataclass_from_dict
from aigc_studio.errors import ConfigError, ParameterError

#: Pixel-unshuffle factors the network accepts.
UNSHUFFLE_FACTORS = (1, 2, 4)
#: What the network outputs (see the module docstring).
OUTPUTS = ("image", "flow")
#: Channels of the ``"flow"`` head: two flow corrections, a weight logit, an RGB residual.
FLOW_OUTPUTS = 8
#: Pixels of flow correction per unit of network output (the trunk's outputs are small).
FLOW_CORRECTION_SCALE = 4.0
#: Pixels of flow per unit of network input (flows enter the trunk divided by this).
FLOW_INPUT_SCALE = 16.0
#: Blend weights are clamped to [eps, 1 - eps] before taking their logit.
WEIGHT_EPS = 1e-3


@dataclass
class FrameRestorerConfig:
    """Configuration of :class:`FrameRestorer`.

    Parameters
    ----------
    in_channels : int
        Channels of the input stack (10 for the interpolation refinement, 3 for deblurring).
    base_channel : int
        First of the three input channels (an RGB image) the predicted correction is added to.
    channels : int
        Width of the residual blocks.
    blocks : int
        Residual blocks (two 3x3 convolutions each).
    unshuffle : {1, 2, 4}
        Pixel-unshuffle factor: the blocks run at this fraction of the resolution. Frame sides
        need not be multiples of it (the input is padded by reflection and the output cropped).
    output : {"image", "flow"}
        The head (see the module docstring). ``"flow"`` outputs :data:`FLOW_OUTPUTS` raw maps
        for :func:`compose_refined` and ignores ``base_channel``.
    """

    in_channels: int = 3
    base_channel: int = 0
    channels: int = 32
    blocks: int = 4
    unshuffle: int = 2
    output: str = "image"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check ranges.

        Raises
        ------
        ConfigError
            If a field is out of range.
        """
        if not 3 <= self.in_channels <= 64:
            raise ConfigError(f"in_channels must be in [3, 64], got {self.in_channels}")
        if not 0 <= self.base_channel <= self.in_channels - 3:
            raise ConfigError(
                f"base_channel must leave three channels of the {self.in_channels} input "
                f"channels, got {self.base_channel}"
            )
        if not 4 <= self.channels <= 512:
            raise ConfigError(f"channels must be in [4, 512], got {self.channels}")
        if not 0 <= self.blocks <= 64:
            raise ConfigError(f"blocks must be in [0, 64], got {self.blocks}")
        if self.unshuffle not in UNSHUFFLE_FACTORS:
            raise ConfigError(f"unshuffle must be one of {UNSHUFFLE_FACTORS}, got {self.unshuffle}")
        if self.output not in OUTPUTS:
            raise ConfigError(f"output must be one of {list(OUTPUTS)}, got {self.output!r}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FrameRestorerConfig:
        """Build a config from plain values, rejecting unknown keys.

        Raises
        ------
        ConfigError
            If a key is unknown or a value out of range.
        """
        return dataclass_from_dict(cls, d, "FrameRestorerConfig")

    def to_dict(self) -> dict[str, Any]:
        """Return plain values."""
        return asdict(self)


class _ResidualBlock(nn.Module):
    """conv3x3 → ReLU → conv3x3, added to the input (scaled, as EDSR does for stability)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.5 * self.body(x)


class FrameRestorer(nn.Module):
    """Input stack (B, C, H, W) → corrected RGB frame (B, 3, H, W) in [0, 1], or correction maps.

    With ``output="image"`` the result is the corrected frame; with ``output="flow"`` it is the
    (B, 8, H, W) correction maps that :func:`compose_refined` applies.

    Parameters
    ----------
    config : FrameRestorerConfig
        Sizes.

    Examples
    --------
    >>> net = FrameRestorer(FrameRestorerConfig(channels=8, blocks=1))
    >>> net(torch.rand(1, 3, 30, 41)).shape
    torch.Size([1, 3, 30, 41])
    """

    def __init__(self, config: FrameRestorerConfig) -> None:
        super().__init__()
        self.config = config
        factor = config.unshuffle
        self.unshuffle = nn.PixelUnshuffle(factor)
        self.head = nn.Conv2d(config.in_channels * factor * factor, config.channels, 3, padding=1)
        self.blocks = nn.Sequential(
            *(_ResidualBlock(config.channels) for _ in range(config.blocks))
        )
        maps = FLOW_OUTPUTS if config.output == "flow" else 3
        self.tail = nn.Conv2d(config.channels, maps * factor * factor, 3, padding=1)
        self.shuffle = nn.PixelShuffle(factor)
        with torch.no_grad():  # start as the identity: a zero correction
            self.tail.weight.zero_()
            self.tail.bias.zero_()

    def forward(self, stack: torch.Tensor) -> torch.Tensor:
        """Return the corrected frames, clamped to [0, 1] (or the raw correction maps).

        Raises
        ------
        ParameterError
            If the input is not (B, in_channels, H, W).
        """
        config = self.config
        if stack.dim() != 4 or stack.shape[1] != config.in_channels:
            raise ParameterError(
                f"input must be (B, {config.in_channels}, H, W), got {tuple(stack.shape)}"
            )
        height, width = stack.shape[-2:]
        factor = config.unshuffle
        pad_h, pad_w = (-height) % factor, (-width) % factor
        x = stack
        if pad_h or pad_w:
            mode = "reflect" if min(height, width) > max(pad_h, pad_w) else "replicate"
            x = nn.functional.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        features = torch.relu(self.head(self.unshuffle(x)))
        correction = self.shuffle(self.tail(self.blocks(features)))[..., :height, :width]
        if config.output == "flow":
            return correction
        base = stack[:, config.base_channel : config.base_channel + 3]
        return (base + correction).clamp(0.0, 1.0)


def weight_logit(weight: torch.Tensor) -> torch.Tensor:
    """Return the logit of blend weights in [0, 1] (clamped away from 0 and 1)."""
    weight = weight.clamp(WEIGHT_EPS, 1.0 - WEIGHT_EPS)
    return torch.log(weight) - torch.log1p(-weight)


def compose_refined(
    corrections: torch.Tensor,
    frames: torch.Tensor,
    flows: torch.Tensor,
    weight: torch.Tensor,
    margin: int,
) -> torch.Tensor:
    """Apply a ``"flow"`` head's corrections: warp again, blend, add the residual.

    Parameters
    ----------
    corrections : torch.Tensor
        (B, 8, h, w) from :class:`FrameRestorer` with ``output="flow"``.
    frames : torch.Tensor
        (B, 6, h + 2 margin, w + 2 margin): both neighbours (RGB in [0, 1]) around the patch,
        with ``margin`` pixels of context on each side.
    flows : torch.Tensor
        (B, 4, h, w): the classical flows from the middle time to frame 0 and to frame 1, in
        pixels (dx, dy each).
    weight : torch.Tensor
        (B, 1, h, w): the classical blend weight of frame 0, in [0, 1].
    margin : int
        Context pixels of ``frames`` around the patch.

    Returns
    -------
    torch.Tensor
        (B, 3, h, w) in [0, 1].
    """
    batch, _, height, width = corrections.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=flows.dtype, device=flows.device) + margin,
        torch.arange(width, dtype=flows.dtype, device=flows.device) + margin,
        indexing="ij",
    )
    full_h, full_w = frames.shape[-2:]
    warped = []
    for index in range(2):
        flow = (
            flows[:, 2 * index : 2 * index + 2]
            + FLOW_CORRECTION_SCALE * corrections[:, 2 * index : 2 * index + 2]
        )
        x = (xs + flow[:, 0]) * (2.0 / max(full_w - 1, 1)) - 1.0
        y = (ys + flow[:, 1]) * (2.0 / max(full_h - 1, 1)) - 1.0
        grid = torch.stack([x, y], dim=-1)
        source = frames[:, 3 * index : 3 * index + 3]
        warped.append(
            nn.functional.grid_sample(
                source, grid, mode="bilinear", padding_mode="border", align_corners=True
            )
        )
    blend = torch.sigmoid(weight_logit(weight) + corrections[:, 4:5])
    image = warped[1] + blend * (warped[0] - warped[1]) + corrections[:, 5:8]
    return image.clamp(0.0, 1.0)
