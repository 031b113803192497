"""GAN vocoder training step: log-mel → waveform with reconstruction and adversarial losses.

Following HiFi-GAN (Kong et al. 2020): least-squares GAN losses over multi-scale and multi-period
discriminators, feature matching ×2 and mel-spectrogram L1 ×45, plus the multi-resolution STFT
loss of Parallel WaveGAN (Yamamoto et al. 2020). The adversarial terms start after a warm-up of
reconstruction-only steps, which makes short CPU trainings stable.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from typing_extensions import override

from aigc_studio.errors import ConfigError
from aigc_studio.training.distributed import unwrap_module
from aigc_studio.training.tasks.base import OptimizerPlan, TrainingTask, Update


class VocoderTask(TrainingTask):
    """Train a vocoder generator (HiFi-GAN-style or iSTFT) on a dataset's audio.

    Task options: ``segment_samples`` (random crop per item, a multiple of the hop),
    ``adversarial_start`` (step at which the discriminators join), ``mel_weight``,
    ``stft_weight``, ``feature_weight``, ``stft_power_floor`` (floor of the STFT loss's log
    magnitudes: -100 dB, as low as the log-spectral distance it is judged by),
    ``discriminator`` (a dict for ``WaveDiscriminatorConfig``), and for an iSTFT generator
    ``spectrum_weight`` (spectral convergence + log-magnitude L1 of its predicted magnitudes
    against the real STFT at its own resolution) and ``phase_weight`` (group-delay +
    instantaneous-frequency losses of its predicted phase, APNet's phase supervision).
    """

    family = "vocoder"
    default_options: ClassVar[dict[str, Any]] = {
        "segment_samples": 8192,
        "adversarial_start": 0,
        "mel_weight": 45.0,
        "stft_weight": 1.0,
        "feature_weight": 2.0,
        "stft_power_floor": 1e-10,
        "spectrum_weight": 0.0,
        "phase_weight": 0.0,
        "discriminator": {},
    }
    ema_modules = ("generator",)

    def __post_init__(self) -> None:
        super().__post_init__()
        from aigc_studio.models.mel import LogMelSpectrogram, MelConfig
        from aigc_studio.models.spectral_losses import MultiResolutionSTFTLoss

        config = self.model_config
        mel_config = config.mel or MelConfig(n_mels=config.n_mels, hop_length=config.hop_length)
        if isinstance(mel_config, dict):
            mel_config = MelConfig.from_dict(mel_config)
        self.mel_config = mel_config
        self.mel = LogMelSpectrogram(mel_config).to(self.device)
        self.stft_loss = MultiResolutionSTFTLoss(power_floor=self.options["stft_power_floor"]).to(
            self.device
        )
        self.supervises_spectrum = bool(
            self.options["spectrum_weight"] or self.options["phase_weight"]
        )
        if self.supervises_spectrum:
            from aigc_studio.models.istft_vocoder import ISTFTVocoderConfig

            if not isinstance(config, ISTFTVocoderConfig):
                raise ConfigError(
                    "spectrum_weight and phase_weight need an iSTFT vocoder (model istft-vocoder)"
                )
        segment = self.options["segment_samples"]
        if segment % config.hop_length or segment < 4 * config.hop_length:
            raise ConfigError(
                f"segment_samples must be a multiple of hop_length={config.hop_length} and at "
                f"least 4 hops, got {segment}"
            )

    @override
    def prepare(self) -> None:
        from aigc_studio.datasets.cache import read_manifest

        if self.data_root is None:
            return
        manifest = read_manifest(self.data_root)
        if "audio" not in manifest.get("fields", {}):
            raise ConfigError(f"dataset {self.data_root} has no audio field to train a vocoder on")
        rate = manifest.get("params", {}).get("sr")
        if rate is not None and int(rate) != self.mel_config.sr:
            raise ConfigError(f"the data is at {rate} Hz; the vocoder expects {self.mel_config.sr}")
        self.state["sr"] = self.mel_config.sr

    @override
    def build_modules(self) -> dict[str, nn.Module]:
        from aigc_studio.models.discriminators import (
            CombinedWaveDiscriminator,
            WaveDiscriminatorConfig,
        )
        from aigc_studio.models.istft_vocoder import ISTFTVocoderConfig, ISTFTVocoderGenerator
        from aigc_studio.models.vocoder import VocoderGenerator

        disc_config = WaveDiscriminatorConfig.from_dict(self.options["discriminator"])
        generator_class = (
            ISTFTVocoderGenerator
            if isinstance(self.model_config, ISTFTVocoderConfig)
            else VocoderGenerator
        )
        return {
            "generator": generator_class(self.model_config),
            "discriminator": CombinedWaveDiscriminator.from_config(disc_config),
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
    def dataset(self, split: str) -> Any:
        from aigc_studio.datasets.torch_dataset import CachedDataset

        assert self.data_root is not None
        return CachedDataset(self.data_root, split, fields=("audio",))

    def _crop(self, audio: torch.Tensor) -> torch.Tensor:
        segment = self.options["segment_samples"]
        if audio.shape[-1] < segment:
            raise ConfigError(f"items have {audio.shape[-1]} samples, fewer than {segment}")
        offsets = torch.randint(0, audio.shape[-1] - segment + 1, (audio.shape[0],))
        return torch.stack(
            [a[o : o + segment] for a, o in zip(audio, offsets.tolist(), strict=True)]
        )

    def _mel_frames(self, wave: torch.Tensor) -> torch.Tensor:
        """Log-mel frames that the generator turns back into exactly ``wave``'s length."""
        frames = wave.shape[-1] // self.model_config.hop_length
        return self.mel(wave)[..., :frames]

    @override
    def step(
        self, batch: Any, step: int, modules: dict[str, nn.Module], update: Update
    ) -> dict[str, float]:
        from aigc_studio.models.discriminators import (
            discriminator_loss,
            feature_matching_loss,
            generator_adversarial_loss,
        )
        from aigc_studio.models.spectral_losses import mel_l1_loss

        generator, discriminator = modules["generator"], modules["discriminator"]
        real = self._crop(batch["audio"]).unsqueeze(1)
        with torch.no_grad():
            mel = self._mel_frames(real)
        if self.supervises_spectrum:
            fake, predicted_magnitude, predicted_phase = generator(mel, return_spectrum=True)
        else:
            fake = generator(mel)
        size = real.shape[0]
        adversarial = step >= self.options["adversarial_start"]
        losses: dict[str, float] = {}
        if adversarial:
            logits, _ = discriminator(torch.cat([real, fake.detach()]))
            d_loss = discriminator_loss([x[:size] for x in logits], [x[size:] for x in logits])
            update("discriminator", d_loss)
            losses["d_loss"] = float(d_loss.detach())
        mel_loss = mel_l1_loss(fake, self.mel(real), self.mel)
        convergence, magnitude = self.stft_loss(fake, real)
        g_loss = self.options["mel_weight"] * mel_loss + self.options["stft_weight"] * (
            convergence + magnitude
        )
        if self.supervises_spectrum:
            with torch.no_grad():
                target = unwrap_module(generator).analysis_stft(
                    real[:, 0], predicted_magnitude.shape[-1]
                )
            g_loss = g_loss + self._spectrum_losses(
                target, predicted_magnitude, predicted_phase, losses
            )
        if adversarial:
            logits, features = discriminator(torch.cat([real, fake]))
            adv = generator_adversarial_loss([x[size:] for x in logits])
            matching = feature_matching_loss(
                [[f[:size] for f in group] for group in features],
                [[f[size:] for f in group] for group in features],
            )
            g_loss = g_loss + adv + self.options["feature_weight"] * matching
            losses["g_adv"] = float(adv.detach())
            losses["feature_matching"] = float(matching.detach())
        update("generator", g_loss)
        losses.update(
            g_loss=float(g_loss.detach()),
            mel_l1=float(mel_loss.detach()),
            stft_sc=float(convergence.detach()),
            stft_mag=float(magnitude.detach()),
        )
        return losses

    def _spectrum_losses(
        self,
        target: torch.Tensor,
        magnitude: torch.Tensor,
        phase: torch.Tensor,
        losses: dict[str, float],
    ) -> torch.Tensor:
        """Weighted losses of the generator's predicted STFT against the real one (logged)."""
        from aigc_studio.models.spectral_losses import magnitude_losses, phase_derivative_losses

        floor = float(np.sqrt(self.options["stft_power_floor"]))
        target_magnitude = target.abs().clamp_min(floor)
        convergence, log_l1 = magnitude_losses(magnitude.clamp_min(floor), target_magnitude)
        group_delay, frequency = phase_derivative_losses(phase, target.angle(), target_magnitude)
        losses.update(
            spectrum_sc=float(convergence.detach()),
            spectrum_mag=float(log_l1.detach()),
            group_delay=float(group_delay.detach()),
            inst_frequency=float(frequency.detach()),
        )
        return self.options["spectrum_weight"] * (convergence + log_l1) + self.options[
            "phase_weight"
        ] * (group_delay + frequency)

    @override
    @torch.no_grad()
    def evaluate(self, modules: dict[str, nn.Module], batches: Any) -> dict[str, float]:
        """Log-spectral and multi-resolution STFT distances of resynthesized held-out audio."""
        from aigc_studio.evaluation import log_spectral_distance, multi_resolution_stft_distance

        lsd, mrstft = [], []
        for batch in batches:
            real = batch["audio"]
            fake = modules["generator"](self._mel_frames(real.unsqueeze(1)))[:, 0]
            for reference, estimate in zip(real.cpu().numpy(), fake.cpu().numpy(), strict=True):
                lsd.append(log_spectral_distance(reference, estimate))
                mrstft.append(multi_resolution_stft_distance(reference, estimate))
        if not lsd:
            return {}
        return {"lsd_db": float(np.mean(lsd)), "mrstft": float(np.mean(mrstft))}

    @override
    @torch.no_grad()
    def generate(
        self, modules: dict[str, nn.Module], n: int, *, seed: int, labels: list[int] | None
    ) -> dict[str, Any]:
        """Resynthesize ``n`` held-out test items (a vocoder needs a spectrogram to start from)."""
        if labels:
            raise ConfigError("a vocoder takes no --label")
        dataset = self.dataset("test")
        if len(dataset) == 0:
            raise ConfigError("the dataset's test split is empty")
        picks = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n]
        real = torch.stack([dataset[int(i)]["audio"] for i in picks])
        fake = modules["generator"](self._mel_frames(real.unsqueeze(1)))[:, 0]
        return {"audio": fake.numpy(), "reference": real.numpy(), "sr": self.mel_config.sr}
