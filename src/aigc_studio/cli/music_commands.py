"""``aigc music``: inspect MIDI (composition, harmonization and rendering build on this group)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aigc_studio.cli.runtime import stdout

app = typer.Typer(
    help="Compose, harmonize, vary and render music.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command(name="info", epilog="Example:  aigc music info tune.mid --json")
def midi_info(
    source: Annotated[Path, typer.Argument(help="MIDI file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print a MIDI file's length, tempo, instruments, note count and pitch range."""
    from aigc_studio.media import load_midi

    midi = load_midi(source)
    notes = [note for instrument in midi.instruments for note in instrument.notes]
    _, tempi = midi.get_tempo_changes()
    values = {
        "file": str(source),
        "duration_s": round(midi.get_end_time(), 3),
        "tempo_bpm": round(float(tempi[0]), 2) if len(tempi) else 120.0,
        "instruments": len(midi.instruments),
        "notes": len(notes),
        "lowest": min(n.pitch for n in notes),
        "highest": max(n.pitch for n in notes),
    }
    if as_json:
        stdout.print_json(json.dumps(values))
        return
    table = Table(show_header=False)
    for key, value in values.items():
        table.add_row(key, str(value))
    stdout.print(table)
