from __future__ import annotations

import numpy as np
import pytest

from aigc_studio.dsp import chirp, colored_noise, harmonic_tone, melody_signal
from aigc_studio.errors import ParameterError

SR = 16_000


def spectral_slope(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / SR)
    band = (freqs > 50) & (freqs < 5000)
    return float(np.polyfit(np.log10(freqs[band]), 10 * np.log10(spectrum[band]), 1)[0])


@pytest.mark.parametrize(("color", "slope"), [("white", 0.0), ("pink", -10.0), ("brown", -20.0)])
def test_noise_colors_have_their_spectral_slope(color: str, slope: float) -> None:
    noise = colored_noise(4.0, SR, color=color, seed=1)
    assert np.sqrt(np.mean(noise**2)) == pytest.approx(0.1, rel=1e-3)
    assert spectral_slope(noise) == pytest.approx(slope, abs=2.0)


def test_noise_is_deterministic_per_seed() -> None:
    assert np.array_equal(colored_noise(0.1, SR, seed=3), colored_noise(0.1, SR, seed=3))
    assert not np.array_equal(colored_noise(0.1, SR, seed=3), colored_noise(0.1, SR, seed=4))


def test_melody_has_the_pitches_in_order() -> None:
    signal = melody_signal([57, 69], 0.5, SR)
    halves = np.split(signal, 2)
    peaks = [np.fft.rfftfreq(h.size, 1 / SR)[np.argmax(np.abs(np.fft.rfft(h)))] for h in halves]
    assert peaks == pytest.approx([220.0, 440.0], abs=3)


def test_chirp_sweeps_upwards() -> None:
    sweep = chirp(100, 4000, 1.0, SR)
    first, last = sweep[: SR // 10], sweep[-SR // 10 :]
    f = [np.fft.rfftfreq(p.size, 1 / SR)[np.argmax(np.abs(np.fft.rfft(p)))] for p in (first, last)]
    assert f[0] < 300 < 2500 < f[1]


@pytest.mark.parametrize(
    "call",
    [
        lambda: harmonic_tone(0, 1, SR),
        lambda: harmonic_tone(9000, 1, SR),
        lambda: colored_noise(-1, SR),
        lambda: colored_noise(1, SR, color="purple"),
        lambda: melody_signal([], 0.1, SR),
        lambda: chirp(10, 20000, 1, SR),
    ],
)
def test_bad_parameters(call) -> None:
    with pytest.raises(ParameterError):
        call()
