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
    steps = 10

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

        step(7, "composing a folk tune with the melody model")
        for path, prov, description in _compose_tune(out):
            record(path, prov, description)

        step(8, "harmonizing the tune in four parts")
        for path, prov, description in _harmonize_tune(out):
            record(path, prov, description)

        step(9, "cleaning up a noisy voice recording")
        for path, prov, description in _enhance_speech(out):
            record(path, prov, description)
        step(10, "done")
    finally:
        if own_library:
            lib.close()
    return written


#: The demo composition's controls.
DEMO_PROMPT = "a lively folk tune in D major, 8 bars"


def _compose_tune(out: Path) -> list[tuple[Path, Provenance, str]]:
    """Compose 8 copy-checked bars with the shipped melody model; write MIDI, MusicXML, WAV."""
    from aigc_studio.media import save_midi
    from aigc_studio.music.compose import compose_melody
    from aigc_studio.music.copy_check import corpus_index
    from aigc_studio.music.prompt import CompositionControls, merge_controls, parse_prompt
    from aigc_studio.music.rendering import render_midi
    from aigc_studio.music.scores import melody_to_midi, melody_to_score, write_musicxml
    from aigc_studio.training import load_trained

    trained = load_trained("melody-folk")
    index = corpus_index(Path(trained.source) / "copy-index.npz")
    defaults = CompositionControls("folk", 7, "major", "4/4", 100.0, 16, 1.0)
    controls = merge_controls(parse_prompt(DEMO_PROMPT), CompositionControls(), defaults)
    result = compose_melody(trained, controls, seed=0, copy_index=index)
    key = (controls.key, controls.mode or "major")
    midi = melody_to_midi(result.events, tempo=controls.tempo, meter=controls.meter, key=key)
    params = {"prompt": DEMO_PROMPT, **result.controls.to_dict(), "copy_check": result.copy_report}

    def prov(kind: str, inputs: tuple = ()) -> Provenance:
        return Provenance.create(
            "demo compose",
            params,
            kind=kind,
            inputs=inputs,
            model=trained.name,
            checkpoint_sha256=trained.source_sha256,
            seed=result.seed,
        )

    mid_path, xml_path, wav_path = out / "tune.mid", out / "tune.musicxml", out / "tune.wav"
    mid_prov = prov("midi")
    save_midi(mid_path, midi, tags=mid_prov.as_tags())
    score = melody_to_score(
        result.events, meter=controls.meter, key=key, tempo=controls.tempo, title=DEMO_PROMPT
    )
    write_musicxml(score, xml_path)
    audio, sr, used = render_midi(midi, instrument="flute", sr=44_100)
    wav_prov = prov("audio", (mid_path,))
    save_audio(wav_path, audio, sr, tags=wav_prov.as_tags())
    shared = (result.copy_report or {}).get("length_notes")
    return [
        (
            mid_path,
            mid_prov,
            f'"{DEMO_PROMPT}" composed (longest run shared with the corpus: {shared} notes)',
        ),
        (xml_path, prov("score"), "the same tune as MusicXML (opens in MuseScore)"),
        (wav_path, wav_prov, f"the tune rendered on a flute ({used})"),
    ]


def _harmonize_tune(out: Path) -> list[tuple[Path, Provenance, str]]:
    """Harmonize the composed tune with the shipped chorale model (SATB MIDI)."""
    from aigc_studio.datasets.chorale_tokens import (
        midi_meter_and_key,
        soprano_steps_from_midi,
        voices_to_pretty_midi,
    )
    from aigc_studio.media import load_midi, save_midi
    from aigc_studio.music.harmonize import harmonize
    from aigc_studio.training import load_trained

    tune = load_midi(out / "tune.mid")
    meter, key = midi_meter_and_key(tune)
    trained = load_trained("chorale-harmonizer")
    grid = harmonize(
        soprano_steps_from_midi(tune), trained, meter=meter or "4/4", key=key, temperature=0.8
    )
    path = out / "tune-harmonized.mid"
    prov = Provenance.create(
        "demo harmonize",
        {"temperature": 0.8},
        kind="midi",
        inputs=[out / "tune.mid"],
        model=trained.name,
        checkpoint_sha256=trained.source_sha256,
        seed=0,
    )
    save_midi(path, voices_to_pretty_midi(grid, 80.0, meter=meter, key=key), tags=prov.as_tags())
    return [(path, prov, "the tune with alto, tenor and bass added (Bach-chorale style)")]


def _enhance_speech(out: Path) -> list[tuple[Path, Provenance, str]]:
    """Speak a sentence with espeak-ng (or use a tone melody), add noise and hum, enhance it."""
    from aigc_studio.audio.denoise import trained_denoiser
    from aigc_studio.audio.enhance import enhance
    from aigc_studio.dsp import harmonic_tone

    sr = 16_000
    speech = _spoken_sentence(sr)
    if speech is None:  # no espeak-ng: a sung-like tone stands in for the voice
        speech = np.concatenate([harmonic_tone(f, 0.4, sr) for f in (196, 220, 247, 262)])
    speech = 0.3 * speech / max(float(np.abs(speech).max()), 1e-9)
    t = np.arange(speech.size) / sr
    noise = np.resize(colored_noise(speech.size / sr, sr, color="pink", seed=0), speech.size)
    noisy = speech + 0.5 * noise + 0.03 * np.sin(2 * np.pi * 50 * t)
    noisy = noisy.astype(np.float32)[None]
    noisy_path, clean_path = out / "voice-noisy.wav", out / "voice-enhanced.wav"
    noisy_prov = Provenance.create("demo noisy-voice", {"hum_hz": 50}, kind="audio", seed=0)
    save_audio(noisy_path, noisy, sr, tags=noisy_prov.as_tags())
    model = trained_denoiser()
    enhanced, report = enhance(noisy, sr, model=model)
    prov = Provenance.create(
        "demo enhance",
        report.to_dict(),
        kind="audio",
        inputs=[noisy_path],
        model=model.name,
        checkpoint_sha256=model.source_sha256,
    )
    save_audio(clean_path, enhanced, sr, tags=prov.as_tags())
    return [
        (noisy_path, noisy_prov, "a voice with pink noise and 50 Hz hum"),
        (clean_path, prov, "enhanced: " + report.summary()),
    ]


def _spoken_sentence(sr: int) -> np.ndarray | None:
    """Return espeak-ng speaking one sentence at ``sr``, or None where espeak-ng is missing."""
    import shutil
    import subprocess
    import tempfile

    if shutil.which("espeak-ng") is None:
        return None
    with tempfile.TemporaryDirectory() as scratch:
        wav = Path(scratch) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-w", str(wav), "The studio cleans up noisy voice recordings."],
            check=True,
            capture_output=True,
        )
        audio, _ = load_audio(wav, sr=sr, mono=True)
    return audio[0]


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
