"""VAE training step: maximize the ELBO (Kingma & Welling 2014) with KL warm-up and free bits."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from typing_extensions import override

from aigc_studio.training.tasks.base import OptimizerPlan, Update
from aigc_studio.training.tasks.spectrogram_data import SpectrogramTask


class VAETask(SpectrogramTask):
    """Convolutional VAE over normalized log-mel spectrograms.

    Task option: ``label_field`` for a conditional VAE (``num_classes`` > 0).
    """

    family = "vae"
    default_options: ClassVar[dict[str, Any]] = {"label_field": None}
    ema_modules = ()

    @override
    def build_modules(self) -> dict[str, nn.Module]:
        from aigc_studio.models.spectrogram_vae import SpectrogramVAE

        return {"model": SpectrogramVAE(self.model_config)}

    @override
    def optimizer_plans(self) -> dict[str, OptimizerPlan]:
        return {"model": OptimizerPlan(("model",), self.train_config.lr)}

    @override
    def step(
        self, batch: Any, step: int, modules: dict[str, nn.Module], update: Update
    ) -> dict[str, float]:
        from aigc_studio.models.spectrogram_vae import elbo_loss

        x = batch["mel"]
        labels = self.batch_labels(batch)
        x_hat, mu, logvar = modules["model"](x, labels)
        losses = elbo_loss(x, x_hat, mu, logvar, step=step, config=self.model_config)
        update("model", losses["loss"])
        return {name: float(value.detach()) for name, value in losses.items()}

    @override
    @torch.no_grad()
    def evaluate(self, modules: dict[str, nn.Module], batches: Any) -> dict[str, float]:
        """Mean negative ELBO, reconstruction error and KL on held-out spectrograms."""
        from aigc_studio.models.spectrogram_vae import elbo_loss

        model = modules["model"]
        sums = {"loss": 0.0, "reconstruction": 0.0, "kl": 0.0}
        items = 0
        for batch in batches:
            x = batch["mel"]
            labels = self.batch_labels(batch)
            mu, logvar = model.encode(x, labels)
            x_hat = model.decode(mu, labels)
            # A step far past warm-up: held-out figures use the full KL weight.
            losses = elbo_loss(x, x_hat, mu, logvar, step=10**9, config=self.model_config)
            for key in sums:
                sums[key] += float(losses[key]) * x.shape[0]
            items += x.shape[0]
        return {key: value / items for key, value in sums.items()} if items else {}

    @override
    @torch.no_grad()
    def generate(
        self, modules: dict[str, nn.Module], n: int, *, seed: int, labels: list[int] | None
    ) -> dict[str, Any]:
        from aigc_studio.datasets.audio_features import denormalize_mel

        model = modules["model"]
        model.eval()
        rng = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.model_config.latent_dim, generator=rng)
        indices, chosen = self.sample_labels(n, labels, rng)
        normalized = model.decode(z, indices)[:, 0].clamp(-1.0, 1.0).numpy()
        mel = denormalize_mel(normalized, self.state["mel_stats"])
        return {"mel": mel.astype(np.float32), "labels": chosen}
