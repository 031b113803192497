"""How the CLI runs: global options, one-line errors, progress bars, provenance recording.

Errors a user caused (:class:`~aigc_studio.errors.AigcError`) print ``error: …`` on one line and
exit with status 2; anything else is a bug and says so, also on one line unless ``--debug``.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from aigc_studio.errors import AigcError

#: Exit status for bad input (the brief's contract with scripts that call us).
EXIT_BAD_INPUT = 2
#: Exit status for a bug in the studio.
EXIT_INTERNAL = 1
#: Exit status after Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class CliOptions:
    """Options that apply to every command (set by the root callback)."""

    quiet: bool = False
    debug: bool = False


options = CliOptions()


def say(message: str) -> None:
    """Print a status message on stderr unless ``--quiet``."""
    if not options.quiet:
        stderr.print(message)


def progress_bar() -> Progress:
    """Return a rich progress bar on stderr, hidden with ``--quiet`` and when stderr is no terminal.

    (Off a terminal rich cannot redraw the bar, and would leave an empty line in logs.)
    """
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        disable=options.quiet or not stderr.is_terminal,
        transient=True,
    )


def record_output(path: Path, provenance: object) -> None:
    """Record a written output in the library and print where it is."""
    from aigc_studio.library import OutputLibrary

    with OutputLibrary() as library:
        record = library.record(path, provenance)  # type: ignore[arg-type]
    say(f"wrote {path} [dim](library #{record.id})[/dim]")


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: object = None,
    line: str | None = None,
) -> None:
    """Print a warning as ``warning: …`` on one line of stderr (unless ``--quiet``)."""
    if options.debug:
        stderr.print(f"warning: {message} ({category.__name__}, {filename}:{lineno})", markup=False)
    elif not options.quiet:
        stderr.print(f"warning: {message}", markup=False)


def run(args: Sequence[str] | None = None) -> int:
    """Run an ``aigc`` command line and return its exit status.

    Parameters
    ----------
    args : sequence of str, optional
        The arguments after ``aigc``; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 2 on bad input, 1 on an internal error, 130 when interrupted.
    """
    from aigc_studio.cli.app import app

    argv = list(sys.argv[1:] if args is None else args)
    debug = "--debug" in argv
    try:
        with warnings.catch_warnings():
            # A warning is one line, like an error (Python's own format adds the source line).
            warnings.showwarning = _show_warning
            # Standalone mode lets Typer print usage errors itself (exit 2) and turn typer.Exit
            # into SystemExit; errors from our own code pass through to the handlers below.
            app(args=argv, prog_name="aigc", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_INTERNAL)
    except KeyboardInterrupt:
        stderr.print("error: interrupted")
        return EXIT_INTERRUPTED
    except AigcError as exc:
        if debug:
            raise
        stderr.print(f"error: {exc}", markup=False)
        return EXIT_BAD_INPUT
    except Exception as exc:
        if debug:
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        stderr.print(
            f"error: internal error ({type(exc).__name__}: {first}); "
            "rerun with --debug for the traceback and please report it",
            markup=False,
        )
        return EXIT_INTERNAL
    finally:
        options.quiet = False
        options.debug = False
    return 0


def main() -> None:
    """Console-script entry point of ``aigc``."""
    sys.exit(run())
