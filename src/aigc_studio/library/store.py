"""The output library: a SQLite record of every file the studio writes and how it was made.

Each record ties a file (absolute path, SHA-256, size) to its :class:`Provenance`. Later, the
library tells whether a file is one the studio made (:meth:`OutputLibrary.verify`), even after it
was copied or renamed. Several processes may write to one library at once (WAL journal, one
``BEGIN IMMEDIATE`` transaction per write, retries while the database is locked).

This module does not write media files or embed tags; it only records files that exist.
"""

from __future__ import annotations

import builtins
import json
import os
import random
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

from aigc_studio.errors import LibraryError, ParameterError
from aigc_studio.library.hashing import sha256_file
from aigc_studio.library.provenance import KINDS, InputRef, Provenance

__all__ = [
    "SCHEMA_VERSION",
    "OutputLibrary",
    "OutputRecord",
    "Verification",
    "default_library_path",
]

#: Version of the database layout, kept in ``PRAGMA user_version``.
SCHEMA_VERSION = 1

_LIBRARY_FILENAME = "library.sqlite3"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")
_LOCK_RETRIES = 6
_INT64_LIMIT = 1 << 63
_COLUMNS = (
    "id, path, sha256, size, kind, command, params, model, checkpoint_sha256, seed, inputs, "
    "software, created_at"
)
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS outputs (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        kind TEXT NOT NULL,
        command TEXT NOT NULL,
        params TEXT NOT NULL,
        model TEXT,
        checkpoint_sha256 TEXT,
        seed INTEGER,
        inputs TEXT NOT NULL,
        software TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS outputs_sha256 ON outputs (sha256)",
    "CREATE INDEX IF NOT EXISTS outputs_path ON outputs (path)",
)

T = TypeVar("T")


def default_library_path() -> Path:
    """Return where the library lives when no path is given.

    ``$AIGC_HOME/library.sqlite3`` if ``AIGC_HOME`` is set, else
    ``$XDG_DATA_HOME/aigc-studio/library.sqlite3`` (XDG Base Directory Specification; a relative
    ``XDG_DATA_HOME`` is ignored, as the specification says), else
    ``~/.local/share/aigc-studio/library.sqlite3``.

    Returns
    -------
    pathlib.Path
        The database path; it may not exist yet.
    """
    aigc_home = os.environ.get("AIGC_HOME")
    if aigc_home:
        return Path(aigc_home).expanduser() / _LIBRARY_FILENAME
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "aigc-studio" / _LIBRARY_FILENAME
    return Path.home() / ".local" / "share" / "aigc-studio" / _LIBRARY_FILENAME


def _now_utc() -> datetime:
    return datetime.now(UTC)


def _seed_to_db(seed: int | None) -> int | None:
    # SQLite INTEGER is signed 64-bit; seeds in [2**63, 2**64) are stored wrapped to negatives.
    # Provenance forbids negative seeds, so the mapping is reversible.
    if seed is None:
        return None
    return seed - (1 << 64) if seed >= _INT64_LIMIT else seed


def _seed_from_db(value: int | None) -> int | None:
    if value is None:
        return None
    return value + (1 << 64) if value < 0 else value


def _dumps(obj: Any) -> str:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def _is_lock_error(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


@dataclass(frozen=True)
class OutputRecord:
    """One recorded output: a row of the ``outputs`` table, with JSON columns decoded.

    Attributes
    ----------
    id : int
        Record number, increasing in the order records were made.
    path : str
        Absolute, resolved path the output was written to.
    sha256 : str
        Content hash when recorded.
    size : int
        Size in bytes when recorded.
    kind, command : str
        Output kind and the command that wrote it.
    params : dict
        The command's parameters.
    model, checkpoint_sha256 : str or None
        Model name and checkpoint hash.
    seed : int or None
        Random seed.
    inputs : tuple of InputRef
        Input files by path and hash.
    software : str
        Program and version that made it.
    created_at : datetime.datetime
        When it was recorded (timezone-aware, UTC).
    """

    id: int
    path: str
    sha256: str
    size: int
    kind: str
    command: str
    params: dict[str, Any]
    model: str | None
    checkpoint_sha256: str | None
    seed: int | None
    inputs: tuple[InputRef, ...]
    software: str
    created_at: datetime

    @classmethod
    def _from_row(cls, row: sqlite3.Row | tuple[Any, ...]) -> OutputRecord:
        (rid, path, sha, size, kind, command, params, model, ckpt, seed, inputs, sw, created) = row
        return cls(
            id=rid,
            path=path,
            sha256=sha,
            size=size,
            kind=kind,
            command=command,
            params=json.loads(params),
            model=model,
            checkpoint_sha256=ckpt,
            seed=_seed_from_db(seed),
            inputs=tuple(InputRef(path=i["path"], sha256=i["sha256"]) for i in json.loads(inputs)),
            software=sw,
            created_at=datetime.fromisoformat(created),
        )

    @property
    def provenance(self) -> Provenance:
        """The record's provenance, e.g. to embed it again with :meth:`Provenance.as_tags`."""
        return Provenance(
            command=self.command,
            params=self.params,
            kind=self.kind,
            model=self.model,
            checkpoint_sha256=self.checkpoint_sha256,
            seed=self.seed,
            inputs=list(self.inputs),
            software=self.software,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-able data (``created_at`` as an ISO-8601 string)."""
        return {
            "id": self.id,
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "kind": self.kind,
            "command": self.command,
            "params": self.params,
            "model": self.model,
            "checkpoint_sha256": self.checkpoint_sha256,
            "seed": self.seed,
            "inputs": [ref.to_dict() for ref in self.inputs],
            "software": self.software,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class Verification:
    """What the library knows about a file's current content.

    Attributes
    ----------
    status : {"recorded", "moved", "altered", "unknown"}
        ``"recorded"``: the content matches a record for this path. ``"moved"``: the content
        matches a record made for another path (the file was copied or renamed). ``"altered"``:
        this path was recorded but its content has changed since. ``"unknown"``: neither.
    path : str
        The file checked (absolute, resolved).
    sha256 : str
        Its current content hash.
    record : OutputRecord or None
        The matching record (for ``"altered"``, the newest record of this path); ``None`` when
        unknown.
    message : str
        One line for the user.
    """

    status: Literal["recorded", "moved", "altered", "unknown"]
    path: str
    sha256: str
    record: OutputRecord | None
    message: str


class OutputLibrary:
    """A SQLite database recording every output the studio writes, with its provenance.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Database file; defaults to :func:`default_library_path`. Missing parent folders are
        created.
    timeout : float, default 30.0
        Seconds to wait for another process's write lock before each retry.

    Raises
    ------
    LibraryError
        If the file is not a SQLite database, belongs to another program, was made by a newer
        aigc-studio, or cannot be opened or created.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> out = folder / "take1.wav"
    >>> _ = out.write_bytes(b"RIFF....WAVE")
    >>> with OutputLibrary(folder / "library.sqlite3") as lib:
    ...     rec = lib.record(out, Provenance("audio normalize", {"target_lufs": -14}, "audio"))
    ...     lib.verify(out).status
    'recorded'
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, timeout: float = 30.0):
        if timeout < 0:
            raise ParameterError(f"timeout must be >= 0 seconds, got {timeout!r}")
        self.path = Path(path).expanduser() if path is not None else default_library_path()
        self._timeout = float(timeout)
        self._check_file()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LibraryError(
                f"cannot create the folder for the library {self.path}: {exc.strerror or exc}"
            ) from None
        try:
            # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                str(self.path), timeout=self._timeout, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise LibraryError(f"cannot open the library {self.path}: {exc}") from None
        try:
            self._retry_locked(self._set_up)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise LibraryError(
                f"cannot open the library {self.path}: {exc}; if it is not an aigc-studio "
                "library, move it aside or give another path"
            ) from None
        except BaseException:
            self.close()
            raise

    def _check_file(self) -> None:
        if self.path.is_dir():
            raise LibraryError(f"the library path {self.path} is a folder; give a file path")
        try:
            with self.path.open("rb") as f:
                head = f.read(len(_SQLITE_MAGIC))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise LibraryError(f"cannot read the library {self.path}: {exc.strerror}") from None
        # An empty file is a valid, empty database to SQLite.
        if head and head != _SQLITE_MAGIC:
            raise LibraryError(
                f"{self.path} is not a SQLite database, so it cannot be the output library; "
                "move it aside or give another path"
            )

    def _set_up(self) -> None:
        conn = self._connection()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise LibraryError(
                    f"the library {self.path} has schema version {version}, newer than this "
                    f"aigc-studio understands ({SCHEMA_VERSION}); upgrade aigc-studio"
                )
            if version == 0:
                tables = [
                    name
                    for (name,) in conn.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table' "
                        "AND name NOT LIKE 'sqlite_%'"
                    )
                ]
                if tables:
                    raise LibraryError(
                        f"{self.path} is a SQLite database of another program (tables: "
                        f"{', '.join(sorted(tables))}), not an aigc-studio library; "
                        "give another path"
                    )
                # Not executescript(): it would COMMIT the open transaction first.
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LibraryError(f"the library {self.path} is closed")
        return self._conn

    def _retry_locked(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt``, retrying with backoff while another process holds the lock."""
        for n in range(_LOCK_RETRIES):
            try:
                return attempt()
            except sqlite3.OperationalError as exc:
                if not _is_lock_error(exc):
                    raise LibraryError(f"library {self.path}: {exc}") from None
                if n == _LOCK_RETRIES - 1:
                    raise LibraryError(
                        f"the library {self.path} stayed locked by another process; "
                        "try again when it has finished"
                    ) from None
                # Exponential backoff with jitter so competing writers do not retry in step.
                time.sleep(0.02 * 2**n * (1 + random.random()))
        raise AssertionError("unreachable")

    def _write(self, sql: str, args: tuple[Any, ...]) -> int:
        conn = self._connection()

        def attempt() -> int:
            try:
                conn.execute("BEGIN IMMEDIATE")
                cursor = conn.execute(sql, args)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return int(cursor.lastrowid or 0)

        return self._retry_locked(attempt)

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> builtins.list[OutputRecord]:
        conn = self._connection()
        rows = self._retry_locked(lambda: conn.execute(sql, args).fetchall())
        return [OutputRecord._from_row(row) for row in rows]

    def record(self, path: str | os.PathLike[str], provenance: Provenance) -> OutputRecord:
        """Record a written output file with its provenance.

        The file is hashed as it is now, so call this after the file is complete.

        Parameters
        ----------
        path : str or os.PathLike
            The output file; stored as an absolute, resolved path.
        provenance : Provenance
            How it was made.

        Returns
        -------
        OutputRecord
            The new record.

        Raises
        ------
        LibraryError
            If the file is missing or unreadable, changes while being hashed, or the library
            stays locked by other writers.
        """
        if not isinstance(provenance, Provenance):
            raise ParameterError(
                f"provenance must be a Provenance, got {type(provenance).__name__}"
            )
        file = Path(path).expanduser().resolve()
        before = self._stat_file(file)
        sha = sha256_file(file)
        after = self._stat_file(file)
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
            raise LibraryError(f"{file} changed while it was being hashed; record it when complete")
        created = _now_utc()
        values = (
            str(file),
            sha,
            after.st_size,
            provenance.kind,
            provenance.command,
            _dumps(provenance.params),
            provenance.model,
            provenance.checkpoint_sha256,
            _seed_to_db(provenance.seed),
            _dumps([ref.to_dict() for ref in provenance.inputs]),
            provenance.software,
            created.isoformat(timespec="microseconds"),
        )
        record_id = self._write(
            "INSERT INTO outputs (path, sha256, size, kind, command, params, model, "
            "checkpoint_sha256, seed, inputs, software, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        return OutputRecord._from_row((record_id, *values))

    @staticmethod
    def _stat_file(file: Path) -> os.stat_result:
        try:
            st = file.stat()
        except FileNotFoundError:
            raise LibraryError(f"{file} does not exist") from None
        except OSError as exc:
            raise LibraryError(f"cannot read {file}: {exc.strerror}") from None
        if not file.is_file():
            raise LibraryError(f"{file} is not a regular file")
        return st

    def get(self, record_id: int) -> OutputRecord:
        """Return the record with this id.

        Raises
        ------
        LibraryError
            If there is no such record.
        """
        if isinstance(record_id, bool) or not isinstance(record_id, int):
            raise ParameterError(f"record_id must be an integer, got {record_id!r}")
        rows = self._query(f"SELECT {_COLUMNS} FROM outputs WHERE id = ?", (record_id,))
        if not rows:
            raise LibraryError(f"the library {self.path} has no record #{record_id}")
        return rows[0]

    def find(self, path_or_hash: str | os.PathLike[str]) -> builtins.list[OutputRecord]:
        """Return the records of a path, or of a content hash, newest first.

        Parameters
        ----------
        path_or_hash : str or os.PathLike
            A string of 64 hex characters is taken as a SHA-256; anything else as a path
            (resolved; the file need not exist any more).

        Returns
        -------
        list of OutputRecord
            Possibly empty.
        """
        if isinstance(path_or_hash, str) and _SHA256_RE.fullmatch(path_or_hash):
            return self._query(
                f"SELECT {_COLUMNS} FROM outputs WHERE sha256 = ? ORDER BY id DESC",
                (path_or_hash.lower(),),
            )
        file = str(Path(path_or_hash).expanduser().resolve())
        return self._query(
            f"SELECT {_COLUMNS} FROM outputs WHERE path = ? ORDER BY id DESC", (file,)
        )

    def list(
        self,
        kind: str | None = None,
        command: str | None = None,
        limit: int | None = 50,
        newest_first: bool = True,
    ) -> builtins.list[OutputRecord]:
        """Return records, optionally only of one kind and/or command.

        Parameters
        ----------
        kind : str, optional
            Only outputs of this kind (one of :data:`~aigc_studio.library.provenance.KINDS`).
        command : str, optional
            Only outputs of this command, e.g. ``"audio normalize"``.
        limit : int or None, default 50
            At most this many records; ``None`` for all.
        newest_first : bool, default True
            Order by recording order, newest (highest id) first, or oldest first.

        Returns
        -------
        list of OutputRecord

        Raises
        ------
        ParameterError
            If ``kind`` is not a known kind or ``limit`` is not a positive integer.
        """
        if kind is not None and kind not in KINDS:
            raise ParameterError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise ParameterError(f"limit must be a positive integer or None, got {limit!r}")
        where, args = [], []
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if command is not None:
            where.append("command = ?")
            args.append(command)
        sql = f"SELECT {_COLUMNS} FROM outputs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        # id, not created_at: ids follow commit order even when clocks of writers disagree.
        sql += " ORDER BY id " + ("DESC" if newest_first else "ASC")
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return self._query(sql, tuple(args))

    def count(self) -> int:
        """Return the number of records."""
        conn = self._connection()
        return int(
            self._retry_locked(lambda: conn.execute("SELECT COUNT(*) FROM outputs").fetchone()[0])
        )

    def verify(self, path: str | os.PathLike[str]) -> Verification:
        """Tell whether a file is an output the studio recorded, as it is now.

        Parameters
        ----------
        path : str or os.PathLike
            The file to check.

        Returns
        -------
        Verification
            ``"recorded"``, ``"moved"``, ``"altered"`` or ``"unknown"``, with the matching record
            and a one-line message.

        Raises
        ------
        LibraryError
            If the file is missing or unreadable.
        """
        file = Path(path).expanduser().resolve()
        self._stat_file(file)
        sha = sha256_file(file)
        name = str(file)
        by_hash = self.find(sha)
        same_path = [r for r in by_hash if r.path == name]
        if same_path:
            rec = same_path[0]
            return Verification(
                "recorded",
                name,
                sha,
                rec,
                f"{name} is record #{rec.id} ({rec.command}, {_when(rec)}), unchanged",
            )
        by_path = self._query(
            f"SELECT {_COLUMNS} FROM outputs WHERE path = ? ORDER BY id DESC", (name,)
        )
        if by_hash:
            rec = by_hash[0]
            note = (
                f"; the record of this path, #{by_path[0].id}, had other content" if by_path else ""
            )
            return Verification(
                "moved",
                name,
                sha,
                rec,
                f"{name} has the content of record #{rec.id} ({rec.command}, {_when(rec)}), "
                f"made as {rec.path}: copied or renamed{note}",
            )
        if by_path:
            rec = by_path[0]
            return Verification(
                "altered",
                name,
                sha,
                rec,
                f"{name} was recorded as #{rec.id} ({rec.command}, {_when(rec)}) but its content "
                f"has changed since (sha256 was {rec.sha256[:12]}, now {sha[:12]})",
            )
        return Verification(
            "unknown", name, sha, None, f"{name} is not in the library (sha256 {sha[:12]})"
        )

    def close(self) -> None:
        """Close the database connection; calling it again does nothing."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> OutputLibrary:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else "open"
        return f"OutputLibrary({str(self.path)!r}, {state})"


def _when(record: OutputRecord) -> str:
    return record.created_at.strftime("%Y-%m-%d %H:%M UTC")
