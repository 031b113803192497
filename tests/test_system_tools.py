from __future__ import annotations

from pathlib import Path

import pytest

from aigc_studio.errors import ToolMissingError
from aigc_studio.system_tools import find_soundfont, require, tool_status


def test_missing_tool_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert not tool_status("fluidsynth").found
    with pytest.raises(ToolMissingError, match="apt-get install fluidsynth"):
        require("fluidsynth")


def test_soundfont_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    font = tmp_path / "my.sf2"
    font.write_bytes(b"RIFF")
    monkeypatch.setenv("AIGC_SOUNDFONT", str(font))
    assert find_soundfont() == font
    monkeypatch.setenv("AIGC_SOUNDFONT", str(tmp_path / "absent.sf2"))
    assert find_soundfont() is None
    with pytest.raises(ToolMissingError, match="AIGC_SOUNDFONT"):
        require("soundfont")
