"""Tiny synthetic dataset caches for the training tests (made in code, a few KB each)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aigc_studio.datasets.audio_features import mel_normalization_stats
from aigc_studio.datasets.cache import write_cache

N_MELS, FRAMES = 16, 17


def _mel_items(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Spectrogram-like items: a broad decaying spectral bump whose height follows the label."""
    pitch = rng.choice([60, 64, 67], size=count).astype(np.int16)
    bands = np.arange(N_MELS)[:, None]
    decay = np.linspace(0.0, -3.0, FRAMES)[None, :]
    mel = np.empty((count, N_MELS, FRAMES), np.float32)
    for i, p in enumerate(pitch):
        centre = (p - 58) * 1.5 + rng.normal(0, 1.0)
        mel[i] = -8 + 6 * np.exp(-((bands - centre) ** 2) / 18) + decay
    mel += rng.normal(0, 0.05, size=mel.shape).astype(np.float32)
    return mel, pitch


@pytest.fixture(scope="session")
def mel_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    splits = {}
    for split, count in (("train", 48), ("valid", 8), ("test", 8)):
        mel, pitch = _mel_items(count, rng)
        splits[split] = {"mel": mel, "pitch": pitch}
    root = tmp_path_factory.mktemp("data") / "tiny-mels"
    params = {
        "sr": 16000,
        "n_fft": 1024,
        "hop_length": 256,
        "n_mels": N_MELS,
        "fmin": 0.0,
        "fmax": 8000.0,
    }
    write_cache(
        root, "tiny-mels", params, splits, stats=mel_normalization_stats(splits["train"]["mel"])
    )
    return root


@pytest.fixture(scope="session")
def token_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(1)
    splits = {}
    for split, count in (("train", 24), ("valid", 4), ("test", 4)):
        sequences = []
        for _ in range(count):
            start = int(rng.integers(4, 10))
            body = [(start + k) % 12 + 4 for k in range(40)]  # a rising cycle: learnable
            sequences.append(np.array([1, *body, 2], dtype=np.int32))
        splits[split] = {"tokens": sequences}
    root = tmp_path_factory.mktemp("data") / "tiny-tokens"
    write_cache(root, "tiny-tokens", {"vocab_size": 16}, splits)
    return root


@pytest.fixture(scope="session")
def audio_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(2)
    t = np.arange(4096) / 16000
    splits = {}
    for split, count in (("train", 8), ("valid", 2), ("test", 2)):
        freqs = rng.uniform(200, 800, size=count)
        audio = np.stack([0.5 * np.sin(2 * np.pi * f * t) for f in freqs]).astype(np.float32)
        splits[split] = {"audio": audio}
    root = tmp_path_factory.mktemp("data") / "tiny-audio"
    write_cache(root, "tiny-audio", {"sr": 16000}, splits)
    return root
