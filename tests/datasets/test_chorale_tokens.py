from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from aigc_studio.datasets import chorale_tokens as ct
from aigc_studio.datasets.cache import load_split, ragged_item, read_manifest
from aigc_studio.datasets.split import split_of
from aigc_studio.errors import MediaError, ParameterError

TOKENIZER = ct.ChoraleTokenizer()


@pytest.fixture(scope="module")
def bwv269():
    from music21 import corpus

    return corpus.parse("bach/bwv269")


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 12 chorale files: one has 9 parts, one is in test, one in valid."""
    root = tmp_path_factory.mktemp("chorales") / "bach-chorales"
    return ct.prepare_bach_chorales(root, max_pieces=12)


def test_vocabulary_layout_and_names() -> None:
    names = TOKENIZER.token_names
    assert len(names) == TOKENIZER.vocab_size == ct.VOCAB_SIZE == 90
    assert names[:5] == ["PAD", "BOS", "EOS", "HOLD", "REST"]
    assert names[5] == "NOTE_36" and names[53] == "NOTE_84"
    assert names[54] == "METER_2/4" and names[65] == "METER_other"
    assert names[66] == "KEY_0_major" and names[78] == "KEY_0_minor" and names[89] == "KEY_11_minor"
    assert TOKENIZER.meter_token("12/8") == names.index("METER_12/8")
    assert TOKENIZER.meter_token("7/8") == names.index("METER_other")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("G major", (7, "major")),
        ("f# minor", (6, "minor")),
        ("B- major", (10, "major")),  # music21's flat
        ("Eb dorian", (3, "minor")),
        ("D mixolydian", (2, "major")),
        ("KEY_11_minor", (11, "minor")),
        ((13, "aeolian"), (1, "minor")),
        ("A", (9, "major")),
    ],
)
def test_parse_key(key, expected) -> None:
    assert ct.parse_key(key) == expected
    assert TOKENIZER.token_names[TOKENIZER.key_token(key)] == f"KEY_{expected[0]}_{expected[1]}"


@pytest.mark.parametrize("key", ["H major", "C blues", "", (1, 2, 3)])
def test_parse_key_rejects_unknown_keys(key) -> None:
    with pytest.raises(ParameterError, match="key"):
        ct.parse_key(key)


def test_real_chorale_round_trips_through_tokens(bwv269) -> None:
    chorale = ct.chorale_from_score(bwv269)
    steps = len(chorale.grid[0])
    assert (chorale.meter, chorale.key) == ("3/4", (7, "major"))
    tokens = TOKENIZER.encode(chorale.grid, meter=chorale.meter, key=chorale.key)
    assert len(tokens) == 4 + 4 * (steps + ct.LOOKAHEAD) + 4
    assert tokens[:4] == [ct.BOS, TOKENIZER.meter_token("3/4"), TOKENIZER.key_token("G"), ct.PAD]
    assert tokens[-4:] == [ct.EOS] * 4
    assert TOKENIZER.decode(tokens) == chorale.grid
    assert TOKENIZER.header(tokens) == ("3/4", (7, "major"))
    # The soprano runs a bar ahead: group g holds S[g] and the lower voices of step g - 8.
    group = 4 + 4 * (chorale.pickup_steps + ct.LOOKAHEAD)
    first_bass = chorale.grid[3][chorale.pickup_steps].pitch
    assert tokens[group + 3] == TOKENIZER.note_token(first_bass)
    assert tokens[group] == TOKENIZER.voice_tokens(chorale.grid[0])[group // 4 - 1]


def test_grid_onsets_are_the_score_notes(bwv269) -> None:
    chorale = ct.chorale_from_score(bwv269)
    for index, (part, voice) in enumerate(zip(bwv269.parts, chorale.grid, strict=True)):
        notes = [n for n in part.stripTies().flatten().notes if n.quarterLength > 0]
        on_grid = {
            chorale.pickup_steps + round(float(n.offset) * 2): n.pitches[0].midi
            for n in notes
            if float(n.offset) * 2 == round(float(n.offset) * 2)
        }
        onsets = {step: pitch for step, (pitch, onset) in enumerate(voice) if onset}
        assert onsets == on_grid, ct.VOICES[index]


def test_pickup_is_padded_so_that_step_0_is_a_downbeat(bwv269) -> None:
    chorale = ct.chorale_from_score(bwv269)
    # bwv269 starts with one quarter on the third beat of a 3/4 bar: 2 quarters of rest.
    assert chorale.pickup_steps == 4
    for voice in chorale.grid:
        assert voice[:4] == [ct.SILENCE] * 4 and voice[4].onset
    bar = 6  # eighths in 3/4
    assert (chorale.pickup_steps + 2) % bar == 0  # the first full bar starts on a bar line
    assert ct.soprano_steps_from_score(bwv269) == chorale.grid[0]


def test_score_without_four_parts_is_refused_with_a_reason() -> None:
    from music21 import note, stream

    score = stream.Score([stream.Part([note.Note("C4")]) for _ in range(3)])
    with pytest.raises(MediaError, match="3 parts"):
        ct.chorale_from_score(score)


def test_sixteenths_keep_the_note_on_the_eighth_and_drop_the_passing_one() -> None:
    notes = [
        (0.0, 0.75, 60),  # dotted eighth ...
        (0.75, 1.0, 62),  # ... and a sixteenth: dropped, the C held
        (1.0, 1.25, 64),  # two sixteenths on one eighth: the first kept ...
        (1.25, 1.5, 65),  # ... the second dropped
        (2.0, 2.5, 67),
        (2.75, 3.0, 69),  # after a sixteenth rest: takes the step that would be silent
    ]
    line = ct.notes_to_steps(notes, 6)
    assert line == [(60, True), (60, False), (64, True), ct.SILENCE, (67, True), (69, True)]
    assert ct.notes_to_steps(notes, 2, origin=-0.5) == [ct.SILENCE, (60, True)]
    chord = [(0.0, 1.0, 48), (0.0, 1.0, 55)]
    assert ct.notes_to_steps(chord, 1, prefer="lowest") == [(48, True)]
    assert ct.notes_to_steps(chord, 1) == [(55, True)]
    assert ct.notes_to_steps([(0.0, 0.5, 60), (0.5, 1.0, 60)], 2) == [(60, True), (60, True)]


def test_decode_reads_any_token_sequence_without_raising() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        tokens = rng.integers(0, ct.VOCAB_SIZE, size=int(rng.integers(0, 200))).tolist()
        grid = TOKENIZER.decode(tokens)
        assert len(grid) == 4 and len({len(voice) for voice in grid}) == 1
        for voice in grid:
            previous = None
            for pitch, onset in voice:
                assert pitch is None and not onset or onset or pitch == previous
                previous = pitch


def test_decode_stops_at_eos_and_drops_an_incomplete_group() -> None:
    grid = [[(60 + t, True) for t in range(3)] for _ in range(4)]
    tokens = TOKENIZER.encode(grid, meter="4/4", key="C")
    assert TOKENIZER.decode(tokens[:-4] + [5, 6]) == grid  # no EOS, two stray tokens
    cut = tokens[: 4 + 4 * (ct.LOOKAHEAD + 2)]  # two complete steps of the lower voices
    assert TOKENIZER.decode(cut) == [voice[:2] for voice in grid]
    assert TOKENIZER.decode(tokens[4:]) == grid  # without header
    eos_early = tokens[:12] + [ct.EOS] + tokens[13:]
    assert TOKENIZER.decode(eos_early) == [[], [], [], []]


def test_encode_rejects_malformed_grids() -> None:
    good = [[(60, True)], [(55, True)], [(52, True)], [(40, True)]]
    with pytest.raises(ParameterError, match="4 voices"):
        TOKENIZER.encode(good[:3], meter="4/4", key="C")
    with pytest.raises(ParameterError, match="same number"):
        TOKENIZER.encode([*good[:3], [(40, True), (40, False)]], meter="4/4", key="C")
    with pytest.raises(ParameterError, match="pitch"):
        TOKENIZER.encode([[(90, True)], *good[1:]], meter="4/4", key="C")
    with pytest.raises(ParameterError, match="holds"):
        TOKENIZER.encode([[(60, False)], *good[1:]], meter="4/4", key="C")


def test_voices_to_pretty_midi_and_back() -> None:
    soprano = [ct.SILENCE] * 2 + [(67, True), (67, False), (69, True), ct.SILENCE, (71, True)]
    silent = [ct.SILENCE] * len(soprano)
    grid = [soprano, silent, [(48, True)] * 7, silent]
    midi = ct.voices_to_pretty_midi(grid, 120.0, meter="3/4", key="G major")
    assert [i.name for i in midi.instruments] == ["Soprano", "Alto", "Tenor", "Bass"]
    notes = midi.instruments[0].notes
    # 120 quarters per minute: 0.25 s per eighth step.
    assert [(n.pitch, n.start, n.end) for n in notes] == [
        (67, 0.5, 1.0),
        (69, 1.0, 1.25),
        (71, 1.5, 1.75),
    ]
    assert len(midi.instruments[2].notes) == 7  # struck every step
    assert ct.midi_meter_and_key(midi) == ("3/4", (7, "major"))
    # The top line sounds the tenor where the soprano rests.
    top = ct.soprano_steps_from_midi(midi)
    assert top[:3] == [(48, True), (48, True), (67, True)] and top[5] == (48, True)
    # A melody alone comes back as it was, its leading rests (a pickup) included.
    alone = ct.voices_to_pretty_midi([soprano, silent, silent, silent], 120.0, meter="3/4")
    assert ct.soprano_steps_from_midi(alone) == soprano
    with pytest.raises(ParameterError, match="tempo"):
        ct.voices_to_pretty_midi(grid, 0.0)


def test_soprano_from_midi_folds_octaves_and_starts_on_a_downbeat() -> None:
    midi = pretty_midi.PrettyMIDI(initial_tempo=60.0)
    midi.time_signature_changes.append(pretty_midi.TimeSignature(4, 4, 0.0))
    piano = pretty_midi.Instrument(0)
    piano.notes += [
        pretty_midi.Note(80, 96, 3.0, 4.0),  # a pickup on beat 4, folded an octave down
        pretty_midi.Note(80, 60, 4.0, 5.0),
        pretty_midi.Note(80, 48, 4.0, 6.0),  # below the top line
    ]
    midi.instruments.append(piano)
    steps = ct.soprano_steps_from_midi(midi)
    assert steps == [ct.SILENCE] * 6 + [(84, True), (84, False), (60, True), (60, False)] + [
        (48, True),
        (48, False),
    ]


def test_prepared_cache_layout_and_splits(tiny_cache: Path) -> None:
    manifest = read_manifest(tiny_cache)
    assert manifest["name"] == "bach-chorales" and manifest["vocab_size"] == 90
    assert manifest["labels"]["token_names"] == TOKENIZER.token_names
    assert manifest["vocab"]["lookahead"] == ct.LOOKAHEAD
    assert [s["file"] for s in manifest["skipped"]] == ["bach/bwv41.6"]
    assert "9 parts" in manifest["skipped"][0]["reason"]
    assert sum(manifest["stats"]["pieces"].values()) == 11
    for split in ("train", "valid", "test"):
        data = load_split(tiny_cache, split)
        count = len(data["item_id"])
        assert count == manifest["stats"]["sequences"][split] and count > 0
        for index in range(count):
            tokens = ragged_item(data["tokens"], data["tokens_offsets"], index)
            assert tokens.dtype == np.int32 and len(tokens) % 4 == 0
            assert tokens[0] == ct.BOS and list(tokens[-4:]) == [ct.EOS] * 4
            piece = str(data["item_id"][index]).split("@")[0]
            assert split_of(piece) == split
        assert int(data["tokens_offsets"][-1]) == manifest["stats"]["tokens"][split]
        if split != "train":
            assert not np.any(data["transpose"])


def test_train_transpositions_stay_in_range_and_move_the_key(tiny_cache: Path) -> None:
    data = load_split(tiny_cache, "train")
    ids = [str(i) for i in data["item_id"]]
    originals = {i: n for n, i in enumerate(ids) if "@" not in i}
    for index, item_id in enumerate(ids):
        shift = int(data["transpose"][index])
        assert -6 <= shift <= 5
        tokens = ragged_item(data["tokens"], data["tokens_offsets"], index)
        grid = TOKENIZER.decode(tokens)
        pitches = [p for voice in grid for p, _ in voice if p is not None]
        assert min(pitches) >= ct.NOTE_MIN and max(pitches) <= ct.NOTE_MAX
        base = originals[item_id.split("@")[0]]
        original = ragged_item(data["tokens"], data["tokens_offsets"], base)
        assert grid == ct.transpose_grid(TOKENIZER.decode(original), shift)
        (_, (tonic, mode)), (_, (tonic0, mode0)) = (
            TOKENIZER.header(tokens),
            TOKENIZER.header(original),
        )
        assert (tonic, mode) == ((tonic0 + shift) % 12, mode0)
    # Every fitting shift is used: each original has 1 + its fitting transpositions.
    for item_id, base in originals.items():
        grid = TOKENIZER.decode(ragged_item(data["tokens"], data["tokens_offsets"], base))
        expected = ct.train_transpositions(grid)
        got = [int(data["transpose"][n]) for n, i in enumerate(ids) if i.split("@")[0] == item_id]
        assert got == expected


def test_max_pieces_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="max_pieces"):
        ct.prepare_bach_chorales(tmp_path / "x", max_pieces=0)


def test_score_key_reads_the_signature_like_the_melody_datasets() -> None:
    from music21 import key, note, stream

    def score(signature) -> stream.Score:
        pitches = ["D4", "F4", "A4", "C#4", "D4"]
        return stream.Score([stream.Part([signature, *(note.Note(p) for p in pitches)])])

    assert ct.score_key(score(key.Key("a", "dorian"))) == (9, "minor")
    assert ct.score_key(score(key.Key("F"))) == (5, "major")  # a stated mode is trusted
    assert ct.score_key(score(key.KeySignature(-1))) == (2, "minor")  # D minor beats F major
