"""What the GAN and VAE tasks share: normalized log-mel data, optional label conditioning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc_studio.errors import ConfigError
from aigc_studio.training.tasks.base import TrainingTask


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

        self._table = torch.full((max(self.values) + 1,), -1, dtype=torch.long)
        self._table[torch.tensor(self.values)] = torch.arange(len(self.values))

    def to_index(self, labels: torch.Tensor) -> torch.Tensor:
        """Class indices of a tensor of label values."""
        return self._table.to(labels.device)[labels.long()]

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


class SpectrogramTask(TrainingTask):
    """Base of tasks over normalized log-mel items, optionally conditioned on a label field.

    Task option ``label_field`` names the dataset field to condition on (e.g. ``"pitch"``); the
    model's ``num_classes`` must equal its number of distinct values.
    """

    def prepare(self) -> None:
        """Read the normalization statistics, the feature and the label values."""
        from aigc_studio.datasets.cache import read_manifest

        if self.data_root is None:
            return
        manifest = read_manifest(self.data_root)
        self.state["mel_stats"] = manifest["stats"]
        self.state["features"] = manifest.get("params", {})
        field = self.options["label_field"]
        self.state["label_field"] = field
        if field:
            values = label_values(self.data_root, field)
            if len(values) != self.model_config.num_classes:
                raise ConfigError(
                    f"the data has {len(values)} distinct {field} values; "
                    f"set the model's num_classes to {len(values)} (it is "
                    f"{self.model_config.num_classes})"
                )
            self.state["label_values"] = values
        elif self.model_config.num_classes:
            raise ConfigError(
                f"a conditional {self.family} (num_classes > 0) needs task option label_field"
            )

    def dataset(self, split: str) -> Any:
        """Return the normalized log-mel items of a split (with labels when conditioning)."""
        assert self.data_root is not None
        return mel_dataset(
            self.data_root, split, self.model_config.frames, self.state.get("label_field")
        )

    def label_index(self) -> LabelIndex:
        """Return the mapping of label values to class indices (built once)."""
        if getattr(self, "_label_index", None) is None:
            self._label_index = LabelIndex(self.state["label_values"])
        return self._label_index

    def batch_labels(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """Class indices of a batch's labels, or None for an unconditional model."""
        field = self.state.get("label_field")
        return self.label_index().to_index(batch[field]) if field else None

    def sample_labels(
        self, n: int, labels: list[int] | None, rng: torch.Generator
    ) -> tuple[torch.Tensor | None, list[int] | None]:
        """Class indices and label values for ``n`` samples.

        Requested ``labels`` are cycled; without them, labels are drawn uniformly from the
        training values.

        Raises
        ------
        ConfigError
            If labels are given to an unconditional model, or a value was not in the data.
        """
        if not self.model_config.num_classes:
            if labels:
                raise ConfigError("this model is unconditional; it takes no --label")
            return None, None
        index = self.label_index()
        if labels:
            chosen = [labels[i % len(labels)] for i in range(n)]
        else:
            picks = torch.randint(len(index.values), (n,), generator=rng)
            chosen = [index.values[int(i)] for i in picks]
        return torch.tensor(index.check(chosen)), chosen
