"""Deterministic batches: which items form step ``s`` is a pure function of (seed, step).

That is what makes ``--resume`` exact (the resumed run sees the batches the uninterrupted run
would have seen) and what shards data across DDP processes without a sampler: the global batch of
a step is cut into one disjoint slice per process.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from aigc_studio.errors import ConfigError


class StepBatcher:
    """Yield the batch of any step, shuffling once per epoch with a seed derived from the epoch.

    Parameters
    ----------
    dataset : Dataset
        Indexable, returning dicts of tensors (or tensors).
    batch_size : int
        Items per process per step.
    seed : int
        Run seed.
    rank, world_size : int
        This process's slice of the global batch.
    """

    def __init__(
        self, dataset: Dataset, batch_size: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        self.dataset = dataset
        self.size = len(dataset)  # type: ignore[arg-type]
        self.batch_size = batch_size
        self.global_batch = batch_size * world_size
        if self.size < self.global_batch:
            raise ConfigError(
                f"the training split has {self.size} items, fewer than one global batch "
                f"({batch_size} x {world_size} processes); use a smaller --batch-size"
            )
        self.steps_per_epoch = self.size // self.global_batch
        self.seed = seed
        self.rank = rank

    def indices(self, step: int) -> np.ndarray:
        """Dataset indices of this process's part of the batch of ``step`` (0-based)."""
        epoch, position = divmod(step, self.steps_per_epoch)
        order = np.random.default_rng([self.seed, epoch]).permutation(self.size)
        start = position * self.global_batch + self.rank * self.batch_size
        return order[start : start + self.batch_size]

    def batch(self, step: int, device: torch.device) -> Any:
        """Collate the items of ``step`` into tensors on ``device``."""
        items = [self.dataset[int(i)] for i in self.indices(step)]
        return collate(items, device)


def collate(items: list[Any], device: torch.device) -> Any:
    """Stack a list of tensors, or of dicts of tensors, into batched tensors on ``device``."""
    first = items[0]
    if isinstance(first, dict):
        return {key: collate([item[key] for item in items], device) for key in first}
    if isinstance(first, torch.Tensor):
        return torch.stack(items).to(device)
    return torch.as_tensor(np.stack(items)).to(device)
