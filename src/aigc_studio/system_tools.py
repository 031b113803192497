"""Find the system tools the studio uses: ffmpeg, fluidsynth, a GM soundfont, espeak-ng.

Each finder returns what it found or ``None``; :func:`require` turns a ``None`` into a
:class:`~aigc_studio.errors.ToolMissingError` whose message says how to install the tool.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from aigc_studio.errors import ToolMissingError

#: Where Debian/Ubuntu, Fedora, Arch and Homebrew put General MIDI soundfonts.
SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/opt/homebrew/share/soundfonts/default.sf2",
)

INSTALL_HINTS = {
    "ffmpeg": "sudo apt-get install ffmpeg",
    "fluidsynth": "sudo apt-get install fluidsynth",
    "soundfont": "sudo apt-get install fluid-soundfont-gm (or set AIGC_SOUNDFONT=/path/to/gm.sf2)",
    "espeak-ng": "sudo apt-get install espeak-ng",
}


@dataclass(frozen=True)
class ToolStatus:
    """What was found for one tool."""

    name: str
    path: str | None
    version: str | None

    @property
    def found(self) -> bool:
        """Whether the tool is available."""
        return self.path is not None


def find_soundfont() -> Path | None:
    """Return the General MIDI soundfont to use: ``$AIGC_SOUNDFONT`` first, then known paths."""
    override = os.environ.get("AIGC_SOUNDFONT")
    if override:
        return Path(override) if Path(override).is_file() else None
    for candidate in SOUNDFONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    return None


def _first_line_of(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else None


def tool_status(name: str) -> ToolStatus:
    """Look for one tool by name ("ffmpeg", "fluidsynth", "soundfont", "espeak-ng")."""
    if name == "soundfont":
        font = find_soundfont()
        return ToolStatus(name, str(font) if font else None, None)
    path = shutil.which(name)
    if path is None:
        return ToolStatus(name, None, None)
    flag = {"ffmpeg": "-version", "fluidsynth": "--version", "espeak-ng": "--version"}[name]
    return ToolStatus(name, path, _first_line_of([path, flag]))


def all_tool_status() -> list[ToolStatus]:
    """Status of every system tool the studio knows."""
    return [tool_status(name) for name in INSTALL_HINTS]


def require(name: str) -> str:
    """Return the path of a tool, or raise with an install hint.

    Raises
    ------
    ToolMissingError
        If the tool is not installed.
    """
    status = tool_status(name)
    if status.path is None:
        raise ToolMissingError(f"{name} is not installed; install it with: {INSTALL_HINTS[name]}")
    return status.path
