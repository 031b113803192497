"""``aigc music compose|continue|harmonize|interpolate|vary``: music from the shipped models.

Registered on the ``music`` group by :mod:`aigc_studio.cli.music_commands`. Every command loads
its model once (the shipped weights unless ``--model`` names a run or weights folder), checks
all options before any work, writes each ``-o`` output by its suffix (MIDI, MusicXML, rendered
audio) and records the provenance (model, checkpoint hash, seed, controls).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aigc_studio.cli.music_commands import app
from aigc_studio.cli.music_outputs import RenderOptions, check_output_paths, write_music
from aigc_studio.cli.runtime import say, stdout
from aigc_studio.errors import ConfigError, ParameterError

#: Shipped models behind the commands.
MELODY_MODEL = "melody-folk"
CHORALE_MODEL = "chorale-harmonizer"
#: The shipped melody VAEs by window length in bars.
VAE_MODELS: dict[int, str] = {2: "melody-vae-2bar", 4: "melody-vae"}
#: Defaults per style: key (pitch class, mode), meter, tempo in quarter notes per minute.
STYLE_DEFAULTS: dict[str, tuple[tuple[int, str], str, float]] = {
    "folk": ((7, "major"), "4/4", 100.0),
    "reel": ((2, "major"), "4/4", 160.0),
    "jig": ((2, "major"), "6/8", 150.0),
    "fiddle": ((2, "major"), "4/4", 130.0),
    "chorale": ((7, "major"), "4/4", 80.0),
}

Outputs = Annotated[
    list[Path],
    typer.Option("--output", "-o", help="Output file(s): .mid, .musicxml/.mxl, .wav/.flac/.ogg."),
]
ModelOption = Annotated[
    Path | None, typer.Option(help="A trained run or weights folder (default: the shipped model).")
]
Seed = Annotated[int, typer.Option(help="Seed of the sampling.")]
Instrument = Annotated[
    str | None, typer.Option(help="Instrument of audio outputs (piano, strings, flute, ...).")
]
TargetLufs = Annotated[float, typer.Option(help="Loudness of audio outputs (LUFS).")]
Cadence = Annotated[
    bool, typer.Option(help="End the melody on the tonic (the last note moved to it).")
]
KeyStrength = Annotated[
    float,
    typer.Option(
        help="How firmly to hold the melody to its key, 0-3 (0: the model as it is; major keys "
        "are guided away from their relative minor, minor keys avoid their major third and "
        "sixth).",
    ),
]
Drafts = Annotated[
    int | None,
    typer.Option(
        help="Melodies sampled together, 1-16; the one that states its key most clearly (and "
        "passes the copy check) is kept. Default 4 in major keys, 8 in minor keys; 1: the "
        "model's first sample, fastest.",
    ),
]
VaeBars = Annotated[
    int,
    typer.Option(
        "--bars", help="Window of the shipped melody VAE: 2 or 4 bars (ignored with --model)."
    ),
]


def _load_vae(model: Path | None, bars: int) -> Any:
    if model is None and bars not in VAE_MODELS:
        raise ParameterError(f"--bars must be one of {sorted(VAE_MODELS)}, got {bars}")
    return _load(model, VAE_MODELS.get(bars, ""))


def _load(model: Path | None, default: str) -> Any:
    from aigc_studio.training import load_trained

    return load_trained(model if model is not None else default)


def _copy_index(trained: Any, fallback_dataset: str) -> Any:
    """Return the copy-check index of the training corpus (shipped, else the prepared data)."""
    from aigc_studio.music.copy_check import corpus_index

    source = Path(trained.source)
    folder = source if source.is_dir() else source.parent
    for candidate in (folder / "copy-index.npz", folder.parent / "copy-index.npz"):
        if candidate.is_file():
            return corpus_index(candidate)
    try:
        return corpus_index(fallback_dataset)
    except ConfigError:
        raise ConfigError(
            f"no copy-check index for {trained.name} (no copy-index.npz beside the weights and "
            f"{fallback_dataset} is not prepared); run `aigc data prepare --dataset "
            f"{fallback_dataset}` or pass --allow-copying"
        ) from None


def _provenance(
    command: str, params: dict[str, Any], trained: Any, seed: int, inputs: tuple | list = ()
) -> Any:
    from aigc_studio.library import Provenance

    def make(kind: str) -> Any:
        return Provenance.create(
            command,
            params,
            kind,
            inputs=inputs,
            model=trained.name,
            checkpoint_sha256=trained.source_sha256,
            seed=seed,
        )

    return make


def _controls(
    style: str | None,
    key: str | None,
    mode: str | None,
    meter: str | None,
    tempo: float | None,
    bars: int | None,
    temperature: float | None,
    prompt: str | None,
) -> Any:
    from aigc_studio.music.compose import bar_steps
    from aigc_studio.music.prompt import (
        STYLES,
        CompositionControls,
        merge_controls,
        parse_key_name,
        parse_prompt,
    )
    from aigc_studio.music.scores import check_tempo

    said = parse_prompt(prompt) if prompt else CompositionControls()
    if tempo is not None:
        check_tempo(tempo)
    if meter is not None:
        bar_steps(meter)
    if style is not None and style not in STYLES:
        raise ParameterError(f"--style must be one of {', '.join(STYLES)}, got {style!r}")
    if mode is not None and mode not in ("major", "minor"):
        raise ParameterError(f"--mode must be major or minor, got {mode!r}")
    explicit = CompositionControls(
        style=style,
        key=parse_key_name(key) if key is not None else None,
        mode=mode,
        meter=meter,
        tempo=tempo,
        bars=bars,
        temperature=temperature,
    )
    chosen_style = explicit.style or said.style or "folk"
    (default_key, default_mode), default_meter, default_tempo = STYLE_DEFAULTS[chosen_style]
    defaults = CompositionControls(
        style=chosen_style,
        key=default_key,
        mode=default_mode,
        meter=default_meter,
        tempo=default_tempo,
        bars=16,
        temperature=1.0,
    )
    merged = merge_controls(said, explicit, defaults)
    if merged.key is not None and explicit.key is not None and explicit.mode is None:
        merged.mode = said.mode or default_mode
    return merged


def _melody_outputs(
    outputs: list[Path],
    events: list,
    controls: Any,
    prov_for: Any,
    render: RenderOptions,
    title: str,
) -> None:
    from aigc_studio.music.scores import melody_to_midi, melody_to_score

    key = (controls.key, controls.mode or "major")
    midi = melody_to_midi(events, tempo=controls.tempo, meter=controls.meter, key=key)
    write_music(
        outputs,
        midi,
        lambda: melody_to_score(
            events, meter=controls.meter, key=key, tempo=controls.tempo, title=title
        ),
        prov_for,
        render,
    )


@app.command(
    epilog='Examples:  aigc music compose --prompt "calm folk tune in D minor" -o tune.mid '
    "-o tune.wav  ·  aigc music compose --style jig --key G --bars 32 -o jig.musicxml  ·  "
    "aigc music compose --style chorale -o chorale.mid"
)
def compose(
    output: Outputs,
    style: Annotated[
        str | None, typer.Option(help="folk, reel, jig, fiddle, or chorale (four voices).")
    ] = None,
    bars: Annotated[int | None, typer.Option(help="Length in bars (default 16).")] = None,
    key: Annotated[str | None, typer.Option(help="Tonic: C, F#, Bb, ...")] = None,
    mode: Annotated[str | None, typer.Option(help="major or minor.")] = None,
    meter: Annotated[str | None, typer.Option(help="Time signature, e.g. 6/8.")] = None,
    tempo: Annotated[float | None, typer.Option(help="Quarter notes per minute.")] = None,
    temperature: Annotated[
        float | None, typer.Option(help="Below 1: safer; above 1: more adventurous.")
    ] = None,
    seed: Seed = 0,
    prompt: Annotated[
        str | None, typer.Option(help='Text such as "lively jig in G"; explicit flags win.')
    ] = None,
    model: ModelOption = None,
    allow_copying: Annotated[
        bool, typer.Option(help="Keep melodies that repeat a long run of a training tune.")
    ] = False,
    max_shared: Annotated[
        int, typer.Option(help="Longest run of notes shared with a training tune.")
    ] = 12,
    cadence: Cadence = True,
    key_strength: KeyStrength = 1.0,
    drafts: Drafts = None,
    instrument: Instrument = None,
    target_lufs: TargetLufs = -16.0,
) -> None:
    """Compose a new melody (or a four-part chorale) with the trained models."""
    from aigc_studio.music.compose import compose_melody

    outputs = check_output_paths(output)
    controls = _controls(style, key, mode, meter, tempo, bars, temperature, prompt)
    render = RenderOptions(instrument=instrument, target_lufs=target_lufs)
    if controls.style == "chorale":
        copying = (allow_copying, max_shared)
        _compose_chorale(outputs, controls, seed, model, render, prompt, copying)
        return
    trained = _load(model, MELODY_MODEL)
    index = None if allow_copying else _copy_index(trained, "folk-melodies")
    result = compose_melody(
        trained,
        controls,
        seed=seed,
        copy_index=index,
        max_shared=max_shared,
        cadence=cadence,
        key_strength=key_strength,
        drafts=drafts,
    )
    params = {
        **result.controls.to_dict(),
        "prompt": prompt,
        "cadence": cadence,
        "key_strength": key_strength,
        "drafts": result.drafts,
        "allow_copying": allow_copying,
        "max_shared": max_shared,
        "attempts": result.attempts,
        "copy_check": result.copy_report,
    }
    prov_for = _provenance("music compose", params, trained, result.seed)
    _melody_outputs(outputs, result.events, result.controls, prov_for, render, "Composed melody")
    shared = result.copy_report["length_notes"] if result.copy_report else None
    say(
        f"composed {result.controls.bars} bars of {result.controls.style} in "
        f"{result.controls.meter} (seed {result.seed}, attempt {result.attempts}"
        + (f", longest shared run {shared} notes" if shared is not None else "")
        + ")"
    )


def _compose_chorale(
    outputs: list[Path],
    controls: Any,
    seed: int,
    model: Path | None,
    render: RenderOptions,
    prompt: str | None,
    copying: tuple[bool, int],
) -> None:
    """Sample a free four-part chorale; its soprano passes the copy check like a melody."""
    from aigc_studio.datasets.chorale_tokens import voices_to_pretty_midi
    from aigc_studio.music.compose import DEFAULT_MAX_ATTEMPTS, bar_steps
    from aigc_studio.music.copy_check import sample_original
    from aigc_studio.music.harmonize import sample_chorale
    from aigc_studio.music.scores import chorale_to_score

    allow_copying, max_shared = copying
    trained = _load(model, CHORALE_MODEL)
    index = None if allow_copying else _copy_index(trained, "bach-melodies")
    key = (controls.key, controls.mode or "major")
    steps = controls.bars * bar_steps(controls.meter) // 2  # sixteenths → eighth-note steps
    grid, seed, checked = sample_original(
        lambda seed: [
            sample_chorale(
                trained,
                steps=steps,
                meter=controls.meter,
                key=key,
                temperature=controls.temperature,
                seed=seed,
            )
        ],
        lambda grid: [step.pitch for step in grid[0] if step.onset],  # the soprano
        index,
        seed=seed,
        max_shared=max_shared,
        max_attempts=DEFAULT_MAX_ATTEMPTS,
        what="chorales (their sopranos)",
    )
    report = None if checked is None else checked.to_dict()
    midi = voices_to_pretty_midi(grid, controls.tempo, meter=controls.meter, key=key)
    params = {**controls.to_dict(), "prompt": prompt, "copy_check": report}
    write_music(
        outputs,
        midi,
        lambda: chorale_to_score(grid, meter=controls.meter, key=key, tempo=controls.tempo),
        _provenance("music compose", params, trained, seed),
        render,
    )
    say(f"composed a {controls.bars}-bar chorale in {controls.meter} (seed {seed})")


def _read_melody(source: Path) -> tuple[list, str, tuple[int, str]]:
    from aigc_studio.media import load_midi
    from aigc_studio.music.scores import melody_from_midi

    return melody_from_midi(load_midi(source))


@app.command(
    name="continue",
    epilog="Example:  aigc music continue opening.mid --bars 8 -o whole.mid -o whole.wav",
)
def continue_command(
    source: Annotated[Path, typer.Argument(help="MIDI file whose top line is the melody.")],
    output: Outputs,
    bars: Annotated[int, typer.Option(help="Bars to add.")] = 8,
    style: Annotated[str, typer.Option(help="folk, reel, jig or fiddle.")] = "folk",
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 1.0,
    tempo: Annotated[float | None, typer.Option(help="Quarter notes per minute.")] = None,
    seed: Seed = 0,
    model: ModelOption = None,
    allow_copying: Annotated[bool, typer.Option(help="Skip the copy check.")] = False,
    max_shared: Annotated[int, typer.Option(help="Longest run shared with a training tune.")] = 12,
    cadence: Cadence = True,
    drafts: Drafts = None,
    instrument: Instrument = None,
    target_lufs: TargetLufs = -16.0,
) -> None:
    """Continue a melody for some bars in its own meter and key (read from the file)."""
    from aigc_studio.media import load_midi
    from aigc_studio.music.compose import bar_steps, continue_melody, whole_bars
    from aigc_studio.music.prompt import CompositionControls
    from aigc_studio.music.scores import melody_from_midi

    outputs = check_output_paths(output)
    midi_in = load_midi(source)
    events, meter, key = melody_from_midi(midi_in)
    _, tempi = midi_in.get_tempo_changes()
    file_tempo = float(tempi[0]) if len(tempi) else None
    controls = CompositionControls(
        style=style,
        key=key[0],
        mode=key[1],
        meter=meter,
        tempo=tempo or file_tempo or STYLE_DEFAULTS.get(style, STYLE_DEFAULTS["folk"])[2],
        bars=bars,
        temperature=temperature,
    )
    trained = _load(model, MELODY_MODEL)
    index = None if allow_copying else _copy_index(trained, "folk-melodies")
    result = continue_melody(
        trained,
        events,
        controls,
        seed=seed,
        copy_index=index,
        max_shared=max_shared,
        cadence=cadence,
        drafts=drafts,
    )
    whole = whole_bars(events, bar_steps(meter)) + result.events
    params = {
        **result.controls.to_dict(),
        "cadence": cadence,
        "drafts": result.drafts,
        "copy_check": result.copy_report,
    }
    prov_for = _provenance("music continue", params, trained, result.seed, inputs=[source])
    render = render_options(instrument, target_lufs)
    _melody_outputs(outputs, whole, result.controls, prov_for, render, "Continued melody")
    say(f"added {bars} bars in {meter} to {source.name} (seed {result.seed})")


def render_options(instrument: str | None, target_lufs: float) -> RenderOptions:
    """Return the audio-rendering options of a command."""
    return RenderOptions(instrument=instrument, target_lufs=target_lufs)


@app.command(epilog="Example:  aigc music harmonize melody.mid -o chorale.mid -o chorale.musicxml")
def harmonize(
    source: Annotated[Path, typer.Argument(help="MIDI file whose top line is the soprano.")],
    output: Outputs,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.8,
    tempo: Annotated[float, typer.Option(help="Quarter notes per minute.")] = 80.0,
    seed: Seed = 0,
    model: ModelOption = None,
    instrument: Instrument = None,
    target_lufs: TargetLufs = -16.0,
) -> None:
    """Add alto, tenor and bass (Bach-chorale style) to a melody."""
    from aigc_studio.datasets.chorale_tokens import (
        midi_meter_and_key,
        soprano_steps_from_midi,
        voices_to_pretty_midi,
    )
    from aigc_studio.media import load_midi
    from aigc_studio.music.harmonize import harmonize as harmonize_melody
    from aigc_studio.music.scores import check_tempo, chorale_to_score

    outputs = check_output_paths(output)
    check_tempo(tempo)
    midi_in = load_midi(source)
    soprano = soprano_steps_from_midi(midi_in)
    meter, key = midi_meter_and_key(midi_in)
    if key is None:
        _, _, key = _read_melody(source)
    meter = meter or "4/4"
    trained = _load(model, CHORALE_MODEL)
    grid = harmonize_melody(
        soprano, trained, meter=meter, key=key, temperature=temperature, seed=seed
    )
    midi = voices_to_pretty_midi(grid, tempo, meter=meter, key=key)
    params = {"temperature": temperature, "tempo": tempo, "meter": meter, "key": list(key)}
    write_music(
        outputs,
        midi,
        lambda: chorale_to_score(grid, meter=meter, key=key, tempo=tempo),
        _provenance("music harmonize", params, trained, seed, inputs=[source]),
        render_options(instrument, target_lufs),
    )
    say(f"harmonized {source.name} in four parts ({meter}, seed {seed})")


def _vae_outputs(folder: Path, stem: str, formats: list[str]) -> list[Path]:
    suffixes = {"mid": ".mid", "musicxml": ".musicxml", "wav": ".wav"}
    for fmt in formats:
        if fmt not in suffixes:
            raise ParameterError(f"--format must be mid, musicxml or wav, got {fmt!r}")
    return [folder / f"{stem}{suffixes[fmt]}" for fmt in formats]


def _output_folder(folder: Path) -> Path:
    if folder.exists() and not folder.is_dir():
        raise ParameterError(f"{folder} is a file; give a folder for the melodies")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@app.command(
    epilog="Example:  aigc music interpolate a.mid b.mid --steps 5 -o morph/ --format mid "
    "--format wav"
)
def interpolate(
    first: Annotated[Path, typer.Argument(help="Start melody (MIDI, 4/4 or 2/2).")],
    second: Annotated[Path, typer.Argument(help="End melody (MIDI, 4/4 or 2/2).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    steps: Annotated[int, typer.Option(help="Melodies from start to end, both included.")] = 5,
    formats: Annotated[
        list[str] | None, typer.Option("--format", help="mid, musicxml, wav (repeatable).")
    ] = None,
    tempo: Annotated[float, typer.Option(help="Quarter notes per minute.")] = 100.0,
    seed: Seed = 0,
    model: ModelOption = None,
    bars: VaeBars = 4,
    instrument: Instrument = None,
    target_lufs: TargetLufs = -16.0,
) -> None:
    """Morph one melody into another through the melody VAE's latent space (slerp)."""
    from aigc_studio.music.variation import interpolate_melodies

    if not 2 <= steps <= 64:
        raise ParameterError(f"--steps must be in [2, 64], got {steps}")
    formats = formats or ["mid"]
    a_events, meter, key = _read_melody(first)
    b_events, _, _ = _read_melody(second)
    trained = _load_vae(model, bars)
    vae = trained.modules["model"] if hasattr(trained, "modules") else trained
    melodies = interpolate_melodies(vae, a_events, b_events, steps, seed=seed)
    folder = _output_folder(output)
    for number, events in enumerate(melodies):
        params = {"steps": steps, "index": number, "tempo": tempo, "bars": bars}
        _melody_outputs(
            _vae_outputs(folder, f"interpolation-{number:02d}", formats),
            events,
            _fixed_controls(meter, key, tempo),
            _provenance("music interpolate", params, trained, seed, inputs=[first, second]),
            render_options(instrument, target_lufs),
            f"Interpolation {number}",
        )
    stdout.print(f"wrote {len(melodies)} melodies from {first.name} to {second.name} in {folder}")


def _fixed_controls(meter: str, key: tuple[int, str], tempo: float) -> Any:
    from aigc_studio.music.prompt import CompositionControls

    return CompositionControls(key=key[0], mode=key[1], meter=meter, tempo=tempo)


@app.command(epilog="Example:  aigc music vary theme.mid -n 4 -o variations/ --spread 0.7")
def vary(
    source: Annotated[Path, typer.Argument(help="Melody (MIDI, 4/4 or 2/2).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    n: Annotated[int, typer.Option("-n", help="Number of variations.")] = 4,
    spread: Annotated[
        float, typer.Option(help="How far from the original (0: none, 1: the posterior's width).")
    ] = 0.5,
    formats: Annotated[
        list[str] | None, typer.Option("--format", help="mid, musicxml, wav (repeatable).")
    ] = None,
    tempo: Annotated[float, typer.Option(help="Quarter notes per minute.")] = 100.0,
    seed: Seed = 0,
    model: ModelOption = None,
    bars: VaeBars = 4,
    instrument: Instrument = None,
    target_lufs: TargetLufs = -16.0,
) -> None:
    """Make variations of a melody by sampling near its code in the melody VAE."""
    from aigc_studio.music.variation import vary_melody

    if not 1 <= n <= 64:
        raise ParameterError(f"-n must be in [1, 64], got {n}")
    if not 0.0 <= spread <= 3.0:
        raise ParameterError(f"--spread must be in [0, 3], got {spread}")
    formats = formats or ["mid"]
    events, meter, key = _read_melody(source)
    trained = _load_vae(model, bars)
    vae = trained.modules["model"] if hasattr(trained, "modules") else trained
    variations = vary_melody(vae, events, n, spread=spread, seed=seed)
    folder = _output_folder(output)
    for number, melody in enumerate(variations):
        params = {"n": n, "spread": spread, "index": number, "tempo": tempo, "bars": bars}
        _melody_outputs(
            _vae_outputs(folder, f"variation-{number:02d}", formats),
            melody,
            _fixed_controls(meter, key, tempo),
            _provenance("music vary", params, trained, seed, inputs=[source]),
            render_options(instrument, target_lufs),
            f"Variation {number}",
        )
    stdout.print(f"wrote {len(variations)} variations of {source.name} in {folder}")
