"""Exponential moving average of model weights (Polyak averaging), kept for generators.

Sampling from the averaged generator gives visibly better GAN samples (Karras et al. 2018,
Yazıcı et al. 2019); the average is what the studio ships.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class ExponentialMovingAverage:
    """A frozen copy of a module whose parameters track ``decay * avg + (1 - decay) * current``.

    Buffers (e.g. BatchNorm statistics) are copied, not averaged. The decay warms up as
    ``min(decay, (1 + t) / (10 + t))`` after ``t`` updates (as in TensorFlow's and Karras et
    al.'s implementations), so the average does not stay anchored to the random initialization
    for the first thousands of steps.

    Parameters
    ----------
    module : nn.Module
        The module to track (not a DDP wrapper: pass ``ddp.module``).
    decay : float
        In [0, 1); 0.999 averages over about the last thousand steps.
    """

    def __init__(self, module: nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(module).eval()
        for parameter in self.module.parameters():
            parameter.requires_grad_(False)

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        """Move the average one step towards ``module``'s current weights."""
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for averaged, current in zip(self.module.parameters(), module.parameters(), strict=True):
            averaged.lerp_(current.detach(), 1.0 - decay)
        for averaged, current in zip(self.module.buffers(), module.buffers(), strict=True):
            averaged.copy_(current)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Weights of the averaged module."""
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore averaged weights."""
        self.module.load_state_dict(state)
