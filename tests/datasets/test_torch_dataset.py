from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from aigc_studio.datasets.audio_features import mel_normalization_stats, normalize_mel
from aigc_studio.datasets.cache import write_cache
from aigc_studio.datasets.torch_dataset import CachedDataset, TokenWindowDataset
from aigc_studio.errors import ConfigError, ParameterError


@pytest.fixture
def audio_cache(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    mel = rng.normal(-4.0, 2.0, size=(5, 128, 65)).astype(np.float32)
    fields = {
        "train": {
            "mel": mel,
            "audio": rng.normal(size=(5, 1024)).astype(np.float32),
            "pitch": np.array([60, 61, 62, 63, 64], np.int16),
            "item_id": np.array([f"n{i}" for i in range(5)]),
        }
    }
    stats = mel_normalization_stats(mel)
    return write_cache(tmp_path / "audio", "toy", {}, fields, stats=stats)


@pytest.fixture
def token_cache(tmp_path: Path) -> Path:
    fields = {
        "train": {"tokens": [np.arange(1, 11, dtype=np.int32), np.arange(20, 31, dtype=np.int32)]},
        "valid": {"tokens": [np.array([1, 5, 2], np.int32)]},
    }
    return write_cache(
        tmp_path / "tokens", "toy", {}, fields, extra={"vocab_size": 40, "vocab": {"pad": 0}}
    )


def test_items_are_dicts_of_tensors(audio_cache: Path) -> None:
    ds = CachedDataset(audio_cache, "train", ("mel", "audio", "pitch", "item_id"), frames=64)
    assert len(ds) == 5 and ds.manifest["name"] == "toy"
    item = ds[2]
    assert item["mel"].shape == (1, 128, 64) and item["mel"].dtype == torch.float32
    assert item["audio"].shape == (1024,) and item["pitch"].dtype == torch.int64
    assert int(item["pitch"]) == 62 and item["item_id"] == "n2"
    assert item["mel"].abs().max() <= 1.0
    raw = np.load(audio_cache / "train.mel.npy")[2, :, :64]
    expected = normalize_mel(raw, ds.manifest["stats"])
    np.testing.assert_allclose(item["mel"][0].numpy(), expected, atol=1e-6)
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["mel"].shape == (4, 1, 128, 64) and batch["pitch"].tolist() == [60, 61, 62, 63]


def test_raw_mel_and_padding(audio_cache: Path) -> None:
    ds = CachedDataset(audio_cache, "train", ("mel",), normalize_mel=False, frames=70)
    mel = ds[0]["mel"][0]
    np.testing.assert_allclose(mel[:, :65].numpy(), np.load(audio_cache / "train.mel.npy")[0])
    assert torch.allclose(mel[:, 65:], torch.tensor(np.log(1e-5), dtype=torch.float32))
    with pytest.raises(IndexError):
        ds[5]


def test_workers_reopen_the_arrays_instead_of_copying_them(audio_cache: Path) -> None:
    ds = CachedDataset(audio_cache, "train", ("audio",))
    ds[0]
    clone = pickle.loads(pickle.dumps(ds))
    assert len(pickle.dumps(ds)) < 5 * 1024 * 4  # no audio inside
    assert torch.equal(clone[3]["audio"], ds[3]["audio"])


def test_bad_requests(audio_cache: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no field"):
        CachedDataset(audio_cache, "train", ("velocity",))
    with pytest.raises(ParameterError):
        CachedDataset(audio_cache, "dev")
    with pytest.raises(ConfigError, match="aigc data prepare"):
        CachedDataset(tmp_path / "missing", "train")
    no_stats = write_cache(tmp_path / "ns", "x", {}, {"train": {"mel": np.zeros((1, 4, 3))}})
    with pytest.raises(ConfigError, match="stats"):
        CachedDataset(no_stats, "train")


def test_token_windows(token_cache: Path) -> None:
    ds = TokenWindowDataset(token_cache, "train", context=4)
    stream = np.concatenate([np.arange(1, 11), np.arange(20, 31)])  # 21 tokens
    assert ds.stride == 2 and ds.vocab_size == 40
    assert len(ds) == (21 - 5) // 2 + 1
    for i in range(len(ds)):
        window = ds[i]
        assert window.dtype == torch.int64 and window.shape == (5,)
        assert window.tolist() == stream[2 * i : 2 * i + 5].tolist()
    short = TokenWindowDataset(token_cache, "valid", context=4)
    assert len(short) == 1 and short[0].tolist() == [1, 5, 2, 0, 0]
    assert len(TokenWindowDataset(token_cache, "test", context=4)) == 0


def test_token_windows_need_a_token_field(audio_cache: Path, token_cache: Path) -> None:
    with pytest.raises(ConfigError, match="not a token field"):
        TokenWindowDataset(audio_cache, "train", field="audio")
    with pytest.raises(ParameterError, match="context"):
        TokenWindowDataset(token_cache, "train", context=1)
