from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch

from aigc_studio.cli import run
from aigc_studio.datasets import melody_tokens as mt
from aigc_studio.library import OutputLibrary, Provenance
from aigc_studio.media import read_midi_tags
from aigc_studio.training import TrainConfig, Trainer


def _tune(rng: np.random.Generator, bars: int) -> list[mt.MelodyEvent]:
    events, pitch = [], int(rng.integers(62, 70))
    for _ in range(bars):
        position = 0.0
        while position < 4:
            length = 0.5 if position % 1 or rng.random() < 0.4 else 1.0
            events.append(mt.MelodyEvent(pitch, length, position == 0))
            position += length
            pitch = int(np.clip(pitch + rng.integers(-2, 3), 57, 79))
    return events


@pytest.fixture(scope="module")
def melody_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    pieces = [
        mt.MelodyPiece(f"tune{i}", _tune(rng, 8), mt.MelodyControls("folk", "4/4", (7, "major")))
        for i in range(24)
    ]
    root = tmp_path_factory.mktemp("data") / "tiny-folk"
    return mt.write_melody_cache(root, "tiny-folk", pieces, {}, [])


def _train(run_dir: Path, model: str, data: Path, params: dict, task: dict) -> Path:
    torch.manual_seed(0)
    config = TrainConfig.from_dict(
        {
            "model": model,
            "data": str(data),
            "run_dir": str(run_dir),
            "model_config": params,
            "task": task,
            "steps": 4,
            "batch_size": 4,
            "eval_every": 0,
            "checkpoint_every": 4,
        }
    )
    Trainer(config).fit()
    return run_dir


@pytest.fixture(scope="module")
def melody_run(tmp_path_factory: pytest.TempPathFactory, melody_cache: Path) -> Path:
    params = {"vocab_size": 128, "d_model": 32, "n_layers": 1, "n_heads": 2, "max_len": 128}
    return _train(
        tmp_path_factory.mktemp("runs") / "lm",
        "transformer-lm",
        melody_cache,
        params,
        {"context": 64},
    )


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory: pytest.TempPathFactory, melody_cache: Path) -> Path:
    params = {
        "bars": 2,
        "latent_dim": 8,
        "encoder_hidden": 16,
        "encoder_layers": 1,
        "decoder_hidden": 32,
        "decoder_layers": 1,
    }
    return _train(tmp_path_factory.mktemp("runs") / "vae", "melody-vae", melody_cache, params, {})


@pytest.fixture(scope="module")
def chorale_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from aigc_studio.datasets.chorale_tokens import prepare_bach_chorales

    data = prepare_bach_chorales(tmp_path_factory.mktemp("data") / "chorales", max_pieces=3)
    params = {"vocab_size": 96, "d_model": 32, "n_layers": 1, "n_heads": 2, "max_len": 64}
    return _train(
        tmp_path_factory.mktemp("runs") / "chorale",
        "transformer-lm",
        data,
        params,
        {"context": 64},
    )


def _write_melody(path: Path, pitches: list[int], *, meter: tuple[int, int] = (4, 4)) -> Path:
    midi = pretty_midi.PrettyMIDI(initial_tempo=120)
    track = pretty_midi.Instrument(program=0)
    track.notes += [
        pretty_midi.Note(90, int(p), i * 0.25, (i + 1) * 0.25) for i, p in enumerate(pitches)
    ]
    midi.instruments.append(track)
    midi.time_signature_changes.append(pretty_midi.TimeSignature(*meter, 0.0))
    midi.write(str(path))
    return path


def test_compose_from_a_prompt_writes_midi_and_musicxml_with_provenance(
    tmp_path: Path, melody_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mid, xml = tmp_path / "tune.mid", tmp_path / "tune.musicxml"
    args = ["music", "compose", "--prompt", "calm folk tune in D minor, 6/8", "--bars", "4"]
    code = run(
        [*args, "--model", str(melody_run), "--allow-copying", "-o", str(mid), "-o", str(xml)]
    )
    assert code == 0, capsys.readouterr().err
    midi = pretty_midi.PrettyMIDI(str(mid))
    assert midi.time_signature_changes[0].numerator == 6
    assert midi.key_signature_changes[0].key_number == 2 + 12  # D minor
    # 4 bars of 6/8 at the prompt's calm tempo (72 quarters per minute): 12 quarters.
    assert midi.get_end_time() == pytest.approx(12 * 60 / 72, abs=1e-3)
    embedded = Provenance.parse_embedded(read_midi_tags(mid)["comment"])
    assert embedded.command == "music compose" and embedded.params["mode"] == "minor"
    assert embedded.params["drafts"] == 8  # the default for minor keys
    assert embedded.seed == 0 and embedded.model == "transformer-lm"
    from music21 import converter

    score = converter.parse(str(xml))
    assert len(score.parts[0].getElementsByClass("Measure")) == 4
    with OutputLibrary() as library:
        assert library.verify(mid).status == "recorded"
        assert library.verify(xml).status == "recorded"


def test_explicit_flags_win_over_the_prompt(tmp_path: Path, melody_run: Path) -> None:
    mid = tmp_path / "reel.mid"
    args = ["music", "compose", "--prompt", "a jig in D", "--meter", "4/4", "--key", "A"]
    assert (
        run([*args, "--bars", "2", "--model", str(melody_run), "--allow-copying", "-o", str(mid)])
        == 0
    )
    midi = pretty_midi.PrettyMIDI(str(mid))
    assert midi.time_signature_changes[0].numerator == 4
    assert midi.key_signature_changes[0].key_number == 9


def test_compose_checks_copies_against_the_prepared_corpus(
    tmp_path: Path, melody_run: Path, melody_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No index beside a run folder and folk-melodies not prepared: refused with the way out.
    mid = tmp_path / "x.mid"
    args = ["music", "compose", "--bars", "2", "--model", str(melody_run), "-o", str(mid)]
    assert run(args) == 2 and not mid.exists()
    from aigc_studio.music.copy_check import build_corpus_index

    build_corpus_index(melody_cache).save(melody_run / "copy-index.npz")
    assert run([*args, "--max-shared", "40"]) == 0
    embedded = Provenance.parse_embedded(read_midi_tags(mid)["comment"])
    assert embedded.params["copy_check"]["length_notes"] <= 40


def test_continue_keeps_the_opening_and_adds_whole_bars(tmp_path: Path, melody_run: Path) -> None:
    opening = _write_melody(tmp_path / "open.mid", [60, 62, 64, 65, 67, 65, 64, 62, 60, 60])
    out = tmp_path / "whole.mid"
    args = ["music", "continue", str(opening), "--bars", "3", "--model", str(melody_run)]
    assert run([*args, "--allow-copying", "-o", str(out)]) == 0
    notes = pretty_midi.PrettyMIDI(str(out)).instruments[0].notes
    assert [n.pitch for n in notes[:9]] == [60, 62, 64, 65, 67, 65, 64, 62, 60]
    # The opening (10 eighths at 120 bpm) is filled to two 4/4 bars (4 s), then 3 more bars.
    assert 4.0 < notes[-1].end <= 5 * 2.0 + 1e-6


def test_harmonize_keeps_the_soprano_and_adds_three_voices(
    tmp_path: Path, chorale_run: Path
) -> None:
    melody = _write_melody(tmp_path / "soprano.mid", [67, 67, 69, 71, 72, 71, 69, 67] * 2)
    out, xml = tmp_path / "satb.mid", tmp_path / "satb.musicxml"
    args = ["music", "harmonize", str(melody), "--model", str(chorale_run)]
    assert run([*args, "-o", str(out), "-o", str(xml)]) == 0
    midi = pretty_midi.PrettyMIDI(str(out))
    assert len(midi.instruments) == 4
    soprano = [n.pitch for n in midi.instruments[0].notes]
    assert soprano == [67, 67, 69, 71, 72, 71, 69, 67] * 2
    from music21 import converter

    assert len(converter.parse(str(xml)).parts) == 4


def test_vary_and_interpolate_write_one_file_per_melody(tmp_path: Path, vae_run: Path) -> None:
    theme = _write_melody(tmp_path / "a.mid", [60, 62, 64, 65, 67, 69, 71, 72] * 4)
    other = _write_melody(tmp_path / "b.mid", [72, 71, 69, 67, 65, 64, 62, 60] * 4)
    out = tmp_path / "variations"
    assert (
        run(["music", "vary", str(theme), "-n", "3", "--model", str(vae_run), "-o", str(out)]) == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [f"variation-0{i}.mid" for i in range(3)]
    morph = tmp_path / "morph"
    args = ["music", "interpolate", str(theme), str(other), "--steps", "4", "--model", str(vae_run)]
    assert run([*args, "-o", str(morph), "--format", "mid", "--format", "musicxml"]) == 0
    assert len(list(morph.glob("*.mid"))) == 4 and len(list(morph.glob("*.musicxml"))) == 4


def test_vary_refuses_a_window_no_shipped_vae_has(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    theme = _write_melody(tmp_path / "a.mid", [60, 62, 64, 65, 67, 69, 71, 72] * 4)
    out = tmp_path / "v"
    assert run(["music", "vary", str(theme), "--bars", "3", "-o", str(out)]) == 2
    assert "--bars must be one of [2, 4]" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["music", "compose", "-o", "out.txt"],
        ["music", "compose", "--bars", "0", "-o", "out.mid"],
        ["music", "compose", "--style", "polka", "-o", "out.mid"],
        ["music", "compose", "--key", "H", "-o", "out.mid"],
        ["music", "compose", "--meter", "7/0", "-o", "out.mid"],
        ["music", "compose", "--tempo", "5000", "-o", "out.mid"],
        ["music", "compose", "--key-strength", "5", "-o", "out.mid"],
        ["music", "compose", "--key-strength", "-1", "-o", "out.mid"],
        ["music", "compose", "--drafts", "0", "-o", "out.mid"],
        ["music", "compose", "--drafts", "100", "-o", "out.mid"],
        ["music", "compose", "-o", "missing-folder/out.mid"],
        ["music", "vary", "nothing.mid", "-o", "v", "-n", "0"],
    ],
)
def test_bad_options_exit_2_and_write_nothing(
    tmp_path: Path, melody_run: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run([*args, "--model", str(melody_run)]) == 2
    assert not any(p.suffix in (".mid", ".txt") for p in tmp_path.rglob("*"))


def test_compose_a_chorale_in_four_parts(tmp_path: Path, chorale_run: Path) -> None:
    out = tmp_path / "chorale.mid"
    args = ["music", "compose", "--style", "chorale", "--bars", "2", "--key", "F"]
    assert run([*args, "--model", str(chorale_run), "--allow-copying", "-o", str(out)]) == 0
    midi = pretty_midi.PrettyMIDI(str(out))
    assert len(midi.instruments) == 4
    assert midi.key_signature_changes[0].key_number == 5
