"""Folder in, folder out: map a file or folder argument to (input, output) pairs.

A folder gives a folder with the same file names; one bad file is reported and skipped without
stopping the rest, and the exit status says that some failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from aigc_studio.cli.runtime import EXIT_BAD_INPUT, progress_bar, stderr
from aigc_studio.errors import AigcError, MediaError


def input_output_pairs(
    source: Path, destination: Path, suffixes: Iterable[str]
) -> list[tuple[Path, Path]]:
    """Pair each input with its output path.

    Parameters
    ----------
    source : Path
        A file, or a folder whose files with one of ``suffixes`` are taken (not recursively).
    destination : Path
        The output file, or the output folder when ``source`` is a folder.
    suffixes : iterable of str
        Lower-case suffixes (with the dot) accepted from a folder.

    Raises
    ------
    MediaError
        If ``source`` does not exist, a folder holds no matching file, or the output would
        overwrite the input.
    """
    if not source.exists():
        raise MediaError(f"{source}: no such file or folder")
    if source.is_dir():
        accepted = {s.lower() for s in suffixes}
        files = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in accepted)
        if not files:
            raise MediaError(
                f"{source}: folder holds no file of type {', '.join(sorted(accepted))}"
            )
        if destination.exists() and not destination.is_dir():
            raise MediaError(f"{destination}: is a file; a folder input needs an output folder")
        pairs = [(f, destination / f.name) for f in files]
    else:
        pairs = [(source, destination)]
    for src, dst in pairs:
        if dst.exists() and dst.resolve() == src.resolve():
            raise MediaError(f"{dst}: output would overwrite the input; choose another path")
    return pairs


def process_all(
    pairs: list[tuple[Path, Path]], action: Callable[[Path, Path], None], description: str
) -> int:
    """Run ``action(input, output)`` on every pair, skipping (and reporting) bad inputs.

    Returns
    -------
    int
        0 if all succeeded, 2 if any input was bad.
    """
    if len(pairs) == 1:
        action(*pairs[0])
        return 0
    failed = 0
    with progress_bar() as bar:
        task = bar.add_task(description, total=len(pairs))
        for src, dst in pairs:
            try:
                action(src, dst)
            except AigcError as exc:
                failed += 1
                stderr.print(f"error: {exc}", markup=False)
            bar.advance(task)
    if failed:
        stderr.print(f"error: {failed} of {len(pairs)} files failed")
        return EXIT_BAD_INPUT
    return 0
