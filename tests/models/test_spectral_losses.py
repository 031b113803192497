from __future__ import annotations

import pytest
import torch

from aigc_studio.errors import ParameterError
from aigc_studio.models.mel import LogMelSpectrogram, MelConfig
from aigc_studio.models.spectral_losses import (
    MultiResolutionSTFTLoss,
    anti_wrapped,
    magnitude_losses,
    mel_l1_loss,
    phase_derivative_losses,
)


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


def test_anti_wrapped_measures_distance_to_the_nearest_whole_turn() -> None:
    turns = torch.tensor([0.0, 2 * torch.pi, -4 * torch.pi, torch.pi, 0.5, 2 * torch.pi - 0.5])
    assert torch.allclose(
        anti_wrapped(turns), torch.tensor([0.0, 0.0, 0.0, torch.pi, 0.5, 0.5]), atol=1e-6
    )


def _tone_stft() -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.arange(8192) / 16000
    spec = torch.stft(
        torch.sin(2 * torch.pi * 440.0 * t)[None],
        512,
        128,
        window=torch.hann_window(512),
        return_complex=True,
    )
    return spec.abs(), spec.angle()


def test_phase_losses_ignore_whole_turns_and_a_constant_offset() -> None:
    magnitude, phase = _tone_stft()
    for pred in (phase, phase + 2 * torch.pi, phase + 1.3):
        group_delay, frequency = phase_derivative_losses(pred, phase, magnitude)
        assert group_delay.item() < 1e-4 and frequency.item() < 1e-4


def test_phase_losses_see_drift_between_bins_and_between_frames() -> None:
    magnitude, phase = _tone_stft()
    bins, frames = phase.shape[1:]
    across_bins = phase + 0.4 * torch.arange(bins)[None, :, None]
    across_frames = phase + 0.4 * torch.arange(frames)[None, None, :]
    group_delay, frequency = phase_derivative_losses(across_bins, phase, magnitude)
    assert group_delay.item() == pytest.approx(0.4, abs=1e-3) and frequency.item() < 1e-4
    group_delay, frequency = phase_derivative_losses(across_frames, phase, magnitude)
    assert frequency.item() == pytest.approx(0.4, abs=1e-3) and group_delay.item() < 1e-4


def test_phase_losses_weight_by_the_target_magnitude() -> None:
    magnitude, phase = _tone_stft()
    silent = magnitude < 1e-3 * magnitude.max()
    noisy = torch.where(silent, phase + 3.0 * torch.rand_like(phase), phase)
    group_delay, frequency = phase_derivative_losses(noisy, phase, magnitude)
    assert silent.float().mean() > 0.5  # most bins are far from the tone
    assert group_delay.item() < 0.01 and frequency.item() < 0.01


def test_phase_losses_give_gradients_and_check_shapes() -> None:
    magnitude, phase = _tone_stft()
    pred = (phase + 0.3 * torch.randn_like(phase)).requires_grad_(True)
    sum(phase_derivative_losses(pred, phase, magnitude)).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    with pytest.raises(ParameterError, match="same"):
        phase_derivative_losses(phase[..., :-1], phase, magnitude)
    with pytest.raises(ParameterError, match=">= 2"):
        phase_derivative_losses(phase[..., :1], phase[..., :1], magnitude[..., :1])


def test_magnitude_losses_are_zero_for_equal_spectra_and_grow_with_error() -> None:
    magnitude, _ = _tone_stft()
    magnitude = magnitude.clamp_min(1e-5)
    zero = magnitude_losses(magnitude, magnitude)
    assert zero[0].item() == 0.0 and zero[1].item() == 0.0
    small = magnitude_losses(1.1 * magnitude, magnitude)
    large = magnitude_losses(2.0 * magnitude, magnitude)
    assert small[0] < large[0] and small[1] < large[1]
    assert small[0].item() == pytest.approx(0.1, rel=1e-4)
