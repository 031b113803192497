"""Shared set-up of the benchmark scripts: one CPU thread, prepared datasets, table printing.

Benchmarks run on one core (as the issues define speed), time every method in the same run, and
print a Markdown table that the README quotes with the date and machine.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import datetime  # noqa: E402
import itertools  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

torch.set_num_threads(1)


def dataset(name: str) -> Path:
    """Return the cache of a dataset, preparing it first if needed."""
    from aigc_studio.datasets.registry import prepare_dataset

    return prepare_dataset(name)


def sample_file(name: str, scratch: Path, hint: str = "") -> Path:
    """Return an opencv-doc sample (or a given path), decompressing ``name.gz`` into ``scratch``.

    Exits with the package's one-line reason (and ``hint``) when it is missing.
    """
    from aigc_studio.datasets.video_frames import sample_path
    from aigc_studio.errors import AigcError

    try:
        return sample_path(name, scratch)
    except AigcError as exc:
        raise SystemExit(f"{exc}{hint}") from None


def load_clip(name: str, start: int, count: int, scratch: Path) -> list:
    """Return frames ``start`` to ``start + count`` of a clip (see :func:`sample_file`)."""
    from aigc_studio.media.video_io import VideoReader

    with VideoReader(sample_file(name, scratch)) as reader:
        return list(itertools.islice(reader, start, start + count))


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (ffmpeg), all threads."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    """Format rows as a Markdown table (floats with 3 significant digits)."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_line() -> str:
    """Say when and where the numbers were taken."""
    today = datetime.date.today().isoformat()
    cpu = f"{platform.machine()} CPU, {os.cpu_count()} cores"
    return f"{today}, {cpu}, {torch.get_num_threads()} thread(s) used, torch {torch.__version__}"
