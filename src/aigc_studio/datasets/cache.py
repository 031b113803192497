"""The on-disk format of a prepared dataset: a folder of ``.npy`` arrays and a manifest.

A dataset cache is a folder::

    manifest.json            name, format_version, params, split sizes, fields, labels, stats
    train.mel.npy            one array per field per split, first axis = item
    train.item_id.npy        item ids as a fixed-width unicode array (no pickles)
    train.tokens.npy         a variable-length field: every item's values concatenated ...
    train.tokens_offsets.npy ... and int64 offsets, item ``i`` is ``tokens[off[i]:off[i + 1]]``
    valid.* test.*

The folder is written under a temporary name beside its destination and renamed into place when
complete, so a half-prepared cache never looks ready. Arrays are read back memory-mapped.
This module knows nothing about audio or music: the preparers in this package fill it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from aigc_studio import __version__
from aigc_studio.datasets.split import SPLITS
from aigc_studio.errors import ConfigError, ParameterError

#: Version of the folder layout; a reader refuses other versions.
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
#: Suffix of the offsets array that goes with a variable-length field.
OFFSETS_SUFFIX = "_offsets"

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def default_dataset_root(name: str) -> Path:
    """Return where the cache of a named dataset lives: ``$AIGC_HOME/datasets/<name>``.

    Without ``AIGC_HOME`` the folder beside the output library is used (see
    :func:`aigc_studio.library.default_library_path`).

    Parameters
    ----------
    name : str
        Dataset name: letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit.

    Returns
    -------
    Path
        The cache folder; it may not exist yet.

    Raises
    ------
    ParameterError
        If the name is not a plain folder name.
    """
    from aigc_studio.library import default_library_path

    if not _NAME_PATTERN.match(name):
        raise ParameterError(
            f"dataset name must be letters, digits, '.', '_' or '-' (got {name!r})"
        )
    return default_library_path().parent / "datasets" / name


def to_jsonable(value: Any) -> Any:
    """Turn numpy scalars/arrays, ranges, tuples and paths into plain JSON values."""
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str | bytes):
        return value if isinstance(value, str) else value.decode()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Iterable):
        return [to_jsonable(item) for item in value]
    return value


def write_cache(
    root: str | os.PathLike[str],
    name: str,
    params: Mapping[str, Any],
    fields_by_split: Mapping[str, Mapping[str, np.ndarray | Sequence[np.ndarray]]],
    stats: Mapping[str, Any] | None = None,
    labels: Mapping[str, Sequence[Any]] | None = None,
    *,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a dataset cache folder atomically.

    Parameters
    ----------
    root : str or PathLike
        The cache folder. An earlier cache there is replaced once the new one is complete; a
        folder that is not a cache is never touched.
    name : str
        Dataset name, recorded in the manifest.
    params : mapping
        The preparation parameters (JSON-able after :func:`to_jsonable`), so that a cache says
        how it was made.
    fields_by_split : mapping of split to mapping of field to array
        For each of ``"train"``, ``"valid"``, ``"test"`` the same fields. A field is either an
        array whose first axis is the item, or a list of 1-D arrays (a variable-length field,
        such as tokens), stored concatenated with an offsets array. A split that is missing is
        written empty.
    stats : mapping, optional
        Statistics for the models (e.g. mel normalization), usually of the train split only.
    labels : mapping of str to list, optional
        Names of integer-coded fields, e.g. ``{"instrument": ["piano", "flute"]}``.
    extra : mapping, optional
        More top-level manifest entries (e.g. ``"skipped"`` files).

    Returns
    -------
    Path
        ``root``.

    Raises
    ------
    ParameterError
        If the splits hold different fields, the fields of one split different item counts, or a
        split name is unknown.
    ConfigError
        If ``root`` exists and is not a dataset cache.
    """
    root = Path(root)
    unknown = set(fields_by_split) - set(SPLITS)
    if unknown:
        raise ParameterError(f"unknown split(s) {sorted(unknown)}; use {list(SPLITS)}")
    field_specs = _field_specs(fields_by_split)
    is_foreign = root.exists() and not (root / MANIFEST_NAME).is_file()
    if is_foreign and (not root.is_dir() or any(root.iterdir())):
        raise ConfigError(f"{root}: exists and is not a dataset cache; choose another folder")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.partial-", dir=root.parent))
    try:
        counts = {}
        for split in SPLITS:
            fields = fields_by_split.get(split, {})
            counts[split] = _write_split(tmp, split, fields, field_specs)
        manifest = {
            "name": name,
            "format_version": FORMAT_VERSION,
            "created_with": f"aigc-studio {__version__}",
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "params": to_jsonable(params),
            "splits": counts,
            "fields": {
                field: {key: value for key, value in spec.items() if key != "numpy_dtype"}
                for field, spec in field_specs.items()
            },
            "labels": to_jsonable(labels or {}),
            "stats": to_jsonable(stats or {}),
            **to_jsonable(extra or {}),
        }
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o777 & ~_current_umask())  # mkdtemp makes 0700 folders
        _move_into_place(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def is_complete_cache(root: str | os.PathLike[str]) -> bool:
    """Return whether ``root`` holds a readable cache of the current format."""
    try:
        read_manifest(root)
    except ConfigError:
        return False
    return True


def read_manifest(root: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a cache's ``manifest.json``.

    Parameters
    ----------
    root : str or PathLike
        The cache folder.

    Returns
    -------
    dict
        The manifest (see the module docstring).

    Raises
    ------
    ConfigError
        If there is no cache, the manifest is unreadable, or it is of another format version;
        the message says which ``aigc data prepare`` command makes it.
    """
    root = Path(root)
    path = root / MANIFEST_NAME
    hint = f"run `aigc data prepare --dataset {root.name}` first"
    if not path.is_file():
        raise ConfigError(f"{root}: no prepared dataset here; {hint}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: unreadable manifest ({exc}); {hint}") from exc
    if not isinstance(manifest, dict) or not {"name", "splits", "fields"} <= set(manifest):
        raise ConfigError(f"{path}: not a dataset manifest; {hint}")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ConfigError(
            f"{path}: cache format {version} is not the supported {FORMAT_VERSION}; "
            f"prepare it again with overwrite (`aigc data prepare --dataset {root.name}`)"
        )
    return manifest


def load_split(
    root: str | os.PathLike[str],
    split: str,
    fields: Sequence[str] | None = None,
    mmap: bool = True,
) -> dict[str, np.ndarray]:
    """Load the arrays of one split.

    Parameters
    ----------
    root : str or PathLike
        The cache folder.
    split : {"train", "valid", "test"}
        Which split.
    fields : sequence of str, optional
        Fields to load; all by default. A variable-length field ``f`` also loads
        ``f_offsets`` (int64, one more than the items).
    mmap : bool
        Memory-map the arrays read-only (``np.load(mmap_mode="r")``) instead of reading them.

    Returns
    -------
    dict of str to np.ndarray
        Field name to array, first axis the item (the values axis for variable-length fields).

    Raises
    ------
    ParameterError
        If ``split`` is not a split name.
    ConfigError
        If the cache is missing or incomplete, or lacks a requested field.
    """
    if split not in SPLITS:
        raise ParameterError(f"split must be one of {list(SPLITS)}, got {split!r}")
    root = Path(root)
    manifest = read_manifest(root)
    known = manifest["fields"]
    wanted = list(known) if fields is None else list(fields)
    missing = [field for field in wanted if field not in known]
    if missing:
        raise ConfigError(f"{root}: dataset has no field(s) {missing}; it has {sorted(known)}")
    count = int(manifest["splits"][split])
    out: dict[str, np.ndarray] = {}
    for field in wanted:
        names = [field, field + OFFSETS_SUFFIX] if known[field].get("ragged") else [field]
        for array_name in names:
            path = root / f"{split}.{array_name}.npy"
            if not path.is_file():
                raise ConfigError(
                    f"{path}: missing from the dataset cache; prepare it again with overwrite"
                )
            # np.memmap cannot map a zero-byte data block, so empty arrays are read.
            mode = "r" if mmap and count > 0 else None
            try:
                out[array_name] = np.load(path, mmap_mode=mode, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{path}: unreadable ({exc}); prepare it again") from exc
        items = len(out[names[-1]]) - (1 if len(names) == 2 else 0)
        if items != count:
            raise ConfigError(
                f"{root}: {split}.{field} holds {items} items, the manifest says {count}; "
                "prepare it again with overwrite"
            )
    return out


def ragged_item(values: np.ndarray, offsets: np.ndarray, index: int) -> np.ndarray:
    """Return item ``index`` of a variable-length field stored as values + offsets."""
    return values[int(offsets[index]) : int(offsets[index + 1])]


def _field_specs(
    fields_by_split: Mapping[str, Mapping[str, np.ndarray | Sequence[np.ndarray]]],
) -> dict[str, dict[str, Any]]:
    """Describe each field (dtype, per-item shape, ragged) and check that the splits agree."""
    specs: dict[str, dict[str, Any]] = {}
    field_sets = {split: set(fields) for split, fields in fields_by_split.items()}
    all_fields = set().union(*field_sets.values()) if field_sets else set()
    if not all_fields:
        raise ParameterError("fields_by_split holds no fields")
    for split, names in field_sets.items():
        if names != all_fields:
            raise ParameterError(
                f"split {split!r} has fields {sorted(names)}, expected {sorted(all_fields)}"
            )
    for field in sorted(all_fields):
        if field.endswith(OFFSETS_SUFFIX):
            raise ParameterError(f"field names may not end in {OFFSETS_SUFFIX!r}: {field!r}")
        for split in SPLITS:
            if split not in fields_by_split:
                continue
            value = fields_by_split[split][field]
            if isinstance(value, np.ndarray):
                spec = {
                    "dtype": value.dtype.str if value.dtype.kind == "U" else value.dtype.name,
                    "shape_per_item": list(value.shape[1:]),
                    "ragged": False,
                    "numpy_dtype": value.dtype,
                }
            else:
                parts = [np.asarray(part) for part in value]
                if not parts:
                    continue
                if any(part.ndim != 1 for part in parts):
                    raise ParameterError(f"variable-length field {field!r} needs 1-D items")
                dtype = np.result_type(*parts)
                spec = {
                    "dtype": dtype.name,
                    "shape_per_item": [None],
                    "ragged": True,
                    "numpy_dtype": dtype,
                }
            previous = specs.get(field)
            if previous is None or previous["ragged"] != spec["ragged"]:
                if previous is not None:
                    raise ParameterError(f"field {field!r} is ragged in one split only")
                specs[field] = spec
            elif previous["shape_per_item"] != spec["shape_per_item"]:
                raise ParameterError(
                    f"field {field!r} has per-item shape {previous['shape_per_item']} in one "
                    f"split and {spec['shape_per_item']} in another"
                )
            elif spec["numpy_dtype"].kind == "U":
                # Unicode widths may differ per split; the manifest records the widest.
                if spec["numpy_dtype"].itemsize > previous["numpy_dtype"].itemsize:
                    specs[field] = spec
            elif previous["numpy_dtype"] != spec["numpy_dtype"]:
                raise ParameterError(
                    f"field {field!r} is {previous['dtype']} in one split and {spec['dtype']} "
                    "in another"
                )
        if field not in specs:  # a ragged field with no items anywhere
            specs[field] = {
                "dtype": "int32",
                "shape_per_item": [None],
                "ragged": True,
                "numpy_dtype": np.dtype(np.int32),
            }
    return specs


def _write_split(
    folder: Path,
    split: str,
    fields: Mapping[str, np.ndarray | Sequence[np.ndarray]],
    specs: Mapping[str, Mapping[str, Any]],
) -> int:
    counts: dict[str, int] = {}
    for field, spec in specs.items():
        value = fields.get(field)
        if spec["ragged"]:
            parts = [np.asarray(part) for part in (value if value is not None else [])]
            lengths = np.array([len(part) for part in parts], dtype=np.int64)
            offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
            values = (
                np.concatenate(parts).astype(spec["numpy_dtype"], copy=False)
                if parts
                else np.zeros(0, spec["numpy_dtype"])
            )
            np.save(folder / f"{split}.{field}.npy", values, allow_pickle=False)
            np.save(folder / f"{split}.{field}{OFFSETS_SUFFIX}.npy", offsets, allow_pickle=False)
            counts[field] = len(parts)
        else:
            if value is None:
                value = np.zeros((0, *spec["shape_per_item"]), spec["numpy_dtype"])
            np.save(
                folder / f"{split}.{field}.npy", np.ascontiguousarray(value), allow_pickle=False
            )
            counts[field] = len(value)
    if len(set(counts.values())) > 1:
        raise ParameterError(f"fields of split {split!r} hold different item counts: {counts}")
    return next(iter(counts.values()), 0)


def _move_into_place(tmp: Path, root: Path) -> None:
    """Rename the finished folder to ``root``, replacing an earlier cache there."""
    if not root.exists():
        os.replace(tmp, root)
        return
    # A folder cannot replace a non-empty folder in one rename: move the old one aside first.
    old = root.parent / f".{root.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(root, old)
    try:
        os.replace(tmp, root)
    except BaseException:
        with contextlib.suppress(OSError):
            os.replace(old, root)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
