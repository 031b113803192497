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


pytestmark = pytest.mark.usefixtures("one_torch_thread")


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


# -- aigc audio enhance / analyze ---------------------------------------------------------------


def _hummed_take(seconds: float = 3.0) -> np.ndarray:
    """A stereo tone in bursts over 50 Hz hum and hiss, at 16 kHz."""
    rng = np.random.default_rng(3)
    t = np.arange(int(seconds * SR)) / SR
    take = (
        0.2 * np.sin(2 * np.pi * 440 * t) * (np.sin(2 * np.pi * 0.8 * t) > 0)
        + 0.02 * np.sin(2 * np.pi * 50 * t)
        + 0.004 * rng.standard_normal(t.size)
    )
    return np.stack([take, 0.7 * take]).astype(np.float32)


def test_enhance_writes_the_result_with_provenance_and_says_what_it_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aigc_studio.dsp.loudness import measure_loudness

    source, out = tmp_path / "take.wav", tmp_path / "clean.wav"
    sf.write(source, _hummed_take().T, SR, subtype="PCM_16")
    assert run(["audio", "enhance", str(source), "-o", str(out), "--method", "gate"]) == 0
    captured = capsys.readouterr()
    assert "removed 50 Hz hum" in captured.out and "denoised (gate" in captured.out
    audio, rate = sf.read(out, dtype="float32", always_2d=True)
    assert (audio.shape, rate) == ((3 * SR, 2), SR)
    report = measure_loudness(audio.T, SR)
    assert abs(report.integrated_lufs + 16.0) <= 0.5 and report.true_peak_dbtp <= -0.9
    assert "audio enhance" in read_audio_tags(out).get("comment", "")


def test_enhance_with_method_none_and_other_targets(tmp_path: Path) -> None:
    from aigc_studio.dsp.loudness import measure_loudness

    source, out = tmp_path / "take.flac", tmp_path / "loud.flac"
    sf.write(source, _hummed_take().T, SR)
    args = ["--method", "none", "--target-lufs", "-20", "--true-peak", "-3"]
    assert run(["-q", "audio", "enhance", str(source), "-o", str(out), *args]) == 0
    report = measure_loudness(sf.read(out, dtype="float32", always_2d=True)[0].T, SR)
    assert abs(report.integrated_lufs + 20.0) <= 0.5 and report.true_peak_dbtp <= -2.9
    assert '"method":"none"' in read_audio_tags(out)["comment"].replace(" ", "")


def test_enhance_folder_skips_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    sf.write(folder / "a.wav", _hummed_take().T, SR)
    sf.write(folder / "short.wav", np.full(800, 0.1), SR)  # 50 ms: under one loudness block
    status = run(["audio", "enhance", str(folder), "-o", str(tmp_path / "out"), "--method", "gate"])
    captured = capsys.readouterr()
    assert status == 2
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.wav"]
    assert "short.wav" in captured.err and "at least 400 ms" in captured.err


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--target-lufs", "5"], "target_lufs must be in [-70, 0]"),
        (["--target-lufs", "-100"], "target_lufs must be in [-70, 0]"),
        (["--true-peak", "-30"], "true_peak_db must be in [-20, 0]"),
        (["--method", "wiener"], "--method must be net, gate or none"),
        (["--strength", "2"], "strength must be in [0, 1]"),
    ],
)
def test_enhance_refuses_absurd_options_before_writing(
    tmp_path: Path, extra: list[str], match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "take.wav"
    sf.write(source, _hummed_take().T, SR)
    assert run(["audio", "enhance", str(source), "-o", str(tmp_path / "o.wav"), *extra]) == 2
    assert match in one_line_error(capsys)
    assert not (tmp_path / "o.wav").exists()


def test_enhance_net_without_weights_fails_once_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aigc_studio.weights.shipped_weights", lambda name: None)
    source = tmp_path / "take.wav"
    sf.write(source, _hummed_take().T, SR)
    assert run(["audio", "enhance", str(source), "-o", str(tmp_path / "out.wav")]) == 2
    assert "--method gate" in one_line_error(capsys)
    assert not (tmp_path / "out.wav").exists()


def test_enhance_refuses_nan_samples_without_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "broken.wav"
    take = _hummed_take()
    take[1, 500] = np.nan
    sf.write(source, take.T, SR, subtype="FLOAT")
    assert (
        run(["audio", "enhance", str(source), "-o", str(tmp_path / "o.wav"), "--method", "gate"])
        == 2
    )
    assert "NaN" in one_line_error(capsys)
    assert not (tmp_path / "o.wav").exists()


def test_analyze_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    source = tmp_path / "take.wav"
    sf.write(source, _hummed_take().T, SR)
    assert run(["audio", "analyze", str(source), "--json", "--no-tempo"]) == 0
    values = json.loads(capsys.readouterr().out)
    assert (values["sample_rate"], values["channels"], values["duration_s"]) == (SR, 2, 3.0)
    assert values["hum_hz"] == 50.0 and values["tempo_bpm"] is None
    assert -40 < values["integrated_lufs"] < -10 and values["snr_db"] > 10


def test_analyze_prints_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Tempo tracking is tested in tests/audio/test_analysis.py; here it is skipped for speed.
    source = tmp_path / "take.flac"
    sf.write(source, _hummed_take().T, SR)
    assert run(["audio", "analyze", str(source), "--no-tempo"]) == 0
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in capsys.readouterr().out.splitlines()
        if line.count("│") == 3
    }
    assert rows["sample rate"] == "16000 Hz" and rows["channels"] == "2"
    assert rows["integrated loudness"].endswith("LUFS") and rows["true peak"].endswith("dBTP")
    assert rows["hum"].startswith("50 Hz") and rows["tempo"] == "not measured"


def test_analyze_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["audio", "analyze", str(tmp_path / "missing.wav")]) == 2
    assert "no such file" in one_line_error(capsys)
