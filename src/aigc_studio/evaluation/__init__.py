"""Evaluation metrics: pure functions on numpy arrays that score our models' outputs and peers'.

- :mod:`~aigc_studio.evaluation.pitch`: estimated pitch, pitch accuracy and pitch entropy of
  generated notes (pYIN; GANSynth's measures).
- :mod:`~aigc_studio.evaluation.distributions`: NDB and the Fréchet distance between sets of
  feature vectors (the caller picks and names the features).
- :mod:`~aigc_studio.evaluation.spectral`: log-spectral and multi-resolution STFT distances
  between a reference and an estimate.

Metrics take arrays and explicit parameters and return numbers; they never load models, read
files or download anything. Training losses live with the models (``aigc_studio.models``).
"""

from aigc_studio.evaluation.distributions import (
    feature_statistics,
    frechet_distance,
    number_of_statistically_different_bins,
)
from aigc_studio.evaluation.pitch import estimate_pitch, pitch_accuracy, pitch_entropy
from aigc_studio.evaluation.spectral import log_spectral_distance, multi_resolution_stft_distance

__all__ = [
    "estimate_pitch",
    "feature_statistics",
    "frechet_distance",
    "log_spectral_distance",
    "multi_resolution_stft_distance",
    "number_of_statistically_different_bins",
    "pitch_accuracy",
    "pitch_entropy",
]
