from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from aigc_studio.cli import run
from aigc_studio.errors import ConfigError
from aigc_studio.training import TrainConfig, export_weights, load_trained, train
from aigc_studio.training.checkpoint import load_checkpoint
from aigc_studio.training.metrics_log import read_metrics

GAN = {"latent_dim": 8, "n_mels": 16, "frames": 16, "base_channels": 8, "num_classes": 3}
VAE = {"n_mels": 16, "frames": 16, "latent_dim": 4, "base_channels": 8, "kl_warmup_steps": 4}
LM = {"vocab_size": 16, "d_model": 32, "n_layers": 1, "n_heads": 2, "dropout": 0.0, "max_len": 64}
VOCODER = {
    "n_mels": 32,
    "hop_length": 256,
    "upsample_initial_channels": 16,
    "resblock_kernel_sizes": [3],
    "resblock_dilations": [[1, 3]],
}
VOCODER_TASK = {
    "segment_samples": 2048,
    "adversarial_start": 2,
    "discriminator": {"periods": [2, 3], "scales": 2},
}


def family_config(
    family: str, data: dict[str, Path], run_dir: Path, steps: int, **overrides
) -> TrainConfig:
    values = {
        "gan": dict(
            model="specgan",
            data=str(data["mel"]),
            model_config=GAN,
            task={"label_field": "pitch"},
            lr=1e-3,
            betas=(0.5, 0.9),
        ),
        "vae": dict(model="spectrogram-vae", data=str(data["mel"]), model_config=VAE, lr=3e-3),
        "lstm": dict(
            model="lstm-lm",
            data=str(data["tokens"]),
            model_config=LM,
            lr=1e-2,
            task={"context": 32},
        ),
        "gru": dict(
            model="gru-lm", data=str(data["tokens"]), model_config=LM, lr=1e-2, task={"context": 32}
        ),
        "transformer": dict(
            model="transformer-lm",
            data=str(data["tokens"]),
            model_config=LM,
            lr=3e-3,
            task={"context": 32},
        ),
        "istft-vocoder": dict(
            model="istft-vocoder",
            data=str(data["audio"]),
            model_config={"n_mels": 32, "channels": 32, "layers": 2},
            task=VOCODER_TASK,
            lr=1e-3,
        ),
        "vocoder": dict(
            model="hifigan-vocoder",
            data=str(data["audio"]),
            model_config=VOCODER,
            task=VOCODER_TASK,
            lr=1e-3,
        ),
    }[family]
    values.update(
        run_dir=str(run_dir),
        steps=steps,
        batch_size=4,
        log_every=1,
        checkpoint_every=1000,
        ema_decay=0.9,
        seed=3,
    )
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture
def data(mel_data: Path, token_data: Path, audio_data: Path) -> dict[str, Path]:
    return {"mel": mel_data, "tokens": token_data, "audio": audio_data}


@pytest.mark.parametrize("family", ["vae", "lstm", "gru", "transformer"])
def test_likelihood_families_lower_their_loss(family: str, data, tmp_path: Path) -> None:
    result = train(family_config(family, data, tmp_path / "run", steps=30))
    losses = [r["loss"] for r in read_metrics(tmp_path / "run")]
    assert len(losses) == 30 and result.step == 30
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])


def test_gan_discriminator_learns_to_tell_real_from_fake(data, tmp_path: Path) -> None:
    train(family_config("gan", data, tmp_path / "run", steps=25))
    records = read_metrics(tmp_path / "run")
    assert all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in records)
    gap = [r["d_real"] - r["d_fake"] for r in records]
    assert np.mean(gap[-5:]) > 0  # real spectrograms score higher than generated ones


@pytest.mark.parametrize("family", ["vocoder", "istft-vocoder"])
def test_vocoder_reconstruction_improves(family: str, data, tmp_path: Path) -> None:
    train(family_config(family, data, tmp_path / "run", steps=12, lr=2e-3))
    records = read_metrics(tmp_path / "run")
    assert np.mean([r["mel_l1"] for r in records[-3:]]) < np.mean(
        [r["mel_l1"] for r in records[:3]]
    )
    assert "d_loss" in records[-1] and "d_loss" not in records[0]  # adversarial after warm-up


def test_istft_vocoder_learns_its_spectrum_under_phase_supervision(data, tmp_path: Path) -> None:
    spectrum = {**VOCODER_TASK, "adversarial_start": 100, "spectrum_weight": 5.0}
    config = family_config(
        "istft-vocoder",
        data,
        tmp_path / "run",
        steps=15,
        lr=3e-3,
        task={**spectrum, "phase_weight": 5.0},
    )
    train(config)
    records = read_metrics(tmp_path / "run")
    for key in ("spectrum_sc", "spectrum_mag", "group_delay", "inst_frequency"):
        assert all(0 <= r[key] < 10 for r in records), key
    assert np.mean([r["spectrum_mag"] for r in records[-3:]]) < np.mean(
        [r["spectrum_mag"] for r in records[:3]]
    )
    hifigan = family_config("vocoder", data, tmp_path / "hifi", steps=1, task=spectrum)
    with pytest.raises(ConfigError, match="iSTFT vocoder"):
        train(hifigan)


@pytest.mark.parametrize("family", ["gan", "vae", "lstm", "transformer", "vocoder"])
def test_resume_repeats_the_uninterrupted_run_exactly(family: str, data, tmp_path: Path) -> None:
    train(family_config(family, data, tmp_path / "straight", steps=6))
    train(family_config(family, data, tmp_path / "split", steps=3))
    train(family_config(family, data, tmp_path / "split", steps=6), resume=True)
    straight = read_metrics(tmp_path / "straight")
    resumed = read_metrics(tmp_path / "split")
    assert [r["step"] for r in resumed] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(straight, resumed, strict=True):
        assert {k: v for k, v in a.items() if k != "time"} == {
            k: v for k, v in b.items() if k != "time"
        }
    final_a = load_checkpoint(tmp_path / "straight")["modules"]
    final_b = load_checkpoint(tmp_path / "split")["modules"]
    for name in final_a:
        for key in final_a[name]:
            assert torch.equal(final_a[name][key], final_b[name][key]), (name, key)


def test_checkpoint_is_safe_to_load_and_complete(data, tmp_path: Path) -> None:
    train(family_config("gan", data, tmp_path / "run", steps=2))
    payload = torch.load(tmp_path / "run" / "checkpoints" / "latest.pt", weights_only=True)
    assert payload["step"] == 2 and payload["model_name"] == "specgan"
    assert set(payload["modules"]) == {"generator", "discriminator"}
    assert set(payload["optimizers"]) == {"generator", "discriminator"}
    assert set(payload["ema"]) == {"generator"}
    assert {"torch", "numpy", "python"} <= set(payload["rng"])
    assert payload["task_state"]["label_values"] == [60, 64, 67]


def test_ctrl_c_stops_after_the_step_with_a_checkpoint(data, tmp_path: Path) -> None:
    def interrupt(step: int, total: int, losses: dict[str, float]) -> None:
        if step == 2:
            os.kill(os.getpid(), signal.SIGINT)

    from aigc_studio.training import Trainer

    result = Trainer(
        family_config("vae", data, tmp_path / "run", steps=50), on_progress=interrupt
    ).fit()
    assert result.interrupted and result.step == 2
    assert load_checkpoint(tmp_path / "run")["step"] == 2


def test_a_trained_run_is_not_overwritten(data, tmp_path: Path) -> None:
    train(family_config("vae", data, tmp_path / "run", steps=1))
    with pytest.raises(ConfigError, match="--resume"):
        train(family_config("vae", data, tmp_path / "run", steps=2))
    with pytest.raises(ConfigError, match="model config differs"):
        config = family_config(
            "vae", data, tmp_path / "run", steps=2, model_config={**VAE, "latent_dim": 8}
        )
        train(config, resume=True)
    with pytest.raises(ConfigError, match="nothing to resume"):
        train(family_config("vae", data, tmp_path / "empty", steps=2), resume=True)


def test_export_then_load_generates_the_same(data, tmp_path: Path) -> None:
    train(family_config("gan", data, tmp_path / "run", steps=2))
    export_weights(tmp_path / "run", tmp_path / "weights", metrics={"note": "tiny"})
    from_run = load_trained(tmp_path / "run").generate(3, seed=5, labels=[64])
    from_export = load_trained(tmp_path / "weights").generate(3, seed=5, labels=[64])
    np.testing.assert_allclose(from_run["mel"], from_export["mel"], atol=1e-6)
    assert from_run["labels"] == [64, 64, 64]
    config = json.loads((tmp_path / "weights" / "config.json").read_text())
    assert config["metrics"] == {"note": "tiny"} and config["modules"] == ["generator"]
    with pytest.raises(ConfigError, match="not in the training data"):
        load_trained(tmp_path / "weights").generate(1, labels=[61])


def test_cli_train_evaluate_generate(
    data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "lm"
    args = [
        "train",
        "--model",
        "transformer-lm",
        "--data",
        str(data["tokens"]),
        "--run",
        str(run_dir),
        "--steps",
        "4",
        "--batch-size",
        "4",
        "-t",
        "context=32",
    ]
    for key, value in LM.items():
        args += ["-p", f"{key}={value}"]
    assert run(args) == 0
    capsys.readouterr()
    assert run(["evaluate", str(run_dir), "--json", "--split", "valid"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{") :])
    assert report["nll"] > 0 and report["split"] == "valid"
    assert (
        run(["generate", str(run_dir), "-n", "2", "-o", str(tmp_path / "samples"), "--seed", "1"])
        == 0
    )
    files = sorted((tmp_path / "samples").iterdir())
    assert len(files) == 2 and files[0].read_text().split()[0] == "1"  # starts with BOS


def test_cli_generate_gan_audio_is_recorded(data, tmp_path: Path) -> None:
    train(family_config("gan", data, tmp_path / "run", steps=2))
    out = tmp_path / "wavs"
    assert (
        run(
            [
                "generate",
                str(tmp_path / "run"),
                "-n",
                "2",
                "--label",
                "60",
                "-o",
                str(out),
                "--vocoder",
                "griffin-lim",
            ]
        )
        == 0
    )
    wavs = sorted(out.glob("*.wav"))
    assert len(wavs) == 2 and "label60" in wavs[0].name
    from aigc_studio.library import OutputLibrary

    with OutputLibrary() as library:
        record = library.verify(wavs[0]).record
    assert record is not None and record.model == "specgan" and record.seed == 0
    assert record.checkpoint_sha256 and len(record.checkpoint_sha256) == 64


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--model", "nope", "--data", "x", "--run", "r"], "no model"),
        (
            ["train", "--model", "specgan", "--data", "missing-dataset", "--run", "r"],
            "aigc data prepare",
        ),
        (["train", "--preset", "no-such-preset", "--run", "r"], "no preset"),
        (["train", "--model", "specgan", "--data", "x"], "--run is required"),
        (["train", "--model", "specgan", "--data", "x", "--run", "r", "-p", "bogus=1"], "bogus"),
        (["evaluate", "no-such-run"], "no such run"),
        (["generate", "no-such-run", "-o", "o"], "no such run"),
    ],
)
def test_cli_refuses_bad_requests_in_one_line(
    args, message, tmp_path: Path, monkeypatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("error:") and len(err.strip().splitlines()) == 1


def test_conditional_vae_cycles_requested_labels(data, tmp_path: Path) -> None:
    config = family_config(
        "vae",
        data,
        tmp_path / "run",
        steps=1,
        model_config={**VAE, "num_classes": 3},
        task={"label_field": "pitch"},
    )
    train(config)
    result = load_trained(tmp_path / "run").generate(3, seed=0, labels=[64])
    assert result["labels"] == [64, 64, 64] and result["mel"].shape[0] == 3
    with pytest.raises(ConfigError, match="not in the training data"):
        load_trained(tmp_path / "run").generate(1, labels=[61])


def test_export_of_a_language_model_with_tied_embeddings(data, tmp_path: Path) -> None:
    train(family_config("transformer", data, tmp_path / "lm", steps=2))
    export_weights(tmp_path / "lm", tmp_path / "weights")
    from_run = load_trained(tmp_path / "lm").generate(2, seed=3)
    loaded = load_trained(tmp_path / "weights")
    model = loaded.modules["model"]
    assert model.head.weight is model.token_embedding.weight  # still tied after loading
    np.testing.assert_array_equal(from_run["tokens"], loaded.generate(2, seed=3)["tokens"])


def test_cosine_decay_lowers_the_rate_and_resumes_exactly(data, tmp_path: Path) -> None:
    decay = {"lr_decay_start": 2, "lr_final_ratio": 0.1}
    train(family_config("lstm", data, tmp_path / "straight", steps=6, **decay))
    # Interrupted at step 3 (its checkpoint), then resumed to the same 6 steps.
    train(family_config("lstm", data, tmp_path / "split", steps=6, checkpoint_every=3, **decay))
    (tmp_path / "split" / "checkpoints" / "step-00000006.pt").unlink()
    shutil.copy(
        tmp_path / "split" / "checkpoints" / "step-00000003.pt",
        tmp_path / "split" / "checkpoints" / "latest.pt",
    )
    train(family_config("lstm", data, tmp_path / "split", steps=6, **decay), resume=True)
    payload = load_checkpoint(tmp_path / "straight")
    resumed = load_checkpoint(tmp_path / "split" / "checkpoints" / "latest.pt")
    for key, tensor in payload["modules"]["model"].items():
        assert torch.equal(tensor, resumed["modules"]["model"][key]), key
    lr = payload["optimizers"]["model"]["param_groups"][0]["lr"]
    config = family_config("lstm", data, tmp_path / "x", steps=6, **decay)
    assert lr == pytest.approx(config.lr * config.lr_factor(5))  # the last step's rate
    assert config.lr_factor(6) == pytest.approx(0.1) and config.lr_factor(2) == 1.0
    with pytest.raises(ConfigError, match="lr_decay_start"):
        family_config("lstm", data, tmp_path / "y", steps=6, lr_decay_start=6)


def test_load_shipped_loads_a_shipped_model_once() -> None:
    from aigc_studio.training import load_shipped
    from aigc_studio.weights import list_shipped_weights

    name = list_shipped_weights()[0]
    first = load_shipped(name)
    assert load_shipped(name) is first
    assert first.step > 0
