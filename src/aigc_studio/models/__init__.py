"""The studio's generative models: GAN, VAE and autoregressive families, and the GAN vocoder.

Each family lives in its own module (``specgan``, ``spectrogram_vae``, ``sequence_models``,
``vocoder``), with discriminators and losses in modules of their own; ``registry`` maps the names
users type to them. Nothing here trains: that is ``aigc_studio.training``.
"""

from aigc_studio.models.registry import (
    FAMILIES,
    MODELS,
    ModelSpec,
    build_model_config,
    get_model_spec,
    list_models,
)

__all__ = ["FAMILIES", "MODELS", "ModelSpec", "build_model_config", "get_model_spec", "list_models"]
