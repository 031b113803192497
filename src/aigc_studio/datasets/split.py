"""Assign an item to the train, valid or test split from a hash of its id.

The split is a pure function of the item's id: it never depends on which other items exist, so
adding files or pieces to a dataset never moves an item from one split to another (a test item
never leaks into training after a re-preparation). This module does not read or write data.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from aigc_studio.errors import ParameterError

Split = Literal["train", "valid", "test"]

#: The three splits of every dataset cache, in the order they are written.
SPLITS: tuple[Split, ...] = ("train", "valid", "test")


def split_position(item_id: str) -> float:
    """Map an id to a number uniform in [0, 1) that depends on nothing but the id.

    Parameters
    ----------
    item_id : str
        Any string; it is hashed as UTF-8.

    Returns
    -------
    float
        The first 8 bytes of the SHA-1 digest as a big-endian integer, divided by 2**64.
    """
    digest = hashlib.sha1(item_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def split_of(item_id: str, valid_fraction: float = 0.1, test_fraction: float = 0.1) -> Split:
    """Return the split of an item: a stable hash of its id decides.

    Positions (see :func:`split_position`) below ``test_fraction`` are test, the next
    ``valid_fraction`` are valid, the rest train.

    Parameters
    ----------
    item_id : str
        The item's id (a file's relative path, a chorale's BWV number, ...). Items that must stay
        together (the segments of one file, the transpositions of one melody) pass the same id.
    valid_fraction, test_fraction : float
        Expected fractions of the valid and test splits, each in [0, 1), together below 1.

    Returns
    -------
    {"train", "valid", "test"}

    Raises
    ------
    ParameterError
        If a fraction is out of range.

    Examples
    --------
    >>> split_of("flute-60-100")
    'test'
    >>> split_of("flute-60-100", valid_fraction=0.0, test_fraction=0.0)
    'train'
    """
    if not (0.0 <= valid_fraction < 1.0 and 0.0 <= test_fraction < 1.0):
        raise ParameterError(
            f"valid_fraction and test_fraction must be in [0, 1), got {valid_fraction} "
            f"and {test_fraction}"
        )
    if valid_fraction + test_fraction >= 1.0:
        raise ParameterError(
            f"valid_fraction + test_fraction must be below 1, got {valid_fraction + test_fraction}"
        )
    position = split_position(item_id)
    if position < test_fraction:
        return "test"
    if position < test_fraction + valid_fraction:
        return "valid"
    return "train"
