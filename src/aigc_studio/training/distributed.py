"""Distributed data-parallel training under ``torchrun``.

``torchrun --nproc_per_node N -m aigc_studio train …`` starts N processes with ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` set; :func:`setup_distributed` joins them into one process group
(gloo on CPU, nccl on CUDA). Every process holds a full copy of the model; gradients are averaged
across processes by DistributedDataParallel, so all copies' parameters stay identical
(BatchNorm running statistics are each process's own, as usual under DDP; rank 0's are the ones
saved). Only rank 0 writes
checkpoints, metrics and logs. Across machines, run the same command on each node with
``torchrun --nnodes M --node_rank R --rdzv_backend c10d --rdzv_endpoint HOST:PORT``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in the group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Whether this process writes checkpoints and logs."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """Whether more than one process trains."""
        return self.world_size > 1


def pick_device(preference: str, local_rank: int = 0) -> torch.device:
    """Return the torch device for ``"auto"``, ``"cpu"`` or ``"cuda"``."""
    if preference == "cpu" or (preference == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        from aigc_studio.errors import ConfigError

        raise ConfigError("device=cuda was asked for but torch sees no CUDA device")
    return torch.device("cuda", local_rank)


def setup_distributed(device_preference: str = "auto") -> DistributedContext:
    """Join the process group when launched by torchrun, else return a single-process context."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_preference, local_rank)
    if world_size <= 1:
        return DistributedContext(device=device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
    return DistributedContext(dist.get_rank(), dist.get_world_size(), local_rank, device)


def wrap_module(module: nn.Module, context: DistributedContext) -> nn.Module:
    """Wrap a module in DistributedDataParallel when training with several processes."""
    if not context.enabled or not any(p.requires_grad for p in module.parameters()):
        return module
    device_ids = [context.device.index] if context.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=device_ids)


def unwrap_module(module: nn.Module) -> nn.Module:
    """Return the module inside a DDP wrapper (or the module itself)."""
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


def average_across_processes(value: float, context: DistributedContext) -> float:
    """Average a scalar over all processes (for logging losses)."""
    if not context.enabled:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=context.device)
    dist.all_reduce(tensor)
    return float(tensor.item()) / context.world_size


def teardown_distributed() -> None:
    """Leave the process group if one was joined, once every process has got here.

    Without the barrier a process that finishes first tears the group down while another is
    still in a collective (rank 0 writing its checkpoint), and gloo's threads can then abort
    the process at exit ("terminate called without an active exception").
    """
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
