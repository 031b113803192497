from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.models.istft_vocoder import ISTFTVocoderConfig, ISTFTVocoderGenerator
from aigc_studio.models.mel import LogMelSpectrogram, MelConfig
from aigc_studio.models.spectral_losses import mel_l1_loss

SMALL = {"n_mels": 32, "hop_length": 128, "n_fft": 512, "channels": 32, "layers": 2}


def test_output_length_is_frames_times_hop() -> None:
    gen = ISTFTVocoderGenerator(ISTFTVocoderConfig.from_dict(SMALL))
    wave = gen(torch.randn(2, 32, 20))
    assert wave.shape == (2, 1, 20 * 128)
    assert wave.abs().max() <= 1.0


def test_return_spectrum_gives_the_stft_the_waveform_was_made_from() -> None:
    gen = ISTFTVocoderGenerator(ISTFTVocoderConfig.from_dict({**SMALL, "phase": "integrated"}))
    mel = torch.randn(2, 32, 20)
    wave, magnitude, phase = gen(mel, return_spectrum=True)
    assert magnitude.shape == phase.shape == (2, 257, 20)
    assert torch.equal(wave, gen(mel))
    rebuilt = torch.istft(
        torch.polar(magnitude, phase), 512, 128, window=torch.hann_window(512), length=20 * 128
    )
    assert torch.allclose(rebuilt.clamp(-1, 1), wave[:, 0], atol=1e-5)


def test_synthesize_numpy_and_bad_input() -> None:
    gen = ISTFTVocoderGenerator(ISTFTVocoderConfig.from_dict(SMALL))
    audio = gen.synthesize(np.zeros((32, 5), np.float32))
    assert audio.shape == (1, 5 * 128) and audio.dtype == np.float32
    with pytest.raises(ParameterError):
        gen.synthesize(np.zeros((31, 5), np.float32))
    with pytest.raises(ParameterError):
        gen.synthesize(np.full((32, 5), np.nan, np.float32))


def test_config_round_trip_and_validation() -> None:
    config = ISTFTVocoderConfig.from_dict(SMALL)
    again = ISTFTVocoderConfig.from_dict(config.to_dict())
    assert again == config
    with pytest.raises(ConfigError):
        ISTFTVocoderConfig.from_dict({**SMALL, "kernel_size": 4})
    with pytest.raises(ConfigError):
        ISTFTVocoderConfig.from_dict({**SMALL, "bogus": 1})
    with pytest.raises(ConfigError):
        ISTFTVocoderConfig(n_mels=32, hop_length=128, mel=MelConfig(n_mels=64, hop_length=128))


def test_learns_to_invert_a_tone() -> None:
    torch.manual_seed(0)
    config = ISTFTVocoderConfig.from_dict(SMALL)
    gen = ISTFTVocoderGenerator(config)
    mel = LogMelSpectrogram(config.mel)
    t = torch.arange(128 * 16) / 16000
    wave = (0.5 * torch.sin(2 * torch.pi * 440 * t)).unsqueeze(0).unsqueeze(0)
    target = mel(wave)
    optimizer = torch.optim.Adam(gen.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = mel_l1_loss(gen(target[..., :16]), target, mel)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])


def test_magnitude_prior_starts_at_the_pseudo_inverse() -> None:
    import librosa

    config = ISTFTVocoderConfig(n_mels=64, hop_length=256, n_fft=1024, channels=16, layers=1)
    gen = ISTFTVocoderGenerator(config)
    t = np.arange(8192) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    mel = LogMelSpectrogram(config.mel)(torch.from_numpy(tone)[None])[..., :32]
    wave = gen(mel)[0, 0].detach().numpy()
    spectrum = np.abs(librosa.stft(wave, n_fft=1024, hop_length=256))
    peak_bin = spectrum[:, 8:24].mean(axis=1).argmax()
    assert abs(peak_bin * 16000 / 1024 - 440) < 40  # untrained, yet energy sits at the tone
    no_prior = ISTFTVocoderGenerator(
        ISTFTVocoderConfig(n_mels=64, channels=16, layers=1, magnitude_prior=False)
    )
    assert not hasattr(no_prior, "mel_inverse")


def test_integrated_phase_turns_each_bin_at_its_centre_plus_the_deviation() -> None:
    config = ISTFTVocoderConfig.from_dict({**SMALL, "phase": "integrated"})
    gen = ISTFTVocoderGenerator(config)
    bins = config.n_fft // 2 + 1
    torch.manual_seed(0)
    deviation = torch.randn(1, bins, 1).expand(1, bins, 12)  # steady over time
    phase = gen._integrate_phase(deviation)[0]
    turn = torch.remainder(phase[:, 1:] - phase[:, :-1], 2 * torch.pi)
    k = torch.arange(bins)
    expected = torch.remainder(
        2 * torch.pi * k * config.hop_length / config.n_fft
        + torch.pi * torch.tanh(deviation[0, :, 0]),
        2 * torch.pi,
    )
    diff = torch.remainder(turn - expected[:, None] + torch.pi, 2 * torch.pi) - torch.pi
    assert float(diff.abs().max()) < 1e-4  # the same turn every frame: consistent phase
    # Centred frames: neighbouring bins of one partial start half a turn apart.
    first = torch.remainder(phase[:, 0] - torch.pi * k - expected, 2 * torch.pi)
    assert float(torch.minimum(first, 2 * torch.pi - first).max()) < 1e-4


def test_phase_mode_is_validated() -> None:
    with pytest.raises(ConfigError, match="phase"):
        ISTFTVocoderConfig.from_dict({**SMALL, "phase": "psychic"})


def _spectral_inconsistency(gen: ISTFTVocoderGenerator, mel: torch.Tensor) -> float:
    """Relative distance between the predicted magnitude and that of the waveform made."""
    wave, magnitude, _ = gen(mel, return_spectrum=True)
    made = torch.stft(wave[:, 0], 512, 128, window=torch.hann_window(512), return_complex=True)[
        ..., : mel.shape[-1]
    ].abs()
    return float(torch.linalg.norm(made - magnitude) / torch.linalg.norm(magnitude))


def test_consistency_projections_make_the_waveform_agree_with_its_magnitude() -> None:
    torch.manual_seed(0)
    gen = ISTFTVocoderGenerator(ISTFTVocoderConfig.from_dict({**SMALL, "phase": "direct"}))
    with torch.no_grad():  # a random phase: overlapping frames disagree
        gen.head.weight[257:].normal_(std=3.0)
    mel = torch.randn(1, 32, 24) - 4.0
    distances = []
    for projections in (0, 1, 3):
        gen.config.projections = projections
        distances.append(_spectral_inconsistency(gen, mel))
    assert distances[0] > distances[1] > distances[2]


def test_projection_gradients_stay_finite_on_silence() -> None:
    gen = ISTFTVocoderGenerator(ISTFTVocoderConfig.from_dict({**SMALL, "projections": 2}))
    with torch.no_grad():  # magnitudes that underflow to exact zeros: a silent waveform
        gen.head.bias[:257].fill_(-200.0)
    silent = torch.full((1, 32, 8), -30.0, requires_grad=True)
    wave = gen(silent)
    assert torch.count_nonzero(wave) == 0
    wave.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in gen.parameters() if p.grad is not None)
    assert torch.isfinite(silent.grad).all()


def test_projections_are_validated() -> None:
    with pytest.raises(ConfigError, match="projections"):
        ISTFTVocoderConfig.from_dict({**SMALL, "projections": 9})
    with pytest.raises(ConfigError, match="projections"):
        ISTFTVocoderConfig.from_dict({**SMALL, "projections": -1})
