"""Pretrained weights the project trained itself, shipped with the package.

Each model is a folder ``weights/<name>/`` with ``model.safetensors`` (tensors only),
``config.json`` (the model and training configuration and the task state) and ``metrics.json``
(how it scored); ``make weights-<name>`` reproduces it with ``aigc train`` on the CPU.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def shipped_weights(name: str) -> Path | None:
    """Return the folder of a shipped model, or None if this installation has none by that name."""
    folder = Path(str(resources.files("aigc_studio") / "weights" / name))
    return folder if (folder / "model.safetensors").is_file() else None


def list_shipped_weights() -> list[str]:
    """Names of the shipped models."""
    root = Path(str(resources.files("aigc_studio") / "weights"))
    return sorted(p.name for p in root.iterdir() if (p / "model.safetensors").is_file())
