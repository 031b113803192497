"""Content hashes of files, for telling outputs and inputs apart by what they hold.

This module only hashes bytes; it knows nothing of media formats or of the library database.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from aigc_studio.errors import LibraryError, ParameterError

__all__ = ["sha256_file"]


def sha256_file(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """Return the SHA-256 digest of a file's content, read in chunks.

    The file is streamed, so memory use stays flat however large the file is (a multi-GB video
    costs one ``chunk_size`` buffer).

    Parameters
    ----------
    path : str or os.PathLike
        The file to hash.
    chunk_size : int, default 1 MiB
        Bytes read per step; must be positive.

    Returns
    -------
    str
        The digest as 64 lowercase hexadecimal characters (FIPS 180-4 SHA-256).

    Raises
    ------
    LibraryError
        If the file does not exist, is a folder, or cannot be read; the message names the file.
    ParameterError
        If ``chunk_size`` is not a positive integer.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"abc")
    >>> sha256_file(f.name)[:16]
    'ba7816bf8f01cfea'
    >>> os.remove(f.name)
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
        raise ParameterError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    file = Path(path)
    digest = hashlib.sha256()
    # One reusable buffer keeps memory flat: no new bytes object per chunk.
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    try:
        with file.open("rb") as stream:
            while True:
                n = stream.readinto(buffer)
                if not n:
                    break
                digest.update(view[:n])
    except FileNotFoundError:
        raise LibraryError(f"cannot hash {file}: no such file") from None
    except IsADirectoryError:
        raise LibraryError(f"cannot hash {file}: it is a folder, not a file") from None
    except PermissionError:
        raise LibraryError(f"cannot hash {file}: permission denied") from None
    except OSError as exc:
        raise LibraryError(f"cannot hash {file}: {exc.strerror or exc}") from None
    return digest.hexdigest()
