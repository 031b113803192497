from __future__ import annotations

import librosa
import numpy as np
import pytest

from aigc_studio.datasets.audio_features import (
    AudioFeatureConfig,
    compute_log_mel,
    denormalize_mel,
    mel_normalization_stats,
    normalize_mel,
    train_mel_stats,
)
from aigc_studio.dsp import harmonic_tone
from aigc_studio.errors import ConfigError, ParameterError


def test_default_segment_gives_65_frames_of_128_bands() -> None:
    config = AudioFeatureConfig()
    tone = harmonic_tone(1000.0, config.segment_samples / config.sr, config.sr, n_harmonics=1)
    mel = compute_log_mel(tone[: config.segment_samples], config)
    assert mel.shape == (128, 65) == (config.n_mels, config.frames) and mel.dtype == np.float32
    freqs = librosa.mel_frequencies(n_mels=128, fmax=8000.0)
    assert abs(freqs[int(np.argmax(mel.mean(axis=1)))] - 1000) < 60


def test_multichannel_audio_is_mixed_to_mono() -> None:
    config = AudioFeatureConfig(segment_samples=2048)
    rng = np.random.default_rng(0)
    stereo = rng.normal(scale=0.1, size=(2, 2048)).astype(np.float32)
    np.testing.assert_allclose(
        compute_log_mel(stereo, config), compute_log_mel(stereo.mean(axis=0), config), atol=1e-5
    )
    with pytest.raises(ParameterError):
        compute_log_mel(np.zeros((1, 2, 2048), np.float32), config)


def test_config_dict_round_trip_and_validation() -> None:
    config = AudioFeatureConfig(n_mels=64)
    assert AudioFeatureConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown"):
        AudioFeatureConfig.from_dict({"n_mel": 64})
    with pytest.raises(ConfigError, match="fmax"):
        AudioFeatureConfig(sr=8000, fmax=8000.0)
    with pytest.raises(ConfigError, match="segment_samples"):
        AudioFeatureConfig(segment_samples=512)


def test_stats_are_per_bin_mean_and_std() -> None:
    rng = np.random.default_rng(1)
    mels = (
        rng.normal(size=(300, 3, 7)) * np.array([1.0, 2.0, 0.0])[:, None]
        + np.array([0.0, 5.0, -11.5])[:, None]
    )
    stats = mel_normalization_stats(mels)
    np.testing.assert_allclose(stats["mean"], mels.mean(axis=(0, 2)), atol=1e-9)
    np.testing.assert_allclose(stats["std"][:2], mels.std(axis=(0, 2))[:2], rtol=1e-6)
    assert stats["std"][2] > 0  # a constant bin gets the floor, not a division by zero
    with pytest.raises(ParameterError):
        mel_normalization_stats(np.zeros((0, 3, 7)))


def test_train_stats_fall_back_to_all_splits_only_when_train_is_empty() -> None:
    a, b = np.zeros((2, 3, 4)), np.ones((2, 3, 4))
    assert train_mel_stats({"train": a, "test": b}) == {
        **mel_normalization_stats(a),
        "from": "train",
    }
    assert train_mel_stats({"train": a[:0], "test": b})["mean"] == [1.0] * 3


def test_normalize_clips_at_three_std_and_inverts() -> None:
    stats = {"mean": [1.0, -2.0], "std": [2.0, 0.5]}
    mel = np.array([[[1.0, 3.0, 100.0]], [[-2.0, -2.5, -100.0]]]).reshape(1, 2, 3)
    batch = np.concatenate([mel, mel])  # (N, n_mels, frames) broadcasts too
    x = normalize_mel(batch, stats)
    assert x.shape == (2, 2, 3) and x.min() >= -1 and x.max() <= 1
    np.testing.assert_allclose(x[0, 0], [0.0, 1 / 3, 1.0])
    np.testing.assert_allclose(x[0, 1], [0.0, -1 / 3, -1.0])
    back = denormalize_mel(x, stats)
    np.testing.assert_allclose(back[0, :, :2], batch[0, :, :2], atol=1e-5)
    assert back[0, 0, 2] == pytest.approx(1.0 + 3 * 2.0)  # clipped at mean + 3 std
    with pytest.raises(ParameterError, match="n_mels=2"):
        normalize_mel(np.zeros((3, 4)), stats)
