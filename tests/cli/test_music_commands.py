from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from aigc_studio.cli import run
from aigc_studio.system_tools import find_soundfont


def write_tune(path: Path, pitches: list[int], step: float = 0.25, program: int = 0) -> Path:
    midi = pretty_midi.PrettyMIDI()
    track = pretty_midi.Instrument(program=program)
    track.notes += [
        pretty_midi.Note(90, int(p), i * step, (i + 1) * step) for i, p in enumerate(pitches)
    ]
    midi.instruments.append(track)
    midi.write(str(path))
    return path


def walk(seed: int, n: int = 32) -> list[int]:
    steps = np.random.default_rng(seed).choice([-5, -3, -2, -1, 1, 2, 3, 4], size=n - 1)
    return (62 + np.concatenate([[0], np.cumsum(steps)])).clip(48, 84).tolist()


@pytest.fixture
def tune_file(tmp_path: Path) -> Path:
    return write_tune(tmp_path / "tune.mid", [60, 64, 67, 72, 67, 64, 60, 62], step=0.3)


def test_render_synth_writes_records_and_embeds_provenance(
    tmp_path: Path, tune_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aigc_studio.dsp import measure_loudness
    from aigc_studio.library import OutputLibrary, Provenance
    from aigc_studio.media import load_audio, read_audio_tags

    out = tmp_path / "tune.wav"
    args = ["music", "render", str(tune_file), "-o", str(out), "--method", "synth"]
    assert run([*args, "--instrument", "strings", "--sr", "22050", "--target-lufs", "-18"]) == 0
    assert "rendered with synth" in capsys.readouterr().err
    audio, sr = load_audio(out)
    assert sr == 22050 and audio.shape[0] == 2
    assert measure_loudness(audio, sr).integrated_lufs == pytest.approx(-18.0, abs=0.3)
    embedded = Provenance.parse_embedded(read_audio_tags(out)["comment"])
    assert embedded is not None and embedded.command == "music render"
    assert embedded.params["instrument"] == "strings"
    assert embedded.params["method_used"].startswith("synth")
    assert embedded.inputs[0].path.endswith("tune.mid")
    with OutputLibrary() as library:
        assert library.verify(out).status == "recorded"


def test_render_a_folder_gives_wav_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "midi"
    source.mkdir()
    write_tune(source / "a.mid", [60, 62, 64])
    write_tune(source / "b.midi", [67, 65, 64])
    (source / "broken.mid").write_bytes(b"MThd garbage")
    status = run(["music", "render", str(source), "-o", str(tmp_path / "out"), "--method", "synth"])
    assert status == 2  # one file failed, the others were written
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.wav", "b.wav"]
    assert "broken.mid" in capsys.readouterr().err


def test_render_falls_back_to_the_synth_with_a_note(
    tmp_path: Path, tune_file: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no fluidsynth
    out = tmp_path / "tune.wav"
    assert run(["--quiet", "music", "render", str(tune_file), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.startswith("note: rendering with the built-in synthesizer")
    assert "fluidsynth is not installed" in err and out.is_file()


@pytest.mark.skipif(
    shutil.which("fluidsynth") is None or find_soundfont() is None,
    reason="fluidsynth or a GM soundfont is not installed",
)
def test_render_with_fluidsynth(
    tmp_path: Path, tune_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tune.flac"
    assert run(["music", "render", str(tune_file), "-o", str(out), "--method", "fluidsynth"]) == 0
    assert "rendered with fluidsynth" in capsys.readouterr().err
    assert out.stat().st_size > 1000


def one_line_error(capsys: pytest.CaptureFixture[str], *words: str) -> None:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err


@pytest.mark.parametrize("command", ["render", "check"])
def test_bad_midi_is_one_line_exit_2(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.mid"
    bad.write_bytes(np.random.default_rng(0).bytes(300))
    extra = ["-o", str(tmp_path / "x.wav")] if command == "render" else []
    assert run(["music", command, str(bad), *extra]) == 2
    one_line_error(capsys, "bad.mid", "not a valid MIDI")
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize("command", ["render", "check"])
def test_missing_file_is_one_line_exit_2(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ["-o", str(tmp_path / "x.wav")] if command == "render" else []
    assert run(["music", command, str(tmp_path / "missing.mid"), *extra]) == 2
    one_line_error(capsys, "missing.mid")


@pytest.mark.parametrize(
    ("option", "word"),
    [
        (["--sr", "10"], "sr must be"),
        (["--sr", "5000000"], "sr must be"),
        (["--instrument", "kazoo"], "instrument"),
        (["--method", "magic"], "method"),
        (["--target-lufs", "3"], "target_lufs"),
    ],
)
def test_absurd_options_are_refused_without_output(
    tmp_path: Path,
    tune_file: Path,
    option: list[str],
    word: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "x.wav"
    assert run(["music", "render", str(tune_file), "-o", str(out), *option]) == 2
    one_line_error(capsys, word)
    assert not out.exists()


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, dict[str, list[int]]]:
    """A token cache of three random tunes (no music21 needed)."""
    from aigc_studio.datasets.melody_tokens import prepare_midi_folder_tokens

    folder = tmp_path / "tunes"
    folder.mkdir()
    tunes = {f"tune{i}.mid": walk(seed=i) for i in range(3)}
    for name, pitches in tunes.items():
        write_tune(folder / name, pitches)
    return prepare_midi_folder_tokens(folder, tmp_path / "cache"), tunes


def test_check_finds_a_transposed_copy(
    tmp_path: Path,
    corpus: tuple[Path, dict[str, list[int]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    cache, tunes = corpus
    copied = [p + 3 for p in tunes["tune1.mid"][4:24]]
    query = write_tune(tmp_path / "query.mid", copied, step=0.5)  # new key, new rhythm
    assert run(["music", "check", str(query), "--corpus", str(cache), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["source_id"] == "tune1.mid"
    assert report["length_notes"] == 20 and report["source_position"] == 4
    assert report["corpus_tunes"] == 3 and report["melody_notes"] == 20
    assert run(["music", "check", str(query), "--corpus", str(cache)]) == 0
    out = capsys.readouterr().out
    assert "20 notes" in out and "tune1.mid" in out


def test_check_of_an_unrelated_melody(
    tmp_path: Path,
    corpus: tuple[Path, dict[str, list[int]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    cache, _ = corpus
    query = write_tune(tmp_path / "mine.mid", [60, 72, 61, 73, 62, 74, 63, 75])
    assert run(["music", "check", str(query), "--corpus", str(cache), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["length_notes"] == 0 and report["source_id"] is None


def test_check_without_a_prepared_corpus(
    tune_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["music", "check", str(tune_file)]) == 2
    one_line_error(capsys, "bach-melodies", "aigc data prepare")


def test_info_still_works(tune_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["music", "info", str(tune_file), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == 8


def test_index_builds_a_copy_index_that_check_uses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aigc_studio.datasets import melody_tokens as mt

    pieces = [
        mt.MelodyPiece(
            f"tune{i}", [mt.MelodyEvent(p, 1.0, j % 4 == 0) for j, p in enumerate(walk(i))]
        )
        for i in range(3)
    ]
    cache = mt.write_melody_cache(tmp_path / "tunes", "tunes", pieces, {}, [])
    index = tmp_path / "index.npz"
    assert run(["music", "index", str(cache), "-o", str(index)]) == 0
    copy = write_tune(tmp_path / "copy.mid", walk(1)[:20])
    assert run(["music", "check", str(copy), "--corpus", str(index), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["source_id"] == "tune1" and report["length_notes"] >= 15
    assert run(["music", "index", str(cache), "-o", str(tmp_path / "index.txt")]) == 2
