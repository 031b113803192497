from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.models.mel import MelConfig
from aigc_studio.models.vocoder import VocoderConfig, VocoderGenerator


def _tiny_config() -> VocoderConfig:
    return VocoderConfig(
        n_mels=16,
        hop_length=64,
        upsample_rates=(8, 8),
        upsample_kernel_sizes=(16, 16),
        upsample_initial_channels=32,
        resblock_kernel_sizes=(3, 5),
        resblock_dilations=((1, 3), (1, 3)),
    )


def test_default_shape_range_and_size() -> None:
    torch.manual_seed(0)
    gen = VocoderGenerator()
    n_params = sum(p.numel() for p in gen.parameters())
    assert n_params < 1_500_000
    log_mel = torch.randn(2, 128, 12) - 4.0
    wave = gen(log_mel)
    assert wave.shape == (2, 1, 12 * 256)
    assert wave.abs().max() <= 1.0


def test_output_saturates_to_tanh_range() -> None:
    torch.manual_seed(0)
    gen = VocoderGenerator(_tiny_config())
    with torch.no_grad():
        gen.conv_post.bias.fill_(10.0)
    wave = gen(torch.randn(1, 16, 4))
    assert wave.max() <= 1.0
    assert wave.min() > 0.99


def test_weight_norm_present_and_removal_keeps_output() -> None:
    torch.manual_seed(0)
    gen = VocoderGenerator(_tiny_config())
    names = [n for n, _ in gen.named_parameters()]
    assert any("parametrizations.weight.original0" in n for n in names)
    log_mel = torch.randn(1, 16, 6)
    with torch.no_grad():
        before = gen(log_mel)
    gen.remove_weight_norm()
    gen.remove_weight_norm()
    assert not any("parametrizations" in n for n, _ in gen.named_parameters())
    with torch.no_grad():
        after = gen(log_mel)
    torch.testing.assert_close(before, after, atol=1e-6, rtol=0)


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    gen = VocoderGenerator(_tiny_config())
    gen(torch.randn(2, 16, 5)).pow(2).mean().backward()
    missing = [n for n, p in gen.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing


def test_synthesize_numpy_shapes() -> None:
    torch.manual_seed(0)
    gen = VocoderGenerator(_tiny_config())
    mono = gen.synthesize(np.random.default_rng(0).standard_normal((16, 7)))
    assert mono.shape == (1, 7 * 64) and mono.dtype == np.float32
    stereo = gen.synthesize(np.zeros((2, 16, 3), dtype=np.float32))
    assert stereo.shape == (2, 3 * 64)
    with pytest.raises(ParameterError, match="n_mels=16"):
        gen.synthesize(np.zeros((20, 3)))
    with pytest.raises(ParameterError, match="NaN"):
        gen.synthesize(np.full((16, 3), np.nan))


def test_config_round_trip_and_consistency() -> None:
    config = _tiny_config()
    assert config.mel == MelConfig(n_mels=16, hop_length=64)
    again = VocoderConfig.from_dict(config.to_dict())
    assert again == config
    with pytest.raises(ConfigError, match="product"):
        VocoderConfig(upsample_rates=(8, 8, 2))
    with pytest.raises(ConfigError, match="n_mels"):
        VocoderConfig(n_mels=80, mel={"n_mels": 128})
    with pytest.raises(ConfigError, match="unknown"):
        VocoderConfig.from_dict({"upsample_rate": [8, 8, 4]})


def test_forward_rejects_wrong_mel_bands() -> None:
    with pytest.raises(ParameterError, match="n_mels=16"):
        VocoderGenerator(_tiny_config())(torch.zeros(1, 17, 4))
