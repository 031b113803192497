"""The one training loop every model family goes through.

It owns what is the same for all families: AdamW optimizers, gradient clipping, EMA weights,
mixed precision, deterministic batches, atomic checkpoints and exact ``--resume``, metrics
(JSONL + TensorBoard), a rich progress bar, clean stop on Ctrl-C, and DDP under ``torchrun``.
What differs per family is a task's ``step`` (see ``aigc_studio.training.tasks``).

Exact resume: the batch of a step is a function of (seed, step), and torch's generator is
reseeded from (seed, step, rank) before every step, so a resumed run repeats the uninterrupted
run's losses to the last bit without needing every process's RNG state.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from aigc_studio.errors import ConfigError
from aigc_studio.models.registry import build_model_config, get_model_spec
from aigc_studio.training.batching import StepBatcher
from aigc_studio.training.checkpoint import (
    capture_rng_state,
    find_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from aigc_studio.training.config import TrainConfig
from aigc_studio.training.distributed import (
    DistributedContext,
    average_across_processes,
    setup_distributed,
    unwrap_module,
    wrap_module,
)
from aigc_studio.training.ema import ExponentialMovingAverage
from aigc_studio.training.metrics_log import MetricsLog
from aigc_studio.training.tasks import make_task
from aigc_studio.training.tasks.base import TrainingTask

#: ``on_progress(step, total, losses)`` after each step (rank 0 only).
ProgressCallback = Callable[[int, int, dict[str, float]], None]


@dataclass
class TrainResult:
    """What a finished (or interrupted) run reached."""

    run_dir: Path
    step: int
    interrupted: bool
    losses: dict[str, float] = field(default_factory=dict)
    checkpoint: Path | None = None


def step_seed(seed: int, step: int, rank: int) -> int:
    """Return the torch seed used for the random draws of one step on one process."""
    return int(np.random.SeedSequence([seed, step, rank]).generate_state(1, dtype=np.uint64)[0])


class Trainer:
    """Train the model a :class:`TrainConfig` names.

    Parameters
    ----------
    config : TrainConfig
        The run.
    resume : bool
        Continue from the run folder's latest checkpoint (exactly: same losses as a run that
        was never interrupted). Without it, a run folder that holds a checkpoint is refused.
    on_progress : callable, optional
        Progress callback (the CLI draws a progress bar with it).
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        resume: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.config = config
        self.resume = resume
        self.on_progress = on_progress
        self.run_dir = Path(config.run_dir)
        self.context: DistributedContext = setup_distributed(config.device)
        self.spec = get_model_spec(config.model)
        self.model_config = build_model_config(config.model, config.model_config)
        data_root = resolve_data_root(config.data)
        self.task: TrainingTask = make_task(
            self.spec, self.model_config, config, data_root, self.context.device
        )

    def fit(self) -> TrainResult:
        """Train until ``config.steps`` (or Ctrl-C) and return where it stopped."""
        config, context, task = self.config, self.context, self.task
        checkpoint = self._checkpoint_to_resume()
        task.prepare()
        torch.manual_seed(config.seed)  # identical initialization on every process
        modules = {name: m.to(context.device) for name, m in task.build_modules().items()}
        plans = task.optimizer_plans()
        optimizers = {
            name: torch.optim.AdamW(
                [p for module in plan.modules for p in modules[module].parameters()],
                lr=plan.lr,
                betas=plan.betas or config.betas,
                weight_decay=config.weight_decay,
            )
            for name, plan in plans.items()
        }
        emas = {
            name: ExponentialMovingAverage(modules[name], config.ema_decay)
            for name in task.ema_modules
            if config.ema_decay > 0
        }
        start = 0
        if checkpoint is not None:
            start = self._restore(checkpoint, modules, optimizers, emas)
        base_lrs = {name: plan.lr for name, plan in plans.items()}
        wrapped = {name: wrap_module(module, context) for name, module in modules.items()}
        batcher = StepBatcher(
            task.dataset("train"),
            config.batch_size,
            config.seed,
            context.rank,
            context.world_size,
        )
        log = self._open_log(start)
        update = self._make_update(optimizers, modules, plans)
        losses: dict[str, float] = {}
        step = start
        interrupted = False
        saved: Path | None = None
        stop = _StopRequest(context)
        try:
            for module in wrapped.values():
                module.train()
            while step < config.steps:
                if stop.requested():
                    interrupted = True
                    break
                torch.manual_seed(step_seed(config.seed, step, context.rank))
                if config.lr_decay_start is not None:
                    factor = config.lr_factor(step)
                    for name, optimizer in optimizers.items():
                        for group in optimizer.param_groups:
                            group["lr"] = base_lrs[name] * factor
                batch = batcher.batch(step, context.device)
                with task.autocast():
                    losses = task.step(batch, step, wrapped, update)
                for name, ema in emas.items():
                    ema.update(modules[name])
                step += 1
                if step % config.log_every == 0 or step == config.steps:
                    losses = {k: average_across_processes(v, context) for k, v in losses.items()}
                    if log is not None:
                        log.write(step, losses)
                if context.is_main and self.on_progress is not None:
                    self.on_progress(step, config.steps, losses)
                if config.eval_every and step % config.eval_every == 0 and context.is_main:
                    metrics = self._evaluate(modules, emas)
                    if log is not None and metrics:
                        log.write(step, metrics, phase="valid")
                if step % config.checkpoint_every == 0 and step < config.steps:
                    saved = self._save(step, modules, optimizers, emas)
        except KeyboardInterrupt:  # a second Ctrl-C, mid-step: stop now, keep the last checkpoint
            stop.restore()
            if log is not None:
                log.close()
            raise
        finally:
            stop.restore()
            if log is not None:
                log.close()
        if interrupted or saved is None or not saved.name.endswith(f"{step:08d}.pt"):
            saved = self._save(step, modules, optimizers, emas)
        #: This process's final weights (every process's are identical under DDP).
        self.final_weights = {n: unwrap_module(m).state_dict() for n, m in modules.items()}
        return TrainResult(self.run_dir, step, interrupted, losses, saved)

    # -- pieces of fit -----------------------------------------------------------------------

    def _checkpoint_to_resume(self) -> dict[str, Any] | None:
        has_checkpoint = (self.run_dir / "checkpoints" / "latest.pt").is_file()
        if not self.resume:
            if has_checkpoint:
                raise ConfigError(
                    f"{self.run_dir} already holds a trained run; pass --resume to continue it "
                    "or choose another --run folder"
                )
            return None
        if not has_checkpoint:
            raise ConfigError(f"{self.run_dir}: nothing to resume (no checkpoint yet)")
        payload = load_checkpoint(find_checkpoint(self.run_dir), map_location="cpu")
        if payload["model_name"] != self.config.model:
            raise ConfigError(
                f"{self.run_dir} trains {payload['model_name']!r}, not {self.config.model!r}"
            )
        if payload["model_config"] != _plain(self.model_config.to_dict()):
            raise ConfigError(f"{self.run_dir}: the model config differs from the checkpoint's")
        return payload

    def _restore(
        self,
        payload: dict[str, Any],
        modules: dict[str, nn.Module],
        optimizers: dict[str, torch.optim.Optimizer],
        emas: dict[str, ExponentialMovingAverage],
    ) -> int:
        for name, module in modules.items():
            module.load_state_dict(payload["modules"][name])
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(payload["optimizers"][name])
        for name, ema in emas.items():
            ema.load_state_dict(payload["ema"][name])
            ema.updates = int(payload.get("ema_updates", {}).get(name, payload["step"]))
        self.task.state = dict(payload.get("task_state", {}))
        return int(payload["step"])

    def _open_log(self, start: int) -> MetricsLog | None:
        if not self.context.is_main:
            return None
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "config.json").write_text(
            json.dumps(
                {"train": self.config.to_dict(), "model": _plain(self.model_config.to_dict())},
                indent=2,
            )
        )
        log = MetricsLog(self.run_dir)
        if start:
            log.truncate_after(start)
        return log

    def _make_update(
        self,
        optimizers: dict[str, torch.optim.Optimizer],
        modules: dict[str, nn.Module],
        plans: dict[str, Any],
    ) -> Callable[[str, torch.Tensor], float]:
        params = {
            name: [p for m in plan.modules for p in modules[m].parameters() if p.requires_grad]
            for name, plan in plans.items()
        }
        clip = self.config.grad_clip

        def update(name: str, loss: torch.Tensor) -> float:
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{name} loss is {loss.item()}; lower the learning rate")
            optimizer = optimizers[name]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(params[name], clip if clip > 0 else float("inf"))
            optimizer.step()
            return float(norm)

        return update

    def _save(
        self,
        step: int,
        modules: dict[str, nn.Module],
        optimizers: dict[str, torch.optim.Optimizer],
        emas: dict[str, ExponentialMovingAverage],
    ) -> Path | None:
        if not self.context.is_main:
            return None
        payload = {
            "step": step,
            "model_name": self.config.model,
            "family": self.spec.family,
            "model_config": _plain(self.model_config.to_dict()),
            "train_config": _plain(self.config.to_dict()),
            "task_state": _plain(self.task.state),
            "modules": {n: unwrap_module(m).state_dict() for n, m in modules.items()},
            "optimizers": {n: o.state_dict() for n, o in optimizers.items()},
            "ema": {n: e.state_dict() for n, e in emas.items()},
            "ema_updates": {n: e.updates for n, e in emas.items()},
            "rng": capture_rng_state(),
            "saved_at": time.time(),
        }
        return save_checkpoint(self.run_dir, payload, keep=self.config.keep_checkpoints)

    def _evaluate(
        self, modules: dict[str, nn.Module], emas: dict[str, ExponentialMovingAverage]
    ) -> dict[str, float]:
        chosen = {
            n: (emas[n].module if n in emas else unwrap_module(m)) for n, m in modules.items()
        }
        return evaluate_modules(self.task, chosen, self.config.batch_size)


class _StopRequest:
    """Turn the first Ctrl-C into a request to stop after the current step (then checkpoint).

    Under DDP every process must stop at the same step, so the request is agreed on with an
    all-reduce before each step.
    """

    def __init__(self, context: DistributedContext) -> None:
        self.context = context
        self.flag = False
        self.previous: Any = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.flag:  # asked twice: give up on a clean stop
            raise KeyboardInterrupt
        self.flag = True

    def requested(self) -> bool:
        if not self.context.enabled:
            return self.flag
        import torch.distributed as dist

        tensor = torch.tensor([1.0 if self.flag else 0.0], device=self.context.device)
        dist.all_reduce(tensor)
        return bool(tensor.item() > 0)

    def restore(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            self.previous = None


def evaluate_modules(
    task: TrainingTask, modules: dict[str, nn.Module], batch_size: int, split: str = "valid"
) -> dict[str, float]:
    """Run a task's evaluation over a split with the modules in eval mode."""
    dataset = task.dataset(split)
    if len(dataset) == 0:  # type: ignore[arg-type]
        return {}
    modes = {name: module.training for name, module in modules.items()}
    for module in modules.values():
        module.eval()
    try:
        return task.evaluate(modules, _sequential_batches(dataset, batch_size, task.device))
    finally:
        for name, module in modules.items():
            module.train(modes[name])


def _sequential_batches(dataset: Any, batch_size: int, device: torch.device) -> Iterator[Any]:
    from aigc_studio.training.batching import collate

    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        yield collate(items, device)


def resolve_data_root(data: str) -> Path:
    """Resolve ``--data`` (a cache folder or a dataset name) to a prepared cache folder.

    Raises
    ------
    ConfigError
        If no prepared cache is found.
    """
    from aigc_studio.datasets.cache import default_dataset_root
    from aigc_studio.errors import ParameterError

    candidates = [Path(data)]
    with contextlib.suppress(ParameterError):  # a path is not a dataset name
        candidates.append(default_dataset_root(data))
    for candidate in candidates:
        if (candidate / "manifest.json").is_file():
            return candidate
    raise ConfigError(
        f"no prepared dataset {data!r}; run `aigc data prepare --dataset {data}` first"
    )


def _plain(value: Any) -> Any:
    """Convert tuples to lists (recursively) so configs compare equal after a checkpoint."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
