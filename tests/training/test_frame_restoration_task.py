from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from aigc_studio.datasets.cache import read_manifest
from aigc_studio.datasets.video_frames import prepare_frame_triplets, prepare_sharp_frames
from aigc_studio.errors import ConfigError
from aigc_studio.training import TrainConfig, Trainer, load_preset, load_trained
from aigc_studio.training.metrics_log import read_metrics
from aigc_studio.training.tasks.frame_restoration import (
    BLUR_KINDS,
    blur_batch,
    random_blur_kernels,
)

DEBLUR_MODEL = {"in_channels": 3, "channels": 8, "blocks": 1}
REFINER_MODEL = {"in_channels": 14, "channels": 8, "blocks": 1, "output": "flow"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


#: Photo names whose split (by name) is train, valid or test: 14 is the first test one.
PHOTO_SEEDS = (0, 1, 2, 3, 4, 14)


def _photos(folder: Path) -> list[str]:
    import cv2

    paths = []
    for seed in PHOTO_SEEDS:
        rng = np.random.default_rng(seed)
        image = cv2.GaussianBlur(rng.uniform(0, 255, (120, 140, 3)).astype(np.float32), (0, 0), 1.5)
        image = np.clip((image - image.mean()) * 4 + 128, 0, 255).astype(np.uint8)
        path = folder / f"p{seed}.png"
        cv2.imwrite(str(path), image)
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def sharp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    root = prepare_sharp_frames(
        folder / "sharp", photos=_photos(folder), patches_per_photo=6, clips=[], patch=32
    )
    assert all(read_manifest(root)["splits"].values())
    return root


@pytest.fixture(scope="module")
def triplets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    return prepare_frame_triplets(
        folder / "triplets",
        clips=[],
        photos=_photos(folder),
        moves_per_photo=2,
        patch=24,
        patches_per_triplet=2,
    )


def _config(data: Path, run: Path, steps: int, model: dict, task: dict, **overrides) -> TrainConfig:
    values = {
        "model": "frame-restorer",
        "data": str(data),
        "run_dir": str(run),
        "model_config": model,
        "task": task,
        "steps": steps,
        "batch_size": 4,
        "lr": 3e-3,
        "eval_every": steps,
        "log_every": 1,
        "ema_decay": 0.0,
        **overrides,
    }
    return TrainConfig.from_dict(values)


def test_deblur_training_lowers_the_loss_and_beats_its_blurred_input(
    sharp: Path, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    task = {"kind": "deblur", "crop": 24, "blur_mix": [0, 1, 0, 0], "defocus_radius": [2, 2]}
    Trainer(_config(sharp, tmp_path / "run", 60, DEBLUR_MODEL, task)).fit()
    losses = [row["loss"] for row in read_metrics(tmp_path / "run", phase="train")]
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10])
    valid = read_metrics(tmp_path / "run", phase="valid")[-1]
    assert valid["psnr_gain"] > 0.3
    generated = load_trained(tmp_path / "run", data=str(sharp)).generate(2, seed=0)
    assert generated["images"].shape == (2, 32, 96, 3) and generated["images"].dtype == np.uint8


def test_interpolation_training_runs_resumes_exactly_and_generates(
    triplets: Path, tmp_path: Path
) -> None:
    task = {"kind": "interpolation", "crop": 16}
    torch.manual_seed(0)
    Trainer(_config(triplets, tmp_path / "full", 6, REFINER_MODEL, task)).fit()
    torch.manual_seed(0)
    Trainer(_config(triplets, tmp_path / "cut", 3, REFINER_MODEL, task)).fit()
    Trainer(_config(triplets, tmp_path / "cut", 6, REFINER_MODEL, task), resume=True).fit()
    full = [r["loss"] for r in read_metrics(tmp_path / "full", phase="train")]
    cut = [r["loss"] for r in read_metrics(tmp_path / "cut", phase="train")]
    assert cut[-3:] == pytest.approx(full[-3:], rel=1e-5)
    valid = read_metrics(tmp_path / "full", phase="valid")[-1]
    assert {"psnr", "psnr_input", "psnr_gain"} <= set(valid)
    generated = load_trained(tmp_path / "full", data=str(triplets)).generate(1, seed=0)
    assert generated["images"].shape == (1, 24, 72, 3)


def _refiner_task(triplets: Path, run: Path, task_options: dict) -> Any:
    """The interpolation task of a tiny refiner, built without a Trainer."""
    from aigc_studio.models.registry import build_model_config, get_model_spec
    from aigc_studio.training.tasks import make_task

    return make_task(
        get_model_spec("frame-restorer"),
        build_model_config("frame-restorer", REFINER_MODEL),
        _config(triplets, run, 1, REFINER_MODEL, task_options),
        triplets,
        torch.device("cpu"),
    )


def test_untrained_refiner_reproduces_the_classical_blend(triplets: Path, tmp_path: Path) -> None:
    task = _refiner_task(triplets, tmp_path / "x", {"kind": "interpolation"})
    task.prepare()
    network = task.build_modules()["restorer"]
    dataset = task.dataset("train")
    batch = {key: torch.stack([dataset[i][key] for i in range(4)]) for key in dataset.fields}
    tensors = task.tensors(batch)
    # Re-warping along the stored flows reproduces the stored blend (to rounding).
    with torch.no_grad():
        restored = task.restore(network, tensors)
    assert float((restored - task.baseline(tensors)).abs().max()) < 3 / 255


def test_flips_negate_the_flow_components_they_mirror(triplets: Path, tmp_path: Path) -> None:
    task = _refiner_task(triplets, tmp_path / "y", {"kind": "interpolation", "crop": 0})
    flows = torch.rand(1, 4, 6, 6)
    tensors = {"flows": flows, "target": torch.rand(1, 3, 6, 6)}
    seen = set()
    for seed in range(12):
        torch.manual_seed(seed)
        out = task._augment(tensors)["flows"]
        for flip_x in (False, True):
            for flip_y in (False, True):
                expected = flows
                if flip_x:
                    expected = (
                        expected.flip(-1) * torch.tensor([-1.0, 1, -1, 1])[None, :, None, None]
                    )
                if flip_y:
                    expected = (
                        expected.flip(-2) * torch.tensor([1.0, -1, 1, -1])[None, :, None, None]
                    )
                if torch.allclose(out, expected):
                    seen.add((flip_x, flip_y))
    assert seen == {(False, False), (False, True), (True, False), (True, True)}


def test_blur_kernels_are_normalized_and_each_kind_looks_right() -> None:
    options = {
        "blur_mix": [1, 0, 0, 0],
        "motion_length": [9, 9],
        "defocus_radius": [3, 3],
        "gaussian_sigma": [1.5, 1.5],
        "noise_sigma": [0, 0],
        "kernel_size": 15,
    }
    generator = torch.Generator().manual_seed(0)
    for kind in BLUR_KINDS:
        mix = [1.0 if k == kind else 0.0 for k in BLUR_KINDS]
        kernels = random_blur_kernels(3, 15, {**options, "blur_mix": mix}, generator)
        torch.testing.assert_close(kernels.sum(dim=(-2, -1)), torch.ones(3))
        support = (kernels > 1e-3).sum(dim=(-2, -1)).float()
        if kind == "none":
            assert (support == 1).all()
        elif kind == "motion":
            assert (support >= 9).all() and (support <= 30).all()  # a thin streak
        else:
            assert (support >= 25).all()  # a blob around the centre
    sharp = torch.rand(2, 3, 20, 20)
    none = {**options, "blur_mix": [0, 0, 0, 1]}
    torch.testing.assert_close(blur_batch(sharp, none), torch.round(sharp * 255) / 255)


def test_the_mse_loss_is_the_mean_squared_error(sharp: Path, tmp_path: Path) -> None:
    task = Trainer(_config(sharp, tmp_path / "r", 1, DEBLUR_MODEL, {"kind": "deblur"})).task
    output, target = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5)
    charbonnier = float(task._loss(output, target))
    task.options["loss"] = "mse"
    assert float(task._loss(output, target)) == pytest.approx(0.25)
    assert charbonnier == pytest.approx(0.5, abs=1e-5)


@pytest.mark.parametrize(
    "task",
    [
        {"kind": "denoise"},
        {"kind": "deblur", "kernel_size": 4},
        {"kind": "deblur", "blur_mix": [0, 0, 0, 0]},
        {"kind": "deblur", "motion_length": [5, 2]},
        {"kind": "deblur", "crop": 4},
        {"kind": "deblur", "sharpen": 1},
        {"kind": "deblur", "loss": "l2"},
    ],
)
def test_bad_task_options_are_refused(sharp: Path, tmp_path: Path, task: dict) -> None:
    with pytest.raises(ConfigError):
        Trainer(_config(sharp, tmp_path / "r", 1, DEBLUR_MODEL, task))


def test_the_model_must_match_the_kind_and_the_data(
    sharp: Path, triplets: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="14 input channels"):
        Trainer(_config(triplets, tmp_path / "a", 1, DEBLUR_MODEL, {"kind": "interpolation"}))
    with pytest.raises(ConfigError, match="frame-triplets"):
        Trainer(_config(sharp, tmp_path / "b", 1, REFINER_MODEL, {"kind": "interpolation"})).fit()


@pytest.mark.parametrize("preset", ["frame-refiner", "deblur-net"])
def test_presets_build(preset: str) -> None:
    from aigc_studio.models.registry import build_model_config

    values = load_preset(preset)
    config = TrainConfig.from_dict({**values, "run_dir": "unused"})
    build_model_config(config.model, config.model_config)
    assert config.model == "frame-restorer"
