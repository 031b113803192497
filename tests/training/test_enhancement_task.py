from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from aigc_studio.datasets.cache import write_cache
from aigc_studio.errors import ConfigError
from aigc_studio.training import TrainConfig, Trainer, evaluate_run, load_preset, load_trained
from aigc_studio.training.checkpoint import load_checkpoint
from aigc_studio.training.metrics_log import read_metrics

SR = 16_000
TINY = {"hidden_size": 16, "gru_layers": 1, "n_bands": 16}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pairs(count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Tone bursts (speech stand-ins) in white noise at 0 dB SNR, 0.25 s each."""
    t = np.arange(SR // 4) / SR
    clean = np.stack(
        [
            0.3 * np.sin(2 * np.pi * rng.uniform(200, 600) * t) * (np.sin(2 * np.pi * 3 * t) > 0)
            for _ in range(count)
        ]
    ).astype(np.float32)
    noise = rng.standard_normal(clean.shape).astype(np.float32)
    noise *= np.sqrt((clean**2).mean(1, keepdims=True) / (noise**2).mean(1, keepdims=True))
    return {"clean": clean, "noisy": clean + noise}


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    splits = {split: _pairs(n, rng) for split, n in (("train", 16), ("valid", 4), ("test", 4))}
    root = tmp_path_factory.mktemp("data") / "tiny-pairs"
    return write_cache(root, "tiny-pairs", {"sr": SR}, splits)


def _config(data: Path, run: Path, steps: int, **overrides) -> TrainConfig:
    values = {
        "model": "gru-denoiser",
        "data": str(data),
        "run_dir": str(run),
        "model_config": TINY,
        "task": {"segment_samples": 2000},
        "steps": steps,
        "batch_size": 4,
        "lr": 3e-3,
        "eval_every": steps,
        "log_every": 1,
        "ema_decay": 0.0,
        **overrides,
    }
    return TrainConfig.from_dict(values)


def test_five_steps_train_checkpoint_and_evaluate(pairs: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    result = Trainer(_config(pairs, tmp_path / "run", 5)).fit()
    assert result.step == 5 and result.checkpoint is not None
    assert np.isfinite(result.losses["loss"])
    assert {"si_sdr", "stft_sc", "stft_mag", "grad_norm"} <= set(result.losses)
    payload = load_checkpoint(result.checkpoint)
    assert payload["family"] == "enhancement" and "denoiser" in payload["modules"]
    valid = read_metrics(tmp_path / "run", phase="valid")
    assert valid and {"si_sdr", "si_sdr_noisy", "si_sdri"} <= set(valid[-1])
    metrics = evaluate_run(tmp_path / "run", split="test")
    assert metrics["si_sdri"] == pytest.approx(metrics["si_sdr"] - metrics["si_sdr_noisy"])
    model = load_trained(tmp_path / "run", data=str(pairs))
    generated = model.generate(2, seed=0)
    assert generated["audio"].shape == generated["reference"].shape == (2, SR // 4)
    assert generated["sr"] == SR


def test_a_short_training_improves_si_sdr(pairs: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    Trainer(_config(pairs, tmp_path / "run", 40, lr=1e-2)).fit()
    valid = read_metrics(tmp_path / "run", phase="valid")
    assert valid[-1]["si_sdri"] > 3.0


def test_data_without_pairs_or_at_another_rate_is_refused(pairs: Path, tmp_path: Path) -> None:
    other = write_cache(
        tmp_path / "audio-only", "x", {"sr": SR}, {"train": {"audio": np.zeros((2, 4000))}}
    )
    with pytest.raises(ConfigError, match="clean"):
        Trainer(_config(other, tmp_path / "a", 1)).fit()
    with pytest.raises(ConfigError, match="Hz"):
        Trainer(_config(pairs, tmp_path / "b", 1, model_config={**TINY, "sr": 8000})).fit()
    with pytest.raises(ConfigError, match="segment_samples"):
        _ = Trainer(_config(pairs, tmp_path / "c", 1, task={"segment_samples": 100}))


def test_preset_builds_a_real_time_sized_model() -> None:
    values = load_preset("denoiser-speech")
    assert values["model"] == "gru-denoiser" and values["data"] == "speech-noise"
    config = TrainConfig.from_dict({**values, "run_dir": "unused"})
    from aigc_studio.models.registry import build_model_config

    model_config = build_model_config(config.model, config.model_config)
    assert model_config.sr == 16_000 and model_config.n_fft == 320


def _task(config: TrainConfig, pairs: Path) -> Any:
    """The enhancement task of a tiny denoiser, built without a Trainer."""
    from aigc_studio.models.registry import build_model_config, get_model_spec
    from aigc_studio.training.tasks import make_task

    return make_task(
        get_model_spec("gru-denoiser"),
        build_model_config("gru-denoiser", TINY),
        config,
        pairs,
        torch.device("cpu"),
    )


def test_remixing_swaps_noise_between_items_at_the_drawn_snr(pairs: Path, tmp_path: Path) -> None:
    config = _config(
        pairs, tmp_path / "r", 1, task={"remix_fraction": 1.0, "remix_snr_db": [3.0, 3.0]}
    )
    task = _task(config, pairs)
    data = _pairs(4, np.random.default_rng(1))
    clean, noisy = torch.from_numpy(data["clean"]), torch.from_numpy(data["noisy"])
    torch.manual_seed(0)
    remixed = task._remix(clean, noisy)
    noise = remixed - clean
    snr = 10 * torch.log10(clean.square().mean(-1) / noise.square().mean(-1))
    torch.testing.assert_close(snr, torch.full((4,), 3.0), atol=1e-3, rtol=0)
    for row in range(4):  # each item now carries some other item's noise, rescaled
        own = noisy[row] - clean[row]
        assert abs(float(torch.nn.functional.cosine_similarity(noise[row], own, dim=0))) < 0.5
    with pytest.raises(ConfigError, match="remix_fraction"):
        _ = Trainer(_config(pairs, tmp_path / "d", 1, task={"remix_fraction": 2.0}))


def test_noise_eq_filters_each_noise_within_its_gain_span(pairs: Path, tmp_path: Path) -> None:
    config = _config(pairs, tmp_path / "q", 1, task={"noise_eq_db": 12.0})
    task = _task(config, pairs)
    torch.manual_seed(0)
    noise = torch.randn(3, 4000)
    shaped = task._equalize(noise)
    ratio_db = 20 * torch.log10(
        torch.fft.rfft(shaped).abs() / torch.fft.rfft(noise).abs().clamp(min=1e-9)
    )
    assert float(ratio_db.abs().max()) <= 12.0 + 1e-3
    assert float(ratio_db.std(dim=-1).min()) > 1.0  # a real, frequency-dependent filter
    assert not torch.allclose(ratio_db[0], ratio_db[1])  # each item its own EQ
    with pytest.raises(ConfigError, match="noise_eq_db"):
        _ = Trainer(_config(pairs, tmp_path / "e", 1, task={"noise_eq_db": -1.0}))
