"""Per-family training tasks: what a GAN, a VAE, an AR model, a vocoder, a denoiser do per step.

The Trainer does the rest.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import torch

from aigc_studio.models.registry import ModelSpec
from aigc_studio.training.config import TrainConfig
from aigc_studio.training.tasks.base import TrainingTask

TASKS = {
    "gan": "aigc_studio.training.tasks.gan:GANTask",
    "vae": "aigc_studio.training.tasks.vae:VAETask",
    "autoregressive": "aigc_studio.training.tasks.autoregressive:AutoregressiveTask",
    "vocoder": "aigc_studio.training.tasks.vocoder:VocoderTask",
    "enhancement": "aigc_studio.training.tasks.enhancement:EnhancementTask",
    "melody-vae": "aigc_studio.training.tasks.melody_vae:MelodyVAETask",
    "frame-restoration": "aigc_studio.training.tasks.frame_restoration:FrameRestorationTask",
}


def make_task(
    spec: ModelSpec,
    model_config: Any,
    train_config: TrainConfig,
    data_root: Path | None,
    device: torch.device,
) -> TrainingTask:
    """Create the training task of a model's family."""
    module, _, name = TASKS[spec.family].partition(":")
    task_class = getattr(importlib.import_module(module), name)
    return task_class(model_config, train_config, data_root, device)
