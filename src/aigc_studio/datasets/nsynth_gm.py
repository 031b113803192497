"""NSynth-GM: single notes of General MIDI instruments rendered with fluidsynth.

A small dataset in the manner of NSynth (Engel et al. 2017, Neural Audio Synthesis of Musical
Notes with WaveNet Autoencoders): one note per item, labelled with instrument, MIDI pitch and
velocity, for training and evaluating pitch-conditioned audio models (SpecGAN, WaveGAN, the
spectrogram VAE). Where NSynth holds a note for 3 s and lets it ring for 1 s, NSynth-GM holds it
for ``note_seconds`` (0.75 s) and keeps the first 1.024 s from the onset, the segment length
of the spectrogram models.

Rendering is one fluidsynth call per instrument: a MIDI file holding all of the instrument's
notes 2 s apart is rendered in one go (reverb and chorus off) and cut at the known onsets.
Each note is scaled to a peak of 0.9: that drops the level differences between velocities
(NSynth keeps them) but lets a GAN spend its capacity on timbre and pitch rather than loudness;
velocity still changes the timbre of many soundfont instruments and stays a label.

This module prepares the cache; it does not train or play anything.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pretty_midi

from aigc_studio.datasets.audio_features import (
    AudioFeatureConfig,
    compute_log_mel,
    train_mel_stats,
)
from aigc_studio.datasets.cache import write_cache
from aigc_studio.datasets.split import SPLITS, split_of
from aigc_studio.errors import MediaError, ParameterError
from aigc_studio.media import load_audio
from aigc_studio.system_tools import find_soundfont, require, tool_status

DATASET_NAME = "nsynth-gm"
#: Clearly pitched General MIDI programs of eight instrument families, with short names.
PROGRAM_NAMES: dict[int, str] = {
    0: "piano",  # Acoustic Grand Piano
    11: "vibraphone",
    19: "organ",  # Church Organ
    24: "guitar",  # Acoustic Guitar (nylon)
    32: "bass",  # Acoustic Bass
    40: "violin",
    56: "trumpet",
    73: "flute",
}
DEFAULT_PROGRAMS: tuple[int, ...] = tuple(PROGRAM_NAMES)
#: Onset spacing in the rendered file: the note, its release and silence fit in it.
NOTE_SPACING_S = 2.0
#: Time of the first onset, so that synthesizer start-up never touches a note.
FIRST_ONSET_S = 0.5
#: MIDI controller 120, which silences every voice of the channel at once.
ALL_SOUND_OFF = 120
#: fluidsynth master gain; at 0.5 no note of FluidR3_GM clips the float output.
RENDER_GAIN = 0.5
#: Every note is scaled to this peak.
PEAK_LEVEL = 0.9
#: Renders whose peak is below this are silent (a program without samples at that pitch).
SILENCE_PEAK = 1e-4

ProgressCallback = Callable[[str, int, int], None]


def program_name(program: int) -> str:
    """Return the short name of a GM program: ours, else the GM name as a slug."""
    if program in PROGRAM_NAMES:
        return PROGRAM_NAMES[program]
    return pretty_midi.program_to_instrument_name(program).lower().replace(" ", "-")


def render_program_notes(
    program: int,
    notes: Iterable[tuple[int, int]],
    *,
    note_seconds: float,
    segment_samples: int,
    sr: int,
    soundfont: Path,
    fluidsynth: str,
) -> np.ndarray:
    """Render notes of one GM program with one fluidsynth call and cut out each note.

    Parameters
    ----------
    program : int
        General MIDI program number (0-127).
    notes : iterable of (pitch, velocity)
        The notes, rendered ``NOTE_SPACING_S`` apart in this order.
    note_seconds : float
        How long each note is held before note-off.
    segment_samples : int
        Samples kept from each onset.
    sr : int
        Render sample rate.
    soundfont : Path
        The .sf2 file.
    fluidsynth : str
        Path of the fluidsynth executable.

    Returns
    -------
    np.ndarray
        float32 (len(notes), segment_samples), mono, not normalized.

    Raises
    ------
    MediaError
        If fluidsynth fails.
    """
    notes = list(notes)
    midi = pretty_midi.PrettyMIDI()
    instrument = pretty_midi.Instrument(program=program)
    onsets = [FIRST_ONSET_S + NOTE_SPACING_S * index for index in range(len(notes))]
    segment_seconds = segment_samples / sr
    for (pitch, velocity), onset in zip(notes, onsets, strict=True):
        instrument.notes.append(
            pretty_midi.Note(velocity=velocity, pitch=pitch, start=onset, end=onset + note_seconds)
        )
        # "All sound off" right after the kept segment: instruments with a long release (the
        # church organ rings for seconds) would otherwise bleed into the next note's segment.
        instrument.control_changes.append(
            pretty_midi.ControlChange(ALL_SOUND_OFF, 0, onset + segment_seconds + 0.01)
        )
    midi.instruments.append(instrument)
    with tempfile.TemporaryDirectory(prefix="aigc-nsynth-") as folder:
        midi_path = Path(folder) / "notes.mid"
        wav_path = Path(folder) / "notes.wav"
        midi.write(str(midi_path))
        command = [
            fluidsynth,
            "-ni",
            "-q",
            "-g", str(RENDER_GAIN),
            "-r", str(sr),
            "-R", "0",
            "-C", "0",
            "-O", "float",
            "-T", "wav",
            "-F", str(wav_path),
            str(soundfont),
            str(midi_path),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not wav_path.is_file():
            reason = (done.stderr or done.stdout).strip().splitlines()
            raise MediaError(
                f"fluidsynth failed to render program {program} "
                f"({reason[-1] if reason else f'exit status {done.returncode}'})"
            )
        audio, _ = load_audio(wav_path, sr=sr, mono=True)
    signal = audio[0]
    needed = int(round(onsets[-1] * sr)) + segment_samples if onsets else 0
    if signal.shape[0] < needed:  # fluidsynth stops at the last note-off plus release
        signal = np.pad(signal, (0, needed - signal.shape[0]))
    segments = np.zeros((len(notes), segment_samples), np.float32)
    for index, onset in enumerate(onsets):
        start = int(round(onset * sr))
        segments[index] = signal[start : start + segment_samples]
    return segments


def prepare_nsynth_gm(
    out_root: str | os.PathLike[str],
    *,
    programs: Iterable[int] = DEFAULT_PROGRAMS,
    pitches: Iterable[int] = range(36, 85),
    velocities: Iterable[int] = (75, 100, 127),
    note_seconds: float = 0.75,
    segment_samples: int = 16_384,
    sr: int = 16_000,
    workers: int = 1,
    progress: ProgressCallback | None = None,
) -> Path:
    """Render the NSynth-GM notes and write them as a dataset cache.

    Every (program, pitch, velocity) is one item with id ``"<program name>-<pitch>-<velocity>"``
    (e.g. ``"flute-60-100"``); :func:`~aigc_studio.datasets.split.split_of` of the id gives its
    split. Each split stores ``audio`` (N, segment_samples) float32 scaled to peak 0.9, ``mel``
    (N, 128, frames) float32 log-mel (:mod:`~aigc_studio.datasets.audio_features`), ``pitch``,
    ``velocity`` and ``instrument`` (int16; ``instrument`` indexes
    ``manifest["labels"]["instrument"]``) and ``item_id``. The manifest's ``stats`` are the
    mel normalization statistics of the train split (``{"mean": [128], "std": [128], "from"}``,
    see :func:`~aigc_studio.datasets.audio_features.train_mel_stats`); notes that render
    silent are dropped and listed under ``"dropped_silent"``.

    Parameters
    ----------
    out_root : str or PathLike
        The cache folder to write (replaced when complete).
    programs : iterable of int
        General MIDI programs (0-127); default eight families, see ``PROGRAM_NAMES``.
    pitches : iterable of int
        MIDI pitches (0-127); default 36-84 (C2-C6).
    velocities : iterable of int
        MIDI velocities (1-127).
    note_seconds : float
        Note-on duration, in (0, 1.5] s.
    segment_samples : int
        Samples kept per note from its onset (16384 = 1.024 s at 16 kHz).
    sr : int
        Sample rate (8000-48000 Hz).
    workers : int
        fluidsynth processes run at once (1-32).
    progress : callable, optional
        Called as ``progress(description, done, total)``.

    Returns
    -------
    Path
        ``out_root``.

    Raises
    ------
    ToolMissingError
        If fluidsynth or a General MIDI soundfont is not installed.
    ParameterError
        If a parameter is out of range.
    MediaError
        If rendering fails or every note renders silent.

    Examples
    --------
    >>> prepare_nsynth_gm("nsynth-tiny", programs=[73], pitches=[60, 67])  # doctest: +SKIP
    PosixPath('nsynth-tiny')
    """
    programs = [int(p) for p in programs]
    pitches = [int(p) for p in pitches]
    velocities = [int(v) for v in velocities]
    _check_parameters(programs, pitches, velocities, note_seconds, segment_samples, sr, workers)
    fluidsynth = require("fluidsynth")
    require("soundfont")
    soundfont = find_soundfont()
    assert soundfont is not None  # require() raised otherwise
    names = [program_name(p) for p in programs]
    features = AudioFeatureConfig(sr=sr, segment_samples=segment_samples, fmax=min(8000.0, sr / 2))
    notes = [(pitch, velocity) for pitch in pitches for velocity in velocities]

    def render(program: int) -> np.ndarray:
        return render_program_notes(
            program,
            notes,
            note_seconds=note_seconds,
            segment_samples=segment_samples,
            sr=sr,
            soundfont=soundfont,
            fluidsynth=fluidsynth,
        )

    items: dict[str, dict[str, list]] = {
        split: {key: [] for key in ("audio", "mel", "pitch", "velocity", "instrument", "item_id")}
        for split in SPLITS
    }
    dropped: list[str] = []
    total = len(programs) * len(notes)
    done = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # fluidsynth runs in its own process, so threads render programs in parallel.
        for index, segments in enumerate(pool.map(render, programs)):
            for (pitch, velocity), segment in zip(notes, segments, strict=True):
                item_id = f"{names[index]}-{pitch}-{velocity}"
                peak = float(np.max(np.abs(segment)))
                done += 1
                if peak < SILENCE_PEAK:
                    dropped.append(item_id)
                    continue
                audio = (segment * (PEAK_LEVEL / peak)).astype(np.float32)
                split = items[split_of(item_id)]
                split["audio"].append(audio)
                split["mel"].append(compute_log_mel(audio, features))
                split["pitch"].append(pitch)
                split["velocity"].append(velocity)
                split["instrument"].append(index)
                split["item_id"].append(item_id)
            if progress is not None:
                progress(f"render {DATASET_NAME}", done, total)
    if done == len(dropped):
        raise MediaError(f"every one of the {total} notes rendered silent with {soundfont}")
    fields_by_split = {split: _as_arrays(items[split], features) for split in SPLITS}
    stats = train_mel_stats({s: fields_by_split[s]["mel"] for s in SPLITS})
    params = {
        "programs": programs,
        "program_names": names,
        "pitches": pitches,
        "velocities": velocities,
        "note_seconds": note_seconds,
        "segment_samples": segment_samples,
        "sr": sr,
        "features": features.to_dict(),
        "soundfont": soundfont.name,
        "renderer": tool_status("fluidsynth").version,
        "render_gain": RENDER_GAIN,
        "note_spacing_s": NOTE_SPACING_S,
        "normalization": f"each note scaled to peak {PEAK_LEVEL}",
        "split": "split_of(item_id, valid_fraction=0.1, test_fraction=0.1)",
    }
    labels = {"instrument": names, "pitch": pitches, "velocity": velocities}
    return write_cache(
        out_root,
        DATASET_NAME,
        params,
        fields_by_split,
        stats=stats,
        labels=labels,
        extra={"dropped_silent": dropped},
    )


def _as_arrays(columns: Mapping[str, list], features: AudioFeatureConfig) -> dict[str, np.ndarray]:
    count = len(columns["item_id"])
    return {
        "audio": np.stack(columns["audio"]).astype(np.float32)
        if count
        else np.zeros((0, features.segment_samples), np.float32),
        "mel": np.stack(columns["mel"]).astype(np.float32)
        if count
        else np.zeros((0, features.n_mels, features.frames), np.float32),
        "pitch": np.asarray(columns["pitch"], dtype=np.int16),
        "velocity": np.asarray(columns["velocity"], dtype=np.int16),
        "instrument": np.asarray(columns["instrument"], dtype=np.int16),
        "item_id": np.asarray(columns["item_id"], dtype=str) if count else np.zeros(0, dtype="<U1"),
    }


def _check_parameters(
    programs: list[int],
    pitches: list[int],
    velocities: list[int],
    note_seconds: float,
    segment_samples: int,
    sr: int,
    workers: int,
) -> None:
    if not programs or any(not 0 <= p <= 127 for p in programs):
        raise ParameterError(f"programs must be GM program numbers in [0, 127], got {programs}")
    if len({program_name(p) for p in programs}) != len(programs):
        raise ParameterError(f"programs must not repeat, got {programs}")
    if not pitches or any(not 0 <= p <= 127 for p in pitches) or len(set(pitches)) != len(pitches):
        raise ParameterError(f"pitches must be distinct MIDI pitches in [0, 127], got {pitches}")
    if (
        not velocities
        or any(not 1 <= v <= 127 for v in velocities)
        or len(set(velocities)) != len(velocities)
    ):
        raise ParameterError(f"velocities must be distinct values in [1, 127], got {velocities}")
    if not 0.0 < note_seconds <= 1.5:
        raise ParameterError(f"note_seconds must be in (0, 1.5], got {note_seconds}")
    if not 8000 <= sr <= 48_000:
        raise ParameterError(f"sr must be in [8000, 48000] Hz, got {sr}")
    if not 1024 <= segment_samples <= int((NOTE_SPACING_S - 0.05) * sr):
        raise ParameterError(
            f"segment_samples must be in [1024, {int((NOTE_SPACING_S - 0.05) * sr)}] at "
            f"sr={sr}, got {segment_samples}"
        )
    if not 1 <= workers <= 32:
        raise ParameterError(f"workers must be in [1, 32], got {workers}")
