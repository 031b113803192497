"""Signal processing on arrays: spectrograms, inversion, loudness, test signals.

Pure functions on numpy arrays with explicit parameters; nothing here reads or writes files.
"""

from aigc_studio.dsp.loudness import LoudnessReport, measure_loudness, normalize_loudness
from aigc_studio.dsp.spectral import griffin_lim_from_mel, log_mel_spectrogram
from aigc_studio.dsp.synthesis import chirp, colored_noise, harmonic_tone, melody_signal

__all__ = [
    "LoudnessReport",
    "chirp",
    "colored_noise",
    "griffin_lim_from_mel",
    "harmonic_tone",
    "log_mel_spectrogram",
    "measure_loudness",
    "melody_signal",
    "normalize_loudness",
]
