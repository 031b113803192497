"""``aigc data``: prepare datasets once into caches with a fixed train/valid/test split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aigc_studio.cli.runtime import progress_bar, say, stdout

app = typer.Typer(
    help="Prepare and list training datasets (step 1 of the model pipeline).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command(
    epilog="Examples:  aigc data prepare --dataset nsynth-gm  ·  aigc data prepare --dataset "
    "bach-melodies  ·  aigc data prepare --dataset ./my-recordings --out ./cache/mine"
)
def prepare(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="A dataset name or a folder.")],
    out: Annotated[
        Path | None, typer.Option(help="Cache folder (default under AIGC_HOME).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Prepare again even if cached.")] = False,
) -> None:
    """Decode, resample, slice or tokenize a dataset into a cache with a fixed split."""
    from aigc_studio.datasets.cache import read_manifest
    from aigc_studio.datasets.registry import prepare_dataset

    with progress_bar() as bar:
        task = bar.add_task(f"preparing {dataset}", total=None)

        def advance(description: str, done: int, total: int) -> None:
            bar.update(task, description=description, completed=done, total=total or None)

        root = prepare_dataset(dataset, out, progress=advance, overwrite=overwrite)
    manifest = read_manifest(root)
    splits = manifest.get("splits", {})
    stdout.print(
        f"{manifest.get('name', dataset)}: "
        + ", ".join(f"{name} {count}" for name, count in splits.items())
        + f" items in {root}"
    )


@app.command(name="list", epilog="Example:  aigc data list")
def list_datasets() -> None:
    """List the dataset names ``prepare`` knows, and the caches already prepared."""
    from aigc_studio.datasets.cache import default_dataset_root, is_complete_cache
    from aigc_studio.datasets.registry import DATASETS

    table = Table(title="datasets")
    table.add_column("name")
    table.add_column("prepared at", overflow="fold")
    for name in DATASETS:
        root = default_dataset_root(name)
        table.add_row(name, str(root) if is_complete_cache(root) else "-")
    stdout.print(table)
    say("a folder of audio or MIDI files is a dataset too: aigc data prepare --dataset DIR")
