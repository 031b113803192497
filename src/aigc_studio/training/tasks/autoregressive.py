"""Autoregressive training step: next-token cross-entropy over windows of a token stream."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn
from typing_extensions import override

from aigc_studio.errors import ConfigError
from aigc_studio.training.tasks.base import OptimizerPlan, TrainingTask, Update

#: Token 0 is padding in every studio vocabulary; it is never a target.
PAD_ID = 0


class AutoregressiveTask(TrainingTask):
    """LSTM, GRU or Transformer language model over the token datasets.

    Task options: ``context`` (tokens per training window), ``generate_tokens`` (default length
    of generated sequences), ``bos_id``/``eos_id`` (start/end tokens of the vocabulary),
    ``temperature``, ``top_k``, ``top_p`` (default sampling controls).
    """

    family = "autoregressive"
    default_options: ClassVar[dict[str, Any]] = {
        "context": 128,
        "generate_tokens": 256,
        "bos_id": 1,
        "eos_id": 2,
        "temperature": 1.0,
        "top_k": None,
        "top_p": 0.95,
    }

    @override
    def prepare(self) -> None:
        from aigc_studio.datasets.cache import read_manifest

        context = self.options["context"]
        if not 2 <= context <= self.model_config.max_len:
            raise ConfigError(f"context must be in [2, max_len={self.model_config.max_len}]")
        if self.data_root is None:
            return
        manifest = read_manifest(self.data_root)
        vocab = dataset_vocab_size(manifest)
        if vocab is not None and vocab > self.model_config.vocab_size:
            raise ConfigError(
                f"the data's vocabulary has {vocab} tokens; set the model's vocab_size >= {vocab}"
            )
        self.state["vocab_size"] = vocab or self.model_config.vocab_size
        self.state["token_names"] = manifest.get("labels", {}).get("token_names")
        self.state["dataset"] = manifest.get("name")

    @override
    def build_modules(self) -> dict[str, nn.Module]:
        from aigc_studio.models.sequence_models import build_sequence_model

        return {"model": build_sequence_model(self.model_config)}

    @override
    def optimizer_plans(self) -> dict[str, OptimizerPlan]:
        return {"model": OptimizerPlan(("model",), self.train_config.lr)}

    @override
    def dataset(self, split: str) -> Any:
        from aigc_studio.datasets.torch_dataset import TokenWindowDataset

        assert self.data_root is not None
        return TokenWindowDataset(self.data_root, split, context=self.options["context"])

    @override
    def step(
        self, batch: Any, step: int, modules: dict[str, nn.Module], update: Update
    ) -> dict[str, float]:
        tokens = batch["tokens"] if isinstance(batch, dict) else batch
        logits, _ = modules["model"](tokens[:, :-1])
        loss = next_token_loss(logits, tokens[:, 1:])
        update("model", loss)
        return {"loss": float(loss.detach())}

    @override
    @torch.no_grad()
    def evaluate(self, modules: dict[str, nn.Module], batches: Any) -> dict[str, float]:
        """Held-out negative log-likelihood per token (nats) and perplexity."""
        total, count = 0.0, 0
        for batch in batches:
            tokens = batch["tokens"] if isinstance(batch, dict) else batch
            logits, _ = modules["model"](tokens[:, :-1])
            targets = tokens[:, 1:]
            mask = targets != PAD_ID
            total += float(next_token_loss(logits, targets, reduction="sum"))
            count += int(mask.sum())
        if not count:
            return {}
        nll = total / count
        return {"nll": nll, "perplexity": math.exp(min(nll, 50.0))}

    @override
    @torch.no_grad()
    def generate(
        self, modules: dict[str, nn.Module], n: int, *, seed: int, labels: list[int] | None
    ) -> dict[str, Any]:
        from aigc_studio.models.sampling import sample_sequence

        if labels:
            raise ConfigError("autoregressive models take a prompt, not --label")
        model = modules["model"]
        prompt = torch.full((n, 1), self.options["bos_id"], dtype=torch.long)
        length = min(self.options["generate_tokens"], self.model_config.max_len - 1)
        tokens = sample_sequence(
            model,
            prompt,
            length,
            temperature=self.options["temperature"],
            top_k=self.options["top_k"],
            top_p=self.options["top_p"],
            generator=torch.Generator().manual_seed(seed),
            eos_id=self.options["eos_id"],
        )
        return {"tokens": tokens.numpy(), "token_names": self.state.get("token_names")}


def next_token_loss(
    logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Cross-entropy of next-token predictions, ignoring padding targets."""
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(),
        targets.reshape(-1),
        ignore_index=PAD_ID,
        reduction=reduction,
    )


def dataset_vocab_size(manifest: dict[str, Any]) -> int | None:
    """Return the vocabulary size a token dataset declares (None if it declares none)."""
    for where in (manifest, manifest.get("params", {}), manifest.get("stats") or {}):
        if isinstance(where, dict) and "vocab_size" in where:
            return int(where["vocab_size"])
    names = manifest.get("labels", {}).get("token_names")
    return len(names) if names else None
