"""Turn generated log-mel spectrograms into audio: the shipped GAN vocoder, or Griffin-Lim.

Griffin-Lim (no model) is the fallback and the baseline the vocoder benchmark compares against.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np

from aigc_studio.errors import ConfigError

#: Name of the shipped vocoder under ``aigc_studio/weights``.
DEFAULT_VOCODER = "vocoder-instrument"
#: What renders spectrograms unless the caller says otherwise: the shipped vocoder where its
#: feature matches (else Griffin-Lim). It beats Griffin-Lim-100 on held-out notes (LSD and
#: MR-STFT distance), keeps more pitch accuracy on the neural instrument's notes, and is ~30x
#: faster (benchmarks/bench_vocoder.py, bench_neural_instrument.py).
DEFAULT_RENDERER = "auto"


def render_mel(
    mel: np.ndarray,
    features: dict[str, Any],
    *,
    vocoder: str | os.PathLike[str] | None = DEFAULT_RENDERER,
    griffin_lim_iterations: int = 64,
) -> tuple[np.ndarray, str]:
    """Render (n, n_mels, frames) log-mel spectrograms to (n, samples) audio.

    Parameters
    ----------
    mel : np.ndarray
        Natural-log mel magnitudes, the studio feature.
    features : dict
        The feature parameters (sr, n_fft, hop_length, n_mels, fmin, fmax) of ``mel``.
    vocoder : str, PathLike or None
        ``"auto"`` (the default, see ``DEFAULT_RENDERER``: the shipped vocoder when its
        feature matches, else Griffin-Lim), ``"griffin-lim"``/None, or a path to a trained
        vocoder (run folder, checkpoint or weights folder).
    griffin_lim_iterations : int
        Iterations when Griffin-Lim is used.

    Returns
    -------
    audio : np.ndarray
        float32 (n, samples).
    method : str
        What rendered it ("vocoder:<source>" or "griffin-lim").
    """
    from aigc_studio.dsp import griffin_lim_from_mel

    chosen = _choose_vocoder(vocoder, features)
    if chosen is not None:
        model = _load_vocoder(str(chosen))
        generator = model.modules["generator"]
        audio = np.stack([generator.synthesize(m)[0] for m in mel])
        return audio.astype(np.float32), f"vocoder:{chosen}"
    audio = griffin_lim_from_mel(
        mel,
        int(features.get("sr", 16000)),
        n_fft=int(features.get("n_fft", 1024)),
        hop_length=int(features.get("hop_length", 256)),
        fmin=float(features.get("fmin", 0.0)),
        fmax=features.get("fmax"),
        n_iter=griffin_lim_iterations,
    )
    return audio.astype(np.float32), "griffin-lim"


def _choose_vocoder(vocoder: Any, features: dict[str, Any]) -> Any:
    from aigc_studio.weights import shipped_weights

    if vocoder in (None, "griffin-lim"):
        return None
    if vocoder == "auto":
        shipped = shipped_weights(DEFAULT_VOCODER)
        if shipped is None:
            return None
        model = _load_vocoder(str(shipped))
        return shipped if _features_match(model.task.mel_config.to_dict(), features) else None
    model = _load_vocoder(str(vocoder))
    if not _features_match(model.task.mel_config.to_dict(), features):
        raise ConfigError(f"{vocoder}: the vocoder was trained on another mel feature")
    return vocoder


def _features_match(vocoder_features: dict[str, Any], features: dict[str, Any]) -> bool:
    keys = ("sr", "n_fft", "hop_length", "n_mels", "fmin", "fmax")
    return all(
        key not in features or float(features[key]) == float(vocoder_features[key]) for key in keys
    )


@lru_cache(maxsize=2)
def _load_vocoder(path: str) -> Any:
    from aigc_studio.training.trained_model import load_trained

    model = load_trained(path)
    if model.spec.family != "vocoder":
        raise ConfigError(f"{path}: is a {model.spec.family} model, not a vocoder")
    return model
