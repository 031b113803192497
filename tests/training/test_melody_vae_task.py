from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aigc_studio.datasets import melody_tokens as mt
from aigc_studio.datasets.cache import write_cache
from aigc_studio.datasets.melody_tokens import MelodyEvent, MelodyTokenizer
from aigc_studio.errors import ConfigError
from aigc_studio.models.melody_vae import NOTE_ON_OFFSET, melody_windows
from aigc_studio.models.registry import build_model_config, get_model_spec
from aigc_studio.training import TrainConfig, Trainer, evaluate_run, load_preset, load_trained
from aigc_studio.training.metrics_log import read_metrics
from aigc_studio.training.tasks import make_task
from aigc_studio.training.tasks.melody_vae import cut_split_windows

TINY = {
    "bars": 2,
    "latent_dim": 8,
    "encoder_hidden": 32,
    "encoder_layers": 1,
    "decoder_hidden": 64,
    "decoder_layers": 1,
    "dropout": 0.0,
    "kl_warmup_steps": 20,
}
TOKENIZER = MelodyTokenizer()
TOKEN_NAMES = TOKENIZER.token_names


def _melody(rng: np.random.Generator, bars: int, beats: int) -> list[MelodyEvent]:
    """A stepwise tune of quarter and eighth notes, ``beats`` quarters to a bar."""
    events, pitch = [], int(rng.integers(60, 72))
    for _ in range(bars):
        position = 0.0
        while position < beats:
            # After an eighth off the beat comes another, so that every bar is whole.
            length = 0.5 if position % 1 or rng.random() < 0.3 else 1.0
            events.append(MelodyEvent(pitch, length, position == 0))
            position += length
            pitch = int(np.clip(pitch + rng.integers(-2, 3), 55, 79))
    return events


def _piece(events: list[MelodyEvent], meter: str | None = None) -> np.ndarray:
    header = {"style": "folk", "meter": meter, "key": (0, "major")} if meter else {}
    return np.asarray(TOKENIZER.encode(events, **header), dtype=np.int32)


def _write(root: Path, pieces: dict[str, list[np.ndarray]]) -> Path:
    """A melody token cache with the manifest entries of the studio's melody preparers."""
    splits = {split: {"tokens": items} for split, items in pieces.items()}
    vocab = {
        "size": len(TOKEN_NAMES),
        "bar": mt.BAR,
        "rest": mt.REST,
        "note_min": mt.NOTE_MIN,
        "note_max": mt.NOTE_MAX,
        "dur_offset": mt.DUR_OFFSET,
        "steps_per_quarter": mt.STEPS_PER_QUARTER,
    }
    extra = {"vocab_size": len(TOKEN_NAMES), "vocab": vocab}
    return write_cache(
        root, root.name, {}, splits, labels={"token_names": TOKEN_NAMES}, extra=extra
    )


@pytest.fixture(scope="module")
def common_time(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Tunes in 4/4 (one of them twice), in 3/4, and one 4/4-barred tune headed METER_3/4."""
    rng = np.random.default_rng(0)
    four = [_melody(rng, 6, 4) for _ in range(8)]
    three = [_melody(rng, 6, 3) for _ in range(2)]
    mislabeled = [e._replace(pitch=90) for e in _melody(rng, 4, 4)]
    train = [_piece(m, "4/4") for m in four[:5]] + [_piece(four[0])]
    train += [_piece(m) for m in three] + [_piece(mislabeled, "3/4")]
    pieces = {
        "train": train,
        "valid": [_piece(m) for m in four[5:7]],
        "test": [_piece(four[7])],
    }
    root = _write(tmp_path_factory.mktemp("data") / "tiny-melodies", pieces)
    return {"root": root, "four": four}


def _config(data: Path, run: Path, steps: int, **overrides) -> TrainConfig:
    values = {
        "model": "melody-vae",
        "data": str(data),
        "run_dir": str(run),
        "model_config": TINY,
        "steps": steps,
        "batch_size": 8,
        "lr": 1e-2,
        "betas": [0.9, 0.999],
        "eval_every": steps,
        "log_every": 1,
        "ema_decay": 0.0,
        "device": "cpu",
        **overrides,
    }
    return TrainConfig.from_dict(values)


def test_windows_come_from_four_four_bars_once_each(common_time: dict) -> None:
    root, four = common_time["root"], common_time["four"]
    grids = cut_split_windows(root, "train", bars=2, hop_bars=1, steps_per_bar=16)
    expected = np.unique(np.concatenate([melody_windows(m, 2, 1) for m in four[:5]]), axis=0)
    assert grids.dtype == np.int8
    np.testing.assert_array_equal(grids, expected)
    # The tune headed METER_3/4 is skipped although its bars are 16 steps long.
    assert not (grids == NOTE_ON_OFFSET + 90 - 36).any()
    valid = cut_split_windows(root, "valid", bars=2, hop_bars=2, steps_per_bar=16)
    assert len(valid) == 2 * 3  # two 6-bar tunes, three 2-bar windows each


def test_a_short_run_trains_evaluates_and_generates(common_time: dict, tmp_path: Path) -> None:
    torch.manual_seed(0)
    result = Trainer(_config(common_time["root"], tmp_path / "run", 60)).fit()
    assert result.step == 60 and result.checkpoint is not None
    assert {"loss", "reconstruction", "kl", "beta", "accuracy"} <= set(result.losses)
    assert result.losses["beta"] == pytest.approx(0.5)  # warm-up of 20 steps is over
    valid = read_metrics(tmp_path / "run", phase="valid")[-1]
    keys = {"teacher_forced_accuracy", "greedy_accuracy", "note_on_accuracy", "kl", "elbo"}
    assert keys <= set(valid)
    # Untrained, each of 63 classes is about as likely; holds and the stepwise tunes are learnt.
    assert valid["teacher_forced_accuracy"] > 0.5
    assert valid["elbo"] == pytest.approx(-(valid["reconstruction"] + valid["kl"]))

    test = evaluate_run(tmp_path / "run", split="test")
    assert 0 <= test["greedy_accuracy"] <= 1 and test["kl"] >= 0

    model = load_trained(tmp_path / "run")
    generated = model.generate(3, seed=4)
    tokens = generated["tokens"]
    assert tokens.shape[0] == 3 and (tokens[:, 0] == mt.BOS).all()
    assert generated["grid"].shape == (3, 32)
    for row in tokens:
        events = TOKENIZER.decode(row)
        assert sum(e.duration for e in events) == pytest.approx(8.0)  # two 4/4 bars
    assert np.array_equal(model.generate(3, seed=4)["tokens"], tokens)
    assert generated["token_names"] == TOKEN_NAMES
    with pytest.raises(ConfigError, match="label"):
        model.generate(1, labels=[60])


def test_data_that_is_not_melody_windows_is_refused(common_time: dict, tmp_path: Path) -> None:
    foreign = write_cache(
        tmp_path / "plain-tokens", "x", {}, {"train": {"tokens": [np.arange(1, 9)] * 4}}
    )
    with pytest.raises(ConfigError, match="melody token"):
        Trainer(_config(foreign, tmp_path / "a", 1)).fit()
    rng = np.random.default_rng(1)
    waltzes = _write(
        tmp_path / "waltzes", {"train": [_piece(_melody(rng, 4, 3)) for _ in range(4)]}
    )
    with pytest.raises(ConfigError, match="no 2-bar windows"):
        Trainer(_config(waltzes, tmp_path / "b", 1)).fit()
    with pytest.raises(ConfigError, match="hop_bars"):
        Trainer(_config(common_time["root"], tmp_path / "c", 1, task={"hop_bars": 0}))


def test_preset_builds_a_four_bar_model_for_the_folk_tunes() -> None:
    values = load_preset("melody-vae-folk")
    assert values["model"] == "melody-vae" and values["data"] == "folk-melodies"
    config = TrainConfig.from_dict({**values, "run_dir": "unused"})
    model_config = build_model_config(config.model, config.model_config)
    assert model_config.bars == 4 and model_config.steps_per_bar == 16
    task = make_task(get_model_spec("melody-vae"), model_config, config, None, torch.device("cpu"))
    assert task.options["hop_bars"] >= 1
