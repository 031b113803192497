"""``aigc audio``: convert, measure and normalize audio files (folders in, folders out)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aigc_studio.cli.batch import input_output_pairs, process_all
from aigc_studio.cli.runtime import record_output, stdout

app = typer.Typer(
    help="Restore, enhance and convert audio.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: Suffixes taken from an input folder.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".opus", ".mp4", ".mkv", ".mov")


@app.command(
    epilog="Examples:  aigc audio convert talk.m4a -o talk.flac --sr 48000  ·  "
    "aigc audio convert in_dir -o out_dir"
)
def convert(
    source: Annotated[Path, typer.Argument(help="Audio/video file or folder.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file or folder.")],
    sr: Annotated[int | None, typer.Option(help="Resample to this rate (Hz).")] = None,
    mono: Annotated[bool, typer.Option(help="Mix down to one channel.")] = False,
) -> None:
    """Convert between audio formats (the suffix of -o picks the format)."""
    from aigc_studio.library import Provenance
    from aigc_studio.media import load_audio, save_audio

    def action(src: Path, dst: Path) -> None:
        audio, rate = load_audio(src, sr=sr, mono=mono)
        prov = Provenance.create(
            "audio convert", {"sr": sr, "mono": mono}, kind="audio", inputs=[src]
        )
        save_audio(dst, audio, rate, tags=prov.as_tags())
        record_output(dst, prov)

    raise typer.Exit(
        process_all(input_output_pairs(source, output, AUDIO_SUFFIXES), action, "converting")
    )


@app.command(
    epilog="Example:  aigc audio normalize podcast.wav -o podcast-16.wav "
    "--target-lufs -16 --true-peak -1"
)
def normalize(
    source: Annotated[Path, typer.Argument(help="Audio/video file or folder.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file or folder.")],
    target_lufs: Annotated[
        float, typer.Option(help="Integrated loudness target (LUFS, ITU-R BS.1770).")
    ] = -16.0,
    true_peak: Annotated[float, typer.Option(help="True-peak ceiling (dBTP).")] = -1.0,
) -> None:
    """Normalize loudness to a target (BS.1770) without exceeding a true-peak ceiling."""
    from aigc_studio.dsp import measure_loudness, normalize_loudness
    from aigc_studio.library import Provenance
    from aigc_studio.media import load_audio, save_audio

    def action(src: Path, dst: Path) -> None:
        audio, rate = load_audio(src)
        scaled, gain = normalize_loudness(audio, rate, target_lufs, true_peak)
        after = measure_loudness(scaled, rate)
        prov = Provenance.create(
            "audio normalize",
            {"target_lufs": target_lufs, "true_peak": true_peak, "gain_db": round(gain, 3)},
            kind="audio",
            inputs=[src],
        )
        save_audio(dst, scaled, rate, tags=prov.as_tags())
        record_output(dst, prov)
        stdout.print(
            f"{src.name}: gain {gain:+.2f} dB → {after.integrated_lufs:.1f} LUFS, "
            f"true peak {after.true_peak_dbtp:.1f} dBTP"
        )

    raise typer.Exit(
        process_all(input_output_pairs(source, output, AUDIO_SUFFIXES), action, "normalizing")
    )


@app.command(epilog="Example:  aigc audio loudness song.flac --json")
def loudness(
    source: Annotated[Path, typer.Argument(help="Audio or video file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Measure integrated loudness (LUFS), true peak and sample peak."""
    from aigc_studio.dsp import measure_loudness
    from aigc_studio.media import load_audio

    audio, rate = load_audio(source)
    report = measure_loudness(audio, rate)
    values = {
        "file": str(source),
        "duration_s": round(audio.shape[1] / rate, 3),
        "sample_rate": rate,
        "channels": audio.shape[0],
        **report.to_dict(),
    }
    if as_json:
        stdout.print_json(json.dumps(values, allow_nan=True).replace("-Infinity", "null"))
        return
    table = Table(show_header=False)
    for key, value in values.items():
        table.add_row(key, f"{value:.2f}" if isinstance(value, float) else str(value))
    stdout.print(table)


@app.command(
    name="denoise",
    epilog="Examples:  aigc audio denoise interview.wav -o interview-clean.wav  ·  "
    "aigc audio denoise takes/ -o clean/ --method gate --strength 0.7",
)
def denoise_command(
    source: Annotated[Path, typer.Argument(help="Audio/video file or folder.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file or folder.")],
    strength: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="0 keeps the input, 1 removes the most noise.")
    ] = 1.0,
    method: Annotated[
        str, typer.Option(help="net (the trained denoiser) or gate (classical spectral gating).")
    ] = "net",
    model: Annotated[
        Path | None,
        typer.Option(help="A trained denoiser (run or weights folder); default the shipped one."),
    ] = None,
) -> None:
    """Remove background noise from speech, at any sample rate and channel count."""
    import warnings

    from aigc_studio.audio.denoise import ProgressCallback, denoise_file, trained_denoiser
    from aigc_studio.cli.runtime import progress_bar, say
    from aigc_studio.errors import ParameterError
    from aigc_studio.library import Provenance

    if method not in ("net", "gate"):
        raise ParameterError(f"--method must be net or gate, got {method!r}")
    pairs = input_output_pairs(source, output, AUDIO_SUFFIXES)
    trained = trained_denoiser(model) if method == "net" else None  # fails once, before any file
    params = {"strength": strength, "method": method, "model": str(model) if model else None}

    def run_one(src: Path, dst: Path, on_progress: ProgressCallback | None = None) -> None:
        prov = Provenance.create(
            "audio denoise",
            params,
            kind="audio",
            inputs=[src],
            model=trained.name if trained else None,
            checkpoint_sha256=trained.source_sha256 if trained else None,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            denoise_file(
                src,
                dst,
                strength=strength,
                method=method,  # type: ignore[arg-type]
                model=trained,
                tags=prov.as_tags(),
                on_progress=on_progress,
            )
        for warning in caught:
            if issubclass(warning.category, UserWarning):  # notes such as silent input
                say(f"note: {src.name}: {warning.message}")
        record_output(dst, prov)

    if len(pairs) > 1:
        raise typer.Exit(process_all(pairs, run_one, "denoising"))
    with progress_bar() as bar:
        task = bar.add_task(f"denoising {pairs[0][0].name}", total=None)

        def advance(done: float, total: float | None) -> None:
            bar.update(task, completed=done, total=total)

        run_one(*pairs[0], on_progress=advance)


@app.command(
    name="enhance",
    epilog="Examples:  aigc audio enhance interview.wav -o interview-clean.wav --method gate  ·  "
    "aigc audio enhance takes/ -o finished/ --target-lufs -14 --method none",
)
def enhance_command(
    source: Annotated[Path, typer.Argument(help="Audio/video file or folder.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file or folder.")],
    target_lufs: Annotated[
        float, typer.Option(help="Integrated loudness target, -70 to 0 (LUFS, ITU-R BS.1770).")
    ] = -16.0,
    true_peak: Annotated[float, typer.Option(help="True-peak ceiling, -20 to 0 (dBTP).")] = -1.0,
    method: Annotated[
        str,
        typer.Option(help="Denoiser: net (the trained one), gate (spectral gating) or none."),
    ] = "net",
    strength: Annotated[
        float, typer.Option(help="Denoising strength, 0 (none) to 1 (the most).")
    ] = 1.0,
    model: Annotated[
        Path | None,
        typer.Option(help="A trained denoiser (run or weights folder); default the shipped one."),
    ] = None,
) -> None:
    """Repair clipping, remove hum, denoise, and normalize loudness under a true-peak ceiling."""
    import warnings

    from aigc_studio.audio.denoise import trained_denoiser
    from aigc_studio.audio.enhance import StepCallback, check_enhance_options, enhance_file
    from aigc_studio.cli.runtime import progress_bar, say
    from aigc_studio.errors import ParameterError
    from aigc_studio.library import Provenance

    if method not in ("net", "gate", "none"):
        raise ParameterError(f"--method must be net, gate or none, got {method!r}")
    denoise_method = None if method == "none" else method
    check_enhance_options(target_lufs, true_peak, denoise_method, strength)
    pairs = input_output_pairs(source, output, AUDIO_SUFFIXES)
    trained = trained_denoiser(model) if method == "net" else None  # fails once, before any file
    params = {
        "target_lufs": target_lufs,
        "true_peak": true_peak,
        "method": method,
        "strength": strength,
        "model": str(model) if model else None,
    }

    def run_one(src: Path, dst: Path, on_progress: StepCallback | None = None) -> None:
        prov = Provenance.create(
            "audio enhance",
            params,
            kind="audio",
            inputs=[src],
            model=trained.name if trained else None,
            checkpoint_sha256=trained.source_sha256 if trained else None,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = enhance_file(
                src,
                dst,
                target_lufs=target_lufs,
                true_peak_db=true_peak,
                denoise_method=denoise_method,  # type: ignore[arg-type]
                strength=strength,
                model=trained,
                tags=prov.as_tags(),
                on_progress=on_progress,
            )
        for warning in caught:
            if issubclass(warning.category, UserWarning):  # notes such as silent input
                say(f"note: {src.name}: {warning.message}")
        record_output(dst, prov)
        stdout.print(f"{src.name}: {report.summary()}")

    if len(pairs) > 1:
        raise typer.Exit(process_all(pairs, run_one, "enhancing"))
    name = pairs[0][0].name
    with progress_bar() as bar:
        task = bar.add_task(f"enhancing {name}", total=None)

        def advance(step: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"{step}: {name}")

        run_one(*pairs[0], on_progress=advance)


@app.command(
    epilog="Examples:  aigc audio analyze song.flac  ·  aigc audio analyze take.wav --json"
)
def analyze(
    source: Annotated[Path, typer.Argument(help="Audio or video file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    tempo: Annotated[
        bool, typer.Option("--tempo/--no-tempo", help="Track tempo and beats (slowest part).")
    ] = True,
) -> None:
    """Measure loudness and its range, true peak, SNR, clipping, hum, tempo and beats."""
    from aigc_studio.audio.analysis import analyze_audio

    result = analyze_audio(source, tempo=tempo)
    if as_json:
        stdout.print_json(json.dumps(result.to_dict()))
        return

    def number(value: float | None, unit: str, missing: str = "–", digits: int = 1) -> str:
        if value is None:
            return missing
        if value == float("-inf"):
            return "silent"
        return f"{value:.{digits}f} {unit}"

    short = "too short to measure"
    hum = (
        f"{result.hum_hz:g} Hz, {result.hum_level_db:.0f} dB above the floor"
        if result.hum_hz is not None
        else "none"
    )
    beats = result.beat_times
    rows = [
        ("file", str(source)),
        ("duration", f"{result.duration_s:.2f} s"),
        ("sample rate", f"{result.sample_rate} Hz"),
        ("channels", str(result.channels)),
        ("integrated loudness", number(result.integrated_lufs, "LUFS", short)),
        ("loudness range", number(result.loudness_range_lu, "LU", "– (needs 3 s above the gate)")),
        ("true peak", number(result.true_peak_dbtp, "dBTP")),
        ("sample peak", number(result.sample_peak_dbfs, "dBFS")),
        ("SNR (estimate)", number(result.snr_db, "dB", short)),
        ("clipping", f"{100 * result.clipping_fraction:.2f} % of samples"),
        ("hum", hum),
        ("tempo", number(result.tempo_bpm, "BPM", "–" if tempo else "not measured")),
        ("beats", f"{len(beats)}" + (f", first at {beats[0]:.2f} s" if beats else "")),
    ]
    table = Table(show_header=False)
    for key, value in rows:
        table.add_row(key, value)
    stdout.print(table)
