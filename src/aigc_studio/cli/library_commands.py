"""``aigc library``: list, show and verify the recorded outputs (their provenance)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aigc_studio.cli.runtime import EXIT_BAD_INPUT, stdout

app = typer.Typer(
    help="The record of every output the studio wrote, with its provenance.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command(name="list", epilog="Example:  aigc library list --kind audio --limit 20")
def list_records(
    kind: Annotated[
        str | None, typer.Option(help="Only this kind (audio, video, midi, …).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List recorded outputs, newest first."""
    from aigc_studio.library import OutputLibrary

    with OutputLibrary() as library:
        records = library.list(kind=kind, limit=limit)
    if as_json:
        stdout.print_json(json.dumps([r.to_dict() for r in records]))
        return
    table = Table(title=f"{len(records)} output(s)")
    for column in ("#", "time (UTC)", "kind", "command", "file", "sha256"):
        table.add_column(column, overflow="fold")
    for r in records:
        table.add_row(
            str(r.id),
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.kind,
            r.command,
            r.path,
            r.sha256[:12],
        )
    stdout.print(table)


@app.command(epilog="Examples:  aigc library show 12  ·  aigc library show out.wav")
def show(
    what: Annotated[str, typer.Argument(help="Record number, file path or sha256.")],
) -> None:
    """Show the full provenance of a recorded output."""
    from aigc_studio.errors import LibraryError
    from aigc_studio.library import OutputLibrary

    with OutputLibrary() as library:
        if what.isdigit():
            records = [library.get(int(what))]
        else:
            records = library.find(str(Path(what).resolve()) if Path(what).exists() else what)
    if not records:
        raise LibraryError(f"{what}: no record in the library")
    stdout.print_json(json.dumps([r.to_dict() for r in records]))


@app.command(epilog="Example:  aigc library verify song.wav")
def verify(
    path: Annotated[Path, typer.Argument(help="File to check.")],
) -> None:
    """Tell whether a file is a recorded output, an altered one, or unknown.

    Exits 0 for a recorded (or moved) output, 2 for an altered or unknown file.
    """
    from aigc_studio.library import OutputLibrary

    with OutputLibrary() as library:
        result = library.verify(path)
    stdout.print(f"{result.status}: {result.message}", markup=False)
    if result.status not in ("recorded", "moved"):
        raise typer.Exit(EXIT_BAD_INPUT)
