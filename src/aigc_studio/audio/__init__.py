"""Audio restoration and enhancement on arrays and files: the ``aigc audio`` wing's library.

- :mod:`~aigc_studio.audio.denoise`: remove background noise with the learned causal denoiser
  (``method="net"``) or classical spectral gating (``method="gate"``), at any sample rate and
  channel count, streaming in blocks so that long files keep memory flat.
- :mod:`~aigc_studio.audio.spectral_gate`: the causal spectral gate itself.

Functions take float32 ``(channels, samples)`` arrays with their sample rate, or file paths, and
return arrays or write files atomically. Models are trained elsewhere (``aigc_studio.training``);
this package only applies them.

Examples
--------
>>> from aigc_studio.audio import denoise
>>> clean = denoise(noisy, 44100, method="gate", strength=0.8)  # doctest: +SKIP
"""

from aigc_studio.audio.denoise import SilentInputWarning, denoise, denoise_file, load_denoiser
from aigc_studio.audio.spectral_gate import SpectralGate

__all__ = ["SilentInputWarning", "SpectralGate", "denoise", "denoise_file", "load_denoiser"]
