"""The configuration of a training run: which model, which data, where, and how to optimize.

A run is described by a :class:`TrainConfig`; presets (TOML files shipped in
``aigc_studio/presets``) fill it in, and command-line flags override the preset.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from aigc_studio.config_values import raise_first_failure
from aigc_studio.errors import ConfigError


@dataclass
class TrainConfig:
    """Everything that defines a training run (and nothing that does not affect its result).

    Attributes
    ----------
    model : str
        Registry name of the model (``aigc_studio.models.list_models()``).
    data : str
        A dataset cache folder, or a dataset name whose cache lives under ``$AIGC_HOME/datasets``.
    run_dir : str
        Folder for checkpoints, metrics and the resolved config.
    model_config : dict
        Values for the model's config dataclass (the preset's ``[params]`` table plus overrides).
    task : dict
        Options of the family's training step (the preset's ``[task]`` table).
    steps : int
        Optimizer steps to train for (the total, also when resuming).
    batch_size : int
        Items per step on each process.
    lr, lr_discriminator : float
        AdamW learning rates (the discriminator's defaults to ``lr``).
    lr_decay_start : int or None
        From this step on, every learning rate follows a half-cosine down to ``lr_final_ratio``
        of its value at ``steps`` (Loshchilov & Hutter 2017, without restarts); None keeps the
        rates constant. A function of the step only, so resuming stays exact.
    lr_final_ratio : float
        The rates' fraction left at the last step when ``lr_decay_start`` is set.
    betas : tuple of float
        AdamW betas; GANs conventionally use (0.5, 0.9) or (0.8, 0.99).
    weight_decay : float
        AdamW decoupled weight decay (Loshchilov & Hutter 2019).
    grad_clip : float
        Clip the global gradient norm of each optimizer's parameters to this; 0 disables.
    ema_decay : float
        Decay of the exponential moving average kept of generator weights; 0 disables.
    amp : bool
        Mixed precision (bfloat16/float16 autocast) where the device supports it (CUDA).
    checkpoint_every, log_every, eval_every : int
        Intervals in steps (0 disables evaluation during training).
    keep_checkpoints : int
        Numbered checkpoints kept besides ``latest.pt``.
    seed : int
        Seed of every random choice in the run (data order, noise, initialization).
    device : str
        ``"auto"`` (CUDA if available, else CPU), ``"cpu"`` or ``"cuda"``.
    """

    model: str
    data: str
    run_dir: str
    model_config: dict[str, Any] = field(default_factory=dict)
    task: dict[str, Any] = field(default_factory=dict)
    steps: int = 1000
    batch_size: int = 16
    lr: float = 2e-4
    lr_discriminator: float | None = None
    lr_decay_start: int | None = None
    lr_final_ratio: float = 0.1
    betas: tuple[float, float] = (0.8, 0.99)
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    amp: bool = False
    checkpoint_every: int = 500
    log_every: int = 10
    eval_every: int = 0
    keep_checkpoints: int = 2
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)  # type: ignore[assignment]
        self.validate()

    def lr_factor(self, step: int) -> float:
        """Return the factor on every base learning rate at optimizer step ``step`` (0-based).

        Examples
        --------
        >>> c = TrainConfig("m", "d", "r", steps=10, lr_decay_start=5, lr_final_ratio=0.1)
        >>> [round(c.lr_factor(s), 3) for s in (0, 5, 10)]
        [1.0, 1.0, 0.1]
        """
        if self.lr_decay_start is None or step <= self.lr_decay_start:
            return 1.0
        progress = min(1.0, (step - self.lr_decay_start) / (self.steps - self.lr_decay_start))
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.lr_final_ratio + (1.0 - self.lr_final_ratio) * cosine

    def validate(self) -> None:
        """Check every value's range.

        Raises
        ------
        ConfigError
            Naming the first value out of range.
        """
        checks = [
            (self.steps >= 1, f"steps must be >= 1, got {self.steps}"),
            (
                1 <= self.batch_size <= 65_536,
                f"batch_size must be in [1, 65536], got {self.batch_size}",
            ),
            (0 < self.lr < 1, f"lr must be in (0, 1), got {self.lr}"),
            (
                self.lr_discriminator is None or 0 < self.lr_discriminator < 1,
                f"lr_discriminator must be in (0, 1), got {self.lr_discriminator}",
            ),
            (
                self.lr_decay_start is None or 0 <= self.lr_decay_start < self.steps,
                f"lr_decay_start must be in [0, steps={self.steps}), got {self.lr_decay_start}",
            ),
            (
                0 < self.lr_final_ratio <= 1,
                f"lr_final_ratio must be in (0, 1], got {self.lr_final_ratio}",
            ),
            (
                len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
                f"betas must be two numbers in [0, 1), got {self.betas}",
            ),
            (self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}"),
            (self.grad_clip >= 0, f"grad_clip must be >= 0, got {self.grad_clip}"),
            (0 <= self.ema_decay < 1, f"ema_decay must be in [0, 1), got {self.ema_decay}"),
            (self.checkpoint_every >= 1, "checkpoint_every must be >= 1"),
            (self.log_every >= 1, "log_every must be >= 1"),
            (self.eval_every >= 0, "eval_every must be >= 0"),
            (self.keep_checkpoints >= 0, "keep_checkpoints must be >= 0"),
            (
                self.device in ("auto", "cpu", "cuda"),
                f"device must be auto, cpu or cuda, got {self.device!r}",
            ),
            (bool(self.model), "model must be named"),
            (bool(self.data), "data must be named"),
        ]
        raise_first_failure(checks)

    def to_dict(self) -> dict[str, Any]:
        """Return the config as plain JSON/TOML-able values."""
        values = dataclasses.asdict(self)
        values["betas"] = list(self.betas)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build a config from a dict, refusing unknown keys.

        Raises
        ------
        ConfigError
            If a key is unknown, a required key is missing, or a value is out of range.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown training option(s): {', '.join(unknown)}")
        missing = [name for name in ("model", "data", "run_dir") if name not in values]
        if missing:
            raise ConfigError(f"missing training option(s): {', '.join(missing)}")
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(f"bad training options: {exc}") from exc


def list_presets() -> list[str]:
    """Names of the presets shipped with the package."""
    folder = resources.files("aigc_studio") / "presets"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def load_preset(name_or_path: str) -> dict[str, Any]:
    """Read a preset: a shipped name (``specgan-instrument``) or a path to a TOML file.

    A preset has top-level training options (``model``, ``data``, ``steps``, …), a
    ``[params]`` table with the model's config values and a ``[task]`` table with options of the
    family's training step (e.g. which label conditions a GAN).

    Returns
    -------
    dict
        Training options, with the ``[model]`` table under ``model_config``.

    Raises
    ------
    ConfigError
        If the preset does not exist or is not valid TOML.
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        text = path.read_text()
    else:
        resource = resources.files("aigc_studio") / "presets" / f"{name_or_path}.toml"
        if not resource.is_file():
            raise ConfigError(
                f"no preset {name_or_path!r}; shipped presets: {', '.join(list_presets())}"
            )
        text = resource.read_text()
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"preset {name_or_path}: invalid TOML ({exc})") from exc
    values["model_config"] = values.pop("model_config", {}) | values.pop("params", {})
    values.setdefault("task", {})
    if isinstance(values.get("model"), dict):
        raise ConfigError(f"preset {name_or_path}: 'model' must name a model; use [params]")
    return values
