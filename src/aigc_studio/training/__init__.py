"""Training: one Trainer for every model family, checkpoints, DDP, and loading trained models.

The pipeline's steps 3-5 from Python::

    from aigc_studio.training import TrainConfig, train, evaluate_run, load_trained
    result = train(TrainConfig(model="specgan", data="nsynth-gm", run_dir="runs/gan", steps=2000))
    metrics = evaluate_run("runs/gan", data="nsynth-gm")
    samples = load_trained("runs/gan").generate(16, seed=0)
"""

from __future__ import annotations

import os
from typing import Any

from aigc_studio.training.config import TrainConfig, list_presets, load_preset
from aigc_studio.training.trained_model import (
    TrainedModel,
    export_weights,
    load_shipped,
    load_trained,
)
from aigc_studio.training.trainer import (
    ProgressCallback,
    Trainer,
    TrainResult,
    evaluate_modules,
    resolve_data_root,
)


def train(
    config: TrainConfig, *, resume: bool = False, on_progress: ProgressCallback | None = None
) -> TrainResult:
    """Train the model ``config`` describes (see :class:`Trainer`)."""
    return Trainer(config, resume=resume, on_progress=on_progress).fit()


def evaluate_run(
    run: str | os.PathLike[str],
    *,
    data: str | None = None,
    split: str = "test",
    batch_size: int = 16,
) -> dict[str, Any]:
    """Evaluate a trained model on a split of its dataset (the one it trained on by default)."""
    model = load_trained(run)
    data = data or model.task.train_config.data
    model.task.data_root = resolve_data_root(data)
    metrics = evaluate_modules(model.task, model.modules, batch_size, split=split)
    return {"model": model.name, "step": model.step, "split": split, "data": data, **metrics}


__all__ = [
    "TrainConfig",
    "TrainResult",
    "TrainedModel",
    "Trainer",
    "evaluate_run",
    "export_weights",
    "list_presets",
    "load_preset",
    "load_shipped",
    "load_trained",
    "resolve_data_root",
    "train",
]
