"""``aigc video``: inspect, convert, interpolate, color-correct, restore and split into shots.

Every command streams frames (memory stays flat on long videos), keeps the audio track in sync
and writes the output only once it is complete; the work itself is done by
:mod:`aigc_studio.video`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
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


#: Options shared by the commands that read and write video.
VideoSource = Annotated[Path, typer.Argument(help="Video file.")]
VideoOutput = Annotated[
    Path, typer.Option("--output", "-o", help="Output video (.mp4, .mkv, .mov, .m4v, .avi, .webm).")
]
Crf = Annotated[int, typer.Option(help="x264 quality (0 lossless … 51 worst).")]
Codec = Annotated[
    str | None,
    typer.Option(
        help="Video codec. Default: libx264 (H.264); libvpx-vp9 for .webm; ffv1 (lossless) "
        "when a lossless input goes to .mkv or .avi."
    ),
]


@app.command(name="info", epilog="Example:  aigc video info clip.mp4 --json")
def video_info(
    source: VideoSource,
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
    source: VideoSource,
    output: VideoOutput,
    crf: Crf = 18,
    codec: Codec = None,
) -> None:
    """Re-encode a video frame by frame, keeping its audio track.

    Frames come out upright (a rotation flag applied) and at their own times (a variable frame
    rate kept), as from every video command.
    """
    _restore(
        "video convert",
        {},
        source,
        output,
        lambda frames: frames,
        codec=codec,
        crf=crf,
        description="encoding",
    )


def _codec_for(output: Path, codec: str | None, reader: Any) -> str:
    """Return the codec asked for, or the default for the output's container and the source.

    A lossless source stays lossless (FFV1) in .mkv and .avi; into another container it is
    encoded lossy, and the user is told how to keep it lossless.
    """
    from aigc_studio.media.video_io import LOSSLESS_VIDEO_CODECS, default_video_codec

    if codec is not None:
        return codec
    chosen = default_video_codec(output, reader.codec)
    if reader.codec in LOSSLESS_VIDEO_CODECS and chosen != "ffv1":
        say(
            f"the input is lossless ({reader.codec}); {output.suffix} gets {chosen} "
            "(write .mkv, or pass --codec, to keep it lossless)"
        )
    return chosen


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
    timed: bool = False,
    **audio: Any,
) -> None:
    """Encode a frame stream with a progress bar, then record the output in the library.

    With ``timed``, ``frames`` yields ``(time, frame)`` pairs, each frame shown at its time.
    """
    from aigc_studio.media.video_io import VideoWriter

    with (
        VideoWriter(output, fps, codec=codec, crf=crf, metadata=prov.as_tags(), **audio) as writer,
        progress_bar() as bar,
    ):
        task = bar.add_task(description, total=total or None)
        for item in frames:
            if timed:
                time, frame = item
                writer.write(frame, time=time)
            else:
                writer.write(item)
            bar.advance(task)
    record_output(output, prov)


@app.command(epilog="Examples:  aigc video shots film.mp4  ·  aigc video shots film.mp4 --json")
def shots(
    source: VideoSource,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    threshold: Annotated[
        float, typer.Option(help="Content-change threshold (PySceneDetect; lower finds more).")
    ] = 27.0,
    min_scene_len: Annotated[int, typer.Option(help="Shortest shot, in frames.")] = 15,
) -> None:
    """List the shots of a video (cuts found by PySceneDetect's content detector).

    The table shows each shot's first and last frame; the JSON gives `start_frame` and
    `end_frame` as a half-open range (`end_frame` is one past the last frame), as Python slices.
    """
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
    source: VideoSource,
    output: VideoOutput,
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
    refine: Annotated[
        bool,
        typer.Option(
            "--refine/--no-refine",
            help="Correct flow, blend and colour with the learned refinement network where the "
            "warps disagree (2-2.5x slower; +0.3 dB on a static-camera clip, -0.2 dB on an "
            "animated one: see the README's interpolation table).",
        ),
    ] = False,
    crf: Crf = 18,
    codec: Codec = None,
) -> None:
    """Raise the frame rate with optical-flow interpolation, or make slow motion.

    Frames are warped along bidirectional DIS optical flow and blended where each is visible
    (with --refine, then corrected by the learned refinement network where the two warps
    disagree); scene cuts are never blended across (the nearer frame is held instead).
    """
    from aigc_studio.errors import ParameterError
    from aigc_studio.library import Provenance
    from aigc_studio.media.video_io import VideoReader
    from aigc_studio.video.interpolate import (
        FACTORS,
        interpolate_timed,
        retime_timed,
        retimed_frame_count,
    )
    from aigc_studio.video.shots import check_scene_threshold

    if (factor is None) == (fps is None):
        raise ParameterError("give either --factor (2, 4 or 8) or --fps, not both or neither")
    if factor is not None and factor not in FACTORS:
        raise ParameterError(
            f"--factor {factor} is not supported; use one of {', '.join(map(str, FACTORS))}"
        )
    if audio is not None and audio not in AUDIO_MODES:
        raise ParameterError(
            f"--audio {audio} is not supported; use one of {', '.join(AUDIO_MODES)}"
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
        raise ParameterError(f"--fps {fps:g} is outside the supported range (0, 1000]")
    check_scene_threshold(scene_threshold, name="--scene-threshold")
    _refuse_overwrite(source, output)

    # Upright frames (a phone's rotation flag applied: the output carries none), read with
    # their times, so that a variable frame rate keeps the sync of picture and sound.
    with VideoReader(source, upright=True) as reader:
        codec = _codec_for(output, codec, reader)
        source_fps = Fraction(reader.fps).limit_denominator(1001)
        target_fps = source_fps * factor if factor is not None else Fraction(fps or 0)
        target_fps = target_fps.limit_denominator(1001)
        stretch = target_fps / source_fps
        if slowmo and stretch <= 1:
            raise ParameterError(
                f"--slowmo needs a target rate above the input's {float(source_fps):g} fps, "
                f"got {float(target_fps):g}"
            )
        refiner = None
        if refine:  # torch is imported only for the network
            from aigc_studio.video.learned import load_frame_refiner

            refiner = load_frame_refiner()
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
                "method": "DIS optical flow, occlusion-aware blending"
                + (", learned refinement" if refiner is not None else ""),
                "crf": crf,
                "codec": codec,
            },
            kind="video",
            inputs=[source],
            model=refiner.name if refiner is not None else None,
            checkpoint_sha256=refiner.checkpoint_sha256 if refiner is not None else None,
        )
        settings: dict[str, Any] = {
            "frame_duration": 1.0 / float(source_fps),
            "scene_threshold": scene_threshold,
            "refine": refiner,
        }
        frames: Iterable[Any]
        if factor is not None:
            # Each new frame at its share of its neighbours' interval: uneven spacing is kept.
            slowdown = factor if slowmo else 1
            frames = (
                (time * slowdown, frame)
                for time, frame in interpolate_timed(reader.frames_with_time(), factor, **settings)
            )
        else:
            frames = retime_timed(reader.frames_with_time(), target_fps, **settings)
        _write_video(
            output,
            frames,
            fps=source_fps if slowmo else target_fps,
            total=retimed_frame_count(reader.frame_count, source_fps, target_fps),
            prov=prov,
            codec=codec,
            crf=crf,
            description="interpolating",
            timed=factor is not None,
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
    "aigc video color in.mp4 -o graded.mp4 --reference look.jpg --strength 0.7  ·  "
    "aigc video color lawn.mp4 -o out.mp4 --white-balance off --no-contrast"
)
def color(
    source: VideoSource,
    output: VideoOutput,
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
    white_balance: Annotated[
        str,
        typer.Option(
            help="white-patch (the brightest colors are white), gray-world (the average is "
            "gray: turns a lawn gray), or off."
        ),
    ] = "white-patch",
    deflicker: Annotated[
        bool,
        typer.Option(help="Even out frame-to-frame brightness (5-frame window), before and after."),
    ] = True,
    crf: Crf = 18,
    codec: Codec = None,
) -> None:
    """Correct white balance, contrast and saturation without flicker; optionally match a look.

    Brightness flicker is evened out before and after; the corrections are estimated on every
    frame and smoothed over time, restarting at scene cuts.
    """
    from aigc_studio.errors import MediaError, ParameterError
    from aigc_studio.media.video_io import VideoReader
    from aigc_studio.video.color import (
        WHITE_BALANCE_METHODS,
        ColorCorrectionConfig,
        ColorCorrector,
        color_statistics,
    )

    if white_balance not in (*WHITE_BALANCE_METHODS, "off"):
        raise ParameterError(
            f"--white-balance {white_balance!r} is unknown; use one of "
            f"{', '.join(WHITE_BALANCE_METHODS)} or off"
        )
    config = ColorCorrectionConfig(
        strength=strength,
        saturation=saturation,
        contrast=contrast,
        white_balance=white_balance != "off",
        white_balance_method="white-patch" if white_balance == "off" else white_balance,
        deflicker=deflicker,
    )
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
    # As the restoration commands: upright frames, each written at its input time.
    _restore(
        "video color",
        {**config.to_dict(), "reference": str(reference) if reference else None},
        source,
        output,
        corrector.process,
        codec=codec,
        crf=crf,
        description="correcting color",
        extra_inputs=[reference] if reference is not None else [],
    )


# -- restoration: deblur, inpaint, denoise, enhance ------------------------------------------
#
# These commands read frames upright (a phone's rotation flag applied, since the output carries
# none) and write each frame at its input time, so that a variable-frame-rate input keeps its
# timing and its audio stays in sync. Every step yields one frame per input frame, in order.


class _FrameTimes:
    """Carry each frame's presentation time past a processing step that may read ahead.

    The step yields one output per input, in order, so the times of frames read but not yet
    written wait in a queue as long as the step's look-ahead (a few floats).
    """

    def __init__(self, reader: Any) -> None:
        from collections import deque

        self._reader = reader
        self._times: deque[float] = deque()

    def frames(self) -> Iterable[np.ndarray]:
        for time, frame in self._reader.frames_with_time():
            self._times.append(time)
            yield frame

    def pop(self) -> float:
        return self._times.popleft()


def _write_restored(
    source: Path,
    output: Path,
    process: Callable[[Iterable[np.ndarray]], Iterable[np.ndarray]],
    *,
    reader: Any,
    prov: Provenance,
    codec: str,
    crf: int,
    description: str,
) -> None:
    """Run ``process`` over the frames and encode its output at the input times.

    The input's audio is carried over and the output is recorded in the library.
    """
    from aigc_studio.media.video_io import VideoWriter

    times = _FrameTimes(reader)
    frames = process(times.frames())

    with (
        VideoWriter(
            output,
            reader.fps,
            codec=codec,
            crf=crf,
            metadata=prov.as_tags(),
            audio_from=source if reader.has_audio else None,
        ) as writer,
        progress_bar() as bar,
    ):
        task = bar.add_task(description, total=reader.frame_count or None)
        for frame in frames:
            writer.write(frame, time=times.pop())
            bar.advance(task)
    record_output(output, prov)


def _restore(
    command: str,
    params: dict[str, Any],
    source: Path,
    output: Path,
    process: Callable[[Iterable[np.ndarray]], Iterable[np.ndarray]],
    *,
    codec: str | None,
    crf: int,
    description: str,
    model: str | None = None,
    checkpoint_sha256: str | None = None,
    extra_inputs: list[Path] | None = None,
) -> None:
    """Open ``source`` upright, run ``process`` over its frames and write ``output``.

    ``model`` and ``checkpoint_sha256`` name a learned network the processing used;
    ``extra_inputs`` are other files it read (recorded in the provenance with the source).
    """
    from aigc_studio.library import Provenance
    from aigc_studio.media.video_io import VideoReader

    _refuse_overwrite(source, output)
    with VideoReader(source, upright=True) as reader:
        codec = _codec_for(output, codec, reader)
        prov = Provenance.create(
            command,
            {**params, "crf": crf, "codec": codec},
            kind="video",
            inputs=[source, *(extra_inputs or [])],
            model=model,
            checkpoint_sha256=checkpoint_sha256,
        )
        _write_restored(
            source,
            output,
            process,
            reader=reader,
            prov=prov,
            codec=codec,
            crf=crf,
            description=description,
        )


#: What ``--method`` of ``aigc video deblur`` accepts.
DEBLUR_CHOICES = ("wiener", "unsharp", "net")


@app.command(
    epilog="Examples:  aigc video deblur soft.mp4 -o sharp.mp4  ·  "
    "aigc video deblur in.mp4 -o out.mp4 --method unsharp --strength 0.6  ·  "
    "aigc video deblur in.mp4 -o out.mp4 --psf defocus --sigma 2"
)
def deblur(
    source: VideoSource,
    output: VideoOutput,
    strength: Annotated[
        float,
        typer.Option(help="0 … 3: Wiener mix (1 = full estimate) or unsharp gain."),
    ] = 1.0,
    method: Annotated[
        str,
        typer.Option(
            help="wiener (deconvolution of a uniform blur), unsharp, or net (the learned "
            "network: also motion blur)."
        ),
    ] = "wiener",
    psf: Annotated[str, typer.Option(help="Blur shape for Wiener: gaussian or defocus.")] = (
        "gaussian"
    ),
    sigma: Annotated[
        float | None, typer.Option(help="Blur sigma in pixels (default: estimated per shot).")
    ] = None,
    nsr: Annotated[
        float, typer.Option(help="Wiener noise-to-signal ratio (higher is smoother).")
    ] = 0.005,
    crf: Crf = 18,
    codec: Codec = None,
) -> None:
    """Sharpen a blurred video: Wiener deconvolution with an estimated blur, or unsharp masking.

    The blur is estimated once per shot from edge widths (Zhuo and Sim 2011) and removed from
    the luminance by Wiener deconvolution; --method net runs the learned deblurring network
    instead, which also undoes motion streaks.
    """
    from aigc_studio.errors import ParameterError
    from aigc_studio.video.deblur import DeblurConfig, Deblurrer

    if method not in DEBLUR_CHOICES:
        raise ParameterError(
            f"method={method!r} is not supported; use one of {', '.join(DEBLUR_CHOICES)}"
        )
    config = DeblurConfig(method=method, strength=strength, psf=psf, sigma=sigma, nsr=nsr)
    network = None
    if method == "net":
        from aigc_studio.video.learned import load_deblur_network

        network = load_deblur_network(strength=strength)
    deblurrer = Deblurrer(config, network=network)
    _restore(
        "video deblur",
        config.to_dict(),
        source,
        output,
        deblurrer.process,
        codec=codec,
        crf=crf,
        description="deblurring",
        model=network.name if network is not None else None,
        checkpoint_sha256=network.checkpoint_sha256 if network is not None else None,
    )
    if deblurrer.sigmas and sigma is None:
        shown = ", ".join(f"{value:.2f}" for value in deblurrer.sigmas[:8])
        more = " …" if len(deblurrer.sigmas) > 8 else ""
        use = "the Wiener PSF" if method == "wiener" else "the unsharp-mask radius"
        say(f"estimated blur sigma per shot (pixels; sets {use}): {shown}{more}")


def _parse_box(text: str) -> tuple[int, int, int, int]:
    from aigc_studio.errors import ParameterError

    parts = text.replace(" ", "").split(",")
    try:
        x, y, w, h = (int(part) for part in parts)
    except ValueError:
        raise ParameterError(
            f"--box {text!r} must be four integers x,y,w,h (pixels), e.g. --box 20,10,160,48"
        ) from None
    return x, y, w, h


@app.command(
    epilog="Examples:  aigc video inpaint in.mp4 --box 20,10,160,48 -o clean.mp4  ·  "
    "aigc video inpaint in.mp4 --mask logo.png -o clean.mp4  ·  "
    "aigc video inpaint in.mp4 --mask object-mask.mkv -o clean.mp4"
)
def inpaint(
    source: VideoSource,
    output: VideoOutput,
    mask: Annotated[
        Path | None,
        typer.Option(
            help="Mask picture (white = remove), or a mask video with one mask per frame; "
            "the size of the (upright) video."
        ),
    ] = None,
    box: Annotated[
        str | None, typer.Option(help="Rectangle to remove instead: x,y,w,h in pixels.")
    ] = None,
    neighbours: Annotated[
        int, typer.Option(help="Frames searched on each side for the hidden background (0-16).")
    ] = 4,
    dilate: Annotated[int, typer.Option(help="Grow the mask by this many pixels (0-64).")] = 2,
    crf: Crf = 18,
    codec: Codec = None,
) -> None:
    """Remove a logo, watermark or object: fill it from other frames, then spatially.

    Masked pixels are looked up along optical flow in the neighbouring frames where the
    background shows (a moving camera); what no frame shows is filled by Telea inpainting.
    """
    import contextlib
    import itertools

    import numpy as np

    from aigc_studio.errors import ParameterError
    from aigc_studio.library import Provenance
    from aigc_studio.media.video_io import VideoReader
    from aigc_studio.video.inpaint import (
        InpaintConfig,
        VideoInpainter,
        box_mask,
        check_mask,
        mask_from_image,
    )

    if (mask is None) == (box is None):
        raise ParameterError("give either --mask or --box, not both or neither")
    config = InpaintConfig(neighbours=neighbours, dilate=dilate)
    region = _parse_box(box) if box is not None else None
    _refuse_overwrite(source, output)
    with contextlib.ExitStack() as stack:
        reader = stack.enter_context(VideoReader(source, upright=True))
        codec = _codec_for(output, codec, reader)
        width, height = reader.display_size
        masks: Any
        if region is not None:
            masks = box_mask(width, height, region)
        else:
            assert mask is not None
            mask_reader = stack.enter_context(VideoReader(mask, upright=True))
            mask_frames = iter(mask_reader)
            first = next(mask_frames, None)
            second = next(mask_frames, None)
            if first is None:
                raise ParameterError(f"{mask}: no picture in the mask")
            masks = check_mask(mask_from_image(first), (height, width), what=f"mask {mask.name}")
            if second is not None:  # a mask video: one mask per frame, checked as they come
                masks = itertools.chain([first, second], mask_frames)
        if isinstance(masks, np.ndarray) and not masks.any():
            say("the mask is empty; frames are copied unchanged")
        prov = Provenance.create(
            "video inpaint",
            {**config.to_dict(), "box": box, "mask": str(mask) if mask else None, "crf": crf,
             "codec": codec},
            kind="video",
            inputs=[source] + ([mask] if mask is not None else []),
        )  # fmt: skip
        inpainter = VideoInpainter(config)
        _write_restored(
            source,
            output,
            lambda frames: inpainter.process(frames, masks),
            reader=reader,
            prov=prov,
            codec=codec,
            crf=crf,
            description="inpainting",
        )
    total = inpainter.filled_from_frames + inpainter.filled_spatially
    if total:
        share = 100.0 * inpainter.filled_from_frames / total
        say(f"{share:.0f}% of the masked pixels were filled from other frames, the rest spatially")


@app.command(
    epilog="Examples:  aigc video denoise grainy.mp4 -o clean.mp4  ·  "
    "aigc video denoise in.mp4 -o out.mp4 --strength 1.5 --radius 3"
)
def denoise(
    source: VideoSource,
    output: VideoOutput,
    strength: Annotated[
        float, typer.Option(help="0 … 4: 1 removes the measured noise, more smooths more.")
    ] = 1.0,
    radius: Annotated[
        int, typer.Option(help="Neighbouring frames averaged on each side (0-8).")
    ] = 2,
    crf: Crf = 18,
    codec: Codec = None,
) -> None:
    """Reduce noise: average each frame with motion-compensated neighbours, then a light filter.

    Neighbours are warped along DIS optical flow and weighted by how well they match, so moving
    edges do not ghost; the noise level is measured from the video.
    """
    from aigc_studio.video.denoise import DenoiseConfig, VideoDenoiser

    config = DenoiseConfig(strength=strength, radius=radius)
    denoiser = VideoDenoiser(config)
    _restore(
        "video denoise",
        config.to_dict(),
        source,
        output,
        denoiser.process,
        codec=codec,
        crf=crf,
        description="denoising",
    )
    if denoiser.noise_sigma is not None:
        say(f"measured noise: sigma {denoiser.noise_sigma:.1f} levels (8-bit)")


@app.command(
    epilog="Examples:  aigc video enhance in.mp4 -o better.mp4  ·  "
    "aigc video enhance in.mp4 -o out.mp4 --no-color"
)
def enhance(
    source: VideoSource,
    output: VideoOutput,
    denoise: Annotated[
        bool, typer.Option("--denoise/--no-denoise", help="Motion-compensated denoising.")
    ] = True,
    deblur: Annotated[
        bool, typer.Option("--deblur/--no-deblur", help="Light unsharp masking.")
    ] = True,
    color: Annotated[
        bool, typer.Option("--color/--no-color", help="White balance and local contrast.")
    ] = True,
    crf: Crf = 18,
    codec: Codec = None,
) -> None:
    """Improve a video in one pass: denoise, then sharpen lightly, then correct color.

    Each step has the defaults of its own command (deblur as unsharp masking at 0.5), and can
    be switched off.
    """
    from aigc_studio.errors import ParameterError
    from aigc_studio.video.enhance import EnhanceConfig, VideoEnhancer

    if not (denoise or deblur or color):
        raise ParameterError(
            "every step is off (--no-denoise --no-deblur --no-color); nothing to do "
            "(use `aigc video convert` to re-encode)"
        )
    defaults = EnhanceConfig()
    enhancer = VideoEnhancer(
        EnhanceConfig(
            denoise=defaults.denoise if denoise else None,
            sharpen=defaults.sharpen if deblur else None,
            color=defaults.color if color else None,
        )
    )
    params = enhancer.config.to_dict()
    _restore(
        "video enhance",
        params,
        source,
        output,
        enhancer.process,
        codec=codec,
        crf=crf,
        description="enhancing",
    )
