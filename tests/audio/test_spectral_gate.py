from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc_studio.audio.spectral_gate import SpectralGate
from aigc_studio.errors import ParameterError
from aigc_studio.evaluation.enhancement import si_sdr

SR = 16_000


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _speech_like(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Harmonic syllables with pauses (a stand-in for voiced speech)."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voiced = sum(0.5**k * np.sin(k * phase) for k in range(1, 12))
    syllables = (np.sin(2 * np.pi * 2.5 * t + rng.uniform(0, 6)) > 0.1).astype(float)
    return 0.1 * voiced * syllables


def _run(gate: SpectralGate, x: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    state = gate.initial_state(x.shape[0])
    outs, start = [], 0
    for size in sizes:
        out, state = gate.step(x[:, start : start + size], state)
        outs.append(out)
        start += size
    outs.append(gate.flush(state))
    return torch.cat(outs, dim=-1)


def test_gate_silences_pauses_and_raises_si_sdr_in_steady_noise() -> None:
    rng = np.random.default_rng(0)
    clean = _speech_like(3.0, rng)
    noise = rng.standard_normal(clean.size)
    noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2)) * 10 ** (-5 / 20)  # 5 dB SNR
    noisy = torch.tensor(clean + noise, dtype=torch.float32)[None]
    out = _run(SpectralGate(SR), noisy, [noisy.shape[-1]])[0].numpy()
    assert out.shape == clean.shape
    assert si_sdr(clean, out) > si_sdr(clean, noisy[0].numpy()) + 4.0
    pauses = np.convolve(clean == 0, np.ones(801) / 801, mode="same") > 0.999
    pauses[: SR // 2] = False  # the noise floor is learnt in the first half second
    reduction_db = 10 * np.log10(np.mean(noise[pauses] ** 2) / np.mean(out[pauses] ** 2))
    assert reduction_db > 5.0


def test_blocks_give_the_same_output_as_one_block() -> None:
    gate = SpectralGate(SR)
    x = torch.randn(2, 6000) * 0.05
    whole = _run(gate, x, [6000])
    parts = _run(gate, x, [1, 127, 0, 3000, 2872])
    torch.testing.assert_close(parts, whole, atol=1e-6, rtol=0)


def test_zero_strength_is_transparent_and_any_rate_works() -> None:
    for sr in (8000, 44_100, 96_000):
        gate = SpectralGate(sr)
        x = torch.randn(1, sr // 2) * 0.05
        state = gate.initial_state(1)
        out, state = gate.step(x, state, strength=0.0)
        out = torch.cat([out, gate.flush(state, strength=0.0)], -1)
        torch.testing.assert_close(out, x, atol=1e-5, rtol=0)
        assert gate.window_length == 4 * round(0.008 * sr)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ParameterError, match="reduction_db"):
        SpectralGate(SR, reduction_db=0)
    with pytest.raises(ParameterError, match="strength"):
        gate = SpectralGate(SR)
        gate.step(torch.zeros(1, 2000), gate.initial_state(1), strength=2.0)
