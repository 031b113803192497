"""Shared fixtures: every test gets its own library (AIGC_HOME) and synthesized media."""

from __future__ import annotations

import os
from pathlib import Path

# numba writes librosa's compiled kernels (pYIN's guvectorize helpers) to a cache in pairs of
# files with no lock between them; two xdist workers compiling at once can mix a pair from
# different processes, and every later load then segfaults (numba/numba#10128,
# librosa/librosa#1998). Give each worker its own cache, kept between runs. This must happen
# before anything imports numba; the workers inherit the controller's value, so each overrides it.
_NUMBA_CACHE_ROOT = Path(__file__).resolve().parent.parent / ".cache" / "numba"
os.environ["NUMBA_CACHE_DIR"] = str(
    _NUMBA_CACHE_ROOT / os.environ.get("PYTEST_XDIST_WORKER", "main")
)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

# One thread per test worker: pytest-xdist already runs one worker per core, and more threads
# than cores makes OpenMP spin and slows torch down by orders of magnitude.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Point the output library at a fresh folder so tests never touch the user's."""
    home = tmp_path_factory.mktemp("aigc-home")
    monkeypatch.setenv("AIGC_HOME", str(home))
    return home


@pytest.fixture
def sine() -> tuple[np.ndarray, int]:
    """One second of a 440 Hz stereo sine at 16 kHz, amplitude 0.5 (left) and 0.25 (right)."""
    sr = 16_000
    t = np.arange(sr) / sr
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    return np.stack([0.5 * tone, 0.25 * tone]), sr


@pytest.fixture
def wav_file(tmp_path: Path, sine: tuple[np.ndarray, int]) -> Path:
    """The ``sine`` fixture written as a 16-bit WAV by soundfile (not by our writer)."""
    audio, sr = sine
    path = tmp_path / "sine.wav"
    sf.write(path, audio.T, sr, subtype="PCM_16")
    return path


@pytest.fixture
def one_torch_thread():
    """Tiny tensors: threads only add overhead (and spin badly on a loaded machine).

    Modules of small-network tests use it with ``pytestmark = pytest.mark.usefixtures(...)``.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
