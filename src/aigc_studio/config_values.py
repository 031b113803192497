"""Build configuration dataclasses from plain values (TOML presets, JSON checkpoints, manifests).

One place that refuses unknown keys and reports the first failed range check, so that every
config in the studio answers bad values with the same kind of :class:`ConfigError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any, TypeVar

from aigc_studio.errors import ConfigError

T = TypeVar("T")


def dataclass_from_dict(cls: type[T], values: Mapping[str, Any], what: str) -> T:
    """Build dataclass ``cls`` from ``values``, refusing keys that are not its fields.

    Parameters
    ----------
    cls : type
        A dataclass.
    values : mapping
        Field values; nested configs may be plain dicts if ``cls`` converts them.
    what : str
        How the error names the config (e.g. ``"SpecGAN"``).

    Raises
    ------
    ConfigError
        If a key is unknown (naming it and the known ones), or a value is out of range.
    """
    known = sorted(f.name for f in fields(cls))  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown {what} option(s): {', '.join(unknown)}; known: {', '.join(known)}"
        )
    return cls(**dict(values))


def raise_first_failure(checks: Iterable[tuple[bool, str]]) -> None:
    """Raise a :class:`ConfigError` with the message of the first check that is False."""
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
