from __future__ import annotations

import pytest
import torch

from aigc_studio.errors import ParameterError
from aigc_studio.models.mel import LogMelSpectrogram, MelConfig
from aigc_studio.models.spectral_losses import MultiResolutionSTFTLoss, mel_l1_loss


def _signal() -> torch.Tensor:
    torch.manual_seed(0)
    t = torch.arange(8000) / 16000
    return (0.5 * torch.sin(2 * torch.pi * 220 * t) + 0.05 * torch.randn(8000))[None, None]


def test_zero_for_identical_signals() -> None:
    loss = MultiResolutionSTFTLoss()
    x = _signal()
    sc, mag = loss(x, x.clone())
    assert sc.item() == 0.0 and mag.item() == 0.0
    assert sc.dim() == 0 and mag.dim() == 0


def test_grows_monotonically_with_noise_level() -> None:
    loss = MultiResolutionSTFTLoss()
    x = _signal()
    torch.manual_seed(1)
    noise = torch.randn_like(x)
    values = [loss(x + level * noise, x) for level in (0.01, 0.05, 0.2)]
    scs = [v[0].item() for v in values]
    mags = [v[1].item() for v in values]
    assert scs[0] < scs[1] < scs[2]
    assert mags[0] < mags[1] < mags[2]


def test_gradient_flows_to_prediction() -> None:
    loss = MultiResolutionSTFTLoss(fft_sizes=(256,), hop_sizes=(64,), win_lengths=(256,))
    target = _signal()[:, 0]
    pred = (target + 0.1 * torch.randn_like(target)).requires_grad_(True)
    sc, mag = loss(pred, target)
    (sc + mag).backward()
    assert pred.grad is not None and torch.all(torch.isfinite(pred.grad))
    assert pred.grad.abs().sum() > 0


def test_rejects_mismatched_inputs() -> None:
    loss = MultiResolutionSTFTLoss()
    with pytest.raises(ParameterError, match="same shape"):
        loss(torch.zeros(1, 1000), torch.zeros(1, 1001))
    with pytest.raises(ParameterError, match="same"):
        MultiResolutionSTFTLoss(fft_sizes=(512,), hop_sizes=(128, 256), win_lengths=(512,))


def test_mel_l1_loss_zero_for_real_audio_and_trims_one_frame() -> None:
    mel = LogMelSpectrogram(MelConfig(n_mels=32))
    real = _signal()
    target = mel(real)
    assert mel_l1_loss(real, target, mel).item() == 0.0
    # a vocoder fed F frames returns F * hop samples: one frame fewer than the target
    frames = target.shape[-1] - 1
    pred = real[..., : frames * 256].clone().requires_grad_(True)
    loss = mel_l1_loss(pred, target, mel)
    loss.backward()
    assert loss.item() < 0.5
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    worse = mel_l1_loss(0.3 * real, target, mel)
    assert worse.item() > 1.0  # log(0.3) = -1.2 in every frame above the floor


def test_mel_l1_loss_rejects_wrong_target() -> None:
    mel = LogMelSpectrogram(MelConfig(n_mels=32))
    with pytest.raises(ParameterError, match="n_mels"):
        mel_l1_loss(_signal(), torch.zeros(1, 40, 32), mel)
    with pytest.raises(ParameterError, match="at most one"):
        mel_l1_loss(_signal(), torch.zeros(1, 32, 10), mel)
