"""Tests of provenance records, their JSON and embedded-tag forms, and file hashing."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigc_studio import __version__
from aigc_studio.errors import LibraryError, ParameterError
from aigc_studio.library import (
    PROVENANCE_PREFIX,
    InputRef,
    Provenance,
    parse_embedded,
    sha256_file,
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _full_provenance(tmp_path: Path) -> Provenance:
    a = tmp_path / "voice.wav"
    b = tmp_path / "band.flac"
    ckpt = tmp_path / "model.pt"
    a.write_bytes(b"voice samples")
    b.write_bytes(b"band samples")
    ckpt.write_bytes(b"weights")
    return Provenance.create(
        "audio mix",
        {"gain_db": -3.5, "tracks": ("voice", "band"), "out": tmp_path / "mix.wav"},
        "audio",
        inputs=[a, b],
        model="specgan",
        checkpoint=ckpt,
        seed=1234,
    )


# --- hashing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"x", bytes(range(256)) * 5])
def test_sha256_file_matches_hashlib_across_chunk_boundaries(tmp_path: Path, data: bytes) -> None:
    f = tmp_path / "blob.bin"
    f.write_bytes(data)
    assert sha256_file(f, chunk_size=7) == _sha(data)
    assert sha256_file(str(f)) == _sha(data)


def test_sha256_file_missing_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="nope.wav"):
        sha256_file(tmp_path / "nope.wav")


def test_sha256_file_folder_is_library_error(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="folder"):
        sha256_file(tmp_path)


def test_sha256_file_rejects_bad_chunk_size(tmp_path: Path) -> None:
    f = tmp_path / "a"
    f.write_bytes(b"a")
    with pytest.raises(ParameterError, match="chunk_size"):
        sha256_file(f, chunk_size=0)


# --- construction ------------------------------------------------------------------------------


def test_create_hashes_inputs_and_checkpoint(tmp_path: Path) -> None:
    p = _full_provenance(tmp_path)
    assert p.inputs == [
        InputRef(str((tmp_path / "voice.wav").resolve()), _sha(b"voice samples")),
        InputRef(str((tmp_path / "band.flac").resolve()), _sha(b"band samples")),
    ]
    assert p.checkpoint_sha256 == _sha(b"weights")
    assert p.model == "specgan"
    assert p.seed == 1234
    assert p.software == f"aigc-studio {__version__}"


def test_create_accepts_a_single_input_path(tmp_path: Path) -> None:
    f = tmp_path / "in.wav"
    f.write_bytes(b"abc")
    p = Provenance.create("audio denoise", {}, "audio", inputs=f)
    assert [ref.sha256 for ref in p.inputs] == [_sha(b"abc")]


def test_create_missing_input_is_library_error(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="missing.wav"):
        Provenance.create("audio denoise", {}, "audio", inputs=[tmp_path / "missing.wav"])


def test_create_rejects_checkpoint_and_hash_together(tmp_path: Path) -> None:
    ckpt = tmp_path / "m.pt"
    ckpt.write_bytes(b"w")
    with pytest.raises(ParameterError, match="not both"):
        Provenance.create("x", {}, "other", checkpoint=ckpt, checkpoint_sha256=_sha(b"w"))


def test_params_are_converted_to_json_types(tmp_path: Path) -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd-thing"

    p = Provenance(
        "video color",
        {
            "lut": tmp_path / "film.cube",
            "size": (640, 480),
            "nested": {"pair": (1, 2.5), 3: "int key"},
            "tags": {"b", "a"},
            "bad": float("nan"),
            "inf": float("inf"),
            "obj": Odd(),
        },
        "video",
    )
    assert p.params == {
        "lut": str(tmp_path / "film.cube"),
        "size": [640, 480],
        "nested": {"pair": [1, 2.5], "3": "int key"},
        "tags": ["a", "b"],
        "bad": "nan",
        "inf": "inf",
        "obj": "odd-thing",
    }
    json.loads(p.to_json())  # strict JSON: would fail on NaN


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "podcast"),
        ("seed", -1),
        ("seed", 2**64),
        ("seed", True),
        ("seed", 1.5),
        ("checkpoint_sha256", "abc"),
        ("command", ""),
        ("params", [1, 2]),
    ],
)
def test_invalid_fields_are_parameter_errors(field: str, value: object) -> None:
    kwargs: dict[str, object] = {"command": "audio normalize", "params": {}, "kind": "audio"}
    kwargs[field] = value
    with pytest.raises(ParameterError, match=field):
        Provenance(**kwargs)  # type: ignore[arg-type]


# --- JSON and tags -----------------------------------------------------------------------------


def test_to_json_is_compact_sorted_and_names_the_software(tmp_path: Path) -> None:
    text = _full_provenance(tmp_path).to_json()
    assert ", " not in text and '": ' not in text
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["software"] == f"aigc-studio {__version__}"
    assert data["params"]["tracks"] == ["voice", "band"]


def test_json_round_trip_keeps_every_field(tmp_path: Path) -> None:
    p = _full_provenance(tmp_path)
    q = Provenance.from_json(p.to_json())
    assert q == p
    assert q.to_json() == p.to_json()


def test_from_json_keeps_an_older_software_string() -> None:
    p = Provenance("music compose", {}, "midi", software="aigc-studio 0.0.1")
    assert Provenance.from_json(p.to_json()).software == "aigc-studio 0.0.1"


@pytest.mark.parametrize("text", ["", "{", "[]", '{"kind": "audio"}', '{"command": "x"}'])
def test_from_json_rejects_non_records(text: str) -> None:
    with pytest.raises(LibraryError, match="not a provenance record"):
        Provenance.from_json(text)


def test_tags_round_trip(tmp_path: Path) -> None:
    p = _full_provenance(tmp_path)
    tags = p.as_tags()
    assert set(tags) == {"comment", "software"}
    assert tags["software"] == f"aigc-studio {__version__}"
    assert tags["comment"] == PROVENANCE_PREFIX + p.to_json()
    assert tags["comment"].isascii()
    assert parse_embedded(tags["comment"]) == p
    assert Provenance.parse_embedded(tags["comment"]) == p


def test_parse_embedded_tolerates_container_padding_and_bytes() -> None:
    p = Provenance("midi render", {"title": "Café № 5"}, "audio", seed=3)
    comment = p.as_tags()["comment"]
    assert parse_embedded(comment + "\x00\x00") == p
    assert parse_embedded("  " + comment + "\n") == p
    assert parse_embedded(comment.encode("ascii")) == p
    assert parse_embedded(comment).params["title"] == "Café № 5"


@pytest.mark.parametrize(
    "junk",
    [
        None,
        "",
        "Recorded live at home",
        '{"command": "x", "params": {}, "kind": "audio"}',  # JSON without the prefix
        "aigc-provenance:",
        "aigc-provenance:{not json",
        "aigc-provenance:[1, 2]",
        'aigc-provenance:{"command": "x", "params": {}}',
        'aigc-provenance:{"command": "x", "params": {}, "kind": "podcast"}',
        'aigc-provenance:{"command": "x", "params": {}, "kind": "audio", "seed": -5}',
        'aigc-provenance:{"command": "x", "params": {}, "kind": "audio", "inputs": [{"path": 1}]}',
        b"\xff\xfe garbage",
    ],
)
def test_parse_embedded_rejects_junk(junk: str | bytes | None) -> None:
    assert parse_embedded(junk) is None


# --- property: arbitrary JSON params round-trip ------------------------------------------------

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    params=st.dictionaries(st.text(max_size=12), _json_values, max_size=6),
    seed=st.none() | st.integers(min_value=0, max_value=2**64 - 1),
)
def test_json_params_round_trip(params: dict, seed: int | None) -> None:
    p = Provenance("test command", params, "other", seed=seed)
    q = Provenance.from_json(p.to_json())
    assert q.params == params
    assert q.seed == seed
    assert parse_embedded(p.as_tags()["comment"]) == p
    # Floats survive bit-exactly (not just approximately).
    for key, value in params.items():
        if isinstance(value, float):
            assert math.copysign(1.0, q.params[key]) == math.copysign(1.0, value)
            assert q.params[key].hex() == value.hex()
