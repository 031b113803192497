"""Remove background noise from recordings, block by block, at any rate and channel count.

Two methods share one streaming path: ``"net"`` runs the trained causal denoiser
(:class:`~aigc_studio.models.denoiser.GRUDenoiser`, shipped as ``weights/denoiser-speech``) at
its own rate, resampling each channel there and back with soxr's streaming resampler; ``"gate"``
is classical spectral gating (:class:`~aigc_studio.audio.spectral_gate.SpectralGate`) at the
input's rate. A DC offset is removed first (a first-order high-pass at 5 Hz). Audio goes through
in blocks with the processors' state carried, so :func:`denoise_file` keeps memory flat on an
hour-long file and gives the same samples as :func:`denoise` on the whole array.

This module denoises; hum removal, clipping repair and loudness are other modules' jobs. Note
that ``"net"`` returns the band of the model's rate only (up to 8 kHz for the 16 kHz model).
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch

from aigc_studio.errors import ConfigError, MediaError, ParameterError, ToolMissingError

#: Name of the shipped denoiser in ``aigc_studio/weights``.
SHIPPED_MODEL = "denoiser-speech"
#: Input processed per step of the streaming path, in seconds.
BLOCK_SECONDS = 10.0
#: Inputs whose peak stays below this (-120 dBFS) are silence and are returned unchanged.
SILENCE_PEAK = 1e-6
#: Corner of the DC-blocking high-pass, Hz.
DC_CUTOFF_HZ = 5.0

Method = Literal["net", "gate"]
#: ``on_progress(done_seconds, total_seconds)``; ``total`` is None when unknown.
ProgressCallback = Callable[[float, float | None], None]


class SilentInputWarning(UserWarning):
    """The input is digital silence; it is returned unchanged (a note, not an error)."""


class StreamingProcessor(Protocol):
    """What the streaming path needs of a denoiser: block steps with carried state."""

    def initial_state(self, batch: int) -> Any:
        """Return the state before the first block of ``batch`` signals."""

    def step(self, block: torch.Tensor, state: Any, strength: float) -> tuple[torch.Tensor, Any]:
        """Process a (B, S) block; return the completed output and the next state."""

    def flush(self, state: Any, strength: float) -> torch.Tensor:
        """Return the output still owed after the last block."""


def denoise(
    audio: np.ndarray,
    sr: int,
    *,
    strength: float = 1.0,
    method: Method = "net",
    model: Any = None,
) -> np.ndarray:
    """Remove background noise from an array.

    Parameters
    ----------
    audio : np.ndarray
        float32 (channels, samples) or (samples,), any channel count.
    sr : int
        Its sample rate (any rate; ``"net"`` resamples to the model's and back).
    strength : float
        In [0, 1]: 1 applies the full noise reduction, 0 returns the input unchanged; between,
        the gains are blended toward 1 (``"gate"``: the attenuation in dB is scaled).
    method : {"net", "gate"}
        The learned causal denoiser, or classical spectral gating.
    model : optional
        For ``"net"``: a ``GRUDenoiser``, a loaded ``TrainedModel``, or a run folder, checkpoint
        or exported weights folder; default the shipped ``denoiser-speech``.

    Returns
    -------
    np.ndarray
        float32 of the input's shape and rate.

    Raises
    ------
    MediaError
        If the audio holds NaN or infinite samples, is malformed, or is shorter than one analysis
        window (20 ms for ``"net"``, 32 ms for ``"gate"``).
    ParameterError
        If ``strength``, ``method`` or ``sr`` is out of range.
    ToolMissingError
        If ``method="net"`` and no trained denoiser is installed (run
        ``make weights-denoiser-speech``, pass ``model=``, or use ``method="gate"``).

    Warns
    -----
    SilentInputWarning
        If the input is digital silence (it is returned unchanged).

    Examples
    --------
    >>> noisy = np.random.default_rng(0).normal(0, 0.05, (2, 16000)).astype(np.float32)
    >>> denoise(noisy, 16000, method="gate").shape
    (2, 16000)
    """
    from aigc_studio.media.checks import as_audio_array, check_sample_rate

    sr = check_sample_rate(sr)
    _check_options(strength, method)
    one_dimensional = np.ndim(audio) == 1
    data = as_audio_array(audio, what="audio")
    processor, rate = _processor(method, model, sr)
    _check_length(data.shape[1], sr, processor, rate)
    if float(np.max(np.abs(data))) < SILENCE_PEAK:
        warnings.warn("the input is silence; returned unchanged", SilentInputWarning, stacklevel=2)
        return data[0].copy() if one_dimensional else data.copy()
    if strength == 0.0:
        return data[0].copy() if one_dimensional else data.copy()
    pipeline = _Pipeline(processor, rate, sr, data.shape[0], strength)
    block = max(1, int(BLOCK_SECONDS * sr))
    pieces = [pipeline.process(data[:, i : i + block]) for i in range(0, data.shape[1], block)]
    pieces.append(pipeline.finish())
    out = _fit_length(np.concatenate(pieces, axis=1), data.shape[1])
    return out[0] if one_dimensional else out


def denoise_file(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    strength: float = 1.0,
    method: Method = "net",
    model: Any = None,
    tags: Mapping[str, str] | None = None,
    on_progress: ProgressCallback | None = None,
) -> Path:
    """Denoise a file into another, in blocks (memory stays flat for WAV/FLAC/OGG/MP3 input).

    The output has the input's rate and channels; its format follows ``out_path``'s suffix
    (WAV/FLAC: 24-bit, or 32-bit float WAV when the input is float) and it appears only when
    complete. Formats libsndfile cannot read (M4A, Opus, video) are decoded whole first.

    Parameters
    ----------
    in_path, out_path : str or PathLike
        Input (any format ``aigc_studio.media`` reads) and output.
    strength, method, model
        As in :func:`denoise`.
    tags : mapping, optional
        Text tags for the output (provenance).
    on_progress : callable, optional
        Called as ``on_progress(done_seconds, total_seconds)`` after each block.

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    MediaError
        If the input is unreadable, holds NaN samples, or is shorter than one analysis window.
    ParameterError, ToolMissingError
        As in :func:`denoise`.

    Warns
    -----
    SilentInputWarning
        If the input is digital silence (the output is a copy).
    """
    from aigc_studio.media.audio_io import SOUNDFILE_FORMATS

    _check_options(strength, method)
    source, target = Path(in_path), Path(out_path)
    if target.suffix.lower() not in SOUNDFILE_FORMATS:
        from aigc_studio.media import load_audio, save_audio

        audio, sr = load_audio(source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SilentInputWarning)
            out = denoise(audio, sr, strength=strength, method=method, model=model)
        _warn_if_silent(float(np.max(np.abs(audio))))
        if on_progress is not None:
            on_progress(audio.shape[1] / sr, audio.shape[1] / sr)
        return save_audio(target, out, sr, tags=tags)
    reader = _BlockReader(source)
    processor, rate = _processor(method, model, reader.sr)
    _check_length(reader.frames, reader.sr, processor, rate)
    pipeline = (
        _Pipeline(processor, rate, reader.sr, reader.channels, strength) if strength > 0 else None
    )
    writer = _BlockWriter(target, reader, tags or {})
    peak = 0.0
    with reader, writer:
        for block in reader.blocks(max(1, int(BLOCK_SECONDS * reader.sr))):
            peak = max(peak, float(np.max(np.abs(block))))
            writer.write(block if pipeline is None else pipeline.process(block))
            if on_progress is not None:
                on_progress(reader.done / reader.sr, reader.frames / reader.sr)
        if pipeline is not None:
            writer.write(pipeline.finish())
    _warn_if_silent(peak)
    return target


def trained_denoiser(path: str | os.PathLike[str] | None = None) -> Any:
    """Load a trained denoiser (a ``TrainedModel``), by default the shipped ``denoiser-speech``.

    Parameters
    ----------
    path : str or PathLike, optional
        A run folder, checkpoint or exported weights folder.

    Raises
    ------
    ToolMissingError
        If ``path`` is None and no trained denoiser is shipped yet.
    ConfigError
        If ``path`` holds another kind of model, or nothing loadable.
    """
    if path is None:
        from aigc_studio.weights import shipped_weights

        folder = shipped_weights(SHIPPED_MODEL)
        if folder is None:
            raise ToolMissingError(
                f"no trained denoiser is installed (weights/{SHIPPED_MODEL}); run "
                f"`make weights-{SHIPPED_MODEL}` to train it, pass a trained model, or use "
                "method='gate' (--method gate)"
            )
        from aigc_studio.training import load_shipped

        return _checked(load_shipped(SHIPPED_MODEL), str(folder))
    from aigc_studio.training import load_trained

    return _checked(load_trained(str(path)), str(path))


def load_denoiser(model: Any = None) -> torch.nn.Module:
    """Return a denoiser network ready for inference.

    Parameters
    ----------
    model : optional
        A ``GRUDenoiser``, a ``TrainedModel``, a run folder / checkpoint / exported weights
        folder, or None for the shipped ``denoiser-speech``.

    Raises
    ------
    ToolMissingError
        If ``model`` is None and no trained denoiser is shipped yet.
    ConfigError
        If ``model`` is not a denoiser.
    """
    from aigc_studio.models.denoiser import GRUDenoiser
    from aigc_studio.training import TrainedModel

    if isinstance(model, GRUDenoiser):
        return model.eval()
    trained = model if isinstance(model, TrainedModel) else trained_denoiser(model)
    network = trained.modules.get("denoiser")
    if not isinstance(network, GRUDenoiser):
        raise ConfigError(f"{trained.source}: holds a {trained.name} model, not a denoiser")
    return network.eval()


def _checked(trained: Any, path: str) -> Any:
    """Return ``trained`` if it is a denoiser (an enhancement model)."""
    if trained.spec.family != "enhancement":
        raise ConfigError(f"{path}: holds a {trained.name} model, not a denoiser")
    return trained


# -- the streaming path ---------------------------------------------------------------------


def _check_options(strength: float, method: str) -> None:
    if isinstance(strength, bool) or not 0.0 <= float(strength) <= 1.0:
        raise ParameterError(f"strength must be in [0, 1], got {strength!r}")
    if method not in ("net", "gate"):
        raise ParameterError(f"method must be 'net' or 'gate', got {method!r}")


def _processor(method: str, model: Any, sr: int) -> tuple[StreamingProcessor, int]:
    """Return the processor and the rate it works at."""
    if method == "gate":
        from aigc_studio.audio.spectral_gate import SpectralGate

        return SpectralGate(sr), sr
    network = load_denoiser(model)
    return network, int(network.config.sr)  # type: ignore[return-value]


def _window_seconds(processor: Any, rate: int) -> float:
    length = getattr(processor, "window_length", None)
    if length is None:
        length = processor.config.n_fft
    return length / rate


def _check_length(samples: int, sr: int, processor: Any, rate: int) -> None:
    window = _window_seconds(processor, rate)
    if samples < math.ceil(window * sr):
        raise MediaError(
            f"audio is {samples} samples ({1000 * samples / sr:.1f} ms) long, shorter than one "
            f"{1000 * window:.0f} ms analysis window; there is nothing to denoise"
        )


def _warn_if_silent(peak: float) -> None:
    if peak < SILENCE_PEAK:
        warnings.warn("the input is silence; written unchanged", SilentInputWarning, stacklevel=3)


def _fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    if audio.shape[1] >= length:
        return np.ascontiguousarray(audio[:, :length], dtype=np.float32)
    return np.pad(audio, ((0, 0), (0, length - audio.shape[1]))).astype(np.float32)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one thread while the block is processed.

    The per-frame work is too small to gain from more threads, and on a loaded machine idle
    intra-op threads spin and make it tens of times slower.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class _Pipeline:
    """DC blocker → resampler → processor → resampler, one state per channel, block by block."""

    def __init__(
        self, processor: StreamingProcessor, rate: int, sr: int, channels: int, strength: float
    ) -> None:
        import soxr
        from scipy import signal as sps

        self.processor = processor
        self.strength = float(strength)
        self.state = processor.initial_state(channels)
        self.channels = channels
        self.down = self.up = None
        if rate != sr:
            self.down = soxr.ResampleStream(sr, rate, channels, dtype="float32", quality="HQ")
            self.up = soxr.ResampleStream(rate, sr, channels, dtype="float32", quality="HQ")
        self.dc_b, self.dc_a = sps.butter(1, DC_CUTOFF_HZ, btype="high", fs=sr)
        self.dc_state = np.zeros((channels, 1))

    def process(self, block: np.ndarray) -> np.ndarray:
        from scipy import signal as sps

        filtered, self.dc_state = sps.lfilter(self.dc_b, self.dc_a, block, axis=1, zi=self.dc_state)
        return self._through(filtered.astype(np.float32), last=False)

    def finish(self) -> np.ndarray:
        return self._through(np.zeros((self.channels, 0), np.float32), last=True)

    def _through(self, block: np.ndarray, *, last: bool) -> np.ndarray:
        if self.down is not None:
            block = self.down.resample_chunk(np.ascontiguousarray(block.T), last=last).T
        with torch.inference_mode(), _one_thread():
            out, self.state = self.processor.step(
                torch.from_numpy(np.ascontiguousarray(block, dtype=np.float32)),
                self.state,
                self.strength,
            )
            if last:
                out = torch.cat([out, self.processor.flush(self.state, self.strength)], dim=-1)
        result = out.numpy()
        if self.up is not None:
            result = self.up.resample_chunk(np.ascontiguousarray(result.T), last=last).T
        return result


class _BlockReader:
    """Read an audio file in blocks: libsndfile where it can, else decode it whole (PyAV)."""

    def __init__(self, path: Path) -> None:
        import soundfile as sf

        from aigc_studio.media.checks import existing_file

        self.path = existing_file(path)
        self.done = 0
        self.handle: Any = None
        self.array: np.ndarray | None = None
        try:
            info = sf.info(str(self.path))
            self.sr, self.channels, self.frames = info.samplerate, info.channels, info.frames
            self.subtype = info.subtype
            self.handle = sf.SoundFile(str(self.path))
        except Exception:  # not a libsndfile format: decode through PyAV
            from aigc_studio.media import load_audio

            self.array, self.sr = load_audio(self.path)
            self.channels, self.frames = self.array.shape
            self.subtype = "FLOAT"
        if self.frames <= 0:
            raise MediaError(f"{self.path}: audio has no samples")

    def blocks(self, size: int) -> Iterator[np.ndarray]:
        """Yield (channels, samples) float32 blocks, refusing NaN and infinite samples."""
        while self.done < self.frames:
            if self.array is not None:
                block = self.array[:, self.done : self.done + size]
            else:
                try:
                    block = self.handle.read(size, dtype="float32", always_2d=True).T
                except Exception as exc:
                    raise MediaError(f"{self.path}: corrupt or truncated audio ({exc})") from exc
            if block.shape[1] == 0:
                break  # a header that promised more frames than the file holds
            if not np.isfinite(block).all():
                raise MediaError(
                    f"{self.path}: NaN or infinite samples near "
                    f"{self.done / self.sr:.2f} s; repair or trim the file first"
                )
            self.done += block.shape[1]
            yield np.ascontiguousarray(block)

    def __enter__(self) -> _BlockReader:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()


class _BlockWriter:
    """Write blocks into a temporary file renamed into place when complete; exactly N frames."""

    def __init__(self, path: Path, reader: _BlockReader, tags: Mapping[str, str]) -> None:
        from aigc_studio.media.audio_io import SOUNDFILE_FORMATS, SOUNDFILE_TAGS

        self.path = path
        self.reader = reader
        self.remaining = reader.frames
        fmt, subtype = SOUNDFILE_FORMATS[path.suffix.lower()]
        if fmt == "WAV" and reader.subtype in ("FLOAT", "DOUBLE"):
            subtype = "FLOAT"
        self.format, self.subtype = fmt, subtype
        self.tags = {k: v for k, v in tags.items() if k in SOUNDFILE_TAGS}
        self.clip = subtype != "FLOAT"
        self.clipped = 0

    def __enter__(self) -> _BlockWriter:
        import soundfile as sf

        from aigc_studio.media.atomic import atomic_output

        self._atomic = atomic_output(self.path)
        tmp = self._atomic.__enter__()
        try:
            self.handle = sf.SoundFile(
                str(tmp),
                "w",
                samplerate=self.reader.sr,
                channels=self.reader.channels,
                format=self.format,
                subtype=self.subtype,
            )
            for name, value in self.tags.items():
                setattr(self.handle, name, value)
        except Exception as exc:
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)
            raise MediaError(f"{self.path}: cannot write {self.format} ({exc})") from exc
        return self

    def write(self, block: np.ndarray) -> None:
        block = block[:, : self.remaining]
        if self.clip:
            self.clipped += int(np.count_nonzero(np.abs(block) > 1.0))
            block = np.clip(block, -1.0, 1.0)
        if block.shape[1]:
            self.handle.write(np.ascontiguousarray(block.T))
            self.remaining -= block.shape[1]

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None and self.remaining > 0:  # resampling rounding: pad the last samples
            self.handle.write(np.zeros((self.remaining, self.reader.channels), np.float32))
            self.remaining = 0
        self.handle.close()
        self._atomic.__exit__(exc_type, exc, tb)
        if exc_type is None and self.clipped:
            warnings.warn(
                f"{self.path}: {self.clipped} samples above full scale were clipped; write WAV "
                "from a float input to keep them",
                stacklevel=2,
            )
