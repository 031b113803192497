"""The learned video stages at inference: interpolation refinement and deblurring networks.

Both are a :class:`~aigc_studio.models.frame_restorer.FrameRestorer` trained with
``aigc train`` (presets ``frame-refiner`` and ``deblur-net``) and shipped as
``weights/frame-refiner`` and ``weights/deblur-net``. This module wraps them as the callables
the classical stages accept (:data:`~aigc_studio.video.interpolate.Refiner`,
:data:`~aigc_studio.video.deblur.DeblurNetwork`) and runs them tile by tile, so that memory
stays bounded on large frames and the refiner only spends time where the classical estimate
can be wrong: where the two warped neighbours disagree. Elsewhere both warps show the same
picture, and the blend of two agreeing images is already right. The refiner corrects the two
flows, the blend weight and the colour (Super SloMo's second stage); the neighbours are then
warped again along the corrected flows over the whole frame, so tiles join smoothly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc_studio.errors import ConfigError, ToolMissingError
from aigc_studio.video.frame_checks import check_frame, check_number

__all__ = [
    "DEBLUR_WEIGHTS",
    "REFINER_WEIGHTS",
    "DeblurNet",
    "FrameRefiner",
    "load_deblur_network",
    "load_frame_refiner",
    "run_tiled",
]

#: Names of the shipped weights.
REFINER_WEIGHTS = "frame-refiner"
DEBLUR_WEIGHTS = "deblur-net"
#: Tile side the refiner decides on (pixels) and the margin of context around each tile.
REFINE_TILE = 64
TILE_MARGIN = 24
#: A tile is refined when the warped neighbours differ somewhere in it by more than this many
#: 8-bit levels (mean over R, G, B). On frame pairs of vtest.avi and Megamind.avi this keeps
#: about 16 % of the tiles and the PSNR within 0.01 dB of refining every tile.
DISAGREEMENT_LEVELS = 30.0
#: Tile side for whole-frame networks (deblurring): frames larger than this are cut.
FRAME_TILE = 512


def run_tiled(
    network: torch.nn.Module,
    stack: np.ndarray,
    *,
    tile: int,
    margin: int,
    selected: np.ndarray | None = None,
    batch: int = 8,
) -> np.ndarray:
    """Run a fully convolutional network over an image stack tile by tile.

    Parameters
    ----------
    network : torch.nn.Module
        Maps (B, C, h, w) to (B, K, h, w), fully convolutionally.
    stack : numpy.ndarray
        ``(H, W, C)`` float32 in [0, 1].
    tile, margin : int
        Each output tile of ``tile`` x ``tile`` pixels is computed from the tile plus
        ``margin`` pixels of context on each side (reflected at the frame's edges), so that the
        tiles join without seams as long as ``margin`` covers the network's reach.
    selected : numpy.ndarray, optional
        Boolean ``(ceil(H / tile), ceil(W / tile))``: which tiles to compute. Default: all.
    batch : int
        Tiles per forward pass.

    Returns
    -------
    numpy.ndarray
        ``(H, W, K)`` float32: the network's output on the selected tiles, NaN elsewhere.
    """
    height, width = stack.shape[:2]
    rows, cols = -(-height // tile), -(-width // tile)
    if selected is None:
        selected = np.ones((rows, cols), bool)
    pad_bottom, pad_right = rows * tile - height + margin, cols * tile - width + margin
    mode = "reflect" if min(height, width) > max(margin, pad_bottom, pad_right) else "edge"
    padded = np.pad(stack, ((margin, pad_bottom), (margin, pad_right), (0, 0)), mode=mode)
    output: np.ndarray | None = None
    corners = [(r * tile, c * tile) for r, c in zip(*np.nonzero(selected), strict=True)]
    side = tile + 2 * margin
    device = next(network.parameters()).device
    with torch.no_grad():
        for start in range(0, len(corners), batch):
            chunk = corners[start : start + batch]
            tiles = np.stack([padded[top : top + side, left : left + side] for top, left in chunk])
            inputs = torch.from_numpy(np.ascontiguousarray(tiles.transpose(0, 3, 1, 2)))
            result = network(inputs.to(device)).cpu().numpy().transpose(0, 2, 3, 1)
            if output is None:
                output = np.full((rows * tile, cols * tile, result.shape[-1]), np.nan, np.float32)
            for (top, left), out in zip(chunk, result, strict=True):
                output[top : top + tile, left : left + tile] = out[
                    margin : margin + tile, margin : margin + tile
                ]
    if output is None:
        channels = int(network(torch.zeros(1, stack.shape[-1], 8, 8, device=device)).shape[1])
        output = np.full((rows * tile, cols * tile, channels), np.nan, np.float32)
    return output[:height, :width]


def _restorer(source: str | Path | None, default: str, kind: str) -> tuple[torch.nn.Module, Any]:
    """Load a frame restorer of the given kind (shipped weights when ``source`` is None).

    Returns the network (in eval mode) and its ``TrainedModel`` (name, checkpoint hash).
    """
    name = str(source) if source is not None else default
    if source is None:
        from aigc_studio.weights import shipped_weights

        if shipped_weights(default) is None:
            raise ToolMissingError(
                f"the learned {kind} network ({default}) is not installed; train it with "
                f"`make weights-{default}` or use the classical path"
            )
        from aigc_studio.training import load_shipped

        trained = load_shipped(default)
    else:
        trained = _load(name)
    network = trained.modules.get("restorer")
    state_kind = trained.task.state.get("kind")
    if network is None or state_kind != kind:
        raise ConfigError(
            f"{name}: holds a {trained.name} model trained for {state_kind!r}, not for {kind!r}"
        )
    return network.eval(), trained


def _load(name: str) -> Any:
    from aigc_studio.training import load_trained

    return load_trained(name)


class FrameRefiner:
    """The learned interpolation refinement as a :data:`~aigc_studio.video.interpolate.Refiner`.

    Parameters
    ----------
    network : torch.nn.Module
        A ``FrameRestorer`` with ``output="flow"`` and 14 input channels (see
        :func:`~aigc_studio.datasets.video_frames.triplet_input`, followed by the two flows).
    threshold : float
        Disagreement (8-bit levels) above which a tile is refined; 0 refines every tile.
    name, checkpoint_sha256 : str, optional
        Where the network came from, for provenance.

    Attributes
    ----------
    refined_fraction : float
        Fraction of the tiles refined so far (over all frames).
    """

    def __init__(
        self,
        network: torch.nn.Module,
        *,
        threshold: float = DISAGREEMENT_LEVELS,
        name: str | None = None,
        checkpoint_sha256: str | None = None,
    ) -> None:
        self.network = network
        self.name, self.checkpoint_sha256 = name, checkpoint_sha256
        self.threshold = check_number(threshold, "threshold", 0.0, 255.0)
        self._tiles = 0
        self._refined = 0

    @property
    def refined_fraction(self) -> float:
        """Fraction of the tiles refined so far (over all frames)."""
        return self._refined / self._tiles if self._tiles else 0.0

    def __call__(self, estimate: Any) -> np.ndarray:
        """Return the refined frame (float, 0-255) for a ``WarpEstimate``."""
        from aigc_studio.datasets.video_frames import triplet_input
        from aigc_studio.models.frame_restorer import FLOW_INPUT_SCALE

        blended = estimate.blended
        disagreement = np.abs(estimate.warped0 - estimate.warped1).mean(axis=-1)
        selected = _tiles_over(disagreement, REFINE_TILE, self.threshold)
        self._tiles += selected.size
        self._refined += int(selected.sum())
        if not selected.any():
            return blended
        stack = np.concatenate(
            [
                triplet_input(estimate).astype(np.float32) / 255.0,
                estimate.flow_t0 / FLOW_INPUT_SCALE,
                estimate.flow_t1 / FLOW_INPUT_SCALE,
            ],
            axis=-1,
        )
        corrections = run_tiled(
            self.network, stack, tile=REFINE_TILE, margin=TILE_MARGIN, selected=selected
        )
        return apply_corrections(estimate, np.nan_to_num(corrections, nan=0.0))


def apply_corrections(estimate: Any, corrections: np.ndarray) -> np.ndarray:
    """Warp again along corrected flows, blend with the corrected weight, add the residual.

    The numpy twin of :func:`~aigc_studio.models.frame_restorer.compose_refined` for whole
    frames: ``corrections`` is ``(H, W, 8)`` (zero where nothing is corrected, which gives back
    the classical blend). Returns float RGB in 0-255.
    """
    from aigc_studio.models.frame_restorer import FLOW_CORRECTION_SCALE, WEIGHT_EPS
    from aigc_studio.video.optical_flow import warp_backward

    warped = []
    for index, (frame, flow) in enumerate(
        ((estimate.frame0, estimate.flow_t0), (estimate.frame1, estimate.flow_t1))
    ):
        delta = corrections[..., 2 * index : 2 * index + 2]
        if not delta.any():
            warped.append(estimate.warped0 if index == 0 else estimate.warped1)
            continue
        corrected = (flow + FLOW_CORRECTION_SCALE * delta).astype(np.float32)
        warped.append(warp_backward(frame.astype(np.float32), corrected))
    weight = np.clip(estimate.weight0, WEIGHT_EPS, 1.0 - WEIGHT_EPS)
    logit = np.log(weight) - np.log1p(-weight) + corrections[..., 4]
    blend = (1.0 / (1.0 + np.exp(-logit)))[..., None]
    image = warped[1] + blend * (warped[0] - warped[1]) + 255.0 * corrections[..., 5:8]
    return np.clip(image, 0.0, 255.0)


def _tiles_over(values: np.ndarray, tile: int, threshold: float) -> np.ndarray:
    """Which ``tile`` x ``tile`` tiles hold a value above ``threshold``."""
    height, width = values.shape
    rows, cols = -(-height // tile), -(-width // tile)
    padded = np.zeros((rows * tile, cols * tile), np.float32)
    padded[:height, :width] = values
    peaks = padded.reshape(rows, tile, cols, tile).max(axis=(1, 3))
    return peaks > threshold


class DeblurNet:
    """The learned deblurring network as a :data:`~aigc_studio.video.deblur.DeblurNetwork`.

    Parameters
    ----------
    network : torch.nn.Module
        A ``FrameRestorer`` with 3 input channels.
    strength : float
        In [0, 3]: 1 returns the network's output, 0 the input, between them a mix (above 1
        extrapolates the correction).
    name, checkpoint_sha256 : str, optional
        Where the network came from, for provenance.
    """

    def __init__(
        self,
        network: torch.nn.Module,
        *,
        strength: float = 1.0,
        name: str | None = None,
        checkpoint_sha256: str | None = None,
    ) -> None:
        self.network = network
        self.name, self.checkpoint_sha256 = name, checkpoint_sha256
        self.strength = check_number(strength, "strength", 0.0, 3.0)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Return the deblurred frame (float, 0-255) of a ``uint8`` RGB frame."""
        check_frame(frame)
        image = frame.astype(np.float32) / 255.0
        tile = min(FRAME_TILE, max(frame.shape[:2]))
        sharp = run_tiled(self.network, image, tile=tile, margin=TILE_MARGIN)
        return 255.0 * (image + self.strength * (sharp - image))


def load_frame_refiner(
    source: str | Path | None = None, *, threshold: float = DISAGREEMENT_LEVELS
) -> FrameRefiner:
    """Return the learned interpolation refinement, ready to pass as ``refine``.

    Parameters
    ----------
    source : str or Path, optional
        A run folder, checkpoint or exported weights; default the shipped ``frame-refiner``.
    threshold : float
        See :class:`FrameRefiner`.

    Raises
    ------
    ToolMissingError
        If ``source`` is None and no refiner is shipped.
    ConfigError
        If ``source`` holds another kind of model.
    """
    network, trained = _restorer(source, REFINER_WEIGHTS, "interpolation")
    return FrameRefiner(
        network, threshold=threshold, name=trained.name, checkpoint_sha256=trained.source_sha256
    )


def load_deblur_network(source: str | Path | None = None, *, strength: float = 1.0) -> DeblurNet:
    """Return the learned deblurring network, ready to pass to ``Deblurrer``.

    Parameters
    ----------
    source : str or Path, optional
        A run folder, checkpoint or exported weights; default the shipped ``deblur-net``.
    strength : float
        See :class:`DeblurNet`.

    Raises
    ------
    ToolMissingError
        If ``source`` is None and no deblurring network is shipped.
    ConfigError
        If ``source`` holds another kind of model.
    """
    network, trained = _restorer(source, DEBLUR_WEIGHTS, "deblur")
    return DeblurNet(
        network, strength=strength, name=trained.name, checkpoint_sha256=trained.source_sha256
    )
