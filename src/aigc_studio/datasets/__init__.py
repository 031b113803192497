"""Step 1 of the model pipeline: prepare a dataset once into a cache with a fixed split.

A dataset is a name (``"nsynth-gm"``, ``"bach-melodies"``) or a folder of audio or MIDI files.
:func:`prepare_dataset` decodes, resamples, slices or tokenizes it once into a cache folder
(``$AIGC_HOME/datasets/<name>``: ``.npy`` arrays per split and field plus ``manifest.json``,
see :mod:`~aigc_studio.datasets.cache`); every item's train/valid/test split is a stable hash of
its id (:func:`split_of`). The Trainer reads caches through :class:`CachedDataset` and
:class:`TokenWindowDataset` (imported on first use, so that preparing data does not load torch).

This package does not train or evaluate models.

Examples
--------
>>> root = prepare_dataset("bach-melodies")  # doctest: +SKIP
>>> TokenWindowDataset(root, "train", context=256)[0].shape  # doctest: +SKIP
torch.Size([257])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aigc_studio.datasets.audio_features import (
    AudioFeatureConfig,
    compute_log_mel,
    denormalize_mel,
    mel_normalization_stats,
    normalize_mel,
)
from aigc_studio.datasets.audio_folder import prepare_audio_folder
from aigc_studio.datasets.cache import (
    FORMAT_VERSION,
    default_dataset_root,
    is_complete_cache,
    load_split,
    read_manifest,
    write_cache,
)
from aigc_studio.datasets.melody_tokens import (
    MelodyEvent,
    MelodyTokenizer,
    prepare_bach_melodies,
    prepare_midi_folder_tokens,
)
from aigc_studio.datasets.nsynth_gm import DEFAULT_PROGRAMS, prepare_nsynth_gm
from aigc_studio.datasets.registry import DATASETS, prepare_dataset
from aigc_studio.datasets.split import SPLITS, split_of

if TYPE_CHECKING:
    from aigc_studio.datasets.torch_dataset import CachedDataset, TokenWindowDataset

__all__ = [
    "DATASETS",
    "DEFAULT_PROGRAMS",
    "FORMAT_VERSION",
    "SPLITS",
    "AudioFeatureConfig",
    "CachedDataset",
    "MelodyEvent",
    "MelodyTokenizer",
    "TokenWindowDataset",
    "compute_log_mel",
    "default_dataset_root",
    "denormalize_mel",
    "is_complete_cache",
    "load_split",
    "mel_normalization_stats",
    "normalize_mel",
    "prepare_audio_folder",
    "prepare_bach_melodies",
    "prepare_dataset",
    "prepare_midi_folder_tokens",
    "prepare_nsynth_gm",
    "read_manifest",
    "split_of",
    "write_cache",
]


def __getattr__(name: str) -> Any:
    if name in {"CachedDataset", "TokenWindowDataset"}:
        from aigc_studio.datasets import torch_dataset

        return getattr(torch_dataset, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
