from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc_studio.dsp import chirp, colored_noise, log_mel_spectrogram
from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.models.mel import LogMelSpectrogram, MelConfig

SR = 16_000


def _test_signal(seconds: float = 0.5) -> np.ndarray:
    return chirp(80.0, 7000.0, seconds, SR) + colored_noise(seconds, SR, color="pink", seed=3)


def test_matches_librosa_feature_in_log_domain() -> None:
    audio = np.stack([_test_signal(), 0.1 * _test_signal()])
    reference = log_mel_spectrogram(audio, SR, n_fft=1024, hop_length=256, n_mels=128, fmax=8000)
    ours = LogMelSpectrogram()(torch.from_numpy(audio)).numpy()
    assert ours.shape == reference.shape == (2, 128, 1 + audio.shape[1] // 256)
    above_floor = reference > np.log(1e-5) + 1e-3
    assert above_floor.mean() > 0.9
    np.testing.assert_allclose(ours[above_floor], reference[above_floor], atol=1e-3)


def test_accepts_channel_axis_and_floors_silence() -> None:
    mel = LogMelSpectrogram()
    wave = torch.from_numpy(_test_signal())[None]
    torch.testing.assert_close(mel(wave), mel(wave[:, None]))
    silent = mel(torch.zeros(1, 4096))
    assert torch.all(silent == torch.log(torch.tensor(1e-5)))


def test_non_default_config_matches_librosa() -> None:
    config = MelConfig(n_fft=512, hop_length=128, win_length=512, n_mels=40, fmin=50.0, fmax=7000.0)
    audio = _test_signal(0.25)[None]
    reference = log_mel_spectrogram(
        audio, SR, n_fft=512, hop_length=128, n_mels=40, fmin=50.0, fmax=7000.0
    )
    ours = LogMelSpectrogram(config)(torch.from_numpy(audio)).numpy()
    above_floor = reference > np.log(1e-5) + 1e-3
    np.testing.assert_allclose(ours[above_floor], reference[above_floor], atol=1e-3)


def test_is_differentiable_even_through_silence() -> None:
    wave = torch.zeros(1, 2048)
    wave[0, 1000:1100] = torch.linspace(-0.5, 0.5, 100)
    wave.requires_grad_(True)
    LogMelSpectrogram()(wave).mean().backward()
    assert wave.grad is not None
    assert torch.all(torch.isfinite(wave.grad))
    assert wave.grad.abs().sum() > 0


def test_config_round_trip_and_validation() -> None:
    config = MelConfig(n_mels=80)
    assert MelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown"):
        MelConfig.from_dict({"n_mel": 80})
    with pytest.raises(ConfigError, match="fmax"):
        MelConfig(fmax=9000.0)
    with pytest.raises(ConfigError, match="win_length"):
        MelConfig(win_length=2048)


def test_rejects_bad_shapes() -> None:
    with pytest.raises(ParameterError, match="wave"):
        LogMelSpectrogram()(torch.zeros(2, 2, 1000))
