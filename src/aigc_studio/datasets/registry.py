"""Find the preparer for a dataset name or folder and prepare its cache once.

``prepare_dataset("nsynth-gm")`` renders NSynth-GM into ``$AIGC_HOME/datasets/nsynth-gm`` the
first time and returns the existing cache afterwards; ``prepare_dataset("~/samples")`` slices a
folder of audio files (or tokenizes a folder of MIDI files). This is the library API under
``aigc data prepare``; it does not train.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aigc_studio.datasets.audio_folder import AUDIO_SUFFIXES, prepare_audio_folder
from aigc_studio.datasets.cache import (
    default_dataset_root,
    is_complete_cache,
    read_manifest,
    to_jsonable,
)
from aigc_studio.datasets.chorale_tokens import prepare_bach_chorales
from aigc_studio.datasets.folk_melodies import prepare_folk_melodies
from aigc_studio.datasets.melody_tokens import (
    MIDI_SUFFIXES,
    prepare_bach_melodies,
    prepare_midi_folder_tokens,
)
from aigc_studio.datasets.nsynth_gm import prepare_nsynth_gm
from aigc_studio.datasets.speech_noise import prepare_speech_noise
from aigc_studio.datasets.video_frames import prepare_frame_triplets, prepare_sharp_frames
from aigc_studio.errors import ConfigError

ProgressCallback = Callable[[str, int, int], None]

#: Named datasets: name -> preparer ``f(out_root, *, progress=None, **options) -> Path``.
DATASETS: dict[str, Callable[..., Path]] = {
    "nsynth-gm": prepare_nsynth_gm,
    "bach-melodies": prepare_bach_melodies,
    "bach-chorales": prepare_bach_chorales,
    "folk-melodies": prepare_folk_melodies,
    "speech-noise": prepare_speech_noise,
    "frame-triplets": prepare_frame_triplets,
    "sharp-frames": prepare_sharp_frames,
}

#: Options that change how a preparation runs but not what it produces.
_RUN_OPTIONS = frozenset({"workers"})


def folder_dataset_name(folder: str | Path) -> str:
    """Return the cache name of a source folder: its name plus a short hash of its full path.

    Two folders both called ``samples`` get different caches.
    """
    resolved = Path(folder).expanduser().resolve()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", resolved.name).strip("-.") or "folder"
    digest = hashlib.sha1(str(resolved).encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}"


def prepare_dataset(
    name_or_dir: str,
    out: Path | None = None,
    *,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> Path:
    """Prepare a dataset cache, or return the one already prepared.

    Parameters
    ----------
    name_or_dir : str
        A name in ``DATASETS`` ("nsynth-gm", "bach-melodies", "folk-melodies",
        "speech-noise", "frame-triplets", "sharp-frames"), or a folder: a folder that holds
        only MIDI files is tokenized (``prepare_midi_folder_tokens``), any other is sliced as
        audio (``prepare_audio_folder``).
    out : Path, optional
        The cache folder; default :func:`~aigc_studio.datasets.cache.default_dataset_root` of the
        name (a folder's name is :func:`folder_dataset_name`).
    progress : callable, optional
        Called as ``progress(description, done, total)``.
    **options
        ``overwrite=True`` prepares again even when a complete cache exists; the rest go to the
        preparer (e.g. ``programs=[73]``, ``max_pieces=10``, ``segment_samples=8192``).

    Returns
    -------
    Path
        The cache folder.

    Raises
    ------
    ConfigError
        If ``name_or_dir`` is neither a known name nor a folder, if an option is unknown to the
        preparer, or if an existing cache was made with other options (pass ``overwrite=True``).
    """
    overwrite = bool(options.pop("overwrite", False))
    if name_or_dir in DATASETS:
        name = name_or_dir
        preparer = DATASETS[name]

        def run(root: Path) -> Path:
            return preparer(root, progress=progress, **options)

    else:
        folder = Path(name_or_dir).expanduser()
        if not folder.is_dir():
            raise ConfigError(
                f"unknown dataset {name_or_dir!r}: use one of {sorted(DATASETS)} or a folder of "
                "audio or MIDI files"
            )
        name = folder_dataset_name(folder)
        preparer = prepare_midi_folder_tokens if _holds_only_midi(folder) else prepare_audio_folder

        def run(root: Path) -> Path:
            return preparer(folder, root, progress=progress, **options)

    _check_options(preparer, options, name_or_dir)
    root = Path(out) if out is not None else default_dataset_root(name)
    if not overwrite and is_complete_cache(root):
        _check_same_options(
            read_manifest(root)["params"], _effective_options(preparer, options), root
        )
        return root
    return run(root)


def _holds_only_midi(folder: Path) -> bool:
    """Whether the folder has MIDI files and no audio files (other files do not count)."""
    suffixes = {
        path.suffix.lower()
        for path in folder.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    }
    return bool(suffixes & set(MIDI_SUFFIXES)) and not suffixes & set(AUDIO_SUFFIXES)


def _check_options(preparer: Callable[..., Path], options: Mapping[str, Any], what: str) -> None:
    import inspect

    accepted = {
        name
        for name, parameter in inspect.signature(preparer).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name != "progress"
    }
    unknown = set(options) - accepted
    if unknown:
        raise ConfigError(
            f"dataset {what!r} does not take option(s) {sorted(unknown)}; it takes "
            f"{sorted(accepted) + ['overwrite']}"
        )


def _effective_options(preparer: Callable[..., Path], options: Mapping[str, Any]) -> dict[str, Any]:
    """Return the preparer's keyword defaults updated with the options given."""
    import inspect

    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(preparer).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name != "progress"
    }
    return {**defaults, **options}


def _check_same_options(params: Mapping[str, Any], options: Mapping[str, Any], root: Path) -> None:
    """Refuse to hand back a cache made with other option values than those asked for now.

    Preparers record their keyword arguments, as given, under the same names in ``params``.
    """
    for key, value in options.items():
        if key in _RUN_OPTIONS or key not in params:
            continue
        if to_jsonable(value) != params[key]:
            raise ConfigError(
                f"{root}: the cache was prepared with {key}={params[key]!r}, not "
                f"{to_jsonable(value)!r}; pass overwrite=True (--overwrite) to prepare it again, "
                "or another output folder"
            )
