"""The ``aigc`` command: one sub-command group per wing, thin over the Python API.

``run(args)`` executes a command line and returns its exit status (for tests); ``main()`` is the
console-script entry point.
"""

from aigc_studio.cli.app import app
from aigc_studio.cli.runtime import main, run

__all__ = ["app", "main", "run"]
