"""The root ``aigc`` Typer app: global options, ``info``, ``demo`` and the wing groups."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aigc_studio import __version__
from aigc_studio.cli import (
    audio_commands,
    data_commands,
    library_commands,
    music_commands,
    training_commands,
    video_commands,
)
from aigc_studio.cli.runtime import options, progress_bar, say, stdout

app = typer.Typer(
    name="aigc",
    help="AIGC Studio: generate, create, restore and enhance audio and video, locally.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Examples:  aigc info  ·  aigc demo -o demo-output  ·  aigc audio normalize in.wav "
    "-o out.wav  ·  aigc library list",
)
app.add_typer(audio_commands.app, name="audio")
app.add_typer(video_commands.app, name="video")
app.add_typer(music_commands.app, name="music")
app.add_typer(library_commands.app, name="library")
app.add_typer(data_commands.app, name="data")
app.command(
    epilog="Examples:  aigc train --preset specgan-instrument --run runs/gan  ·  aigc train "
    "--model transformer-lm --data bach-melodies --run runs/tf --steps 500  ·  aigc train "
    "--preset specgan-instrument --run runs/gan --resume  ·  torchrun --standalone "
    "--nproc_per_node 2 -m aigc_studio train --preset specgan-instrument --run runs/gan"
)(training_commands.train)
app.command(epilog="Example:  aigc evaluate runs/gan --split test")(training_commands.evaluate)
app.command(
    epilog="Examples:  aigc generate runs/gan -n 16 -o samples --seed 1  ·  aigc generate "
    "runs/gan -n 4 --label 60 --label 64 -o samples"
)(training_commands.generate)
app.command(epilog="Example:  aigc export runs/voc -o src/aigc_studio/weights/vocoder-instrument")(
    training_commands.export
)


def _version(value: bool) -> None:
    if value:
        stdout.print(f"aigc-studio {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only results and errors.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """AIGC Studio: generate, create, restore and enhance audio and video, locally."""
    del version
    options.quiet = quiet
    options.debug = debug


@app.command(epilog="Example:  aigc info --json")
def info(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print versions, the torch device, the system tools found and where the library lives."""
    from aigc_studio.library import OutputLibrary, default_library_path
    from aigc_studio.system_tools import all_tool_status

    report: dict[str, object] = {"aigc-studio": __version__, "python": platform.python_version()}
    report.update(_package_versions())
    report["torch device"] = _torch_device()
    for status in all_tool_status():
        report[status.name] = (
            f"{status.path}" + (f" ({status.version})" if status.version else "")
            if status.found
            else "not found"
        )
    library_path = default_library_path()
    report["library"] = str(library_path)
    if library_path.exists():
        with OutputLibrary(library_path) as library:
            report["library records"] = library.count()
    else:
        report["library records"] = 0
    if as_json:
        stdout.print_json(json.dumps(report))
        return
    table = Table(title="AIGC Studio", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for key, value in report.items():
        table.add_row(key, str(value))
    stdout.print(table)


def _package_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for dist in (
        "torch",
        "numpy",
        "soundfile",
        "av",
        "librosa",
        "pyloudnorm",
        "music21",
        "pretty_midi",
        "opencv-python-headless",
    ):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def _torch_device() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return f"cpu ({torch.get_num_threads()} threads)"


@app.command(epilog="Example:  aigc demo -o demo-output")
def demo(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the demo's outputs.")
    ] = Path("demo-output"),
) -> None:
    """Run the first end-to-end job on synthesized sample media and record the outputs."""
    from aigc_studio.showcase import run_showcase

    with progress_bar() as bar:
        task = bar.add_task("demo", total=None)

        def advance(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=total)

        outputs = run_showcase(output, on_step=advance)
    table = Table(title="demo outputs (recorded in the library)")
    table.add_column("library #", justify="right")
    table.add_column("kind")
    table.add_column("file", overflow="fold")
    table.add_column("what it is")
    for item in outputs:
        table.add_row(str(item.record_id), item.kind, str(item.path), item.description)
    stdout.print(table)
    say("see them with: aigc library list · check one with: aigc library verify FILE")
