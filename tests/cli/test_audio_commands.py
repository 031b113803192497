"""Tests for ``aigc audio denoise`` on tiny files (gate, a tiny trained model, bad input)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from aigc_studio.cli import run
from aigc_studio.datasets.cache import write_cache
from aigc_studio.media import read_audio_tags
from aigc_studio.training import TrainConfig, Trainer

SR = 16_000


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _noisy(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 300 * t) + 0.03 * rng.standard_normal(t.size)).astype(
        np.float32
    )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-step run of a tiny denoiser: a real checkpoint to load, not a trained model."""
    folder = tmp_path_factory.mktemp("denoise-cli")
    clean = np.stack([_noisy(0.25, s) for s in range(4)])
    splits = {split: {"clean": clean, "noisy": clean * 1.1} for split in ("train", "valid")}
    data = write_cache(folder / "pairs", "pairs", {"sr": SR}, splits)
    config = TrainConfig.from_dict(
        {
            "model": "gru-denoiser",
            "data": str(data),
            "run_dir": str(folder / "run"),
            "model_config": {"hidden_size": 8, "gru_layers": 1, "n_bands": 16},
            "task": {"segment_samples": 0},
            "steps": 1,
            "batch_size": 2,
        }
    )
    torch.manual_seed(0)
    Trainer(config).fit()
    return folder / "run"


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert lines and "Traceback" not in err
    return lines[0]


def test_gate_denoises_a_stereo_file_with_provenance(tmp_path: Path) -> None:
    source = tmp_path / "take.wav"
    sf.write(source, np.stack([_noisy(), _noisy(seed=1)]).T, SR, subtype="PCM_16")
    out = tmp_path / "clean.wav"
    assert run(["-q", "audio", "denoise", str(source), "-o", str(out), "--method", "gate"]) == 0
    info = sf.info(out)
    assert (info.frames, info.channels, info.samplerate) == (SR, 2, SR)
    assert "audio denoise" in read_audio_tags(out).get("comment", "")


def test_net_with_a_trained_run_folder(tmp_path: Path, tiny_run: Path) -> None:
    source = tmp_path / "take.flac"
    sf.write(source, _noisy(), SR)
    out = tmp_path / "clean.flac"
    status = run(["-q", "audio", "denoise", str(source), "-o", str(out), "--model", str(tiny_run)])
    assert status == 0
    assert sf.info(out).frames == SR


def test_folder_in_folder_out_skips_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    sf.write(folder / "a.wav", _noisy(), SR)
    sf.write(folder / "b.wav", _noisy(seed=2), SR)
    sf.write(folder / "short.wav", np.full(40, 0.1), SR)
    sf.write(folder / "silent.wav", np.zeros(SR), SR)
    status = run(["audio", "denoise", str(folder), "-o", str(tmp_path / "out"), "--method", "gate"])
    captured = capsys.readouterr()
    assert status == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.wav", "b.wav", "silent.wav"]
    assert "short.wav" not in captured.out and "shorter than one" in captured.err
    assert "note: silent.wav" in captured.err


def test_net_without_weights_fails_once_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aigc_studio.weights.shipped_weights", lambda name: None)
    source = tmp_path / "take.wav"
    sf.write(source, _noisy(), SR)
    assert run(["audio", "denoise", str(source), "-o", str(tmp_path / "out.wav")]) == 2
    assert "make weights-denoiser-speech" in one_line_error(capsys)
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize("extra", [["--method", "wiener"], ["--strength", "1.5"]])
def test_bad_options_exit_2_without_output(
    tmp_path: Path, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "take.wav"
    sf.write(source, _noisy(), SR)
    assert run(["audio", "denoise", str(source), "-o", str(tmp_path / "o.wav"), *extra]) == 2
    assert not (tmp_path / "o.wav").exists()
