"""Melody VAE training step: the ELBO of N-bar melody windows cut from a melody token cache.

The task reads a melody token cache (``bach-melodies``, ``folk-melodies`` or a tokenized MIDI
folder), decodes each piece with :class:`~aigc_studio.datasets.melody_tokens.MelodyTokenizer`,
cuts it into windows of whole bars with :func:`~aigc_studio.models.melody_vae.melody_windows`
and keeps them in memory per split the first time the split is used. It does not write into the
cache (inputs are never modified).

Its own family rather than the ``vae`` family: :class:`~aigc_studio.training.tasks.vae.VAETask`
is built on the spectrogram data path (mel normalization, label conditioning, a Gaussian
likelihood), none of which applies to categorical melody grids; what the two VAEs share is the
KL term, which :func:`~aigc_studio.models.melody_vae.melody_vae_loss` takes from the spectrogram
VAE.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset
from typing_extensions import override

from aigc_studio.errors import ConfigError
from aigc_studio.training.tasks.base import OptimizerPlan, TrainingTask, Update


class MelodyWindowDataset(Dataset):
    """Grids of melody windows as ``{"grid": LongTensor (steps,)}`` items.

    Parameters
    ----------
    grids : torch.Tensor
        ``(windows, steps)`` integer classes (stored small, returned as int64).
    """

    def __init__(self, grids: torch.Tensor) -> None:
        self.grids = grids

    def __len__(self) -> int:
        return int(self.grids.shape[0])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"grid": self.grids[index].long()}


class MelodyVAETask(TrainingTask):
    """MusicVAE-style melody VAE over windows of a melody token cache (Roberts et al. 2018).

    Task options: ``hop_bars`` (bars between the starts of consecutive training windows; 1
    takes every window, as MusicVAE does; held-out splits always use windows that do not
    overlap) and ``temperature`` (decoder temperature of :meth:`generate`, 0 is greedy).

    Windows are the model's ``bars`` whole bars of ``steps_per_bar`` sixteenths (see
    :func:`~aigc_studio.models.melody_vae.melody_windows`); a piece whose header names a meter
    with bars of another length is skipped without decoding. Each split keeps every distinct
    window once: folk tunes repeat their phrases, and repeats would weigh the loss towards them.
    """

    family = "melody-vae"
    default_options: ClassVar[dict[str, Any]] = {"hop_bars": 1, "temperature": 0.5}

    def __post_init__(self) -> None:
        super().__post_init__()
        hop = self.options["hop_bars"]
        if isinstance(hop, bool) or not isinstance(hop, int) or hop < 1:
            raise ConfigError(f"hop_bars must be an integer >= 1, got {hop!r}")
        temperature = self.options["temperature"]
        numeric = isinstance(temperature, int | float) and not isinstance(temperature, bool)
        if not (numeric and math.isfinite(temperature) and temperature >= 0):
            raise ConfigError(f"temperature must be a number >= 0, got {temperature!r}")
        self._windows: dict[str, torch.Tensor] = {}

    @override
    def prepare(self) -> None:
        from aigc_studio.datasets.cache import read_manifest
        from aigc_studio.datasets.melody_tokens import MelodyTokenizer

        if self.data_root is None:
            return
        manifest = read_manifest(self.data_root)
        spec = manifest["fields"].get("tokens")
        vocab = manifest.get("vocab") or {}
        expected = _tokenizer_vocab()
        if (
            spec is None
            or not spec.get("ragged")
            or any(vocab.get(key) != value for key, value in expected.items())
        ):
            raise ConfigError(
                f"{self.data_root}: not a melody token dataset (tokens with the vocabulary of "
                "MelodyTokenizer); prepare bach-melodies, folk-melodies or a MIDI folder"
            )
        names = manifest.get("labels", {}).get("token_names") or MelodyTokenizer().token_names
        self.state["token_names"] = list(names)
        self.state["dataset"] = manifest.get("name")
        train = self.windows("train")
        if len(train) == 0:
            config = self.model_config
            raise ConfigError(
                f"{self.data_root}: no {config.bars}-bar windows of {config.steps_per_bar}-step "
                "bars in the training split; choose data in 4/4 or 2/2, or other bars/"
                "steps_per_bar"
            )
        self.state["windows"] = {"train": len(train)}

    def windows(self, split: str) -> torch.Tensor:
        """Return the distinct grids of a split, ``(windows, steps)`` int8, cut on first use."""
        if split not in self._windows:
            assert self.data_root is not None
            hop = self.options["hop_bars"] if split == "train" else self.model_config.bars
            grids = cut_split_windows(
                self.data_root,
                split,
                bars=self.model_config.bars,
                hop_bars=hop,
                steps_per_bar=self.model_config.steps_per_bar,
            )
            self._windows[split] = torch.from_numpy(grids)
        return self._windows[split]

    @override
    def build_modules(self) -> dict[str, nn.Module]:
        from aigc_studio.models.melody_vae import MelodyVAE

        return {"model": MelodyVAE(self.model_config)}

    @override
    def optimizer_plans(self) -> dict[str, OptimizerPlan]:
        return {"model": OptimizerPlan(("model",), self.train_config.lr)}

    @override
    def dataset(self, split: str) -> Dataset:
        return MelodyWindowDataset(self.windows(split))

    @override
    def step(
        self, batch: Any, step: int, modules: dict[str, nn.Module], update: Update
    ) -> dict[str, float]:
        from aigc_studio.models.melody_vae import melody_vae_loss

        grid = batch["grid"]
        logits, mu, logvar = modules["model"](grid)
        losses = melody_vae_loss(logits, grid, mu, logvar, step=step, config=self.model_config)
        update("model", losses["loss"])
        return {name: float(value.detach()) for name, value in losses.items()}

    @override
    @torch.no_grad()
    def evaluate(self, modules: dict[str, nn.Module], batches: Any) -> dict[str, float]:
        """Held-out reconstruction accuracy, KL and ELBO, all decoded from the posterior mean.

        ``teacher_forced_accuracy``: per-step argmax accuracy with the true previous steps fed;
        ``greedy_accuracy``: per-step accuracy of the greedy decoding (no teacher);
        ``note_on_accuracy``: of the true note-on steps, the fraction the greedy decoding
        strikes with the right pitch; ``reconstruction``: cross-entropy (nats per window) with
        teacher forcing; ``kl``: the true KL (no free bits); ``elbo``: ``-(reconstruction +
        kl)``, nats per window. The reconstruction term is taken at the posterior mean, not
        averaged over posterior samples, as the spectrogram VAE's evaluation does.
        """
        from aigc_studio.models.melody_vae import (
            NOTE_ON_OFFSET,
            melody_vae_loss,
            true_elbo_config,
        )

        model = modules["model"]
        elbo_config = true_elbo_config(self.model_config)
        sums = dict.fromkeys(("reconstruction", "kl", "teacher_forced", "greedy", "note_on"), 0.0)
        windows = steps = note_ons = 0
        for batch in batches:
            grid = batch["grid"]
            mu, logvar = model.encode(grid)
            logits = model.teacher_forced_logits(mu, grid)
            losses = melody_vae_loss(logits, grid, mu, logvar, step=0, config=elbo_config)
            greedy = model.decode(mu, temperature=0.0)
            sums["reconstruction"] += float(losses["reconstruction"]) * grid.shape[0]
            sums["kl"] += float(losses["kl"]) * grid.shape[0]
            sums["teacher_forced"] += float((logits.argmax(dim=-1) == grid).sum())
            sums["greedy"] += float((greedy == grid).sum())
            strikes = grid >= NOTE_ON_OFFSET
            sums["note_on"] += float((greedy == grid)[strikes].sum())
            windows += grid.shape[0]
            steps += grid.numel()
            note_ons += int(strikes.sum())
        if not windows:
            return {}
        reconstruction, kl = sums["reconstruction"] / windows, sums["kl"] / windows
        return {
            "teacher_forced_accuracy": sums["teacher_forced"] / steps,
            "greedy_accuracy": sums["greedy"] / steps,
            "note_on_accuracy": sums["note_on"] / note_ons if note_ons else float("nan"),
            "reconstruction": reconstruction,
            "kl": kl,
            "elbo": -(reconstruction + kl),
        }

    @override
    @torch.no_grad()
    def generate(
        self, modules: dict[str, nn.Module], n: int, *, seed: int, labels: list[int] | None
    ) -> dict[str, Any]:
        """Decode ``n`` draws from the prior ``N(0, I)`` into melodies.

        Returns
        -------
        dict
            ``"tokens"``: ``(n, length)`` int64 melody tokens (``BOS ... EOS``, padded with PAD
            to the longest); ``"token_names"``; ``"grid"``: ``(n, steps)`` the decoded grids.
        """
        from aigc_studio.datasets.melody_tokens import PAD, MelodyTokenizer
        from aigc_studio.models.melody_vae import grid_to_events

        if labels:
            raise ConfigError("the melody VAE is unconditional; it takes no --label")
        model = modules["model"]
        was_training = model.training
        model.eval()
        try:
            generator = torch.Generator().manual_seed(seed)
            z = torch.randn(n, self.model_config.latent_dim, generator=generator)
            parameter = next(model.parameters())
            grids = model.decode(
                z.to(device=parameter.device, dtype=parameter.dtype),
                temperature=float(self.options["temperature"]),
                generator=generator if parameter.device.type == "cpu" else None,
            ).cpu()
        finally:
            model.train(was_training)
        tokenizer = MelodyTokenizer()
        sequences = [
            tokenizer.encode(
                grid_to_events(row.numpy(), steps_per_bar=self.model_config.steps_per_bar)
            )
            for row in grids
        ]
        tokens = np.full((n, max(len(s) for s in sequences)), PAD, dtype=np.int64)
        for row, sequence in zip(tokens, sequences, strict=True):
            row[: len(sequence)] = sequence
        return {
            "tokens": tokens,
            "token_names": self.state.get("token_names") or tokenizer.token_names,
            "grid": grids.numpy(),
        }


def cut_split_windows(
    root: Any, split: str, *, bars: int, hop_bars: int, steps_per_bar: int
) -> np.ndarray:
    """Return the distinct melody windows of one split of a melody token cache.

    Every piece is decoded with ``MelodyTokenizer.decode`` and cut with
    :func:`~aigc_studio.models.melody_vae.melody_windows`. A piece whose header names a meter
    (``controls_of(tokens).meter``) with bars of other than ``steps_per_bar`` sixteenths is
    skipped whole; pieces without one, or with ``METER_other``, rely on the bar-length check of
    ``melody_windows`` alone.

    Parameters
    ----------
    root : str or PathLike
        The cache folder.
    split : {"train", "valid", "test"}
        Which split.
    bars, hop_bars, steps_per_bar : int
        As for ``melody_windows``.

    Returns
    -------
    np.ndarray
        ``(windows, bars * steps_per_bar)`` int8, each distinct window once, sorted.

    Raises
    ------
    ConfigError
        If the cache is missing or has no ``tokens`` field.
    """
    from aigc_studio.datasets.cache import load_split
    from aigc_studio.datasets.melody_tokens import MelodyTokenizer, controls_of
    from aigc_studio.models.melody_vae import melody_windows

    arrays = load_split(root, split, ["tokens"], mmap=False)
    values, offsets = arrays["tokens"], arrays["tokens_offsets"]
    tokenizer = MelodyTokenizer()
    found = []
    for index in range(len(offsets) - 1):
        tokens = values[int(offsets[index]) : int(offsets[index + 1])]
        meter = controls_of(tokens).meter
        if meter_bar_steps(meter) not in (None, steps_per_bar):
            continue
        events = tokenizer.decode(tokens)
        found.append(melody_windows(events, bars, hop_bars, steps_per_bar=steps_per_bar))
    length = bars * steps_per_bar
    grids = np.concatenate(found) if found else np.zeros((0, length), dtype=np.int64)
    return np.unique(grids.astype(np.int8), axis=0).reshape(-1, length)


def meter_bar_steps(meter: str | None) -> int | None:
    """Return the sixteenths in a bar of a meter such as ``"6/8"`` (None if it has no size).

    Examples
    --------
    >>> meter_bar_steps("2/2"), meter_bar_steps("6/8"), meter_bar_steps("other")
    (16, 12, None)
    """
    numerator, _, denominator = (meter or "").partition("/")
    if not (numerator.isdigit() and denominator.isdigit()):
        return None
    # Only note values that divide a whole note into sixteenths make whole grid steps.
    if int(denominator) == 0 or 16 % int(denominator):
        return None
    return int(numerator) * 16 // int(denominator)


def _tokenizer_vocab() -> dict[str, int]:
    """Return the manifest ``vocab`` entries a cache must share with the melody tokenizer."""
    from aigc_studio.datasets import melody_tokens as mt

    return {
        "bar": mt.BAR,
        "rest": mt.REST,
        "note_min": mt.NOTE_MIN,
        "note_max": mt.NOTE_MAX,
        "dur_offset": mt.DUR_OFFSET,
        "steps_per_quarter": mt.STEPS_PER_QUARTER,
    }
