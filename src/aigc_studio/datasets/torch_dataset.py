"""PyTorch views of a prepared dataset cache, for the Trainer's DataLoaders.

:class:`CachedDataset` yields one item of an audio cache (mel, audio, labels) as a dict of
tensors; :class:`TokenWindowDataset` yields fixed-length windows of a token cache for next-token
training. Both memory-map the cache, open it lazily in each DataLoader worker (so that workers do
not receive copies of the arrays), and map an index to an item deterministically; shuffling is
the DataLoader's job. They do not prepare caches: see :func:`aigc_studio.datasets.prepare_dataset`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from aigc_studio.datasets.audio_features import normalize_mel
from aigc_studio.datasets.cache import OFFSETS_SUFFIX, load_split, read_manifest
from aigc_studio.datasets.split import SPLITS
from aigc_studio.dsp.spectral import LOG_FLOOR
from aigc_studio.errors import ConfigError, ParameterError


class CachedDataset(Dataset):
    """Items of a dataset cache as dicts of tensors.

    Parameters
    ----------
    root : str or PathLike
        The cache folder (e.g. ``default_dataset_root("nsynth-gm")``).
    split : {"train", "valid", "test"}
        Which split.
    fields : sequence of str
        Fields to return, e.g. ``("mel", "pitch")``. ``mel`` is float32 (1, n_mels, frames),
        ``audio`` float32 (samples,), integer fields (``pitch``, ``velocity``, ``instrument``,
        ``file``) int64 scalars, string fields (``item_id``) ``str``, a variable-length field
        (``tokens``) an int64 vector whose length varies per item.
    normalize_mel : bool
        Scale ``mel`` per bin into [-1, 1] with the manifest's ``stats`` mean/std (SpecGAN's
        normalization, Donahue et al. 2018; see ``audio_features.normalize_mel``).
    frames : int, optional
        Crop ``mel`` to its first ``frames`` frames, or pad it at the end with silence (the
        log floor); e.g. 64 for SpecGAN. Default: as stored.
    mmap : bool
        Memory-map the arrays (default) instead of reading them into memory.

    Attributes
    ----------
    manifest : dict
        The cache's manifest (labels, stats, params).

    Raises
    ------
    ParameterError
        If ``split`` or ``frames`` is out of range.
    ConfigError
        If the cache is missing, lacks a field, or lacks mel statistics when normalizing.

    Examples
    --------
    >>> ds = CachedDataset(default_dataset_root("nsynth-gm"), "train", ("mel", "pitch"),
    ...                    frames=64)  # doctest: +SKIP
    >>> ds[0]["mel"].shape  # doctest: +SKIP
    torch.Size([1, 128, 64])
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str,
        fields: Sequence[str] = ("mel",),
        *,
        normalize_mel: bool = True,
        frames: int | None = None,
        mmap: bool = True,
    ) -> None:
        if split not in SPLITS:
            raise ParameterError(f"split must be one of {list(SPLITS)}, got {split!r}")
        if frames is not None and frames < 1:
            raise ParameterError(f"frames must be at least 1, got {frames}")
        self.root = Path(root)
        self.split = split
        self.fields = tuple(fields)
        self.normalize_mel = normalize_mel
        self.frames = frames
        self.mmap = mmap
        self.manifest = read_manifest(self.root)
        known = self.manifest["fields"]
        missing = [field for field in self.fields if field not in known]
        if missing:
            raise ConfigError(
                f"{self.root}: dataset has no field(s) {missing}; it has {sorted(known)}"
            )
        stats = self.manifest.get("stats") or {}
        self._mel_stats = stats if {"mean", "std"} <= set(stats) else None
        if "mel" in self.fields and normalize_mel and not self._mel_stats:
            raise ConfigError(
                f"{self.root}: manifest has no stats mean/std to normalize mel with; "
                "pass normalize_mel=False or prepare the dataset again"
            )
        self._length = int(self.manifest["splits"][split])
        self._arrays: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -self._length <= index < self._length:
            raise IndexError(f"index {index} out of range for {self._length} items")
        index %= self._length
        arrays = self._open()
        item: dict[str, Any] = {}
        for field in self.fields:
            spec = self.manifest["fields"][field]
            if spec.get("ragged"):
                offsets = arrays[field + OFFSETS_SUFFIX]
                values = arrays[field][int(offsets[index]) : int(offsets[index + 1])]
                item[field] = torch.from_numpy(np.asarray(values, dtype=np.int64))
                continue
            value = arrays[field][index]
            if field == "mel":
                item[field] = torch.from_numpy(self._mel(np.asarray(value, dtype=np.float32)))
            elif value.dtype.kind == "U":
                item[field] = str(value)
            elif value.dtype.kind in "iub":
                item[field] = torch.tensor(np.asarray(value, dtype=np.int64))
            else:
                item[field] = torch.from_numpy(np.array(value, dtype=np.float32))
        return item

    def _mel(self, mel: np.ndarray) -> np.ndarray:
        if self.frames is not None:
            if mel.shape[-1] >= self.frames:
                mel = mel[..., : self.frames]
            else:
                pad = self.frames - mel.shape[-1]
                mel = np.pad(mel, ((0, 0), (0, pad)), constant_values=np.log(LOG_FLOOR))
        if self.normalize_mel:
            mel = normalize_mel(mel, self._mel_stats)
        return np.ascontiguousarray(mel[np.newaxis], dtype=np.float32)

    def _open(self) -> dict[str, np.ndarray]:
        if self._arrays is None:
            self._arrays = load_split(self.root, self.split, self.fields, mmap=self.mmap)
        return self._arrays

    def __getstate__(self) -> dict[str, Any]:
        # DataLoader workers reopen the memory maps instead of receiving pickled arrays.
        state = self.__dict__.copy()
        state["_arrays"] = None
        return state


class TokenWindowDataset(Dataset):
    """Fixed-length windows of a split's token stream, for next-token training.

    The items' tokens (each ``BOS ... EOS``) are concatenated in stored order; window ``i``
    is ``stream[i * stride : i * stride + context + 1]`` with ``stride = context // 2``, as an
    int64 tensor of length ``context + 1`` (the trainer takes ``[:-1]`` as inputs and ``[1:]``
    as targets). A stream shorter than one window gives a single window padded with PAD (0),
    which the loss should ignore.

    Parameters
    ----------
    root : str or PathLike
        The cache folder of a token dataset (e.g. ``default_dataset_root("bach-melodies")``).
    split : {"train", "valid", "test"}
        Which split.
    context : int
        Model context length (at least 2).
    field : str
        The variable-length token field.

    Attributes
    ----------
    manifest : dict
        The cache's manifest; ``manifest["vocab"]`` describes the vocabulary and
        ``manifest["labels"]["token_names"]`` names the tokens.
    vocab_size : int or None
        From the manifest, where it records one.
    stride : int
        Distance between window starts.

    Raises
    ------
    ParameterError
        If ``split`` or ``context`` is out of range.
    ConfigError
        If the cache is missing or ``field`` is not a token field.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str,
        context: int = 256,
        *,
        field: str = "tokens",
    ) -> None:
        if split not in SPLITS:
            raise ParameterError(f"split must be one of {list(SPLITS)}, got {split!r}")
        if context < 2:
            raise ParameterError(f"context must be at least 2, got {context}")
        self.root = Path(root)
        self.split = split
        self.context = context
        self.field = field
        self.stride = max(1, context // 2)
        self.manifest = read_manifest(self.root)
        spec = self.manifest["fields"].get(field)
        if spec is None or not spec.get("ragged"):
            raise ConfigError(
                f"{self.root}: {field!r} is not a token field of this dataset "
                f"(fields: {sorted(self.manifest['fields'])})"
            )
        self.vocab_size = self.manifest.get("vocab_size")
        self.pad_id = int(self.manifest.get("vocab", {}).get("pad", 0))
        self._stream_length = self._count_tokens()
        window = context + 1
        if self._stream_length >= window:
            self._length = (self._stream_length - window) // self.stride + 1
        else:
            self._length = 1 if self._stream_length > 0 else 0
        self._stream: np.ndarray | None = None

    def _count_tokens(self) -> int:
        offsets = load_split(self.root, self.split, [self.field])[self.field + OFFSETS_SUFFIX]
        return int(offsets[-1])

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> torch.Tensor:
        if not -self._length <= index < self._length:
            raise IndexError(f"index {index} out of range for {self._length} windows")
        index %= self._length
        if self._stream is None:
            self._stream = load_split(self.root, self.split, [self.field])[self.field]
        start = index * self.stride
        window = np.asarray(self._stream[start : start + self.context + 1], dtype=np.int64)
        if window.shape[0] < self.context + 1:
            window = np.pad(
                window, (0, self.context + 1 - window.shape[0]), constant_values=self.pad_id
            )
        return torch.from_numpy(window)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_stream"] = None
        return state
