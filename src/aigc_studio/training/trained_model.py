"""Load a trained model for evaluation or generation, and export it as shippable weights.

Three forms load the same way: a run folder (its latest checkpoint), a checkpoint file, and an
exported weights folder (``model.safetensors`` + ``config.json``: tensors only, memory-mapped,
the ecosystem's format for shipped weights). Generators load their EMA weights where trained
with them.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aigc_studio.errors import ConfigError
from aigc_studio.models.registry import ModelSpec, build_model_config, get_model_spec
from aigc_studio.training.checkpoint import load_checkpoint
from aigc_studio.training.config import TrainConfig
from aigc_studio.training.tasks import make_task
from aigc_studio.training.tasks.base import TrainingTask

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


@dataclass
class TrainedModel:
    """A model ready to evaluate or generate."""

    spec: ModelSpec
    task: TrainingTask
    modules: dict[str, nn.Module]
    step: int
    source: Path
    source_sha256: str

    @property
    def name(self) -> str:
        """Registry name of the model."""
        return self.spec.name

    def generate(self, n: int, *, seed: int = 0, labels: list[int] | None = None) -> dict[str, Any]:
        """Sample ``n`` outputs (arrays; see the family task's ``generate``)."""
        if not 1 <= n <= 10_000:
            raise ConfigError(f"n must be in [1, 10000], got {n}")
        return self.task.generate(self.modules, n, seed=seed, labels=labels)


def load_trained(
    path: str | os.PathLike[str], *, data: str | None = None, device: str = "cpu"
) -> TrainedModel:
    """Load a run folder, a checkpoint or an exported weights folder.

    Parameters
    ----------
    path : str or PathLike
        Where the model is, or the name of a shipped model (``neural-instrument``).
    data : str, optional
        A dataset to attach (needed to evaluate; generation needs none).
    device : str
        Torch device.

    Raises
    ------
    ConfigError
        If nothing loadable is there.
    """
    from aigc_studio.library import sha256_file

    source = Path(path)
    if not source.exists():
        from aigc_studio.weights import shipped_weights

        source = shipped_weights(str(path)) or source
    if (source / WEIGHTS_FILE).is_file():
        payload, file = _load_exported(source), source / WEIGHTS_FILE
    else:
        payload = load_checkpoint(source, map_location=device)
        from aigc_studio.training.checkpoint import find_checkpoint

        file = find_checkpoint(source)
    spec = get_model_spec(payload["model_name"])
    model_config = build_model_config(spec.name, payload["model_config"])
    train_values = dict(payload["train_config"])
    if data is not None:
        train_values["data"] = data
    train_config = TrainConfig.from_dict(train_values)
    data_root = None
    if data is not None:
        from aigc_studio.training.trainer import resolve_data_root

        data_root = resolve_data_root(data)
    task = make_task(spec, model_config, train_config, data_root, torch.device(device))
    task.state = dict(payload.get("task_state", {}))
    modules = task.build_modules()
    for name, module in modules.items():
        weights = payload.get("ema", {}).get(name) or payload["modules"].get(name)
        if weights is None:
            continue  # e.g. an exported generator without its discriminator
        module.load_state_dict(weights)
        module.to(device).eval()
    return TrainedModel(spec, task, modules, int(payload["step"]), source, sha256_file(file))


@functools.lru_cache(maxsize=8)
def load_shipped(name: str) -> TrainedModel:
    """Load a shipped model (``weights/<name>``) once per process, on the CPU.

    Shipped weights never change while the studio runs, so a service that runs a network on
    every request loads it once; a run folder may change, so :func:`load_trained` is not cached.
    The caller checks that the model is installed (:func:`aigc_studio.weights.shipped_weights`)
    and is of the kind it needs.

    Raises
    ------
    ConfigError
        If nothing loadable is there.
    """
    return load_trained(name)


def export_weights(
    run: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    modules: tuple[str, ...] | None = None,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Write a run's (EMA) inference weights as ``model.safetensors`` + ``config.json``.

    Parameters
    ----------
    run : str or PathLike
        Run folder or checkpoint.
    out_dir : str or PathLike
        Destination folder (created; files replaced atomically).
    modules : tuple of str, optional
        Which modules to keep (default: the generator-side ones: every module but
        discriminators).
    metrics : dict, optional
        Evaluation results to store beside the config.

    Returns
    -------
    Path
        The folder written.
    """
    from safetensors.torch import save_file

    from aigc_studio.media.atomic import atomic_output

    payload = load_checkpoint(run)
    names = modules or tuple(n for n in payload["modules"] if "discriminator" not in n)
    tensors: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name in names:
        state = payload.get("ema", {}).get(name) or payload["modules"][name]
        for key, tensor in state.items():
            # safetensors refuses tensors that share memory (a language model's tied input
            # embedding and output head): store such a tensor again as a copy; loading
            # copies the same values into the one shared parameter.
            if tensor.numel() and tensor.untyped_storage().data_ptr() in seen:
                tensor = tensor.clone()
            if tensor.numel():
                seen.add(tensor.untyped_storage().data_ptr())
            tensors[f"{name}.{key}"] = tensor.contiguous()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_output(out / WEIGHTS_FILE) as tmp:
        save_file(tensors, str(tmp), metadata={"model_name": payload["model_name"]})
    description = {
        "model_name": payload["model_name"],
        "family": payload.get("family"),
        "step": payload["step"],
        "modules": list(names),
        "model_config": payload["model_config"],
        "train_config": payload["train_config"],
        "task_state": payload.get("task_state", {}),
        "metrics": metrics or {},
    }
    with atomic_output(out / CONFIG_FILE) as tmp:
        tmp.write_text(json.dumps(description, indent=2) + "\n")
    return out


def _load_exported(folder: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    try:
        description = json.loads((folder / CONFIG_FILE).read_text())
        tensors = load_file(str(folder / WEIGHTS_FILE))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{folder}: not a valid exported model ({exc})") from exc
    modules: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in tensors.items():
        name, _, param = key.partition(".")
        modules.setdefault(name, {})[param] = tensor
    return {**description, "modules": modules, "ema": {}}
