"""What a model family contributes to training: its modules, its data, and one step.

The :class:`~aigc_studio.training.trainer.Trainer` owns everything that is the same for every
family (optimizers, clipping, EMA, mixed precision, checkpoints, logging, DDP); a family's task only
builds its modules and datasets and defines ``step`` (GAN: a D and a G update; VAE: the ELBO;
autoregressive: next-token cross-entropy; vocoder: reconstruction + adversarial losses).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from torch.utils.data import Dataset

from aigc_studio.errors import ConfigError
from aigc_studio.training.config import TrainConfig

#: ``update(optimizer_name, loss)`` runs backward, clipping and the optimizer step; returns the
#: gradient norm before clipping.
Update = Callable[[str, torch.Tensor], float]


@dataclass
class OptimizerPlan:
    """Which modules one optimizer updates, and at which learning rate."""

    modules: tuple[str, ...]
    lr: float
    betas: tuple[float, float] | None = None


@dataclass
class TrainingTask:
    """Base of the per-family tasks.

    Attributes
    ----------
    model_config : Any
        The model's config dataclass instance.
    train_config : TrainConfig
        The run's configuration (``train_config.task`` holds this family's options).
    data_root : Path or None
        The dataset cache folder (None when only generating from a checkpoint).
    device : torch.device
        Where tensors live.
    state : dict
        Values the task derives from the data and needs again at generation time (e.g. the
        normalization statistics, the label values); saved in every checkpoint.
    """

    family: ClassVar[str] = ""
    #: Task options this family accepts, with their defaults.
    default_options: ClassVar[dict[str, Any]] = {}
    #: Modules of which an exponential moving average is kept (and shipped).
    ema_modules: ClassVar[tuple[str, ...]] = ()

    model_config: Any
    train_config: TrainConfig
    data_root: Path | None
    device: torch.device
    state: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.train_config.task) - set(self.default_options))
        if unknown:
            known = ", ".join(sorted(self.default_options)) or "none"
            raise ConfigError(f"unknown {self.family} task option(s) {unknown}; known: {known}")
        self.options = {**self.default_options, **self.train_config.task}

    # -- what every family defines ---------------------------------------------------------

    def prepare(self) -> None:
        """Read what the task needs from the data (statistics, labels) into ``state``."""

    def build_modules(self) -> dict[str, nn.Module]:
        """Create the modules (on CPU, freshly initialized)."""
        raise NotImplementedError

    def optimizer_plans(self) -> dict[str, OptimizerPlan]:
        """Name the optimizers and the modules each one updates."""
        raise NotImplementedError

    def dataset(self, split: str) -> Dataset:
        """Return the torch dataset of a split ("train", "valid" or "test")."""
        raise NotImplementedError

    def step(
        self, batch: Any, step: int, modules: dict[str, nn.Module], update: Update
    ) -> dict[str, float]:
        """Run one training step and return the losses to log."""
        raise NotImplementedError

    @torch.no_grad()
    def evaluate(self, modules: dict[str, nn.Module], batches: Iterator[Any]) -> dict[str, float]:
        """Compute validation metrics over ``batches`` with the (EMA) modules in eval mode."""
        return {}

    @torch.no_grad()
    def generate(
        self, modules: dict[str, nn.Module], n: int, *, seed: int, labels: list[int] | None
    ) -> dict[str, Any]:
        """Sample ``n`` outputs; returns arrays (writing files is the caller's job)."""
        raise ConfigError(f"{self.family} models do not generate on their own")

    # -- shared helpers --------------------------------------------------------------------

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Mixed precision for the forward passes where the run asks for it and CUDA is used."""
        # bfloat16 only: it needs no loss scaling, and GPUs without it train in float32.
        if self.train_config.amp and self.device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()
