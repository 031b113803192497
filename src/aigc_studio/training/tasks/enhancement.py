"""Speech-enhancement training step: noisy → enhanced, scored against the clean reference.

The loss is the negative SI-SDR (Le Roux et al. 2019) plus the multi-resolution STFT loss of
Parallel WaveGAN (Yamamoto et al. 2020): SI-SDR rewards the waveform's shape but ignores its
scale, which the spectral terms pin. Evaluation is the SI-SDR improvement over the noisy input on
the valid split (full items, the causal model's whole-signal path). The data is a cache with
``clean`` and ``noisy`` fields at the model's rate, such as ``speech-noise``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from typing_extensions import override

from aigc_studio.errors import ConfigError
from aigc_studio.training.tasks.base import OptimizerPlan, TrainingTask, Update

#: Centre frequencies (Hz) of the random graphic equalizer of ``noise_eq_db``: octaves from 62.5 Hz.
EQ_ANCHORS_HZ: tuple[float, ...] = (62.5, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)


class EnhancementTask(TrainingTask):
    """Train a denoiser (``gru-denoiser``) on pairs of noisy and clean audio.

    Task options: ``segment_samples`` (a random crop of each item, the same in both signals;
    0 keeps whole items), ``remix_fraction`` and ``remix_snr_db`` (dynamic mixing: that fraction
    of each training batch gets the noise of another item of the batch, ``noisy - clean``,
    rescaled to an SNR drawn uniformly from the range, so that the network meets many more
    speech/noise pairings than the cache holds), ``noise_eq_db`` (each remixed noise is first
    shaped by a random graphic equalizer: gains drawn uniformly within ± that many dB at
    ``EQ_ANCHORS_HZ``, interpolated on a log-frequency axis, as DNS-challenge and DeepFilterNet
    training filter noise with random EQ so that the network meets noise spectra the synthesizers
    never made; 0 turns it off), ``si_sdr_weight``, ``stft_weight`` (on spectral
    convergence + log-magnitude), and ``stft_fft_sizes``/``stft_hop_sizes``/``stft_win_lengths``
    (the resolutions of the STFT loss).
    """

    family = "enhancement"
    default_options: ClassVar[dict[str, Any]] = {
        "segment_samples": 16_000,
        "remix_fraction": 0.0,
        "remix_snr_db": [-5.0, 20.0],
        "noise_eq_db": 0.0,
        "si_sdr_weight": 1.0,
        "stft_weight": 1.0,
        "stft_fft_sizes": [256, 512, 1024],
        "stft_hop_sizes": [64, 128, 256],
        "stft_win_lengths": [256, 512, 1024],
    }
    ema_modules = ("denoiser",)

    def __post_init__(self) -> None:
        super().__post_init__()
        from aigc_studio.models.spectral_losses import MultiResolutionSTFTLoss

        options = self.options
        segment = int(options["segment_samples"])
        if segment != 0 and segment < 4 * self.model_config.n_fft:
            raise ConfigError(
                f"segment_samples must be 0 (whole items) or at least 4 windows "
                f"({4 * self.model_config.n_fft}), got {segment}"
            )
        if not 0.0 <= options["remix_fraction"] <= 1.0:
            raise ConfigError(f"remix_fraction must be in [0, 1], got {options['remix_fraction']}")
        low, high = options["remix_snr_db"]
        if not -30.0 <= low <= high <= 60.0:
            raise ConfigError(
                f"remix_snr_db must be [low, high] within [-30, 60] dB, got {[low, high]}"
            )
        if not 0.0 <= options["noise_eq_db"] <= 40.0:
            raise ConfigError(f"noise_eq_db must be in [0, 40] dB, got {options['noise_eq_db']}")
        for name in ("si_sdr_weight", "stft_weight"):
            if not options[name] >= 0:
                raise ConfigError(f"{name} must be >= 0, got {options[name]}")
        if options["si_sdr_weight"] == 0 and options["stft_weight"] == 0:
            raise ConfigError("si_sdr_weight and stft_weight cannot both be 0")
        self.stft_loss = MultiResolutionSTFTLoss(
            tuple(options["stft_fft_sizes"]),
            tuple(options["stft_hop_sizes"]),
            tuple(options["stft_win_lengths"]),
        ).to(self.device)

    @override
    def prepare(self) -> None:
        from aigc_studio.datasets.cache import read_manifest

        self.state["sr"] = self.model_config.sr
        if self.data_root is None:
            return
        manifest = read_manifest(self.data_root)
        missing = {"clean", "noisy"} - set(manifest.get("fields", {}))
        if missing:
            raise ConfigError(
                f"dataset {self.data_root} lacks field(s) {sorted(missing)}; an enhancement "
                "model trains on clean/noisy pairs (e.g. `aigc data prepare --dataset "
                "speech-noise`)"
            )
        rate = manifest.get("params", {}).get("sr")
        if rate is not None and int(rate) != self.model_config.sr:
            raise ConfigError(
                f"the data is at {rate} Hz; the denoiser works at {self.model_config.sr}"
            )

    @override
    def build_modules(self) -> dict[str, nn.Module]:
        from aigc_studio.models.denoiser import GRUDenoiser

        return {"denoiser": GRUDenoiser(self.model_config)}

    @override
    def optimizer_plans(self) -> dict[str, OptimizerPlan]:
        return {"denoiser": OptimizerPlan(("denoiser",), self.train_config.lr)}

    @override
    def dataset(self, split: str) -> Any:
        from aigc_studio.datasets.torch_dataset import CachedDataset

        assert self.data_root is not None
        return CachedDataset(self.data_root, split, fields=("clean", "noisy"))

    def _crop(self, clean: torch.Tensor, noisy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        segment = int(self.options["segment_samples"])
        length = clean.shape[-1]
        if segment == 0 or segment == length:
            return clean, noisy
        if length < segment:
            raise ConfigError(f"items have {length} samples, fewer than segment_samples={segment}")
        offsets = torch.randint(0, length - segment + 1, (clean.shape[0],)).tolist()
        pick = torch.stack([torch.arange(o, o + segment) for o in offsets]).to(clean.device)
        return clean.gather(1, pick), noisy.gather(1, pick)

    def _remix(self, clean: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
        """Give a random subset of the batch another item's noise at a random SNR."""
        fraction = float(self.options["remix_fraction"])
        batch = clean.shape[0]
        if fraction == 0.0 or batch < 2:
            return noisy
        noise = noisy - clean
        chosen = torch.rand(batch, device=clean.device) < fraction
        # A cyclic shift by 1..B-1 never gives an item its own noise back.
        shift = int(torch.randint(1, batch, ()).item())
        donor = self._equalize(noise.roll(shift, dims=0))
        low, high = (float(v) for v in self.options["remix_snr_db"])
        snr_db = low + (high - low) * torch.rand(batch, device=clean.device)
        clean_power = clean.square().mean(dim=-1)
        donor_power = donor.square().mean(dim=-1)
        usable = chosen & (clean_power > 1e-8) & (donor_power > 1e-10)
        scale = torch.sqrt(clean_power / (donor_power + 1e-12) * 10.0 ** (-snr_db / 10.0))
        remixed = clean + donor * scale[:, None]
        return torch.where(usable[:, None], remixed, noisy)

    def _equalize(self, noise: torch.Tensor) -> torch.Tensor:
        """Filter each noise of a batch with its own random graphic EQ (see ``noise_eq_db``)."""
        span = float(self.options["noise_eq_db"])
        if span == 0.0:
            return noise
        batch, length = noise.shape
        sr = self.model_config.sr
        anchors = torch.log(torch.tensor(EQ_ANCHORS_HZ, device=noise.device))
        gains_db = (2.0 * torch.rand(batch, anchors.numel(), device=noise.device) - 1.0) * span
        freqs = torch.fft.rfftfreq(length, d=1.0 / sr, device=noise.device)
        where = torch.log(freqs.clamp(min=EQ_ANCHORS_HZ[0])).clamp(max=float(anchors[-1]))
        # Linear interpolation between the anchors on a log-frequency axis.
        upper = torch.searchsorted(anchors, where).clamp(1, anchors.numel() - 1)
        left, right = anchors[upper - 1], anchors[upper]
        weight = ((where - left) / (right - left)).clamp(0.0, 1.0)
        curve_db = gains_db[:, upper - 1] * (1.0 - weight) + gains_db[:, upper] * weight
        spectrum = torch.fft.rfft(noise, dim=-1) * 10.0 ** (curve_db / 20.0)
        return torch.fft.irfft(spectrum, n=length, dim=-1)

    def losses(
        self, enhanced: torch.Tensor, clean: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Return the weighted training loss of an enhanced batch and its parts (for logging)."""
        from aigc_studio.models.enhancement_losses import si_sdr_loss

        options = self.options
        negative_si_sdr = si_sdr_loss(enhanced, clean)
        convergence, magnitude = self.stft_loss(enhanced, clean)
        total = options["si_sdr_weight"] * negative_si_sdr + options["stft_weight"] * (
            convergence + magnitude
        )
        parts = {
            "loss": float(total.detach()),
            "si_sdr": -float(negative_si_sdr.detach()),
            "stft_sc": float(convergence.detach()),
            "stft_mag": float(magnitude.detach()),
        }
        return total, parts

    @override
    def step(
        self, batch: Any, step: int, modules: dict[str, nn.Module], update: Update
    ) -> dict[str, float]:
        clean, noisy = self._crop(batch["clean"], batch["noisy"])
        noisy = self._remix(clean, noisy)
        enhanced = modules["denoiser"](noisy)
        total, parts = self.losses(enhanced, clean)
        parts["grad_norm"] = update("denoiser", total)
        return parts

    @override
    @torch.no_grad()
    def evaluate(self, modules: dict[str, nn.Module], batches: Any) -> dict[str, float]:
        """SI-SDR of the enhanced valid items and its improvement over the noisy input (dB)."""
        from aigc_studio.evaluation.enhancement import si_sdr

        enhanced_scores, noisy_scores = [], []
        for batch in batches:
            clean, noisy = batch["clean"], batch["noisy"]
            enhanced = modules["denoiser"](noisy)
            for c, n, e in zip(
                clean.cpu().numpy(), noisy.cpu().numpy(), enhanced.cpu().numpy(), strict=True
            ):
                enhanced_scores.append(si_sdr(c, e))
                noisy_scores.append(si_sdr(c, n))
        if not enhanced_scores:
            return {}
        enhanced_mean, noisy_mean = float(np.mean(enhanced_scores)), float(np.mean(noisy_scores))
        return {
            "si_sdr": enhanced_mean,
            "si_sdr_noisy": noisy_mean,
            "si_sdri": enhanced_mean - noisy_mean,
        }

    @override
    @torch.no_grad()
    def generate(
        self, modules: dict[str, nn.Module], n: int, *, seed: int, labels: list[int] | None
    ) -> dict[str, Any]:
        """Denoise ``n`` held-out test items (a denoiser needs noisy input to start from)."""
        if labels:
            raise ConfigError("a denoiser takes no --label")
        dataset = self.dataset("test")
        if len(dataset) == 0:
            raise ConfigError("the dataset's test split is empty")
        picks = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n]
        items = [dataset[int(i)] for i in picks]
        noisy = torch.stack([item["noisy"] for item in items])
        enhanced = modules["denoiser"](noisy)
        return {
            "audio": enhanced.numpy(),
            "noisy": noisy.numpy(),
            "reference": torch.stack([item["clean"] for item in items]).numpy(),
            "sr": self.model_config.sr,
        }
