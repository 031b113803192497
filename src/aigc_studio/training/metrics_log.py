"""Training metrics: one JSON object per line in ``metrics.jsonl``, mirrored to TensorBoard.

JSONL is the record (easy to read back in tests and notebooks); TensorBoard is for looking at
curves. TensorBoard logging is skipped, with no error, where the package is not installed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


class MetricsLog:
    """Append metrics for a run; only the main process should create one.

    Parameters
    ----------
    run_dir : Path
        The run folder; ``metrics.jsonl`` and ``tensorboard/`` are written inside it.
    tensorboard : bool
        Mirror scalars to TensorBoard event files.
    """

    def __init__(self, run_dir: Path, tensorboard: bool = True) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / "metrics.jsonl"
        self._file = self.path.open("a", encoding="utf-8")
        self._writer: Any = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
            except ImportError:
                self._writer = None

    def write(self, step: int, values: dict[str, float], phase: str = "train") -> None:
        """Record ``values`` at ``step`` (``phase`` is "train" or "valid")."""
        record = {"step": step, "phase": phase, "time": round(time.time(), 3), **values}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._writer is not None:
            for name, value in values.items():
                self._writer.add_scalar(f"{phase}/{name}", value, step)

    def truncate_after(self, step: int) -> None:
        """Drop records after ``step`` (a resumed run re-logs the steps it repeats)."""
        self._file.close()
        lines = self.path.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if line and json.loads(line).get("step", 0) <= step]
        self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        self._file = self.path.open("a", encoding="utf-8")

    def close(self) -> None:
        """Flush and close the files."""
        self._file.close()
        if self._writer is not None:
            self._writer.close()


def read_metrics(run_dir: str | Path, phase: str | None = "train") -> list[dict[str, Any]]:
    """Read a run's metrics records (all phases when ``phase`` is None)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if phase is None or r.get("phase") == phase]
