"""``aigc train``, ``aigc evaluate``, ``aigc generate``, ``aigc export``: pipeline steps 3-5."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from aigc_studio.cli.runtime import progress_bar, record_output, say, stdout
from aigc_studio.errors import ConfigError, MediaError


def _parse_assignments(pairs: list[str] | None, what: str) -> dict[str, Any]:
    """Parse ``key=value`` flags; values are read as JSON where they parse, else as text."""
    values: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what} takes key=value, got {pair!r}")
        try:
            values[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            values[key.strip()] = raw
    return values


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


def train(
    model: Annotated[str | None, typer.Option(help="Model name (see --list).")] = None,
    preset: Annotated[str | None, typer.Option(help="Preset name or TOML file.")] = None,
    data: Annotated[str | None, typer.Option(help="Dataset name or cache folder.")] = None,
    run: Annotated[Path | None, typer.Option(help="Run folder for checkpoints and logs.")] = None,
    steps: Annotated[int | None, typer.Option(min=1, help="Total optimizer steps.")] = None,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Items per step per process.")
    ] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of every random choice.")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda.")] = None,
    checkpoint_every: Annotated[int | None, typer.Option(min=1)] = None,
    eval_every: Annotated[int | None, typer.Option(min=0)] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Model config value key=value.")
    ] = None,
    task_option: Annotated[
        list[str] | None, typer.Option("--task-option", "-t", help="Task option key=value.")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the run from its last checkpoint.")
    ] = False,
    list_all: Annotated[bool, typer.Option("--list", help="List models and presets.")] = False,
) -> None:
    """Train a model (step 3 of the pipeline); Ctrl-C stops cleanly with a checkpoint.

    Under ``torchrun --nproc_per_node N`` the same command trains with DistributedDataParallel.
    """
    from aigc_studio.models import list_models
    from aigc_studio.training import TrainConfig, Trainer, list_presets, load_preset
    from aigc_studio.training.distributed import teardown_distributed

    if list_all:
        table = Table(title="models")
        table.add_column("model")
        table.add_column("family")
        table.add_column("what it is")
        for spec in list_models():
            table.add_row(spec.name, spec.family, spec.description)
        stdout.print(table)
        stdout.print("presets: " + ", ".join(list_presets()))
        return
    values: dict[str, Any] = load_preset(preset) if preset else {"model_config": {}, "task": {}}
    flags = {
        "model": model,
        "data": data,
        "run_dir": str(run) if run else None,
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "device": device,
        "checkpoint_every": checkpoint_every,
        "eval_every": eval_every,
    }
    values.update({k: v for k, v in flags.items() if v is not None})
    values["model_config"] = {
        **values.get("model_config", {}),
        **_parse_assignments(param, "--param"),
    }
    values["task"] = {**values.get("task", {}), **_parse_assignments(task_option, "--task-option")}
    for required in ("model", "data", "run_dir"):
        if not values.get(required):
            flag = {"run_dir": "--run"}.get(required, f"--{required}")
            raise ConfigError(f"{flag} is required (or a --preset that sets it)")
    config = TrainConfig.from_dict(values)
    main = _is_main_process()
    bar = progress_bar()
    task = bar.add_task(f"training {config.model}", total=config.steps)

    def show(step: int, total: int, losses: dict[str, float]) -> None:
        text = " ".join(f"{k}={v:.3g}" for k, v in list(losses.items())[:4])
        bar.update(task, completed=step, description=f"{config.model} {text}")

    # Build (and so validate) everything before the progress bar starts drawing.
    trainer = Trainer(config, resume=resume, on_progress=show if main else None)
    if main:
        with bar:
            result = trainer.fit()
    else:
        result = trainer.fit()
    teardown_distributed()  # under torchrun: once every process is done, leave the group
    if main:
        state = "interrupted at" if result.interrupted else "finished at"
        say(f"{state} step {result.step}; checkpoint {result.checkpoint}")
        stdout.print(json.dumps({"step": result.step, **result.losses}))


def evaluate(
    run: Annotated[Path, typer.Argument(help="Run folder, checkpoint or weights folder.")],
    data: Annotated[
        str | None, typer.Option(help="Dataset (default: the one it trained on).")
    ] = None,
    split: Annotated[str, typer.Option(help="train, valid or test.")] = "test",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Evaluate a trained model on held-out data (step 4 of the pipeline)."""
    from aigc_studio.training import evaluate_run

    if split not in ("train", "valid", "test"):
        raise ConfigError(f"--split must be train, valid or test, got {split!r}")
    metrics = evaluate_run(run, data=data, split=split)
    if as_json:
        stdout.print_json(json.dumps(metrics))
        return
    table = Table(title=f"{metrics['model']} at step {metrics['step']} on {split}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    stdout.print(table)


def generate(
    run: Annotated[Path, typer.Argument(help="Run folder, checkpoint or weights folder.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    n: Annotated[int, typer.Option("-n", min=1, max=10_000, help="How many.")] = 16,
    seed: Annotated[int, typer.Option(help="Seed (same seed, same outputs).")] = 0,
    label: Annotated[
        list[int] | None, typer.Option(help="Label value(s), e.g. MIDI pitch; cycled.")
    ] = None,
    vocoder: Annotated[
        str,
        typer.Option(
            help="auto (the shipped vocoder where the feature matches, else Griffin-Lim), "
            "griffin-lim, or a trained vocoder's path."
        ),
    ] = "auto",
) -> None:
    """Generate samples from a trained model (step 5 of the pipeline) into a folder."""
    from aigc_studio.library import Provenance
    from aigc_studio.media import save_audio
    from aigc_studio.media.atomic import atomic_output
    from aigc_studio.training import load_trained
    from aigc_studio.training.mel_rendering import render_mel

    model = load_trained(run)
    result = model.generate(n, seed=seed, labels=label)
    output.mkdir(parents=True, exist_ok=True)
    params = {"n": n, "seed": seed, "label": label, "run": str(run)}
    labels = result.get("labels") or [None] * n

    def provenance(index: int, kind: str, extra: dict[str, Any]) -> Provenance:
        return Provenance.create(
            "generate",
            {**params, "index": index, **extra},
            kind=kind,
            model=model.name,
            checkpoint_sha256=model.source_sha256,
            seed=seed,
        )

    written = 0
    if "mel" in result:
        features = model.task.state.get("features", {})
        audio, method = render_mel(result["mel"], features, vocoder=vocoder)
        sr = int(features.get("sr", 16000))
        for i, wave in enumerate(audio):
            name = f"{model.name}-{seed}-{i:03d}" + (f"-label{labels[i]}" if labels[i] else "")
            prov = provenance(i, "audio", {"label_value": labels[i], "renderer": method})
            save_audio(output / f"{name}.wav", wave, sr, tags=prov.as_tags())
            record_output(output / f"{name}.wav", prov)
            written += 1
    elif "audio" in result:
        for i, wave in enumerate(result["audio"]):
            prov = provenance(i, "audio", {})
            path = output / f"{model.name}-{seed}-{i:03d}.wav"
            save_audio(path, wave, int(result["sr"]), tags=prov.as_tags())
            record_output(path, prov)
            written += 1
    elif "images" in result:
        import cv2

        for i, image in enumerate(result["images"]):
            prov = provenance(i, "image", {"layout": "input | output | truth"})
            path = output / f"{model.name}-{seed}-{i:03d}.png"
            ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            if not ok:
                raise MediaError(f"{path}: PNG encoding failed")
            with atomic_output(path) as tmp:
                tmp.write_bytes(encoded.tobytes())
            record_output(path, prov)
            written += 1
    elif "tokens" in result:
        names = result.get("token_names")
        for i, row in enumerate(np.asarray(result["tokens"])):
            prov = provenance(i, "other", {})
            path = output / f"{model.name}-{seed}-{i:03d}.tokens.txt"
            text = " ".join(names[t] if names else str(int(t)) for t in row)
            with atomic_output(path) as tmp:
                tmp.write_text(text + "\n")
            record_output(path, prov)
            written += 1
    stdout.print(f"{written} sample(s) from {model.name} (step {model.step}) in {output}")


def export(
    run: Annotated[Path, typer.Argument(help="Run folder or checkpoint.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Weights folder to write.")],
    metrics_file: Annotated[
        Path | None, typer.Option("--metrics", help="JSON file of metrics to store with it.")
    ] = None,
) -> None:
    """Export a run's (EMA) weights as safetensors + config.json, the form the package ships."""
    from aigc_studio.training import export_weights

    metrics = json.loads(metrics_file.read_text()) if metrics_file else None
    folder = export_weights(run, output, metrics=metrics)
    size = (folder / "model.safetensors").stat().st_size / 1e6
    stdout.print(f"exported {run} to {folder} ({size:.1f} MB)")
