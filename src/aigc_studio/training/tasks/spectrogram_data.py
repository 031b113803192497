"""Spectrogram datasets shared by the GAN and VAE tasks: normalized log-mel items and labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc_studio.errors import ConfigError


def label_values(data_root: Path, field: str) -> list[int]:
    """Sorted distinct values of an integer label field over the training split.

    Raises
    ------
    ConfigError
        If the dataset has no such field.
    """
    from aigc_studio.datasets.cache import load_split, read_manifest

    manifest = read_manifest(data_root)
    if field not in manifest.get("fields", {}):
        known = ", ".join(sorted(manifest.get("fields", {})))
        raise ConfigError(f"dataset {data_root} has no field {field!r} to condition on ({known})")
    values = load_split(data_root, "train", fields=[field])[field]
    return sorted(int(v) for v in np.unique(np.asarray(values)))


def mel_dataset(data_root: Path, split: str, frames: int, label_field: str | None) -> Any:
    """Return the normalized log-mel items of a split (with a label field when conditioning)."""
    from aigc_studio.datasets.torch_dataset import CachedDataset

    fields = ("mel", label_field) if label_field else ("mel",)
    return CachedDataset(data_root, split, fields=fields, normalize_mel=True, frames=frames)


class LabelIndex:
    """Map label values (e.g. MIDI pitches) to class indices 0..K-1 and back."""

    def __init__(self, values: list[int]) -> None:
        self.values = list(values)
        self._lookup = {v: i for i, v in enumerate(self.values)}

    def to_index(self, labels: torch.Tensor) -> torch.Tensor:
        """Class indices of a tensor of label values."""
        table = torch.full((max(self.values) + 1,), -1, dtype=torch.long)
        table[torch.tensor(self.values)] = torch.arange(len(self.values))
        return table.to(labels.device)[labels.long()]

    def check(self, requested: list[int]) -> list[int]:
        """Class indices of user-requested label values.

        Raises
        ------
        ConfigError
            If a value was not in the training data.
        """
        missing = [v for v in requested if v not in self._lookup]
        if missing:
            raise ConfigError(
                f"label(s) {missing} were not in the training data "
                f"(known: {self.values[0]}..{self.values[-1]})"
            )
        return [self._lookup[v] for v in requested]
