"""Training checkpoints: written atomically, loaded with ``weights_only=True``.

A checkpoint holds only tensors and plain Python values (state dicts, the configs, RNG states as
tensors/lists, the step), so it can be loaded without unpickling arbitrary objects: a checkpoint
from the internet cannot run code on the user's machine.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc_studio.errors import ConfigError
from aigc_studio.media.atomic import atomic_output

FORMAT_VERSION = 1
LATEST = "latest.pt"
_NUMBERED = re.compile(r"step-(\d{8})\.pt$")


def capture_rng_state() -> dict[str, Any]:
    """Return the states of Python's, NumPy's and torch's generators as checkpointable values."""
    legacy = np.random.get_state()
    state: dict[str, Any] = {
        "python": list(_tuple_to_lists(random.getstate())),
        "numpy": {
            "name": legacy[0],
            "keys": torch.from_numpy(np.asarray(legacy[1], dtype=np.int64)),
            "pos": int(legacy[2]),
            "has_gauss": int(legacy[3]),
            "cached_gaussian": float(legacy[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore generator states captured by :func:`capture_rng_state`."""
    random.setstate(_lists_to_tuple(state["python"]))
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["name"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuple_to_lists(value: Any) -> Any:
    return [_tuple_to_lists(v) for v in value] if isinstance(value, tuple) else value


def _lists_to_tuple(value: Any) -> Any:
    return tuple(_lists_to_tuple(v) for v in value) if isinstance(value, list) else value


def save_checkpoint(
    run_dir: str | os.PathLike[str], payload: dict[str, Any], keep: int = 2
) -> Path:
    """Write ``payload`` as ``checkpoints/step-XXXXXXXX.pt`` and ``latest.pt``, atomically.

    Parameters
    ----------
    run_dir : str or PathLike
        The run folder.
    payload : dict
        Must hold ``step``; only tensors and plain values.
    keep : int
        Numbered checkpoints to keep (older ones are deleted); ``latest.pt`` is always kept.

    Returns
    -------
    Path
        The numbered checkpoint written.
    """
    folder = Path(run_dir) / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"format_version": FORMAT_VERSION, **payload}
    numbered = folder / f"step-{int(payload['step']):08d}.pt"
    with atomic_output(numbered) as tmp:
        torch.save(payload, tmp)
    with atomic_output(folder / LATEST) as tmp:
        torch.save(payload, tmp)
    old = sorted(p for p in folder.iterdir() if _NUMBERED.search(p.name))
    for stale in old[: max(0, len(old) - keep)]:
        stale.unlink(missing_ok=True)
    return numbered


def find_checkpoint(path: str | os.PathLike[str]) -> Path:
    """Resolve a run folder or a checkpoint file to the checkpoint file to load.

    Raises
    ------
    ConfigError
        If there is no checkpoint there.
    """
    candidate = Path(path)
    if candidate.is_dir():
        for option in (candidate / "checkpoints" / LATEST, candidate / LATEST):
            if option.is_file():
                return option
        raise ConfigError(f"{candidate}: no checkpoint in this run folder (train it first)")
    if candidate.is_file():
        return candidate
    raise ConfigError(f"{candidate}: no such run folder or checkpoint")


def load_checkpoint(path: str | os.PathLike[str], map_location: str = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``).

    Raises
    ------
    ConfigError
        If the file is missing, not a checkpoint, corrupt, or holds anything but tensors and
        plain values.
    """
    file = find_checkpoint(path)
    try:
        payload = torch.load(file, map_location=map_location, weights_only=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"{file}: not a loadable studio checkpoint ({first})") from exc
    if not isinstance(payload, dict) or "step" not in payload or "model_name" not in payload:
        raise ConfigError(f"{file}: not a studio checkpoint (no step/model_name)")
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise ConfigError(f"{file}: made by a newer studio version; upgrade to load it")
    return payload
