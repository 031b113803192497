"""Training step of the learned video stages: interpolation refinement and deblurring.

``kind="interpolation"`` trains on the ``frame-triplets`` cache: the input is the classical
middle-frame estimate (both warped neighbours, their blend and its weight, and the two flows)
and the target the real middle frame; the network corrects the flows, the blend weight and the
colour, and the neighbours are warped again along the corrected flows
(:func:`~aigc_studio.models.frame_restorer.compose_refined`). ``kind="deblur"`` trains on the
``sharp-frames`` cache and blurs each patch on the fly with its own random kernel: a linear
motion streak (the blur of a moving camera or subject), a defocus disk, a Gaussian, or none (so
that a sharp frame is left alone), then adds sensor noise and rounds to 8 bits, the usual
synthetic recipe of learned deblurring.

The loss is the Charbonnier penalty (a smooth L1, Lai et al. 2017) on [0, 1] pixels, or with
``loss="mse"`` the squared error, which is what PSNR measures;
validation reports the PSNR of the output and of the input it corrects (the blend, or the
blurred frame), on whole patches, with a fixed blur per validation batch.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from typing_extensions import override

from aigc_studio.errors import ConfigError
from aigc_studio.training.tasks.base import OptimizerPlan, TrainingTask, Update

#: What the restorer learns, and the cache fields each kind trains on.
KINDS: dict[str, tuple[str, ...]] = {
    "interpolation": ("inputs", "flows", "frames", "target"),
    "deblur": ("sharp",),
}
#: Input channels and head of the network for each kind.
NETWORK_SHAPES = {"interpolation": (14, "flow"), "deblur": (3, "image")}
#: Blur kernels of ``kind="deblur"``, in the order of ``blur_mix``.
BLUR_KINDS = ("motion", "defocus", "gaussian", "none")
_EVAL_SEED = 20_240_601
#: Training losses of the ``loss`` option.
LOSSES = ("charbonnier", "mse")


def random_blur_kernels(
    count: int, size: int, options: dict[str, Any], generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw ``count`` normalized blur kernels of ``size`` x ``size`` pixels.

    Parameters
    ----------
    count, size : int
        How many kernels, and their (odd) side.
    options : dict
        ``blur_mix`` (weights of :data:`BLUR_KINDS`), ``motion_length``, ``defocus_radius``,
        ``gaussian_sigma`` (each a ``[low, high]`` range in pixels).
    generator : torch.Generator, optional
        Source of randomness (default: torch's global one).

    Returns
    -------
    torch.Tensor
        (count, size, size) float32, each summing to 1.
    """

    def uniform(bounds: list[float]) -> torch.Tensor:
        low, high = (float(v) for v in bounds)
        return low + (high - low) * torch.rand(count, generator=generator)

    half = size // 2
    axis = torch.arange(size, dtype=torch.float32) - half
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    ys, xs = ys[None], xs[None]
    mix = torch.tensor([float(w) for w in options["blur_mix"]])
    kind = torch.multinomial(mix / mix.sum(), count, replacement=True, generator=generator)
    # Motion: an anti-aliased segment through the centre (distance to it, 1 px falloff).
    length = uniform(options["motion_length"]).clamp(max=size - 1)[:, None, None]
    angle = math.pi * torch.rand(count, generator=generator)[:, None, None]
    along = xs * torch.cos(angle) + ys * torch.sin(angle)
    on_line = along.clamp(-length / 2, length / 2)
    distance = torch.hypot(xs - on_line * torch.cos(angle), ys - on_line * torch.sin(angle))
    motion = (1.0 - distance).clamp(min=0.0)
    # Defocus: a disk with an anti-aliased rim.
    radius = uniform(options["defocus_radius"]).clamp(max=half)[:, None, None]
    defocus = (radius + 0.5 - torch.hypot(xs, ys)).clamp(0.0, 1.0)
    sigma = uniform(options["gaussian_sigma"])[:, None, None]
    gaussian = torch.exp(-(xs.square() + ys.square()) / (2 * sigma.square()))
    none = ((xs == 0) & (ys == 0)).float().expand(count, size, size)
    kernels = torch.stack([motion, defocus, gaussian, none], dim=1)
    kernels = kernels[torch.arange(count), kind]
    return kernels / kernels.sum(dim=(-2, -1), keepdim=True)


def blur_batch(
    sharp: torch.Tensor, options: dict[str, Any], generator: torch.Generator | None = None
) -> torch.Tensor:
    """Blur each (B, 3, H, W) image in [0, 1] with its own kernel, add noise, round to 8 bits."""
    batch, channels, height, width = sharp.shape
    size = int(options["kernel_size"])
    kernels = random_blur_kernels(batch, size, options, generator).to(sharp.device)
    weight = kernels.repeat_interleave(channels, dim=0)[:, None]
    pad = size // 2
    mode = "reflect" if min(height, width) > pad else "replicate"
    padded = nn.functional.pad(sharp, (pad, pad, pad, pad), mode=mode)
    blurred = nn.functional.conv2d(
        padded.reshape(1, batch * channels, height + 2 * pad, width + 2 * pad),
        weight,
        groups=batch * channels,
    ).reshape(batch, channels, height, width)
    low, high = (float(v) for v in options["noise_sigma"])
    sigma = (low + (high - low) * torch.rand(batch, generator=generator)) / 255.0
    noise = torch.randn(blurred.shape, generator=generator) * sigma[:, None, None, None]
    noisy = blurred + noise.to(sharp.device)
    return torch.round(noisy.clamp(0.0, 1.0) * 255.0) / 255.0


class FrameRestorationTask(TrainingTask):
    """Train a :class:`~aigc_studio.models.frame_restorer.FrameRestorer` on frame patches.

    Task options: ``kind`` (``"interpolation"`` or ``"deblur"``), ``crop`` (side of the random
    training crop of each stored patch; 0 keeps the patch), ``flip`` (random horizontal and
    vertical flips), ``loss`` (``"charbonnier"`` or ``"mse"``), ``charbonnier_eps``, and for
    deblurring ``blur_mix`` (weights of motion,
    defocus, Gaussian and no blur), ``motion_length``, ``defocus_radius``, ``gaussian_sigma``
    (ranges in pixels), ``noise_sigma`` (range in 8-bit levels) and ``kernel_size``.
    """

    family = "frame-restoration"
    default_options: ClassVar[dict[str, Any]] = {
        "kind": "interpolation",
        "crop": 48,
        "flip": True,
        "loss": "charbonnier",
        "charbonnier_eps": 1e-3,
        "blur_mix": [0.45, 0.25, 0.2, 0.1],
        "motion_length": [3.0, 17.0],
        "defocus_radius": [1.0, 4.0],
        "gaussian_sigma": [0.6, 2.5],
        "noise_sigma": [0.0, 2.0],
        "kernel_size": 19,
    }
    ema_modules = ("restorer",)

    def __post_init__(self) -> None:
        super().__post_init__()
        options = self.options
        if options["kind"] not in KINDS:
            raise ConfigError(f"kind must be one of {list(KINDS)}, got {options['kind']!r}")
        channels, head = NETWORK_SHAPES[options["kind"]]
        if self.model_config.in_channels != channels or self.model_config.output != head:
            raise ConfigError(
                f"a {options['kind']} restorer takes {channels} input channels and "
                f'output="{head}"; the model has {self.model_config.in_channels} and '
                f"{self.model_config.output!r}"
            )
        if options["crop"] != 0 and not 8 <= options["crop"] <= 256:
            raise ConfigError(f"crop must be 0 or in [8, 256], got {options['crop']}")
        size = options["kernel_size"]
        if not (isinstance(size, int) and 3 <= size <= 63 and size % 2 == 1):
            raise ConfigError(f"kernel_size must be an odd integer in [3, 63], got {size}")
        mix = options["blur_mix"]
        if len(mix) != len(BLUR_KINDS) or min(mix) < 0 or sum(mix) <= 0:
            raise ConfigError(
                f"blur_mix must be {len(BLUR_KINDS)} weights >= 0 (not all 0), got {mix}"
            )
        for name in ("motion_length", "defocus_radius", "gaussian_sigma", "noise_sigma"):
            low, high = options[name]
            if not 0 <= low <= high <= 64:
                raise ConfigError(f"{name} must be [low, high] within [0, 64], got {[low, high]}")
        if options["gaussian_sigma"][0] <= 0:
            raise ConfigError("gaussian_sigma must be above 0")
        if options["loss"] not in LOSSES:
            raise ConfigError(f"loss must be one of {list(LOSSES)}, got {options['loss']!r}")
        if not options["charbonnier_eps"] > 0:
            raise ConfigError(f"charbonnier_eps must be > 0, got {options['charbonnier_eps']}")

    @property
    def kind(self) -> str:
        """``"interpolation"`` or ``"deblur"``."""
        return str(self.options["kind"])

    @override
    def prepare(self) -> None:
        from aigc_studio.datasets.cache import read_manifest

        self.state["kind"] = self.kind
        if self.data_root is None:
            return
        manifest = read_manifest(self.data_root)
        self.state["margin"] = int(manifest.get("params", {}).get("margin", 0))
        fields = set(manifest.get("fields", {}))
        missing = set(KINDS[self.kind]) - fields
        if missing:
            source = "frame-triplets" if self.kind == "interpolation" else "sharp-frames"
            raise ConfigError(
                f"dataset {self.data_root} lacks field(s) {sorted(missing)}; a {self.kind} "
                f"restorer trains on `aigc data prepare --dataset {source}`"
            )

    @override
    def build_modules(self) -> dict[str, nn.Module]:
        from aigc_studio.models.frame_restorer import FrameRestorer

        return {"restorer": FrameRestorer(self.model_config)}

    @override
    def optimizer_plans(self) -> dict[str, OptimizerPlan]:
        return {"restorer": OptimizerPlan(("restorer",), self.train_config.lr)}

    @override
    def dataset(self, split: str) -> Any:
        from aigc_studio.datasets.torch_dataset import CachedDataset

        assert self.data_root is not None
        return CachedDataset(self.data_root, split, fields=KINDS[self.kind])

    def tensors(
        self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Return a batch as (B, C, H, W) float tensors: images in [0, 1], flows in pixels.

        Interpolation: ``inputs``, ``flows``, ``frames``, ``target``; deblurring: ``blurred``
        (drawn with ``generator``) and ``target``.
        """

        def images(values: torch.Tensor) -> torch.Tensor:
            return values.to(self.device).permute(0, 3, 1, 2).float() / 255.0

        if self.kind == "interpolation":
            return {
                "inputs": images(batch["inputs"]),
                "flows": batch["flows"].to(self.device).permute(0, 3, 1, 2).float(),
                "frames": images(batch["frames"]),
                "target": images(batch["target"]),
            }
        sharp = images(batch["sharp"])
        return {"blurred": blur_batch(sharp, self.options, generator), "target": sharp}

    def _augment(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Random crop and flips, the same for every tensor of the batch (flows follow)."""
        crop = int(self.options["crop"])
        height, width = tensors["target"].shape[-2:]
        out = dict(tensors)
        if crop and crop < min(height, width):
            top = int(torch.randint(0, height - crop + 1, ()).item())
            left = int(torch.randint(0, width - crop + 1, ()).item())
            margin = int(self.state.get("margin", 0))
            for name, value in tensors.items():
                # Context around the patch (the neighbour frames) keeps its margin.
                extra = 2 * margin if name == "frames" else 0
                out[name] = value[..., top : top + crop + extra, left : left + crop + extra]
        if self.options["flip"]:
            for dim, component in ((-1, 0), (-2, 1)):
                if bool(torch.rand(()) < 0.5):
                    out = {name: value.flip(dim) for name, value in out.items()}
                    if "flows" in out:
                        sign = torch.ones(4, device=out["flows"].device)
                        sign[component::2] = -1.0
                        out["flows"] = out["flows"] * sign[None, :, None, None]
        return out

    def restore(self, network: nn.Module, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
        """Run the network on a batch of :meth:`tensors` and return the restored images."""
        from aigc_studio.models.frame_restorer import FLOW_INPUT_SCALE, compose_refined

        if self.kind == "deblur":
            return network(tensors["blurred"])
        inputs, flows = tensors["inputs"], tensors["flows"]
        corrections = network(torch.cat([inputs, flows / FLOW_INPUT_SCALE], dim=1))
        return compose_refined(
            corrections, tensors["frames"], flows, inputs[:, 9:10], int(self.state.get("margin", 0))
        )

    def baseline(self, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
        """Return the image the network corrects: the classical blend, or the blurred frame."""
        if self.kind == "deblur":
            return tensors["blurred"]
        return tensors["inputs"][:, 6:9]

    def _loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.options["loss"] == "mse":
            return (output - target).square().mean()
        eps = float(self.options["charbonnier_eps"])
        return torch.sqrt((output - target).square() + eps * eps).mean()

    @override
    def step(
        self, batch: Any, step: int, modules: dict[str, nn.Module], update: Update
    ) -> dict[str, float]:
        tensors = self._augment(self.tensors(batch))
        output = self.restore(modules["restorer"], tensors)
        loss = self._loss(output, tensors["target"])
        grad_norm = update("restorer", loss)
        return {"loss": float(loss.detach()), "grad_norm": grad_norm}

    @override
    @torch.no_grad()
    def evaluate(self, modules: dict[str, nn.Module], batches: Any) -> dict[str, float]:
        """PSNR of the restored valid patches, of their inputs, and the gain (dB).

        PSNR here is of the mean squared error over all patches together, as a whole frame's
        PSNR pools its pixels: an average of per-patch PSNRs would be ruled by flat patches,
        whose PSNR is near-infinite and drops steeply with any small change.
        """
        restored, inputs, count = 0.0, 0.0, 0
        for index, batch in enumerate(batches):
            generator = torch.Generator().manual_seed(_EVAL_SEED + index)
            tensors = self.tensors(batch, generator)
            output = self.restore(modules["restorer"], tensors)
            target = tensors["target"]
            restored += float((output - target).square().sum())
            inputs += float((self.baseline(tensors) - target).square().sum())
            count += target.numel()
        if not count:
            return {}
        psnr = -10.0 * math.log10(max(restored / count, 1e-10))
        psnr_input = -10.0 * math.log10(max(inputs / count, 1e-10))
        return {"psnr": psnr, "psnr_input": psnr_input, "psnr_gain": psnr - psnr_input}

    @override
    @torch.no_grad()
    def generate(
        self, modules: dict[str, nn.Module], n: int, *, seed: int, labels: list[int] | None
    ) -> dict[str, Any]:
        """Restore ``n`` held-out test patches (a restorer needs an input to start from).

        Returns ``images`` (n, H, 3 W, 3) uint8: input, restored output and truth side by side.
        """
        if labels:
            raise ConfigError("a frame restorer takes no --label")
        dataset = self.dataset("test")
        if len(dataset) == 0:
            raise ConfigError("the dataset's test split is empty")
        generator = torch.Generator().manual_seed(seed)
        picks = torch.randperm(len(dataset), generator=generator)[:n]
        items = [dataset[int(i)] for i in picks]
        batch = {key: torch.stack([item[key] for item in items]) for key in KINDS[self.kind]}
        tensors = self.tensors(batch, generator)
        output = self.restore(modules["restorer"], tensors)
        strips = torch.cat([self.baseline(tensors), output, tensors["target"]], dim=-1)
        images = (strips.permute(0, 2, 3, 1).cpu().numpy() * 255.0).round()
        return {"images": np.clip(images, 0, 255).astype(np.uint8)}
