"""GAN training step: one discriminator update, then one generator update.

As in Goodfellow et al. 2014, with the loss the model config names (minimax, non-saturating,
hinge or WGAN-GP).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from typing_extensions import override

from aigc_studio.errors import ConfigError
from aigc_studio.evaluation import frechet_distance
from aigc_studio.models.gan_losses import discriminator_loss, generator_loss, gradient_penalty
from aigc_studio.training.distributed import unwrap_module
from aigc_studio.training.tasks.base import OptimizerPlan, Update
from aigc_studio.training.tasks.spectrogram_data import SpectrogramTask


class GANTask(SpectrogramTask):
    """SpecGAN over normalized log-mel spectrograms, optionally label-conditional.

    Task options: ``label_field`` (dataset field to condition on, e.g. ``"pitch"``; needs
    ``num_classes`` equal to its number of distinct values), ``d_steps`` (discriminator updates
    per generator update).
    """

    family = "gan"
    default_options: ClassVar[dict[str, Any]] = {"label_field": None, "d_steps": 1}
    ema_modules = ("generator",)

    @override
    def prepare(self) -> None:
        super().prepare()
        pitches = list(self.model_config.class_pitches)
        values = self.state.get("label_values")
        if pitches and values and pitches != values:
            raise ConfigError(
                f"class_pitches must list the data's {self.state['label_field']} values in order "
                f"({values[0]}..{values[-1]}, {len(values)} values)"
            )

    @override
    def build_modules(self) -> dict[str, nn.Module]:
        from aigc_studio.models.specgan import SpecGANDiscriminator, SpecGANGenerator

        return {
            "generator": SpecGANGenerator(self.model_config),
            "discriminator": SpecGANDiscriminator(self.model_config),
        }

    @override
    def optimizer_plans(self) -> dict[str, OptimizerPlan]:
        lr = self.train_config.lr
        return {
            "discriminator": OptimizerPlan(
                ("discriminator",), self.train_config.lr_discriminator or lr
            ),
            "generator": OptimizerPlan(("generator",), lr),
        }

    @override
    def step(
        self, batch: Any, step: int, modules: dict[str, nn.Module], update: Update
    ) -> dict[str, float]:
        generator, discriminator = modules["generator"], modules["discriminator"]
        config = self.model_config
        real = batch["mel"]
        labels = self.batch_labels(batch)
        size = real.shape[0]
        pair_labels = None if labels is None else torch.cat([labels, labels])
        for _ in range(self.options["d_steps"]):
            z = torch.randn(size, config.latent_dim, device=real.device)
            with torch.no_grad():
                fake = generator(z, labels)
            # One discriminator pass over real and fake together: DDP expects one forward
            # per backward.
            logits = discriminator(torch.cat([real, fake]), pair_labels)
            d_real, d_fake = logits[:size], logits[size:]
            d_loss = discriminator_loss(d_real, d_fake, config.loss)
            if config.loss == "wgan-gp":
                penalty = gradient_penalty(unwrap_module(discriminator), real, fake, labels)
                d_loss = d_loss + config.gp_weight * penalty
            update("discriminator", d_loss)
        z = torch.randn(size, config.latent_dim, device=real.device)
        g_loss = generator_loss(discriminator(generator(z, labels), labels), config.loss)
        update("generator", g_loss)
        return {
            "d_loss": float(d_loss.detach()),
            "g_loss": float(g_loss.detach()),
            "d_real": float(d_real.detach().mean()),
            "d_fake": float(d_fake.detach().mean()),
        }

    @override
    @torch.no_grad()
    def evaluate(self, modules: dict[str, nn.Module], batches: Any) -> dict[str, float]:
        """Fréchet distance between real and generated mel statistics (time mean and std)."""
        generator = modules["generator"]
        real_features, fake_features = [], []
        for batch in batches:
            labels = self.batch_labels(batch)
            z = torch.randn(batch["mel"].shape[0], self.model_config.latent_dim)
            fake = generator(z.to(batch["mel"].device), labels)
            real_features.append(_pooled(batch["mel"]))
            fake_features.append(_pooled(fake))
        real = np.concatenate(real_features)
        fake = np.concatenate(fake_features)
        if len(real) < 4:
            return {}
        return {"frechet_mel": frechet_distance(real, fake)}

    @override
    @torch.no_grad()
    def generate(
        self, modules: dict[str, nn.Module], n: int, *, seed: int, labels: list[int] | None
    ) -> dict[str, Any]:
        from aigc_studio.datasets.audio_features import denormalize_mel

        generator = modules["generator"]
        generator.eval()
        rng = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.model_config.latent_dim, generator=rng)
        indices, chosen = self.sample_labels(n, labels, rng)
        normalized = generator(z, indices)[:, 0].cpu().numpy()
        mel = denormalize_mel(normalized, self.state["mel_stats"])
        return {"mel": mel.astype(np.float32), "labels": chosen}


def _pooled(mel: torch.Tensor) -> np.ndarray:
    """Per-item features for the Fréchet distance: mean and std over time of each mel band."""
    flat = mel[:, 0] if mel.dim() == 4 else mel
    return torch.cat([flat.mean(dim=-1), flat.std(dim=-1)], dim=1).float().cpu().numpy()
