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
    KEY_OFFSET,
    METER_OFFSET,
    METERS,
    REST,
    STYLE_OFFSET,
    STYLES,
    VOCAB_SIZE,
    MelodyControls,
    MelodyEvent,
    MelodyTokenizer,
    controls_of,
    grid_steps,
    key_of_score,
    key_of_token,
    key_token,
    melody_events_from_notes,
    meter_of_token,
    meter_token,
    midi_top_line_events,
    mode_family,
    prepare_bach_melodies,
    prepare_midi_folder_tokens,
    style_of_token,
    style_token,
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
    assert tok.vocab_size == len(names) == VOCAB_SIZE == 123
    assert names[:4] == ["PAD", "BOS", "EOS", "BAR"]
    assert names[4] == "NOTE_36" and names[64] == "NOTE_96" and names[REST] == "REST"
    assert names[66] == "DUR_1" and names[81] == "DUR_16"
    assert names[82:87] == [
        "STYLE_folk",
        "STYLE_reel",
        "STYLE_jig",
        "STYLE_fiddle",
        "STYLE_chorale",
    ]
    assert names[87] == "METER_2/4" and names[90] == "METER_6/8" and names[98] == "METER_other"
    assert names[99] == "KEY_0_major" and names[110] == "KEY_11_major"
    assert names[111] == "KEY_0_minor" and names[122] == "KEY_11_minor"
    assert len(set(names)) == len(names)


def test_control_token_helpers() -> None:
    for style in STYLES:
        assert style_of_token(style_token(style)) == style
    for meter in METERS:
        assert meter_of_token(meter_token(meter)) == meter
    assert meter_token("6/8") == METER_OFFSET + 3 and meter_token(" 2/2") == METER_OFFSET + 7
    assert meter_token("7/8") == meter_token(None) == meter_token("other") == KEY_OFFSET - 1
    keys = {key_token(tonic, mode) for tonic in range(12) for mode in ("major", "minor")}
    assert keys == set(range(KEY_OFFSET, VOCAB_SIZE))
    assert key_token(7, "major") == 106 and key_of_token(106) == (7, "major")
    assert key_of_token(key_token(9, "minor")) == (9, "minor")
    assert mode_family("Dorian") == mode_family("phrygian") == "minor"
    assert mode_family("mixolydian") == mode_family("lydian") == "major"
    with pytest.raises(ParameterError, match="style"):
        style_token("polka")
    with pytest.raises(ParameterError, match="tonic"):
        key_token(12, "major")
    with pytest.raises(ParameterError, match="mode"):
        key_token(0, "dorian")
    with pytest.raises(ParameterError, match="KEY token"):
        key_of_token(STYLE_OFFSET)
    with pytest.raises(ParameterError, match="STYLE token"):
        style_of_token(METER_OFFSET)


def test_header_round_trip() -> None:
    tok = MelodyTokenizer()
    tokens = tok.encode(MELODY, style="jig", meter="6/8", key=(2, "minor"))
    names = [tok.token_names[t] for t in tokens[:5]]
    assert names == ["BOS", "STYLE_jig", "METER_6/8", "KEY_2_minor", "BAR"]
    assert controls_of(tokens) == MelodyControls("jig", "6/8", (2, "minor"))
    assert controls_of(np.asarray([0, 0, *tokens])) == ("jig", "6/8", (2, "minor"))
    assert tok.decode(tokens) == MELODY
    assert tokens[4:] == tok.encode(MELODY)[1:]
    bare = tok.encode(MELODY, style="reel", meter="5/8", key=(0, "major"), add_bos_eos=False)
    assert bare[:3] == [style_token("reel"), meter_token("other"), key_token(0, "major")]
    assert tok.decode(bare) == MELODY
    assert controls_of(tok.encode(MELODY)) == (None, None, None)
    with pytest.raises(ParameterError, match="go together"):
        tok.encode(MELODY, style="folk", key=(0, "major"))


def test_decode_ignores_control_tokens() -> None:
    tok = MelodyTokenizer()
    dur4 = tok.duration_tokens(1.0)[0]
    # Control tokens in the body (a sampler's mistakes) neither end an event nor count as
    # durations: only the DUR tokens add up.
    tokens = [BOS, tok.note_token(60), key_token(3, "major"), dur4, style_token("folk"), dur4]
    tokens += [meter_token("3/4"), REST, dur4, VOCAB_SIZE - 1, EOS]
    assert tok.decode(tokens) == [MelodyEvent(60, 2.0, False), MelodyEvent(None, 1.0, False)]


def test_transposed_controls_move_the_tonic() -> None:
    controls = MelodyControls("folk", "3/4", (2, "minor"))
    assert controls.transposed(3).key == (5, "minor")
    assert controls.transposed(-6).key == (8, "minor")
    assert controls.transposed(0) == controls
    assert MelodyControls("folk", "3/4", None).transposed(2).key is None


def test_grid_rounds_halves_up_so_shifted_notes_keep_their_lengths() -> None:
    assert [grid_steps(t) for t in (0.125, 0.375, 0.625, 0.1)] == [1, 2, 3, 0]
    # Sixteenths all half a step late (after a stray thirty-second): round() to even would
    # give them lengths 2, 0, 2, ...
    notes = [(0.125 + 0.25 * i, 0.375 + 0.25 * i, 60 + i) for i in range(4)]
    events = melody_events_from_notes(notes, bar_starts=[0.0])
    assert events == [
        MelodyEvent(None, 0.25, True),
        *(MelodyEvent(60 + i, 0.25, False) for i in range(4)),
    ]


def _score(key_element, pitches: list[str]):
    from music21 import meter, note, stream

    part = stream.Part()
    measure = stream.Measure(number=1)
    measure.append([key_element, meter.TimeSignature("4/4")])
    for name in pitches:
        measure.append(note.Note(name, quarterLength=1.0))
    part.append(measure)
    score = stream.Score()
    score.insert(0, part)
    return score


def test_key_of_score_reads_modes_signatures_and_notated_tonics() -> None:
    from music21 import key

    a_minor_tune = ["A4", "C5", "E5", "D5", "C5", "B4", "G#4", "A4"]
    c_major_tune = ["C4", "E4", "G4", "F4", "E4", "D4", "B3", "C4"]
    assert key_of_score(_score(key.Key("D", "dorian"), a_minor_tune)) == (2, "minor")
    assert key_of_score(_score(key.Key("G", "mixolydian"), a_minor_tune)) == (7, "major")
    # A bare signature: its major or minor key, whichever the notes fit better.
    assert key_of_score(_score(key.KeySignature(0), a_minor_tune)) == (9, "minor")
    assert key_of_score(_score(key.KeySignature(0), c_major_tune)) == (0, "major")
    # Essen style: "K:A" names the tonic; the notes decide the mode.
    assert key_of_score(_score(key.Key("A"), a_minor_tune), notated_tonic=True) == (9, "minor")
    assert key_of_score(_score(key.Key("A"), a_minor_tune)) == (9, "major")


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
    assert manifest["vocab_size"] == 123 and manifest["skipped"] == []
    assert manifest["labels"]["token_names"] == MelodyTokenizer().token_names
    assert sum(manifest["stats"]["pieces"].values()) == 6
    assert sum(manifest["stats"]["styles"]["chorale"].values()) == 6
    assert "style" not in manifest["fields"]
    originals = 0
    keys: dict[str, tuple[int, str]] = {}
    for split in SPLITS:
        data = load_split(root, split)
        offsets, tokens = data["tokens_offsets"], data["tokens"]
        assert tokens.dtype == np.int32 and offsets[-1] == len(tokens)
        assert manifest["stats"]["tokens"][split] == len(tokens)
        for i, item_id in enumerate(data["item_id"]):
            item = tokens[offsets[i] : offsets[i + 1]]
            assert item[0] == BOS and item[-1] == EOS and item.max() < 123 and item.min() >= 1
            controls = controls_of(item)
            assert controls.style == "chorale" and controls.meter in METERS
            assert controls.key is not None and item[4] == BAR
            keys[str(item_id)] = controls.key
        shifts = data["transpose"]
        originals += int(np.sum(shifts == 0))
        if split == "train":
            assert len(set(shifts.tolist())) > 6  # augmented
            transposed = [str(i) for i, s in zip(data["item_id"], shifts, strict=True) if s]
            assert all("@" in item_id for item_id in transposed)
        else:
            assert not shifts.any()
    assert originals == 6
    # Every transposed copy's KEY is its original's moved by the shift.
    for item_id, (tonic, mode) in keys.items():
        if "@" in item_id:
            original, shift = item_id.split("@")
            assert keys[original] == ((tonic - int(shift)) % 12, mode)
    assert keys["bwv269"] == (7, "major")  # G major, as the file says
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
