from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from aigc_studio.training import TrainConfig, Trainer
from aigc_studio.training.metrics_log import read_metrics

WORKER = Path(__file__).with_name("ddp_worker.py")
LM = {"vocab_size": 16, "d_model": 32, "n_layers": 1, "n_heads": 2, "dropout": 0.0, "max_len": 64}
GAN = {
    "latent_dim": 8,
    "n_mels": 16,
    "frames": 16,
    "base_channels": 8,
    "num_classes": 3,
    "loss": "wgan-gp",
}


def launch(config: dict, out: Path) -> None:
    path = out / "config.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(WORKER),
            str(path),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_ddp_averages_gradients_and_rank0_alone_writes(token_data: Path, tmp_path: Path) -> None:
    config = dict(
        model="lstm-lm",
        data=str(token_data),
        model_config=LM,
        task={"context": 32},
        run_dir=str(tmp_path / "ddp-run"),
        steps=2,
        batch_size=2,
        lr=1e-2,
        log_every=1,
        checkpoint_every=1,
        ema_decay=0.0,
        seed=7,
        device="cpu",
    )
    launch(config, tmp_path)
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert rank0["world"] == 2
    for key, value in rank0["weights"]["model"].items():
        assert torch.equal(value, rank1["weights"]["model"][key]), key
    # Gradient averaging: one process on the same global batch (2 x 2 items) ends identical.
    single = dict(config, run_dir=str(tmp_path / "single-run"), batch_size=4)
    trainer = Trainer(TrainConfig.from_dict(single))
    trainer.fit()
    for key, value in rank0["weights"]["model"].items():
        torch.testing.assert_close(value, trainer.final_weights["model"][key], atol=2e-6, rtol=1e-5)
    # Rank 0 alone writes: one record per step, checkpoints only from rank 0.
    assert [r["step"] for r in read_metrics(tmp_path / "ddp-run")] == [1, 2]
    assert rank0["checkpoint"].endswith("step-00000002.pt") and rank1["checkpoint"] == "None"


@pytest.mark.slow
def test_ddp_gan_with_gradient_penalty_keeps_ranks_identical(
    mel_data: Path, tmp_path: Path
) -> None:
    config = dict(
        model="specgan",
        data=str(mel_data),
        model_config=GAN,
        task={"label_field": "pitch"},
        run_dir=str(tmp_path / "gan-run"),
        steps=2,
        batch_size=4,
        lr=1e-3,
        log_every=1,
        checkpoint_every=10,
        ema_decay=0.9,
        seed=1,
        device="cpu",
    )
    launch(config, tmp_path)
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)["weights"]
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)["weights"]
    for module in ("generator", "discriminator"):
        for key, value in rank0[module].items():
            if "running_" in key or "num_batches_tracked" in key:
                continue  # BatchNorm statistics are per process under DDP; rank 0's are saved
            assert torch.equal(value, rank1[module][key]), (module, key)
