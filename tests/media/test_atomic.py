from __future__ import annotations

from pathlib import Path

import pytest

from aigc_studio.errors import MediaError
from aigc_studio.media import atomic_output


def test_file_appears_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    with atomic_output(target) as tmp:
        tmp.write_text("partial")
        assert not target.exists()
        assert tmp.suffix == ".txt" and tmp.parent == target.parent
    assert target.read_text() == "partial"


def test_failure_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_destination_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="folder"), atomic_output(tmp_path):
        pass


def test_output_gets_ordinary_permissions(tmp_path: Path) -> None:
    import os

    target = tmp_path / "perm.txt"
    with atomic_output(target) as tmp:
        tmp.write_text("x")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
