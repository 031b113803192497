"""VAE training step: maximize the ELBO (Kingma & Welling 2014) with KL warm-up and free bits."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from typing_extensions import override

from aigc_studio.errors import ConfigError
from aigc_studio.training.tasks.base import OptimizerPlan, TrainingTask, Update
from aigc_studio.training.tasks.spectrogram_data import LabelIndex, label_values, mel_dataset


class VAETask(TrainingTask):
    """Convolutional VAE over normalized log-mel spectrograms.

    Task option: ``label_field`` for a conditional VAE (``num_classes`` > 0).
    """

    family = "vae"
    default_options: ClassVar[dict[str, Any]] = {"label_field": None}
    ema_modules = ()

    @override
    def prepare(self) -> None:
        from aigc_studio.datasets.cache import read_manifest

        if self.data_root is None:
            return
        manifest = read_manifest(self.data_root)
        self.state["mel_stats"] = manifest["stats"]
        self.state["features"] = manifest.get("params", {})
        field = self.options["label_field"]
        self.state["label_field"] = field
        if field:
            self.state["label_values"] = label_values(self.data_root, field)
            if len(self.state["label_values"]) != self.model_config.num_classes:
                raise ConfigError(
                    f"set num_classes to {len(self.state['label_values'])} for {field}"
                )

    @override
    def build_modules(self) -> dict[str, nn.Module]:
        from aigc_studio.models.spectrogram_vae import SpectrogramVAE

        return {"model": SpectrogramVAE(self.model_config)}

    @override
    def optimizer_plans(self) -> dict[str, OptimizerPlan]:
        return {"model": OptimizerPlan(("model",), self.train_config.lr)}

    @override
    def dataset(self, split: str) -> Any:
        assert self.data_root is not None
        return mel_dataset(
            self.data_root, split, self.model_config.frames, self.state.get("label_field")
        )

    def _labels(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        field = self.state.get("label_field")
        return LabelIndex(self.state["label_values"]).to_index(batch[field]) if field else None

    @override
    def step(
        self, batch: Any, step: int, modules: dict[str, nn.Module], update: Update
    ) -> dict[str, float]:
        from aigc_studio.models.spectrogram_vae import elbo_loss

        x = batch["mel"]
        labels = self._labels(batch)
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
            labels = self._labels(batch)
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
        indices = None
        if self.model_config.num_classes:
            index = LabelIndex(self.state["label_values"])
            chosen = (
                [labels[i % len(labels)] for i in range(n)]
                if labels
                else [
                    index.values[int(i)]
                    for i in torch.randint(len(index.values), (n,), generator=rng)
                ]
            )
            indices = torch.tensor(index.check(chosen))
        normalized = model.decode(z, indices)[:, 0].clamp(-1.0, 1.0).numpy()
        mel = denormalize_mel(normalized, self.state["mel_stats"])
        return {"mel": mel.astype(np.float32), "labels": labels}
