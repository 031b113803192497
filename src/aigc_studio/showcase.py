"""The first end-to-end job that ``make demo`` runs: synthesize sample media, process it, record.

It touches every layer the later capabilities stand on: ``dsp`` makes a sample melody with noise
and a sample video, ``media`` writes and reads them, ``dsp`` normalizes loudness (ITU-R BS.1770),
computes a log-mel spectrogram and inverts it with Griffin-Lim, the shipped neural instrument (a
GAN trained by the project) plays the melody, and ``library`` records each output with its
provenance (also embedded in the files).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from aigc_studio.dsp import (
    colored_noise,
    griffin_lim_from_mel,
    log_mel_spectrogram,
    melody_signal,
    normalize_loudness,
)
from aigc_studio.library import OutputLibrary, Provenance
from aigc_studio.media import atomic_output, load_audio, save_audio
from aigc_studio.media.video_io import VideoReader, VideoWriter

SAMPLE_RATE = 22_050
#: "Frère Jacques", two bars: a tune old enough to be free of copyright.
SAMPLE_MELODY = [60, 62, 64, 60, 60, 62, 64, 60, 64, 65, 67, 67]
VIDEO_SIZE = (320, 180)
VIDEO_FPS = 24


@dataclass(frozen=True)
class ShowcaseOutput:
    """One file the showcase wrote."""

    path: Path
    kind: str
    description: str
    record_id: int


def sample_audio(seed: int = 0) -> np.ndarray:
    """Synthesize the sample recording: a melody with pink noise at about -30 LUFS, (1, n)."""
    melody = melody_signal(SAMPLE_MELODY, 0.3, SAMPLE_RATE)
    noise = colored_noise(melody.size / SAMPLE_RATE, SAMPLE_RATE, color="pink", seed=seed)
    return (0.08 * melody + 0.05 * noise)[np.newaxis, :].astype(np.float32)


def sample_frames(n_frames: int, size: tuple[int, int] = VIDEO_SIZE) -> Iterator[np.ndarray]:
    """Yield the sample video's frames: a colored ball crossing a gradient, uint8 RGB."""
    width, height = size
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)
    background = np.stack(
        [
            np.broadcast_to(x, (height, width)),
            np.broadcast_to(y[:, None], (height, width)),
            np.full((height, width), 96.0),
        ],
        axis=-1,
    ).astype(np.uint8)
    for i in range(n_frames):
        frame = background.copy()
        cx = int((i / max(1, n_frames - 1)) * (width - 40)) + 20
        cy = height // 2 + int(30 * np.sin(i / 5))
        cv2.circle(frame, (cx, cy), 18, (250, 200, 40), thickness=-1)
        yield frame


def run_showcase(
    output_dir: str | os.PathLike[str],
    *,
    library: OutputLibrary | None = None,
    on_step: Callable[[str, int, int], None] | None = None,
) -> list[ShowcaseOutput]:
    """Run the demo job and return what it wrote.

    Parameters
    ----------
    output_dir : str or PathLike
        Folder for the outputs (created).
    library : OutputLibrary, optional
        Where to record the outputs; defaults to the user's library.
    on_step : callable, optional
        Called as ``on_step(description, done, total)`` before each step (progress display).

    Returns
    -------
    list of ShowcaseOutput
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    own_library = library is None
    lib = library or OutputLibrary()
    written: list[ShowcaseOutput] = []
    steps = 7

    def step(n: int, text: str) -> None:
        if on_step:
            on_step(text, n, steps)

    def record(path: Path, prov: Provenance, description: str) -> None:
        rec = lib.record(path, prov)
        written.append(ShowcaseOutput(path, prov.kind, description, rec.id))

    try:
        step(0, "synthesizing sample audio")
        raw_path = out / "sample-melody.wav"
        prov = Provenance.create(
            "demo synthesize-audio",
            {"melody": SAMPLE_MELODY, "sr": SAMPLE_RATE},
            kind="audio",
            seed=0,
        )
        save_audio(raw_path, sample_audio(seed=0), SAMPLE_RATE, tags=prov.as_tags())
        record(raw_path, prov, "synthesized melody + pink noise, quiet")

        step(1, "normalizing loudness")
        audio, sr = load_audio(raw_path)
        loud, gain = normalize_loudness(audio, sr, target_lufs=-16.0, true_peak_dbtp=-1.0)
        loud_path = out / "melody-normalized.flac"
        prov = Provenance.create(
            "demo normalize",
            {"target_lufs": -16.0, "true_peak": -1.0, "gain_db": round(gain, 2)},
            kind="audio",
            inputs=[raw_path],
        )
        save_audio(loud_path, loud, sr, tags=prov.as_tags())
        record(loud_path, prov, f"loudness-normalized to -16 LUFS (gain {gain:+.1f} dB)")

        step(2, "computing the log-mel spectrogram")
        log_mel = log_mel_spectrogram(loud, sr)
        image_path = out / "melody-mel.png"
        prov = Provenance.create(
            "demo spectrogram",
            {"n_fft": 1024, "hop_length": 256, "n_mels": 80},
            kind="image",
            inputs=[loud_path],
        )
        _write_spectrogram_png(image_path, log_mel[0])
        record(image_path, prov, "log-mel spectrogram (80 bands)")

        step(3, "inverting it with Griffin-Lim")
        rebuilt = griffin_lim_from_mel(log_mel, sr, n_iter=32, seed=0)
        gl_path = out / "melody-griffinlim.wav"
        prov = Provenance.create(
            "demo griffin-lim", {"n_iter": 32}, kind="audio", inputs=[loud_path], seed=0
        )
        save_audio(gl_path, rebuilt, sr, tags=prov.as_tags())
        record(gl_path, prov, "audio rebuilt from the spectrogram (Griffin-Lim, 32 iterations)")

        step(4, "synthesizing the sample video")
        clip_path = out / "sample-clip.mp4"
        n_frames = int(round(audio.shape[1] / sr * VIDEO_FPS))
        prov = Provenance.create(
            "demo synthesize-video",
            {"size": VIDEO_SIZE, "fps": VIDEO_FPS},
            kind="video",
            inputs=[raw_path],
        )
        with VideoWriter(
            clip_path, VIDEO_FPS, audio=audio, audio_sr=sr, metadata=prov.as_tags()
        ) as writer:
            for frame in sample_frames(n_frames):
                writer.write(frame)
        record(clip_path, prov, "synthesized video with the quiet melody as its sound")

        step(5, "re-encoding the video with normalized sound")
        final_path = out / "clip-normalized.mp4"
        prov = Provenance.create(
            "demo video-normalize",
            {"target_lufs": -16.0},
            kind="video",
            inputs=[clip_path, loud_path],
        )
        with VideoReader(clip_path) as reader:
            track, track_sr = reader.read_audio()
            track, _ = normalize_loudness(track, track_sr, -16.0, -1.0)
            with VideoWriter(
                final_path, reader.fps, audio=track, audio_sr=track_sr, metadata=prov.as_tags()
            ) as writer:
                for frame in reader:
                    writer.write(frame)
        record(final_path, prov, "the video with its sound normalized to -16 LUFS")

        step(6, "playing the melody on the neural instrument")
        neural_path = out / "melody-neural-instrument.wav"
        neural_audio, neural_sr, model, checkpoint = _play_on_neural_instrument()
        prov = Provenance.create(
            "demo neural-instrument",
            {"melody": SAMPLE_MELODY, "note_seconds": 0.3},
            kind="audio",
            model=model,
            checkpoint_sha256=checkpoint,
            seed=0,
        )
        save_audio(neural_path, neural_audio, neural_sr, tags=prov.as_tags())
        record(neural_path, prov, "the melody played by the shipped GAN instrument")
        step(7, "done")
    finally:
        if own_library:
            lib.close()
    return written


def _play_on_neural_instrument() -> tuple[np.ndarray, int, str, str]:
    """Render the sample melody with the shipped neural instrument (audio, sr, model, sha256)."""
    import pretty_midi

    from aigc_studio.library import sha256_file
    from aigc_studio.music.neural_rendering import INSTRUMENT_WEIGHTS
    from aigc_studio.music.rendering import render_midi
    from aigc_studio.weights import shipped_weights

    midi = pretty_midi.PrettyMIDI(initial_tempo=100)
    piano = pretty_midi.Instrument(program=0)
    for i, pitch in enumerate(SAMPLE_MELODY):
        piano.notes.append(pretty_midi.Note(100, pitch, 0.3 * i, 0.3 * i + 0.28))
    midi.instruments.append(piano)
    audio, sr, _ = render_midi(midi, sr=16_000, method="neural")
    weights = shipped_weights(INSTRUMENT_WEIGHTS)
    assert weights is not None  # render_midi raised otherwise
    return audio, sr, INSTRUMENT_WEIGHTS, sha256_file(weights / "model.safetensors")


def _write_spectrogram_png(path: Path, log_mel: np.ndarray) -> None:
    """Write a (n_mels, frames) log-mel spectrogram as a PNG, low frequencies at the bottom."""
    scaled = (log_mel - log_mel.min()) / max(float(np.ptp(log_mel)), 1e-6)
    image = cv2.applyColorMap((255 * scaled[::-1]).astype(np.uint8), cv2.COLORMAP_MAGMA)
    image = cv2.resize(
        image, (image.shape[1] * 2, image.shape[0] * 3), interpolation=cv2.INTER_NEAREST
    )
    with atomic_output(path) as tmp:
        if not cv2.imwrite(str(tmp), image):
            raise OSError(f"cannot write {path}")
