from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from aigc_studio.datasets.cache import load_split, read_manifest
from aigc_studio.datasets.melody_tokens import (
    BAR,
    BOS,
    EOS,
    REST,
    MelodyEvent,
    MelodyTokenizer,
    melody_events_from_notes,
    midi_top_line_events,
    prepare_bach_melodies,
    prepare_midi_folder_tokens,
    train_transpositions,
)
from aigc_studio.datasets.split import SPLITS
from aigc_studio.errors import MediaError, ParameterError

MELODY = [
    MelodyEvent(None, 1.0, True),  # pickup rest
    MelodyEvent(67, 0.25, False),
    MelodyEvent(72, 1.75, False),
    MelodyEvent(96, 4.0, True),
    MelodyEvent(36, 6.5, True),  # longer than a whole note: two DUR tokens
]


def test_vocabulary_layout() -> None:
    tok = MelodyTokenizer()
    names = tok.token_names
    assert tok.vocab_size == len(names) == 82
    assert names[:4] == ["PAD", "BOS", "EOS", "BAR"]
    assert names[4] == "NOTE_36" and names[64] == "NOTE_96" and names[REST] == "REST"
    assert names[66] == "DUR_1" and names[81] == "DUR_16"


def test_round_trip() -> None:
    tok = MelodyTokenizer()
    tokens = tok.encode(MELODY)
    assert tokens[0] == BOS and tokens[-1] == EOS and tokens[1] == BAR
    assert [tok.token_names[t] for t in tokens[-4:-1]] == ["NOTE_36", "DUR_16", "DUR_10"]
    assert tok.decode(tokens) == MELODY
    assert tok.encode(tok.decode(tokens)) == tokens
    assert tok.decode(tok.encode(MELODY, add_bos_eos=False)) == MELODY


def test_decode_skips_out_of_grammar_tokens() -> None:
    tok = MelodyTokenizer()
    dur4 = tok.duration_tokens(1.0)[0]
    junk = [
        0,
        BOS,
        dur4,
        tok.note_token(60),
        tok.note_token(62),
        dur4,
        EOS,
        tok.note_token(64),
        dur4,
    ]
    assert tok.decode(junk) == [MelodyEvent(62, 1.0, False)]


def test_encode_rejects_what_it_cannot_represent() -> None:
    tok = MelodyTokenizer()
    with pytest.raises(ParameterError, match="pitch"):
        tok.encode([(100, 1.0, False)])
    with pytest.raises(ParameterError, match="sixteenth"):
        tok.encode([(60, 0.1, False)])


def test_skyline_keeps_the_top_note_and_cuts_at_bars() -> None:
    notes = [(0.0, 2.0, 60), (0.0, 1.0, 64), (3.0, 5.0, 62)]  # chord, rest, note across a bar
    events = melody_events_from_notes(notes, bar_starts=[0.0, 4.0])
    assert events == [
        MelodyEvent(64, 1.0, True),
        MelodyEvent(60, 1.0, False),  # the lower note shows once the upper one stops
        MelodyEvent(None, 1.0, False),
        MelodyEvent(62, 1.0, False),
        MelodyEvent(62, 1.0, True),  # struck again after the bar line
    ]
    assert melody_events_from_notes([], [0.0]) == []


def test_midi_top_line_uses_ticks_and_downbeats() -> None:
    midi = pretty_midi.PrettyMIDI(initial_tempo=90.0)
    piano = pretty_midi.Instrument(program=0)
    beat = 60 / 90
    # A leading bar of silence is dropped; then C5 dotted quarter, D5 eighth over a bass note.
    piano.notes += [
        pretty_midi.Note(90, 72, 4 * beat, 5.5 * beat),
        pretty_midi.Note(90, 74, 5.5 * beat, 6 * beat),
        pretty_midi.Note(90, 48, 4 * beat, 8 * beat),
    ]
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes.append(pretty_midi.Note(100, 90, 4 * beat, 5 * beat))
    midi.instruments += [piano, drums]
    events = midi_top_line_events(midi)
    assert events == [
        MelodyEvent(72, 1.5, True),
        MelodyEvent(74, 0.5, False),
        MelodyEvent(48, 2.0, False),
    ]


def test_transpositions_stay_in_range() -> None:
    shifts = train_transpositions([MelodyEvent(60, 1, True), MelodyEvent(79, 1, False)])
    assert shifts[0] == 0 and sorted(shifts) == list(range(-6, 6))
    assert train_transpositions([MelodyEvent(50, 1, True), MelodyEvent(83, 1, False)]) == [
        0,
        -2,
        -1,
        1,
    ]


def test_tiny_bach_preparation(tmp_path: Path) -> None:
    root = prepare_bach_melodies(tmp_path / "bach", max_pieces=6)
    manifest = read_manifest(root)
    assert manifest["vocab_size"] == 82 and manifest["skipped"] == []
    assert manifest["labels"]["token_names"] == MelodyTokenizer().token_names
    assert sum(manifest["stats"]["pieces"].values()) == 6
    originals = 0
    for split in SPLITS:
        data = load_split(root, split)
        offsets, tokens = data["tokens_offsets"], data["tokens"]
        assert tokens.dtype == np.int32 and offsets[-1] == len(tokens)
        assert manifest["stats"]["tokens"][split] == len(tokens)
        for i in range(len(data["item_id"])):
            item = tokens[offsets[i] : offsets[i + 1]]
            assert item[0] == BOS and item[-1] == EOS and item.max() < 82 and item.min() >= 1
        shifts = data["transpose"]
        originals += int(np.sum(shifts == 0))
        if split == "train":
            assert len(set(shifts.tolist())) > 6  # augmented
            transposed = [str(i) for i, s in zip(data["item_id"], shifts, strict=True) if s]
            assert all("@" in item_id for item_id in transposed)
        else:
            assert not shifts.any()
    assert originals == 6
    first = MelodyTokenizer().decode(load_split(root, "train")["tokens"][:200])
    assert first[0].bar_start and all(e.duration > 0 for e in first)


def test_midi_folder(tmp_path: Path) -> None:
    folder = tmp_path / "midi"
    folder.mkdir()
    for name, pitch in [("one.mid", 60), ("two.mid", 65)]:
        midi = pretty_midi.PrettyMIDI()
        inst = pretty_midi.Instrument(program=0)
        inst.notes += [pretty_midi.Note(80, pitch + k, 0.5 * k, 0.5 * k + 0.5) for k in range(8)]
        midi.instruments.append(inst)
        midi.write(str(folder / name))
    (folder / "broken.mid").write_bytes(b"MThd junk")
    root = prepare_midi_folder_tokens(folder, tmp_path / "cache")
    manifest = read_manifest(root)
    assert [s["file"] for s in manifest["skipped"]] == ["broken.mid"]
    ids = {str(i).split("@")[0] for s in SPLITS for i in load_split(root, s)["item_id"]}
    assert ids == {"one.mid", "two.mid"}
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MediaError, match="no readable melody"):
        prepare_midi_folder_tokens(empty, tmp_path / "cache2")
