from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aigc_studio import __version__
from aigc_studio.cli import run


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


@pytest.mark.parametrize("group", [[], ["audio"], ["video"], ["music"], ["library"], ["demo"]])
def test_help_everywhere_with_examples(
    group: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([*group, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage" in out
    if group in (["demo"], []):
        assert "Example" in out


def test_info_json_reports_tools_and_library(
    capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    assert run(["info", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("torch", "torch device", "ffmpeg", "fluidsynth", "soundfont", "espeak-ng"):
        assert key in report
    assert report["library"].startswith(str(isolated_home))


def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = run(["audio", "loudness", str(tmp_path / "missing.wav")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.strip().startswith("error:") and "missing.wav" in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["audio", "normalize"]) == 2


def test_absurd_parameter_is_refused_without_output(
    tmp_path: Path, wav_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.wav"
    assert run(["audio", "normalize", str(wav_file), "-o", str(out), "--target-lufs", "12"]) == 2
    assert "target_lufs" in capsys.readouterr().err
    assert not out.exists()


def test_normalize_writes_records_and_embeds_provenance(
    tmp_path: Path, wav_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aigc_studio.dsp import measure_loudness
    from aigc_studio.library import OutputLibrary, Provenance
    from aigc_studio.media import load_audio, read_audio_tags

    before = wav_file.read_bytes()
    out = tmp_path / "norm.flac"
    assert run(["audio", "normalize", str(wav_file), "-o", str(out), "--target-lufs", "-20"]) == 0
    assert wav_file.read_bytes() == before  # the input is never modified
    audio, sr = load_audio(out)
    assert measure_loudness(audio, sr).integrated_lufs == pytest.approx(-20, abs=0.2)
    embedded = Provenance.parse_embedded(read_audio_tags(out)["comment"])
    assert embedded is not None and embedded.command == "audio normalize"
    with OutputLibrary() as library:
        assert library.verify(out).status == "recorded"
    capsys.readouterr()
    assert run(["library", "verify", str(out)]) == 0
    assert "recorded" in capsys.readouterr().out
    assert run(["library", "verify", str(wav_file)]) == 2


def test_folder_in_folder_out_skips_bad_files(
    tmp_path: Path, sine, capsys: pytest.CaptureFixture[str]
) -> None:
    audio, sr = sine
    source = tmp_path / "in"
    source.mkdir()
    for name in ("a.wav", "b.wav"):
        sf.write(source / name, audio.T, sr)
    (source / "broken.wav").write_bytes(b"RIFF....garbage")
    status = run(["audio", "convert", str(source), "-o", str(tmp_path / "out"), "--mono"])
    assert status == 2  # one file failed
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.wav", "b.wav"]
    assert "broken.wav" in capsys.readouterr().err


def test_output_may_not_overwrite_input(wav_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = wav_file.read_bytes()
    assert run(["audio", "convert", str(wav_file), "-o", str(wav_file)]) == 2
    assert wav_file.read_bytes() == before


def test_library_list_json_after_outputs(
    tmp_path: Path, wav_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["audio", "convert", str(wav_file), "-o", str(tmp_path / "x.flac")])
    capsys.readouterr()
    assert run(["library", "list", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 1 and records[0]["command"] == "audio convert"
    assert records[0]["inputs"][0]["path"].endswith("sine.wav")


def test_music_info_reads_midi(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pretty_midi

    midi = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0)
    inst.notes = [
        pretty_midi.Note(80, p, i * 0.5, i * 0.5 + 0.5) for i, p in enumerate([60, 67, 72])
    ]
    midi.instruments.append(inst)
    midi.write(str(tmp_path / "t.mid"))
    assert run(["music", "info", str(tmp_path / "t.mid"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["notes"], info["lowest"], info["highest"]) == (3, 60, 72)


def test_console_script_runs_in_a_subprocess(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(np.random.default_rng(0).bytes(500))
    done = subprocess.run(
        [sys.executable, "-m", "aigc_studio", "audio", "loudness", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error:") and "Traceback" not in done.stderr
