"""Write an output file so that it appears only when complete.

Writers produce the file under a temporary name in the destination folder and rename it into place
(``os.replace`` is atomic on one file system). If writing fails, the temporary file is removed and
any earlier file at the destination is left untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from aigc_studio.errors import MediaError


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` and move it to ``path`` on success.

    Parameters
    ----------
    path : str or PathLike
        Final destination. Its folder is created if missing.

    Yields
    ------
    Path
        A fresh temporary path in the same folder, with the same suffix (so that libraries which
        pick a format from the suffix still do).

    Raises
    ------
    MediaError
        If the destination folder cannot be created or written.

    Examples
    --------
    >>> with atomic_output("out.txt") as tmp:  # doctest: +SKIP
    ...     tmp.write_text("done")
    """
    final = Path(path)
    if final.exists() and final.is_dir():
        raise MediaError(f"{final}: is a folder, expected a file path")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{final.stem}.", suffix=f".part{final.suffix}", dir=final.parent
        )
    except OSError as exc:
        raise MediaError(f"{final}: cannot write here ({exc.strerror or exc})") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600 files; give the output the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
