"""``aigc music``: inspect, render and copy-check MIDI (composition builds on this group)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aigc_studio.cli.batch import input_output_pairs, process_all
from aigc_studio.cli.runtime import record_output, say, stderr, stdout

#: Suffixes taken from an input folder.
MIDI_SUFFIXES = (".mid", ".midi")

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


@app.command(
    epilog="Examples:  aigc music render tune.mid -o tune.wav --instrument strings  ·  "
    "aigc music render midi_dir -o wav_dir --method synth --target-lufs -14"
)
def render(
    source: Annotated[Path, typer.Argument(help="MIDI file, or a folder of them.")],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Output audio file (suffix picks the format) or folder (WAV)."
        ),
    ],
    instrument: Annotated[
        str | None,
        typer.Option(
            help="Play every track on one instrument: piano, strings, violin, cello, flute, "
            "clarinet, oboe, trumpet, brass, organ, guitar, harp, bass, choir, ... "
            "(default: the file's own instruments)."
        ),
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            help="auto (fluidsynth when installed with a GM soundfont, else the built-in "
            "synthesizer), fluidsynth, or synth."
        ),
    ] = "auto",
    target_lufs: Annotated[
        float, typer.Option(help="Integrated loudness of the output (LUFS, ITU-R BS.1770).")
    ] = -16.0,
    true_peak: Annotated[float, typer.Option(help="True-peak ceiling (dBTP).")] = -1.0,
    sr: Annotated[int, typer.Option(help="Sample rate (Hz).")] = 44_100,
    soundfont: Annotated[
        Path | None,
        typer.Option(help="General MIDI .sf2 for fluidsynth (default: $AIGC_SOUNDFONT or system)."),
    ] = None,
) -> None:
    """Render MIDI to audio with fluidsynth or the built-in synthesizer, loudness-normalized."""
    import warnings

    from aigc_studio.library import Provenance
    from aigc_studio.media import load_midi, save_audio
    from aigc_studio.music.rendering import (
        RenderFallbackWarning,
        check_render_options,
        render_midi,
    )

    check_render_options(
        sr=sr,
        instrument=instrument,
        method=method,
        target_lufs=target_lufs,
        true_peak_dbtp=true_peak,
    )
    pairs = input_output_pairs(source, output, MIDI_SUFFIXES)
    if source.is_dir():  # a folder of MIDI gives a folder of WAV with the same stems
        pairs = [(src, dst.with_suffix(".wav")) for src, dst in pairs]

    def action(src: Path, dst: Path) -> None:
        midi = load_midi(src)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RenderFallbackWarning)
            audio, rate, used = render_midi(
                midi,
                sr=sr,
                instrument=instrument,
                soundfont=soundfont,
                target_lufs=target_lufs,
                true_peak_dbtp=true_peak,
                method=method,
            )
        prov = Provenance.create(
            "music render",
            {
                "instrument": instrument,
                "method": method,
                "method_used": used,
                "target_lufs": target_lufs,
                "true_peak": true_peak,
                "sr": sr,
                "soundfont": soundfont,
            },
            kind="audio",
            inputs=[src],
        )
        save_audio(dst, audio, rate, tags=prov.as_tags())
        for warning in caught:
            if issubclass(warning.category, RenderFallbackWarning):
                # Shown even with --quiet: the user should know the sound is only a sketch.
                stderr.print(f"note: {warning.message}", markup=False)
        say(f"{src.name}: rendered with {used}")
        record_output(dst, prov)

    raise typer.Exit(process_all(pairs, action, "rendering"))


@app.command(
    epilog="Examples:  aigc music check tune.mid  ·  aigc music check tune.mid --json  ·  "
    "aigc music check tune.mid --corpus my-index.npz --min-length 6"
)
def check(
    source: Annotated[Path, typer.Argument(help="MIDI file (its top line is the melody).")],
    corpus: Annotated[
        str,
        typer.Option(
            help="Prepared melody dataset name, token cache folder, or a saved .npz index."
        ),
    ] = "bach-melodies",
    min_length: Annotated[int, typer.Option(help="Shortest shared run to look for, in notes.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Report the longest run of notes (transposition-invariant) shared with a corpus tune."""
    from aigc_studio.datasets.melody_tokens import midi_top_line_events
    from aigc_studio.media import load_midi
    from aigc_studio.music.copy_check import corpus_index, intervals_of, longest_shared_run

    midi = load_midi(source)
    pitches = [e.pitch for e in midi_top_line_events(midi) if e.pitch is not None]
    index = corpus_index(corpus, min_length=min_length)
    report = longest_shared_run(pitches, index)
    # Count notes the way the report does: without rests, repeated pitches once if merged.
    notes = len(intervals_of(pitches, merge_repeats=index.merge_repeats)) + 1 if pitches else 0
    unit = "notes, repeated pitches counted once" if index.merge_repeats else "notes"
    if as_json:
        values = {
            "file": str(source),
            "corpus": corpus,
            "corpus_tunes": len(index),
            "melody_notes": notes,
            "merge_repeats": index.merge_repeats,
            **report.to_dict(),
        }
        stdout.print_json(json.dumps(values))
        return
    if report.source_id is None:
        stdout.print(
            f"{source.name}: no run of {index.min_length} or more notes is shared with "
            f"{corpus} ({len(index)} tunes); the melody has {notes} {unit}"
        )
        return
    first, last = report.position + 1, report.position + report.length_notes
    stdout.print(
        f"{source.name}: longest shared run {report.length_notes} notes (its notes "
        f"{first}-{last} of {notes}) with {report.source_id} from its note "
        f"{report.source_position + 1}, corpus {corpus} ({len(index)} tunes; {unit})",
        markup=False,
    )


@app.command(
    epilog="Examples:  aigc music index folk-melodies -o copy-index.npz  ·  "
    "aigc music index my-tunes-cache/ -o my-index.npz --min-length 6"
)
def index(
    corpus: Annotated[str, typer.Argument(help="Prepared melody dataset name or cache folder.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The .npz index to write.")],
    min_length: Annotated[int, typer.Option(help="Shortest shared run to look for, in notes.")] = 5,
) -> None:
    """Build the copy-check index of a melody corpus (ship it beside a melody model)."""
    from aigc_studio.datasets.cache import default_dataset_root
    from aigc_studio.errors import ParameterError
    from aigc_studio.music.copy_check import build_corpus_index

    if output.suffix != ".npz":
        raise ParameterError(f"{output}: the index is written as .npz")
    root = Path(corpus) if Path(corpus).is_dir() else default_dataset_root(corpus)
    built = build_corpus_index(root, min_length=min_length)
    built.save(output)
    say(f"indexed {len(built)} tunes ({built.n_intervals} intervals) of {corpus} in {output}")


# The composition commands live in their own module and register themselves on this group.
from aigc_studio.cli import composition_commands  # noqa: E402, F401
