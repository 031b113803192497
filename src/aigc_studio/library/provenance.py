"""Provenance of a generated output: which command, parameters, model, seed and inputs made it.

A :class:`Provenance` is plain data. It serialises to compact, canonical JSON and to the tags that
media writers embed in the files they write (WAV/FLAC/OGG/MP4/MIDI comments), so a file carries
its own history even outside the library. This module does not write media files and does not
touch the library database; see :mod:`aigc_studio.library.store` for that.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigc_studio import __version__
from aigc_studio.errors import LibraryError, ParameterError
from aigc_studio.library.hashing import sha256_file

__all__ = [
    "KINDS",
    "PROVENANCE_PREFIX",
    "SOFTWARE",
    "InputRef",
    "Provenance",
    "parse_embedded",
]

#: The software string written into every record and tag.
SOFTWARE = f"aigc-studio {__version__}"

#: What an embedded comment starts with; what follows is :meth:`Provenance.to_json`.
PROVENANCE_PREFIX = "aigc-provenance:"

#: The kinds of output the studio writes.
KINDS = ("audio", "video", "midi", "image", "score", "checkpoint", "other")

_SHA256_RE = re.compile(r"[0-9a-f]{64}")
# Seeds are stored as SQLite INTEGER (signed 64 bit); torch seeds reach 2**64 - 1.
_SEED_LIMIT = 1 << 64


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and _SHA256_RE.fullmatch(value) is not None


def _jsonable(value: Any, _active: frozenset[int] = frozenset()) -> Any:
    """Convert ``value`` to plain JSON types (str, int, float, bool, None, list, dict).

    Paths become strings, tuples and sets become lists, NumPy/torch scalars become Python
    numbers, and anything else (including NaN and infinities, which JSON cannot hold) becomes
    ``str(value)``.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        if id(value) in _active:
            return "<recursive>"
        active = _active | {id(value)}
        if isinstance(value, Mapping):
            return {str(k): _jsonable(v, active) for k, v in value.items()}
        items = [_jsonable(v, active) for v in value]
        if isinstance(value, set | frozenset):
            # Sets have no order; sort so the same set always gives the same JSON.
            items.sort(key=lambda v: json.dumps(v, sort_keys=True))
        return items
    # NumPy scalars and 0-d arrays (and torch 0-d tensors) without importing either library.
    if getattr(value, "shape", None) == () and callable(getattr(value, "item", None)):
        try:
            item = value.item()
        except Exception:  # a foreign .item() may raise anything; fall back to str()
            return str(value)
        if isinstance(item, str | int | float | bool):
            return _jsonable(item, _active)
    return str(value)


def _dumps(obj: Any) -> str:
    # ASCII-only: RIFF INFO and MIDI text events are not reliably UTF-8.
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


@dataclass(frozen=True)
class InputRef:
    """One input file of an output, by path and content hash.

    Parameters
    ----------
    path : str
        Absolute path of the input when the output was made.
    sha256 : str
        SHA-256 of the input's content (64 lowercase hex characters).

    Raises
    ------
    ParameterError
        If ``sha256`` is not a SHA-256 hex digest.
    """

    path: str
    sha256: str

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path:
            raise ParameterError(f"InputRef.path must be a non-empty string, got {self.path!r}")
        if not _is_sha256(self.sha256):
            raise ParameterError(
                f"InputRef.sha256 must be 64 lowercase hex characters, got {self.sha256!r}"
            )

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> InputRef:
        """Hash ``path`` and return a reference to it by its resolved absolute path.

        Raises
        ------
        LibraryError
            If the file is missing or unreadable.
        """
        resolved = Path(path).expanduser().resolve()
        return cls(path=str(resolved), sha256=sha256_file(resolved))

    def to_dict(self) -> dict[str, str]:
        """Return ``{"path": ..., "sha256": ...}``."""
        return {"path": self.path, "sha256": self.sha256}


@dataclass
class Provenance:
    """What made an output: command, parameters, kind, model, seed and input files.

    ``params`` is converted to plain JSON types on construction (paths to strings, tuples to
    lists, anything else JSON cannot hold via ``str()``), so a provenance always serialises.
    Use :meth:`create` to build one from file paths; it hashes the inputs and checkpoint.

    Parameters
    ----------
    command : str
        The studio command that wrote the output, e.g. ``"audio normalize"``.
    params : dict
        The command's parameters.
    kind : str
        One of ``"audio"``, ``"video"``, ``"midi"``, ``"image"``, ``"score"``, ``"checkpoint"``,
        ``"other"``.
    model : str or None
        Name of the model used, if any (e.g. ``"melody-vae"``).
    checkpoint_sha256 : str or None
        SHA-256 of the checkpoint file the model was loaded from.
    seed : int or None
        Random seed, ``0 <= seed < 2**64``.
    inputs : list of InputRef
        Input files by path and content hash.
    software : str
        Program and version that made the output; defaults to this studio's.

    Raises
    ------
    ParameterError
        If a field is of the wrong type or out of range.
    """

    command: str
    params: dict[str, Any]
    kind: str
    model: str | None = None
    checkpoint_sha256: str | None = None
    seed: int | None = None
    inputs: list[InputRef] = field(default_factory=list)
    software: str = SOFTWARE

    def __post_init__(self) -> None:
        if not isinstance(self.command, str) or not self.command.strip():
            raise ParameterError(f"command must be a non-empty string, got {self.command!r}")
        if self.params is None:
            self.params = {}
        if not isinstance(self.params, Mapping):
            raise ParameterError(f"params must be a mapping, got {type(self.params).__name__}")
        self.params = _jsonable(self.params)
        if self.kind not in KINDS:
            raise ParameterError(f"kind must be one of {', '.join(KINDS)}; got {self.kind!r}")
        if self.model is not None and not isinstance(self.model, str):
            raise ParameterError(f"model must be a string or None, got {self.model!r}")
        if self.checkpoint_sha256 is not None and not _is_sha256(self.checkpoint_sha256):
            raise ParameterError(
                "checkpoint_sha256 must be 64 lowercase hex characters or None, "
                f"got {self.checkpoint_sha256!r}"
            )
        if self.seed is not None and (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, int)
            or not 0 <= self.seed < _SEED_LIMIT
        ):
            raise ParameterError(
                f"seed must be an integer in [0, 2**64) or None, got {self.seed!r}"
            )
        self.inputs = list(self.inputs)
        for ref in self.inputs:
            if not isinstance(ref, InputRef):
                raise ParameterError(f"inputs must be InputRef objects, got {ref!r}")
        if not isinstance(self.software, str) or not self.software:
            raise ParameterError(f"software must be a non-empty string, got {self.software!r}")

    @classmethod
    def create(
        cls,
        command: str,
        params: Mapping[str, Any] | None,
        kind: str,
        *,
        inputs: Iterable[str | os.PathLike[str]] = (),
        model: str | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        checkpoint_sha256: str | None = None,
        seed: int | None = None,
    ) -> Provenance:
        """Build a provenance, hashing the input files and the checkpoint.

        Parameters
        ----------
        command : str
            The studio command, e.g. ``"audio normalize"``.
        params : mapping or None
            The command's parameters (converted to JSON types).
        kind : str
            The output's kind, one of :data:`KINDS`.
        inputs : iterable of path-like, optional
            Input files; each is hashed and recorded by resolved absolute path.
        model : str, optional
            Model name.
        checkpoint : path-like, optional
            Checkpoint file to hash. Give this or ``checkpoint_sha256``, not both.
        checkpoint_sha256 : str, optional
            Checkpoint hash, when already known.
        seed : int, optional
            Random seed.

        Returns
        -------
        Provenance

        Raises
        ------
        LibraryError
            If an input or the checkpoint is missing or unreadable.
        ParameterError
            If both ``checkpoint`` and ``checkpoint_sha256`` are given, or a field is invalid.

        Examples
        --------
        >>> p = Provenance.create("audio normalize", {"target_lufs": -14.0}, "audio", seed=0)
        >>> p.params
        {'target_lufs': -14.0}
        """
        if checkpoint is not None and checkpoint_sha256 is not None:
            raise ParameterError("give checkpoint (a file to hash) or checkpoint_sha256, not both")
        if isinstance(inputs, str | os.PathLike):
            # A lone path would otherwise be iterated character by character.
            inputs = [inputs]
        refs = [InputRef.from_file(p) for p in inputs]
        if checkpoint is not None:
            checkpoint_sha256 = sha256_file(Path(checkpoint).expanduser())
        return cls(
            command=command,
            params=dict(params or {}),
            kind=kind,
            model=model,
            checkpoint_sha256=checkpoint_sha256,
            seed=seed,
            inputs=refs,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the provenance as plain JSON-able data, including ``"software"``."""
        return {
            "command": self.command,
            "params": self.params,
            "kind": self.kind,
            "model": self.model,
            "checkpoint_sha256": self.checkpoint_sha256,
            "seed": self.seed,
            "inputs": [ref.to_dict() for ref in self.inputs],
            "software": self.software,
        }

    def to_json(self) -> str:
        """Return compact JSON with sorted keys (the same provenance always gives the same text).

        Returns
        -------
        str
            ASCII-only JSON, including ``"software": "aigc-studio <version>"``.
        """
        return _dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Provenance:
        """Rebuild a provenance from :meth:`to_dict` output; unknown keys are ignored.

        Raises
        ------
        LibraryError
            If required keys are missing or a value is invalid.
        """
        if not isinstance(data, Mapping):
            raise LibraryError(f"not a provenance record: expected a JSON object, got {data!r:.80}")
        try:
            raw_inputs = data.get("inputs") or []
            if not isinstance(raw_inputs, list):
                raise ParameterError("inputs must be a list")
            inputs = []
            for item in raw_inputs:
                if not isinstance(item, Mapping):
                    raise ParameterError(f"each input must be an object, got {item!r:.80}")
                inputs.append(InputRef(path=item.get("path"), sha256=item.get("sha256")))
            return cls(
                command=data["command"],
                params=data.get("params") or {},
                kind=data["kind"],
                model=data.get("model"),
                checkpoint_sha256=data.get("checkpoint_sha256"),
                seed=data.get("seed"),
                inputs=inputs,
                software=data.get("software") or "unknown",
            )
        except KeyError as exc:
            raise LibraryError(f"not a provenance record: missing key {exc.args[0]!r}") from None
        except ParameterError as exc:
            raise LibraryError(f"not a provenance record: {exc}") from None

    @classmethod
    def from_json(cls, text: str | bytes) -> Provenance:
        """Parse the output of :meth:`to_json`.

        Raises
        ------
        LibraryError
            If ``text`` is not JSON or not a provenance record.
        """
        try:
            data = json.loads(text)
        except (ValueError, TypeError) as exc:
            raise LibraryError(f"not a provenance record: invalid JSON ({exc})") from None
        return cls.from_dict(data)

    def as_tags(self) -> dict[str, str]:
        """Return the metadata tags a media writer embeds in the output file.

        Returns
        -------
        dict of str to str
            ``{"comment": "aigc-provenance:" + to_json(), "software": "aigc-studio <version>"}``.

        Examples
        --------
        >>> tags = Provenance("midi render", {"tempo": 120}, "audio").as_tags()
        >>> tags["comment"].startswith("aigc-provenance:{")
        True
        """
        return {"comment": PROVENANCE_PREFIX + self.to_json(), "software": self.software}

    @classmethod
    def parse_embedded(cls, comment_text: str | bytes | None) -> Provenance | None:
        """Parse a comment tag from :meth:`as_tags`; see :func:`parse_embedded`."""
        return parse_embedded(comment_text)


def parse_embedded(comment_text: str | bytes | None) -> Provenance | None:
    """Recover the provenance from a comment tag written from :meth:`Provenance.as_tags`.

    Text before the prefix and after the JSON object (e.g. NUL padding some containers add) is
    ignored.

    Parameters
    ----------
    comment_text : str, bytes or None
        The comment tag as read from a media file.

    Returns
    -------
    Provenance or None
        ``None`` if the prefix is absent or what follows it is not a valid provenance record.

    Examples
    --------
    >>> p = Provenance("audio denoise", {"strength": 0.5}, "audio")
    >>> parse_embedded(p.as_tags()["comment"]) == p
    True
    >>> parse_embedded("recorded in my kitchen") is None
    True
    """
    if comment_text is None:
        return None
    if isinstance(comment_text, bytes | bytearray):
        comment_text = bytes(comment_text).decode("utf-8", errors="replace")
    if not isinstance(comment_text, str):
        return None
    start = comment_text.find(PROVENANCE_PREFIX)
    if start < 0:
        return None
    body = comment_text[start + len(PROVENANCE_PREFIX) :]
    try:
        data, _end = json.JSONDecoder().raw_decode(body)
        return Provenance.from_dict(data)
    except (ValueError, LibraryError):
        return None
