from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc_studio.errors import ConfigError
from aigc_studio.models.causal_stft import CausalSTFT
from aigc_studio.models.denoiser import (
    DenoiserConfig,
    GRUDenoiser,
    erb_band_centers,
    erb_interpolation_matrix,
    hz_to_erb_rate,
)
from aigc_studio.models.registry import build_model_config, get_model_spec

TINY = {"hidden_size": 16, "gru_layers": 2, "n_bands": 16}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _model(**overrides) -> GRUDenoiser:
    torch.manual_seed(0)
    return GRUDenoiser(DenoiserConfig(**{**TINY, **overrides})).eval()


def _stream(model, x: torch.Tensor, sizes: list[int], strength: float = 1.0) -> torch.Tensor:
    state = model.initial_state(x.shape[0])
    outs, start = [], 0
    for size in sizes:
        out, state = model.step(x[:, start : start + size], state, strength)
        outs.append(out)
        start += size
    assert start == x.shape[-1]
    outs.append(model.flush(state, strength))
    return torch.cat(outs, dim=-1)


def test_erb_rate_matches_glasberg_moore() -> None:
    # Glasberg & Moore 1990: 21.4 log10(1 + 4.37) = 15.62 ERBs below 1 kHz, 0 at 0 Hz.
    assert float(hz_to_erb_rate(1000.0)) == pytest.approx(15.62, abs=0.01)
    assert float(hz_to_erb_rate(0.0)) == 0.0


def test_band_centres_span_the_bins_erb_spaced_at_the_top() -> None:
    centers = erb_band_centers(32, 16000, 320)
    assert centers[0] == 0 and centers[-1] == 160
    assert np.all(np.diff(centers) >= 1.0 - 1e-9)
    erb = hz_to_erb_rate(centers[-10:] * 50.0)
    steps = np.diff(erb)
    assert steps.max() - steps.min() < 1e-6  # equal ERB steps where no minimum width applies
    with pytest.raises(ConfigError, match="n_bands"):
        erb_band_centers(200, 16000, 320)


def test_interpolation_rows_sum_to_one_and_peak_at_centres() -> None:
    centers = erb_band_centers(16, 16000, 320)
    matrix = erb_interpolation_matrix(centers, 161)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-12)
    for band, centre in enumerate(centers):
        if centre == int(centre):
            assert matrix[int(centre), band] == pytest.approx(1.0)


@pytest.mark.parametrize(("n_fft", "hop"), [(320, 160), (512, 128)])
def test_causal_stft_reconstructs_and_streams_identically(n_fft: int, hop: int) -> None:
    torch.manual_seed(0)
    stft = CausalSTFT(n_fft, hop)
    x = torch.randn(2, 2001)
    whole = stft.synthesize(stft.analyze(x), x.shape[-1])
    torch.testing.assert_close(whole, x, atol=1e-5, rtol=0)
    state = stft.initial_state(2)
    outs, start = [], 0
    for size in (1, 0, 300, 77, 1000, 623):
        spec, state = stft.push(x[:, start : start + size], state)
        out, state = stft.pull(spec, state)
        outs.append(out)
        start += size
    spec, state = stft.finish(state)
    outs.append(stft.pull(spec, state)[0])
    torch.testing.assert_close(torch.cat(outs, -1), whole, atol=1e-6, rtol=0)


def test_causal_stft_refuses_bad_sizes() -> None:
    with pytest.raises(ConfigError):
        CausalSTFT(320, 200)
    with pytest.raises(ConfigError):
        CausalSTFT(320, 320)


def test_forward_keeps_shape_and_gains_in_unit_range() -> None:
    model = _model()
    x = torch.randn(3, 4000) * 0.1
    with torch.no_grad():
        y = model(x)
        gains = model.band_gains(x)
    assert y.shape == x.shape
    assert gains.shape == (3, 4000 // 160 + 1, 16)
    assert float(gains.min()) >= 0 and float(gains.max()) <= 1


def test_strength_zero_returns_the_input_and_full_strength_changes_it() -> None:
    model = _model()
    x = torch.randn(1, 3000) * 0.1
    with torch.no_grad():
        torch.testing.assert_close(model(x, strength=0.0), x, atol=1e-5, rtol=0)
        assert (model(x) - x).abs().max() > 1e-2


def test_streaming_equals_whole_signal_processing() -> None:
    model = _model()
    torch.manual_seed(1)
    x = torch.randn(2, 5000) * 0.1
    with torch.no_grad():
        whole = model(x, strength=0.7)
        streamed = _stream(model, x, [1, 159, 0, 1, 2000, 333, 2506], strength=0.7)
    assert streamed.shape == whole.shape
    torch.testing.assert_close(streamed, whole, atol=1e-5, rtol=0)


def test_output_never_depends_on_future_input_beyond_one_window() -> None:
    model = _model()
    torch.manual_seed(2)
    x = torch.randn(1, 4000) * 0.1
    changed = x.clone()
    cut = 2500
    changed[:, cut:] = torch.randn(1, 4000 - cut)
    with torch.no_grad():
        a, b = model(x), model(changed)
    safe = cut - model.latency_samples + 1
    torch.testing.assert_close(a[:, :safe], b[:, :safe], atol=1e-6, rtol=0)
    assert (a[:, cut:] - b[:, cut:]).abs().max() > 1e-3


def test_gradients_reach_every_layer() -> None:
    model = _model().train()
    x = torch.randn(2, 2000) * 0.1
    model(x).square().mean().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_config_round_trip_and_refusals() -> None:
    config = DenoiserConfig(**TINY)
    assert DenoiserConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown"):
        DenoiserConfig.from_dict({"layers": 2})
    with pytest.raises(ConfigError, match="hop_length"):
        DenoiserConfig(n_fft=320, hop_length=100)
    with pytest.raises(ConfigError, match="sr"):
        DenoiserConfig(sr=4000)


def test_registered_as_an_enhancement_model() -> None:
    spec = get_model_spec("gru-denoiser")
    assert spec.family == "enhancement"
    assert build_model_config("gru-denoiser", TINY) == DenoiserConfig(**TINY)


def test_per_bin_resolution_streams_like_the_whole_signal() -> None:
    model = _model(resolution="bins")
    assert model.config.n_features == 161
    x = torch.randn(2, 4000) * 0.1
    with torch.no_grad():
        whole = model(x)
        streamed = _stream(model, x, [333, 1200, 2467])
        gains = model.band_gains(x)
    assert gains.shape[-1] == 161
    torch.testing.assert_close(streamed, whole, atol=1e-5, rtol=1e-4)


def test_unknown_resolution_is_refused() -> None:
    with pytest.raises(ConfigError, match="resolution"):
        DenoiserConfig(resolution="octaves")
