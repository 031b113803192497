"""Audio restoration and enhancement on arrays and files: the ``aigc audio`` wing's library.

- :mod:`~aigc_studio.audio.denoise`: remove background noise with the learned causal denoiser
  (``method="net"``) or classical spectral gating (``method="gate"``), at any sample rate and
  channel count, streaming in blocks so that long files keep memory flat.
- :mod:`~aigc_studio.audio.spectral_gate`: the causal spectral gate itself.
- :mod:`~aigc_studio.audio.declip`: find and repair hard clipping.
- :mod:`~aigc_studio.audio.hum`: find and notch out 50/60 Hz mains hum and its harmonics.
- :mod:`~aigc_studio.audio.limiter`: a look-ahead true-peak limiter.
- :mod:`~aigc_studio.audio.enhance`: clipping, hum, noise and loudness in one pass.
- :mod:`~aigc_studio.audio.analysis`: loudness, loudness range, peaks, SNR, clipping, hum, tempo.

Functions take float32 ``(channels, samples)`` arrays with their sample rate, or file paths, and
return arrays or write files atomically. Models are trained elsewhere (``aigc_studio.training``);
this package only applies them.

Examples
--------
>>> from aigc_studio.audio import denoise
>>> clean = denoise(noisy, 44100, method="gate", strength=0.8)  # doctest: +SKIP
"""

from aigc_studio.audio.analysis import AudioAnalysis, analyze_audio
from aigc_studio.audio.declip import Clipping, detect_clipping, repair_clipping
from aigc_studio.audio.denoise import SilentInputWarning, denoise, denoise_file, load_denoiser
from aigc_studio.audio.enhance import EnhanceReport, enhance, enhance_file
from aigc_studio.audio.hum import Hum, detect_hum, remove_hum
from aigc_studio.audio.limiter import limit_true_peak
from aigc_studio.audio.spectral_gate import SpectralGate

__all__ = [
    "AudioAnalysis",
    "Clipping",
    "EnhanceReport",
    "Hum",
    "SilentInputWarning",
    "SpectralGate",
    "analyze_audio",
    "denoise",
    "denoise_file",
    "detect_clipping",
    "detect_hum",
    "enhance",
    "enhance_file",
    "limit_true_peak",
    "load_denoiser",
    "remove_hum",
    "repair_clipping",
]
