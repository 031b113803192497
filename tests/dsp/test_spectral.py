from __future__ import annotations

import numpy as np
import pytest

from aigc_studio.dsp import griffin_lim_from_mel, harmonic_tone, log_mel_spectrogram
from aigc_studio.errors import ParameterError

SR = 16_000


def test_log_mel_shape_and_peak_band() -> None:
    audio = harmonic_tone(1000.0, 1.0, SR, n_harmonics=1)[np.newaxis]
    mel = log_mel_spectrogram(audio, SR, n_fft=512, hop_length=128, n_mels=40)
    assert mel.shape == (1, 40, 1 + SR // 128)
    freqs = __import__("librosa").mel_frequencies(n_mels=40, fmax=SR / 2)
    peak_band = int(np.argmax(mel[0].mean(axis=1)))
    assert abs(freqs[peak_band] - 1000) < 150


def test_silence_maps_to_the_log_floor() -> None:
    mel = log_mel_spectrogram(
        np.zeros((1, 4000), np.float32), SR, n_fft=256, hop_length=64, n_mels=16
    )
    assert np.allclose(mel, np.log(1e-5))


def test_griffin_lim_recovers_the_pitch() -> None:
    audio = harmonic_tone(440.0, 0.5, SR)[np.newaxis]
    mel = log_mel_spectrogram(audio, SR, n_fft=512, hop_length=128, n_mels=64)
    rebuilt = griffin_lim_from_mel(mel, SR, n_fft=512, hop_length=128, n_iter=16)
    assert rebuilt.shape[0] == 1 and abs(rebuilt.shape[1] - audio.shape[1]) < 512
    spectrum = np.abs(np.fft.rfft(rebuilt[0]))
    assert abs(np.fft.rfftfreq(rebuilt.shape[1], 1 / SR)[np.argmax(spectrum)] - 440) < 10


@pytest.mark.parametrize(
    "kwargs", [{"n_fft": 8}, {"hop_length": 0}, {"n_mels": 0}, {"hop_length": 4096}]
)
def test_bad_spectrogram_parameters(kwargs) -> None:
    with pytest.raises(ParameterError):
        log_mel_spectrogram(np.zeros((1, 1000), np.float32), SR, **kwargs)


def test_bad_iteration_count() -> None:
    with pytest.raises(ParameterError, match="n_iter"):
        griffin_lim_from_mel(np.zeros((1, 8, 4), np.float32), SR, n_iter=0)
