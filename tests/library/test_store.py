"""Tests of the SQLite output library: recording, queries, verification, locking, concurrency."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import aigc_studio
from aigc_studio import __version__
from aigc_studio.errors import LibraryError, ParameterError
from aigc_studio.library import (
    SCHEMA_VERSION,
    OutputLibrary,
    OutputRecord,
    Provenance,
    default_library_path,
)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _prov(command: str = "audio normalize", kind: str = "audio", **params: object) -> Provenance:
    return Provenance(command, dict(params), kind)


@pytest.fixture
def lib(tmp_path: Path) -> Iterator[OutputLibrary]:
    with OutputLibrary(tmp_path / "db" / "library.sqlite3") as library:
        yield library


# --- record / get ------------------------------------------------------------------------------


def test_record_and_get_round_trip_all_fields(tmp_path: Path, lib: OutputLibrary) -> None:
    src = _write(tmp_path / "in" / "take.wav", b"raw take")
    ckpt = _write(tmp_path / "ckpt.pt", b"weights")
    out = _write(tmp_path / "out" / "take.wav", b"normalized take")
    prov = Provenance.create(
        "audio normalize",
        {"target_lufs": -14.0, "true_peak": (-1, "dBTP"), "out_dir": tmp_path / "out"},
        "audio",
        inputs=[src],
        model="melody-vae",
        checkpoint=ckpt,
        seed=2**64 - 1,  # beyond SQLite's signed 64-bit INTEGER
    )
    before = datetime.now(UTC)
    rec = lib.record(out, prov)
    after = datetime.now(UTC)

    assert isinstance(rec, OutputRecord)
    assert lib.get(rec.id) == rec
    assert rec.path == str(out.resolve())
    assert rec.sha256 == _sha(b"normalized take")
    assert rec.size == len(b"normalized take")
    assert rec.kind == "audio"
    assert rec.command == "audio normalize"
    assert rec.params == {
        "target_lufs": -14.0,
        "true_peak": [-1, "dBTP"],
        "out_dir": str(tmp_path / "out"),
    }
    assert rec.model == "melody-vae"
    assert rec.checkpoint_sha256 == _sha(b"weights")
    assert rec.seed == 2**64 - 1
    assert [(i.path, i.sha256) for i in rec.inputs] == [(str(src.resolve()), _sha(b"raw take"))]
    assert rec.software == f"aigc-studio {__version__}"
    assert rec.created_at.utcoffset() == timedelta(0)
    assert before <= rec.created_at <= after
    assert rec.provenance == prov

    d = rec.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["created_at"].endswith("+00:00")
    assert d["inputs"] == [{"path": str(src.resolve()), "sha256": _sha(b"raw take")}]


def test_record_stores_resolved_absolute_path(
    tmp_path: Path, lib: OutputLibrary, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "a" / "song.mid", b"MThd")
    monkeypatch.chdir(tmp_path / "a")
    rec = lib.record(Path("..") / "a" / "song.mid", _prov("music compose", "midi"))
    assert rec.path == str((tmp_path / "a" / "song.mid").resolve())
    assert Path(rec.path).is_absolute() and ".." not in Path(rec.path).parts


def test_record_missing_file_is_library_error(tmp_path: Path, lib: OutputLibrary) -> None:
    with pytest.raises(LibraryError, match="ghost.wav"):
        lib.record(tmp_path / "ghost.wav", _prov())
    assert lib.count() == 0


def test_get_unknown_id_is_library_error(lib: OutputLibrary) -> None:
    with pytest.raises(LibraryError, match="#42"):
        lib.get(42)


def test_records_persist_across_reopen(tmp_path: Path) -> None:
    db = tmp_path / "library.sqlite3"
    out = _write(tmp_path / "o.wav", b"o")
    with OutputLibrary(db) as lib:
        rec = lib.record(out, _prov(gain=2))
    with OutputLibrary(db) as lib:
        assert lib.count() == 1
        assert lib.get(rec.id) == rec


# --- list / find / count -----------------------------------------------------------------------


def test_list_filters_order_and_limit(tmp_path: Path, lib: OutputLibrary) -> None:
    made = [
        ("audio normalize", "audio"),
        ("video interpolate", "video"),
        ("audio denoise", "audio"),
        ("audio normalize", "audio"),
        ("music compose", "midi"),
    ]
    ids = []
    for i, (command, kind) in enumerate(made):
        out = _write(tmp_path / f"out{i}", f"output {i}".encode())
        ids.append(lib.record(out, _prov(command, kind, i=i)).id)

    assert lib.count() == 5
    assert [r.id for r in lib.list()] == ids[::-1]
    assert [r.id for r in lib.list(newest_first=False)] == ids
    assert [r.id for r in lib.list(limit=2)] == [ids[4], ids[3]]
    assert [r.id for r in lib.list(limit=None)] == ids[::-1]
    assert [r.id for r in lib.list(kind="audio")] == [ids[3], ids[2], ids[0]]
    assert [r.id for r in lib.list(command="audio normalize", newest_first=False)] == [
        ids[0],
        ids[3],
    ]
    assert [r.id for r in lib.list(kind="audio", command="audio denoise")] == [ids[2]]
    assert lib.list(kind="video", command="audio denoise") == []
    assert [r.params["i"] for r in lib.list(kind="midi")] == [4]


@pytest.mark.parametrize(
    "kwargs", [{"kind": "podcast"}, {"limit": 0}, {"limit": -3}, {"limit": 2.5}]
)
def test_list_rejects_bad_arguments(lib: OutputLibrary, kwargs: dict) -> None:
    with pytest.raises(ParameterError):
        lib.list(**kwargs)


def test_find_by_path_and_by_hash(tmp_path: Path, lib: OutputLibrary) -> None:
    a = _write(tmp_path / "a.wav", b"same")
    b = _write(tmp_path / "b.wav", b"same")
    c = _write(tmp_path / "c.wav", b"other")
    ra1 = lib.record(a, _prov(run=1))
    rb = lib.record(b, _prov(run=2))
    lib.record(c, _prov(run=3))
    ra2 = lib.record(a, _prov(run=4))

    assert [r.id for r in lib.find(a)] == [ra2.id, ra1.id]
    assert [r.id for r in lib.find(str(a))] == [ra2.id, ra1.id]
    assert [r.id for r in lib.find(_sha(b"same"))] == [ra2.id, rb.id, ra1.id]
    assert [r.id for r in lib.find(_sha(b"same").upper())] == [ra2.id, rb.id, ra1.id]
    assert lib.find(tmp_path / "never.wav") == []
    assert lib.find("0" * 64) == []
    a.unlink()  # records outlive the file
    assert len(lib.find(a)) == 2


# --- verify ------------------------------------------------------------------------------------


def test_verify_recorded_moved_altered_unknown(tmp_path: Path, lib: OutputLibrary) -> None:
    out = _write(tmp_path / "out" / "song.flac", b"fLaC original render")
    rec = lib.record(out, _prov("music render", "audio"))

    v = lib.verify(out)
    assert (v.status, v.record, v.sha256) == ("recorded", rec, rec.sha256)
    assert v.path == rec.path and f"#{rec.id}" in v.message

    copy = tmp_path / "elsewhere" / "renamed.flac"
    copy.parent.mkdir()
    shutil.copy2(out, copy)
    v = lib.verify(copy)
    assert (v.status, v.record) == ("moved", rec)
    assert v.path == str(copy.resolve())
    assert rec.path in v.message

    data = bytearray(out.read_bytes())
    data[5] ^= 0x01  # flip one bit
    out.write_bytes(bytes(data))
    v = lib.verify(out)
    assert (v.status, v.record) == ("altered", rec)
    assert v.sha256 == _sha(bytes(data)) != rec.sha256
    assert f"#{rec.id}" in v.message

    stranger = _write(tmp_path / "stranger.wav", b"never recorded")
    v = lib.verify(stranger)
    assert (v.status, v.record) == ("unknown", None)
    assert v.sha256 == _sha(b"never recorded")


def test_verify_prefers_the_record_of_this_path(tmp_path: Path, lib: OutputLibrary) -> None:
    # The same content recorded at two paths: each path verifies as its own record.
    a = _write(tmp_path / "a.wav", b"same")
    b = _write(tmp_path / "b.wav", b"same")
    ra = lib.record(a, _prov(run=1))
    rb = lib.record(b, _prov(run=2))
    assert lib.verify(a).record == ra
    assert lib.verify(b).record == rb


def test_verify_missing_file_is_library_error(tmp_path: Path, lib: OutputLibrary) -> None:
    with pytest.raises(LibraryError, match="gone.wav"):
        lib.verify(tmp_path / "gone.wav")


# --- the database file -------------------------------------------------------------------------


def test_default_path_honours_aigc_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIGC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_library_path() == tmp_path / "home" / "library.sqlite3"


def test_default_path_honours_xdg_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIGC_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_library_path() == tmp_path / "xdg" / "aigc-studio" / "library.sqlite3"


def test_default_path_falls_back_to_local_share(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIGC_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")  # the XDG spec says ignore
    monkeypatch.setenv("HOME", str(tmp_path))
    expected = tmp_path / ".local" / "share" / "aigc-studio" / "library.sqlite3"
    assert default_library_path() == expected
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_library_path() == expected


def test_library_without_path_uses_default_and_creates_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIGC_HOME", str(tmp_path / "deep" / "home"))
    out = _write(tmp_path / "o.wav", b"o")
    with OutputLibrary() as lib:
        lib.record(out, _prov())
    assert (tmp_path / "deep" / "home" / "library.sqlite3").is_file()


def test_wal_mode_and_schema_version(tmp_path: Path) -> None:
    db = tmp_path / "library.sqlite3"
    OutputLibrary(db).close()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        cols = {
            conn.execute(f"PRAGMA index_info({name})").fetchone()[2]
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='outputs'"
            )
        }
    finally:
        conn.close()
    assert {"sha256", "path"} <= cols


def test_non_sqlite_file_is_library_error_and_left_alone(tmp_path: Path) -> None:
    db = _write(tmp_path / "library.sqlite3", b"these are my notes, not a database\n" * 10)
    with pytest.raises(LibraryError, match="not a SQLite database"):
        OutputLibrary(db)
    assert db.read_bytes() == b"these are my notes, not a database\n" * 10


def test_sqlite_db_of_another_program_is_library_error(tmp_path: Path) -> None:
    db = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(LibraryError, match="another program"):
        OutputLibrary(db)


def test_newer_schema_is_library_error(tmp_path: Path) -> None:
    db = tmp_path / "library.sqlite3"
    OutputLibrary(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(LibraryError, match="upgrade"):
        OutputLibrary(db)


def test_folder_as_db_path_is_library_error(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="folder"):
        OutputLibrary(tmp_path)


def test_closed_library_is_library_error(tmp_path: Path) -> None:
    lib = OutputLibrary(tmp_path / "library.sqlite3")
    with lib:
        pass
    lib.close()  # idempotent
    with pytest.raises(LibraryError, match="closed"):
        lib.count()


# --- locking and concurrency -------------------------------------------------------------------


def _hold_write_lock(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_record_gives_up_with_library_error_while_locked(tmp_path: Path) -> None:
    db = tmp_path / "library.sqlite3"
    out = _write(tmp_path / "o.wav", b"o")
    with OutputLibrary(db, timeout=0.01) as lib:
        blocker = _hold_write_lock(db)
        try:
            with pytest.raises(LibraryError, match="locked"):
                lib.record(out, _prov())
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert lib.count() == 0
        lib.record(out, _prov())  # the failed attempt left no transaction open
        assert lib.count() == 1


def test_record_retries_until_the_lock_is_released(tmp_path: Path) -> None:
    db = tmp_path / "library.sqlite3"
    out = _write(tmp_path / "o.wav", b"o")
    with OutputLibrary(db, timeout=0.01) as lib:
        blocker = _hold_write_lock(db)

        def release() -> None:
            blocker.execute("ROLLBACK")
            blocker.close()

        timer = threading.Timer(0.1, release)
        timer.start()
        try:
            rec = lib.record(out, _prov())
        finally:
            timer.join()
        assert lib.get(rec.id) == rec


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from aigc_studio.library import OutputLibrary, Provenance

    db, folder, tag = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    (folder / f"ready-{tag}").touch()
    deadline = time.monotonic() + 30
    while not (folder / "go").exists():
        if time.monotonic() > deadline:
            sys.exit("no go signal")
        time.sleep(0.002)
    # Both writers open a library that does not exist yet: schema creation races too.
    with OutputLibrary(db) as lib:
        for i in range(40):
            out = folder / f"{tag}-{i:02d}.bin"
            out.write_bytes(f"{tag} output {i}".encode())
            lib.record(out, Provenance("test write", {"writer": tag, "i": i}, "other", seed=i))
    """
)


def test_two_processes_recording_at_once_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "shared" / "library.sqlite3"
    folder = tmp_path / "outputs"
    folder.mkdir()
    src = str(Path(aigc_studio.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(db), str(folder), tag],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for tag in ("w1", "w2")
    ]
    try:
        deadline = time.monotonic() + 30
        while not all((folder / f"ready-{t}").exists() for t in ("w1", "w2")):
            assert time.monotonic() < deadline, "writers did not start"
            assert all(p.poll() is None for p in procs), procs[0].stderr
            time.sleep(0.005)
        (folder / "go").touch()
        results = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err.decode()

    with OutputLibrary(db) as lib:
        assert lib.count() == 80
        records = lib.list(limit=None, newest_first=False)
    expected = {
        str((folder / f"{t}-{i:02d}.bin").resolve()) for t in ("w1", "w2") for i in range(40)
    }
    assert {r.path for r in records} == expected
    assert len({r.id for r in records}) == 80
    for r in records:
        assert r.sha256 == _sha(Path(r.path).read_bytes())
        assert r.params["i"] == r.seed
    for tag in ("w1", "w2"):
        # Each writer's records appear in the order it made them.
        mine = [r.params["i"] for r in records if r.params["writer"] == tag]
        assert mine == list(range(40))
