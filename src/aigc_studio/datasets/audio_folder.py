"""A dataset made from the user's own folder of audio files, sliced into fixed-length segments.

Every audio file under the folder (recursively) is decoded to mono at the dataset rate and cut
into segments of ``segment_samples``; near-silent segments are dropped. All segments of one file
go to the same split (the split is a hash of the file's relative path), so a model is never
tested on another part of a recording it trained on. Segments keep their recorded level: unlike
single notes, the segments of a longer recording would have their quiet passages blown up by
per-segment normalization.

A file that cannot be decoded is reported in the manifest's ``"skipped"`` list and the rest are
prepared. All segments are held in memory while preparing: this suits folders of up to a few
hours of audio, not whole archives. This module does not touch the source files.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from aigc_studio.datasets.audio_features import (
    AudioFeatureConfig,
    compute_log_mel,
    train_mel_stats,
)
from aigc_studio.datasets.cache import write_cache
from aigc_studio.datasets.split import SPLITS, split_of
from aigc_studio.errors import MediaError, ParameterError
from aigc_studio.media import load_audio

#: File suffixes read as audio (lower case); other files in the folder are ignored.
AUDIO_SUFFIXES = (
    ".wav", ".flac", ".ogg", ".oga", ".mp3", ".m4a", ".aac", ".opus", ".aif", ".aiff", ".wma",
)  # fmt: skip

ProgressCallback = Callable[[str, int, int], None]


def find_audio_files(source_dir: str | os.PathLike[str]) -> list[Path]:
    """Return the audio files under a folder, recursively, sorted; hidden entries are ignored.

    Raises
    ------
    ParameterError
        If ``source_dir`` is not a folder.
    """
    folder = Path(source_dir)
    if not folder.is_dir():
        raise ParameterError(f"source_dir must be a folder, got {folder}")
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES:
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def slice_segments(
    audio: np.ndarray, segment_samples: int, hop_samples: int, min_rms_db: float
) -> list[tuple[int, np.ndarray]]:
    """Cut a mono signal into segments and keep those louder than ``min_rms_db``.

    A signal shorter than one segment gives one zero-padded segment (one-shot samples are
    common in sound folders); a tail of at least half a segment is zero-padded and kept.

    Parameters
    ----------
    audio : np.ndarray
        float32 (samples,).
    segment_samples, hop_samples : int
        Segment length and the step between segment starts.
    min_rms_db : float
        Segments whose RMS is below this (dB re full scale) are dropped.

    Returns
    -------
    list of (int, np.ndarray)
        Segment index (start = index * hop) and the float32 (segment_samples,) segment.
    """
    n = audio.shape[0]
    starts = list(range(0, max(n - segment_samples, 0) + 1, hop_samples))
    last_end = starts[-1] + segment_samples
    if n > last_end and n - (starts[-1] + hop_samples) >= segment_samples // 2:
        starts.append(starts[-1] + hop_samples)
    threshold = 10.0 ** (min_rms_db / 20.0)
    kept = []
    for index, start in enumerate(starts):
        segment = audio[start : start + segment_samples]
        if segment.shape[0] < segment_samples:
            segment = np.pad(segment, (0, segment_samples - segment.shape[0]))
        if np.sqrt(np.mean(np.square(segment, dtype=np.float64))) >= threshold:
            kept.append((index, segment.astype(np.float32)))
    return kept


def prepare_audio_folder(
    source_dir: str | os.PathLike[str],
    out_root: str | os.PathLike[str],
    *,
    sr: int = 16_000,
    segment_samples: int = 16_384,
    hop_samples: int | None = None,
    min_rms_db: float = -50.0,
    progress: ProgressCallback | None = None,
) -> Path:
    """Slice a folder of audio files into a dataset cache of segments.

    Each split stores ``audio`` (N, segment_samples) float32 at the recorded level, ``mel``
    (N, 128, frames) float32 log-mel (see :mod:`~aigc_studio.datasets.audio_features`),
    ``file`` (int32 index into ``manifest["labels"]["file"]``) and ``item_id``
    (``"<relative path>#<segment index>"``). The manifest's ``stats`` are the mel normalization
    statistics of the train split (``{"mean", "std", "from"}``); ``"skipped"`` lists the
    unreadable files with the reason.

    Parameters
    ----------
    source_dir : str or PathLike
        Folder of audio files (WAV, FLAC, OGG, MP3, M4A, Opus, AIFF, ...), searched recursively.
    out_root : str or PathLike
        The cache folder to write.
    sr : int
        Dataset sample rate (8000-48000 Hz); files are resampled to it.
    segment_samples : int
        Samples per segment (at least 1024).
    hop_samples : int, optional
        Step between segment starts, 1 to ``segment_samples``; default ``segment_samples``
        (no overlap).
    min_rms_db : float
        Segments quieter than this RMS (dB re full scale, -120 to 0) are dropped as silence.
    progress : callable, optional
        Called as ``progress(description, done, total)`` after each file.

    Returns
    -------
    Path
        ``out_root``.

    Raises
    ------
    ParameterError
        If a parameter is out of range or ``source_dir`` is not a folder.
    MediaError
        If no file in the folder holds readable, non-silent audio.

    Examples
    --------
    >>> prepare_audio_folder("my-samples", "cache/my-samples")  # doctest: +SKIP
    PosixPath('cache/my-samples')
    """
    hop_option = hop_samples
    hop_samples = segment_samples if hop_samples is None else hop_samples
    if not 8000 <= sr <= 48_000:
        raise ParameterError(f"sr must be in [8000, 48000] Hz, got {sr}")
    if segment_samples < 1024:
        raise ParameterError(f"segment_samples must be at least 1024, got {segment_samples}")
    if not 1 <= hop_samples <= segment_samples:
        raise ParameterError(
            f"hop_samples must be in [1, segment_samples={segment_samples}], got {hop_samples}"
        )
    if not -120.0 <= min_rms_db <= 0.0:
        raise ParameterError(f"min_rms_db must be in [-120, 0] dB, got {min_rms_db}")
    source = Path(source_dir)
    files = find_audio_files(source)
    features = AudioFeatureConfig(sr=sr, segment_samples=segment_samples, fmax=min(8000.0, sr / 2))
    columns: dict[str, dict[str, list]] = {
        split: {"audio": [], "mel": [], "file": [], "item_id": []} for split in SPLITS
    }
    file_names: list[str] = []
    skipped: list[dict[str, str]] = []
    silent_files = 0
    for done, path in enumerate(files, start=1):
        relative = path.relative_to(source).as_posix()
        try:
            audio, _ = load_audio(path, sr=sr, mono=True)
        except MediaError as exc:
            skipped.append({"file": relative, "reason": str(exc)})
        else:
            segments = slice_segments(audio[0], segment_samples, hop_samples, min_rms_db)
            if segments:
                split = columns[split_of(relative)]
                file_index = len(file_names)
                file_names.append(relative)
                for index, segment in segments:
                    split["audio"].append(segment)
                    split["mel"].append(compute_log_mel(segment, features))
                    split["file"].append(file_index)
                    split["item_id"].append(f"{relative}#{index}")
            else:
                silent_files += 1
        if progress is not None:
            progress(f"slice {source.name}", done, len(files))
    if not file_names:
        raise MediaError(
            f"{source}: no readable, non-silent audio among {len(files)} audio file(s)"
            + (f" ({len(skipped)} unreadable, e.g. {skipped[0]['reason']})" if skipped else "")
        )
    fields_by_split = {split: _as_arrays(columns[split], features) for split in SPLITS}
    params = {
        "source_dir": str(source.resolve()),
        "sr": sr,
        "segment_samples": segment_samples,
        "hop_samples": hop_option,
        "segment_hop": hop_samples,
        "min_rms_db": min_rms_db,
        "features": features.to_dict(),
        "normalization": "none (recorded level)",
        "split": "split_of(relative file path, valid_fraction=0.1, test_fraction=0.1)",
    }
    return write_cache(
        out_root,
        source.name or "audio-folder",
        params,
        fields_by_split,
        stats=train_mel_stats({s: fields_by_split[s]["mel"] for s in SPLITS}),
        labels={"file": file_names},
        extra={"skipped": skipped, "silent_files": silent_files},
    )


def _as_arrays(columns: dict[str, list], features: AudioFeatureConfig) -> dict[str, np.ndarray]:
    if not columns["item_id"]:
        return {
            "audio": np.zeros((0, features.segment_samples), np.float32),
            "mel": np.zeros((0, features.n_mels, features.frames), np.float32),
            "file": np.zeros(0, np.int32),
            "item_id": np.zeros(0, dtype="<U1"),
        }
    return {
        "audio": np.stack(columns["audio"]),
        "mel": np.stack(columns["mel"]),
        "file": np.asarray(columns["file"], dtype=np.int32),
        "item_id": np.asarray(columns["item_id"], dtype=str),
    }
