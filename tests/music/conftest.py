"""Fixtures of the music tests: a tiny prepared Bach melody cache, shared by the session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_bach(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The soprano lines of the first 6 Bach chorales, tokenized (about 2 s to prepare)."""
    from aigc_studio.datasets.melody_tokens import prepare_bach_melodies

    return prepare_bach_melodies(tmp_path_factory.mktemp("music") / "bach", max_pieces=6)
