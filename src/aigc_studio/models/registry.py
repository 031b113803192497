"""The model registry: a model name maps to its family, its config dataclass and its builder.

Names are what users type (``aigc train --model specgan``). Classes are imported lazily so that
listing models or starting the CLI does not import every network.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from aigc_studio.errors import ConfigError

FAMILIES = (
    "gan",
    "vae",
    "autoregressive",
    "vocoder",
    "enhancement",
    "melody-vae",
    "frame-restoration",
)


@dataclass(frozen=True)
class ModelSpec:
    """One registered model.

    Attributes
    ----------
    name : str
        Registry name.
    family : str
        One of ``FAMILIES``; selects the training task.
    config_class : str
        ``"module:Class"`` of the config dataclass.
    description : str
        One line for ``aigc train --list``.
    fixed : dict
        Config values the name implies (``lstm-lm`` fixes ``kind="lstm"``).
    """

    name: str
    family: str
    config_class: str
    description: str
    fixed: dict[str, Any] = field(default_factory=dict)

    def load_config_class(self) -> type:
        """Import and return the config dataclass."""
        module, _, name = self.config_class.partition(":")
        return getattr(importlib.import_module(module), name)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "specgan",
            "gan",
            "aigc_studio.models.specgan:SpecGANConfig",
            "SpecGAN: DCGAN over log-mel spectrograms, optionally label-conditional "
            "(Donahue et al. 2018)",
        ),
        ModelSpec(
            "spectrogram-vae",
            "vae",
            "aigc_studio.models.spectrogram_vae:SpectrogramVAEConfig",
            "convolutional VAE over log-mel spectrograms with KL warm-up and free bits",
        ),
        ModelSpec(
            "melody-vae",
            "melody-vae",
            "aigc_studio.models.melody_vae:MelodyVAEConfig",
            "MusicVAE-style melody VAE: BiLSTM encoder, LSTM decoder over an N-bar sixteenth "
            "grid (Roberts et al. 2018)",
        ),
        ModelSpec(
            "transformer-lm",
            "autoregressive",
            "aigc_studio.models.sequence_models:SequenceModelConfig",
            "causal Transformer over token sequences, KV-cache sampling",
            {"kind": "transformer"},
        ),
        ModelSpec(
            "lstm-lm",
            "autoregressive",
            "aigc_studio.models.sequence_models:SequenceModelConfig",
            "LSTM language model over token sequences",
            {"kind": "lstm"},
        ),
        ModelSpec(
            "gru-lm",
            "autoregressive",
            "aigc_studio.models.sequence_models:SequenceModelConfig",
            "GRU language model over token sequences",
            {"kind": "gru"},
        ),
        ModelSpec(
            "istft-vocoder",
            "vocoder",
            "aigc_studio.models.istft_vocoder:ISTFTVocoderConfig",
            "iSTFT GAN vocoder: log-mel to STFT magnitude and phase to waveform (Vocos-style, "
            "Siuzdak 2023)",
        ),
        ModelSpec(
            "hifigan-vocoder",
            "vocoder",
            "aigc_studio.models.vocoder:VocoderConfig",
            "HiFi-GAN-style GAN vocoder: log-mel spectrogram to waveform (Kong et al. 2020)",
        ),
        ModelSpec(
            "gru-denoiser",
            "enhancement",
            "aigc_studio.models.denoiser:DenoiserConfig",
            "causal real-time speech denoiser: GRU over ERB bands predicting gains (RNNoise-style, "
            "Valin 2018)",
        ),
        ModelSpec(
            "frame-restorer",
            "frame-restoration",
            "aigc_studio.models.frame_restorer:FrameRestorerConfig",
            "residual CNN correcting video frames: interpolation refinement or deblurring "
            "(EDSR-style blocks on a pixel-unshuffled grid)",
        ),
    )
}


def list_models() -> list[ModelSpec]:
    """Every registered model."""
    return list(MODELS.values())


def get_model_spec(name: str) -> ModelSpec:
    """Return the spec of a registered model.

    Raises
    ------
    ConfigError
        If no model has that name.
    """
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"no model {name!r}; known models: {', '.join(MODELS)}") from None


def build_model_config(name: str, values: dict[str, Any]) -> Any:
    """Build the config dataclass of model ``name`` from ``values`` (unknown keys refused).

    Raises
    ------
    ConfigError
        If a key is unknown, a value is out of range, or a value contradicts the model name.
    """
    spec = get_model_spec(name)
    for key, fixed in spec.fixed.items():
        if key in values and values[key] != fixed:
            raise ConfigError(f"model {name!r} implies {key}={fixed!r}, got {values[key]!r}")
    return spec.load_config_class().from_dict({**values, **spec.fixed})
