from __future__ import annotations

import numpy as np
import pytest

from aigc_studio.dsp import colored_noise, harmonic_tone
from aigc_studio.errors import ParameterError
from aigc_studio.evaluation.pitch import estimate_pitch, pitch_accuracy, pitch_entropy

SR = 16_000
PITCHES = [45, 60, 76]


def _note(midi: float, seconds: float = 0.5) -> np.ndarray:
    return harmonic_tone(440.0 * 2 ** ((midi - 69) / 12), seconds, SR)


@pytest.fixture(scope="module")
def notes() -> list[np.ndarray]:
    return [_note(p) for p in PITCHES]


def test_estimate_pitch_of_harmonic_tones(notes: list[np.ndarray]) -> None:
    estimates = [estimate_pitch(note, SR) for note in notes]
    assert all(e is not None for e in estimates)
    np.testing.assert_allclose(estimates, PITCHES, atol=0.2)
    assert estimate_pitch(notes[0][None], SR) == pytest.approx(estimates[0])


def test_noise_and_silence_have_no_pitch() -> None:
    # seeds 1 and 2 are white noise on which pYIN's own voiced flag marks about half the frames
    for seed in (1, 2):
        assert estimate_pitch(colored_noise(0.5, SR, seed=seed), SR) is None
    assert estimate_pitch(np.zeros(SR // 2, dtype=np.float32), SR) is None


def test_pitch_accuracy_right_and_detuned(notes: list[np.ndarray]) -> None:
    assert pitch_accuracy(notes, SR, PITCHES) == 1.0
    assert pitch_accuracy(notes, SR, [p + 1 for p in PITCHES]) == 0.0
    assert pitch_accuracy(notes[:2], SR, [PITCHES[0], PITCHES[1] - 1]) == 0.5


def test_pitch_accuracy_octave_errors_and_unvoiced(notes: list[np.ndarray]) -> None:
    octave_off = [p + 12 for p in PITCHES[:2]]
    assert pitch_accuracy(notes[:2], SR, octave_off) == 0.0
    assert pitch_accuracy(notes[:2], SR, octave_off, allow_octave_errors=True) == 1.0
    assert pitch_accuracy([colored_noise(0.5, SR, seed=1)], SR, [60]) == 0.0


def test_pitch_entropy() -> None:
    assert pitch_entropy([60, 62, 64, 65]) == pytest.approx(2.0)
    assert pitch_entropy([60, 60, 60]) == 0.0
    assert pitch_entropy([60, 60, 62, 62, None, None]) == pytest.approx(1.0)
    assert pitch_entropy([59.9, 60.2, 61.6, 62.4]) == pytest.approx(1.0)
    assert pitch_entropy([None]) == 0.0


def test_bad_arguments() -> None:
    with pytest.raises(ParameterError, match="fmax"):
        estimate_pitch(np.zeros(100), SR, fmax=9000.0)
    with pytest.raises(ParameterError, match="same non-zero length"):
        pitch_accuracy([np.zeros(100)], SR, [60, 61])
    with pytest.raises(ParameterError, match="NaN"):
        estimate_pitch(np.full(1000, np.nan), SR)
