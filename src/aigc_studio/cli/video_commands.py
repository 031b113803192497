"""``aigc video``: inspect and convert video (streamed frame by frame, audio kept)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aigc_studio.cli.runtime import progress_bar, record_output, stdout

app = typer.Typer(
    help="Enhance and restore video.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command(name="info", epilog="Example:  aigc video info clip.mp4 --json")
def video_info(
    source: Annotated[Path, typer.Argument(help="Video file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print a video's size, frame rate, duration, frame count and whether it has audio."""
    from aigc_studio.media.video_io import VideoReader

    with VideoReader(source) as reader:
        values = {
            "file": str(source),
            "width": reader.width,
            "height": reader.height,
            "fps": round(reader.fps, 3),
            "duration_s": round(reader.duration, 3),
            "frames": reader.frame_count,
            "audio": reader.has_audio,
            "rotation": reader.rotation,
        }
    if as_json:
        stdout.print_json(json.dumps(values))
        return
    table = Table(show_header=False)
    for key, value in values.items():
        table.add_row(key, str(value))
    stdout.print(table)


@app.command(epilog="Example:  aigc video convert in.mov -o out.mp4 --crf 18")
def convert(
    source: Annotated[Path, typer.Argument(help="Video file.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Output video (.mp4, .mkv, .mov).")
    ],
    crf: Annotated[int, typer.Option(help="x264 quality (0 lossless … 51 worst).")] = 18,
    codec: Annotated[str, typer.Option(help="Video codec (libx264, ffv1, …).")] = "libx264",
) -> None:
    """Re-encode a video frame by frame, keeping its audio track."""
    from aigc_studio.errors import MediaError
    from aigc_studio.library import Provenance
    from aigc_studio.media.video_io import VideoReader, VideoWriter

    if output.exists() and output.resolve() == source.resolve():
        raise MediaError(f"{output}: output would overwrite the input; choose another path")
    with VideoReader(source) as reader:
        prov = Provenance.create(
            "video convert", {"crf": crf, "codec": codec}, kind="video", inputs=[source]
        )
        with (
            VideoWriter(
                output,
                reader.fps,
                codec=codec,
                crf=crf,
                audio_from=source if reader.has_audio else None,
                metadata=prov.as_tags(),
            ) as writer,
            progress_bar() as bar,
        ):
            task = bar.add_task("encoding", total=reader.frame_count or None)
            for frame in reader:
                writer.write(frame)
                bar.advance(task)
    record_output(output, prov)
