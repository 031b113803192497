"""``aigc video``: inspect, convert, interpolate, color-correct and split video into shots.

Every command streams frames (memory stays flat on long videos), keeps the audio track in sync
and writes the output only once it is complete; the work itself is done by
:mod:`aigc_studio.video`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from aigc_studio.cli.runtime import progress_bar, record_output, say, stdout

if TYPE_CHECKING:
    import numpy as np

    from aigc_studio.library import Provenance

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


def _refuse_overwrite(source: Path, output: Path) -> None:
    from aigc_studio.errors import MediaError

    if output.exists() and output.resolve() == source.resolve():
        raise MediaError(f"{output}: output would overwrite the input; choose another path")


def _write_video(
    output: Path,
    frames: Iterable[np.ndarray],
    *,
    fps: float | Fraction,
    total: int | None,
    prov: Provenance,
    codec: str,
    crf: int,
    description: str,
    **audio: Any,
) -> None:
    """Encode a frame stream with a progress bar, then record the output in the library."""
    from aigc_studio.media.video_io import VideoWriter

    with (
        VideoWriter(output, fps, codec=codec, crf=crf, metadata=prov.as_tags(), **audio) as writer,
        progress_bar() as bar,
    ):
        task = bar.add_task(description, total=total or None)
        for frame in frames:
            writer.write(frame)
            bar.advance(task)
    record_output(output, prov)


@app.command(epilog="Examples:  aigc video shots film.mp4  ·  aigc video shots film.mp4 --json")
def shots(
    source: Annotated[Path, typer.Argument(help="Video file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    threshold: Annotated[
        float, typer.Option(help="Content-change threshold (PySceneDetect; lower finds more).")
    ] = 27.0,
    min_scene_len: Annotated[int, typer.Option(help="Shortest shot, in frames.")] = 15,
) -> None:
    """List the shots of a video (cuts found by PySceneDetect's content detector)."""
    from aigc_studio.video.shots import detect_shots

    found = detect_shots(source, threshold, min_scene_len=min_scene_len)
    if as_json:
        stdout.print_json(json.dumps([shot.to_dict() for shot in found]))
        return
    table = Table("shot", "first frame", "last frame", "start (s)", "end (s)", "duration (s)")
    for shot in found:
        table.add_row(
            str(shot.index),
            str(shot.start_frame),
            str(shot.end_frame - 1),
            f"{shot.start_s:.3f}",
            f"{shot.end_s:.3f}",
            f"{shot.duration_s:.3f}",
        )
    stdout.print(table)


#: What ``--audio`` accepts.
AUDIO_MODES = ("keep", "drop", "stretch")


@app.command(
    epilog="Examples:  aigc video interpolate in.mp4 -o smooth.mp4 --factor 2  ·  "
    "aigc video interpolate in.mp4 -o 60.mp4 --fps 60  ·  "
    "aigc video interpolate in.mp4 -o slow.mp4 --factor 4 --slowmo --audio stretch"
)
def interpolate(
    source: Annotated[Path, typer.Argument(help="Video file.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Output video (.mp4, .mkv, .mov).")
    ],
    factor: Annotated[
        int | None, typer.Option(help="Multiply the frame rate by 2, 4 or 8.")
    ] = None,
    fps: Annotated[float | None, typer.Option(help="Target frame rate instead.")] = None,
    slowmo: Annotated[
        bool,
        typer.Option(help="Keep the input frame rate: the video plays longer (slow motion)."),
    ] = False,
    audio: Annotated[
        str | None,
        typer.Option(
            help="keep (default; not with --slowmo), drop (default with --slowmo) or stretch "
            "(time-stretch it to the slow motion)."
        ),
    ] = None,
    scene_threshold: Annotated[
        float, typer.Option(help="Scene-cut threshold in (0, 1]; 1 never detects a cut.")
    ] = 0.33,
    crf: Annotated[int, typer.Option(help="x264 quality (0 lossless … 51 worst).")] = 18,
    codec: Annotated[str, typer.Option(help="Video codec (libx264, ffv1, …).")] = "libx264",
) -> None:
    """Raise the frame rate with optical-flow interpolation, or make slow motion.

    Frames are warped along bidirectional DIS optical flow and blended where each is visible;
    scene cuts are never blended across (the nearer frame is held instead).
    """
    from aigc_studio.errors import ParameterError
    from aigc_studio.library import Provenance
    from aigc_studio.media.video_io import VideoReader
    from aigc_studio.video.interpolate import FACTORS, retime, retimed_frame_count
    from aigc_studio.video.shots import check_scene_threshold

    if (factor is None) == (fps is None):
        raise ParameterError("give either --factor (2, 4 or 8) or --fps, not both or neither")
    if factor is not None and factor not in FACTORS:
        raise ParameterError(
            f"factor={factor} is not supported; use one of {', '.join(map(str, FACTORS))}"
        )
    if audio is not None and audio not in AUDIO_MODES:
        raise ParameterError(
            f"audio={audio!r} is not supported; use one of {', '.join(AUDIO_MODES)}"
        )
    audio_mode = audio or ("drop" if slowmo else "keep")
    if slowmo and audio_mode == "keep":
        raise ParameterError(
            "--audio keep cannot stay in sync with --slowmo (the video plays longer); "
            "use --audio stretch or --audio drop"
        )
    if not slowmo and audio_mode == "stretch":
        raise ParameterError("--audio stretch only applies with --slowmo")
    if fps is not None and not 0 < fps <= 1000:  # also refuses nan
        raise ParameterError(f"fps={fps} is outside the supported range (0, 1000]")
    check_scene_threshold(scene_threshold, name="scene_threshold")
    _refuse_overwrite(source, output)

    with VideoReader(source) as reader:
        source_fps = Fraction(reader.fps).limit_denominator(1001)
        target_fps = source_fps * factor if factor is not None else Fraction(fps or 0)
        target_fps = target_fps.limit_denominator(1001)
        stretch = target_fps / source_fps
        if slowmo and stretch <= 1:
            raise ParameterError(
                f"--slowmo needs a target rate above the input's {float(source_fps):g} fps, "
                f"got {float(target_fps):g}"
            )
        audio_args: dict[str, Any] = {}
        if reader.has_audio and audio_mode == "keep":
            audio_args["audio_from"] = source
        elif reader.has_audio and audio_mode == "stretch":
            audio_args["audio"], audio_args["audio_sr"] = _stretch_audio(reader, float(stretch))
        elif audio_mode != "drop":
            say(f"{source.name} has no audio track")
        prov = Provenance.create(
            "video interpolate",
            {
                "factor": factor,
                "fps": float(target_fps),
                "slowmo": slowmo,
                "audio": audio_mode,
                "scene_threshold": scene_threshold,
                "method": "DIS optical flow, occlusion-aware blending",
                "crf": crf,
                "codec": codec,
            },
            kind="video",
            inputs=[source],
        )
        frames = retime(reader.frames(), source_fps, target_fps, scene_threshold=scene_threshold)
        _write_video(
            output,
            frames,
            fps=source_fps if slowmo else target_fps,
            total=retimed_frame_count(reader.frame_count, source_fps, target_fps),
            prov=prov,
            codec=codec,
            crf=crf,
            description="interpolating",
            **audio_args,
        )


def _stretch_audio(reader: Any, stretch: float) -> tuple[np.ndarray, int]:
    """Decode the audio track and make it ``stretch`` times longer, keeping its pitch.

    The phase vocoder of librosa (Flanagan and Golden 1966; Laroche and Dolson 1999): the track
    is held in memory, which audio of any usual length fits.
    """
    import librosa
    import numpy as np

    samples, sr = reader.read_audio()
    stretched = librosa.effects.time_stretch(samples, rate=1.0 / stretch)
    return np.ascontiguousarray(stretched, dtype=np.float32), sr


@app.command(
    epilog="Examples:  aigc video color in.mp4 -o out.mp4  ·  "
    "aigc video color in.mp4 -o graded.mp4 --reference look.jpg --strength 0.7"
)
def color(
    source: Annotated[Path, typer.Argument(help="Video file.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Output video (.mp4, .mkv, .mov).")
    ],
    reference: Annotated[
        Path | None, typer.Option(help="Image (or video: its first frame) whose colors to match.")
    ] = None,
    strength: Annotated[
        float, typer.Option(help="How much of the correction to apply, 0 … 1.")
    ] = 1.0,
    saturation: Annotated[float, typer.Option(help="Saturation multiplier, 0 … 4.")] = 1.0,
    contrast: Annotated[
        bool, typer.Option(help="Raise local contrast (CLAHE on lightness).")
    ] = True,
    crf: Annotated[int, typer.Option(help="x264 quality (0 lossless … 51 worst).")] = 18,
    codec: Annotated[str, typer.Option(help="Video codec (libx264, ffv1, …).")] = "libx264",
) -> None:
    """Correct white balance, contrast and saturation without flicker; optionally match a look.

    Corrections are estimated on every frame and smoothed over time, restarting at scene cuts.
    """
    from aigc_studio.errors import MediaError
    from aigc_studio.library import Provenance
    from aigc_studio.media.video_io import VideoReader
    from aigc_studio.video.color import ColorCorrectionConfig, ColorCorrector, color_statistics

    config = ColorCorrectionConfig(strength=strength, saturation=saturation, contrast=contrast)
    _refuse_overwrite(source, output)
    look = None
    if reference is not None:
        # Images open as one-frame videos, so PyAV (in media/) stays the only decoder.
        with VideoReader(reference) as still:
            first = next(iter(still), None)
        if first is None:
            raise MediaError(f"{reference}: no picture in the reference")
        look = color_statistics(first)
    corrector = ColorCorrector(config, reference=look)
    with VideoReader(source) as reader:
        prov = Provenance.create(
            "video color",
            {**config.to_dict(), "reference": str(reference) if reference else None},
            kind="video",
            inputs=[source] + ([reference] if reference is not None else []),
        )
        _write_video(
            output,
            corrector.process(reader.frames()),
            fps=reader.fps,
            total=reader.frame_count,
            prov=prov,
            codec=codec,
            crf=crf,
            description="correcting color",
            audio_from=source if reader.has_audio else None,
        )
