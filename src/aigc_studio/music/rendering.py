"""Render MIDI to audio: fluidsynth with a General MIDI soundfont, or the built-in synthesizer.

:func:`render_midi` picks a renderer from :data:`RENDERERS` by name ("auto" prefers fluidsynth
and falls back to the built-in synthesizer with a :class:`RenderFallbackWarning`), optionally
plays every track on one instrument of :data:`INSTRUMENTS`, and normalizes the loudness of the
result to a target after ITU-R BS.1770-4 with a true-peak ceiling. A renderer is a plain function
``renderer(midi, sr, *, soundfont) -> (audio, description)``, so a new one (the neural instrument)
is one entry in :data:`RENDERERS`.

This module does not write files: the caller saves the audio
(:func:`aigc_studio.media.save_audio`).
"""

from __future__ import annotations

import copy
import subprocess
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf

from aigc_studio import system_tools
from aigc_studio.dsp import normalize_loudness
from aigc_studio.errors import MediaError, ParameterError, ToolMissingError
from aigc_studio.media import resample_audio
from aigc_studio.music.neural_rendering import render_with_neural_instrument
from aigc_studio.music.synthesizer import synthesize_midi

#: Longest piece rendered, in seconds (30 minutes); longer input is refused as a likely error.
MAX_SECONDS = 30 * 60.0
#: Output sample rates accepted, in Hz.
MIN_SR, MAX_SR = 8_000, 192_000
#: fluidsynth's synthesizer runs at most at this rate; higher rates are resampled from it.
FLUIDSYNTH_MAX_SR = 96_000
#: Master gain given to fluidsynth (its default 0.2 is quiet; loudness is normalized afterwards).
FLUIDSYNTH_GAIN = 0.6
#: Loudness ranges accepted (those of :func:`aigc_studio.dsp.normalize_loudness`).
LUFS_RANGE, TRUE_PEAK_RANGE = (-70.0, 0.0), (-20.0, 0.0)
#: Shortest signal that BS.1770 gating can measure, plus a margin (seconds).
MIN_RENDER_SECONDS = 0.5

#: Instrument names accepted by ``instrument=``, as General MIDI programs (0-based).
INSTRUMENTS: dict[str, int] = {
    "piano": 0,
    "electric-piano": 4,
    "harpsichord": 6,
    "marimba": 12,
    "organ": 19,
    "guitar": 24,
    "electric-guitar": 27,
    "bass": 32,
    "violin": 40,
    "cello": 42,
    "harp": 46,
    "strings": 48,
    "choir": 52,
    "trumpet": 56,
    "brass": 61,
    "saxophone": 65,
    "oboe": 68,
    "clarinet": 71,
    "flute": 73,
    "synth-lead": 80,
    "synth-pad": 89,
}


Renderer = Callable[..., tuple[np.ndarray, str]]


class RenderFallbackWarning(UserWarning):
    """Warn that ``method="auto"`` fell back to the built-in synthesizer."""


def render_with_fluidsynth(
    midi: pretty_midi.PrettyMIDI, sr: int, *, soundfont: str | Path | None = None
) -> tuple[np.ndarray, str]:
    """Render MIDI with the fluidsynth command-line synthesizer and a General MIDI soundfont.

    Runs ``fluidsynth -ni -q -g 0.6 -r SR -O float -T wav -F out.wav SOUNDFONT in.mid`` on
    temporary files (fast render: as fast as the CPU allows, not in real time; 32-bit float
    output so that nothing clips before normalization).

    Parameters
    ----------
    midi : pretty_midi.PrettyMIDI
        The music.
    sr : int
        Output sample rate in Hz.
    soundfont : str or Path, optional
        A ``.sf2`` file; by default ``$AIGC_SOUNDFONT`` or a system GM soundfont
        (:func:`aigc_studio.system_tools.find_soundfont`).

    Returns
    -------
    audio : np.ndarray
        float32 stereo, shape (2, samples), with fluidsynth's reverb tail.
    description : str
        ``"fluidsynth (<soundfont file name>)"``.

    Raises
    ------
    ToolMissingError
        If fluidsynth or a soundfont is not installed.
    MediaError
        If the soundfont file is missing or fluidsynth fails.

    References
    ----------
    FluidSynth 2.3 user manual, command-line options (https://www.fluidsynth.org).
    """
    executable = system_tools.require("fluidsynth")
    font = _soundfont_path(soundfont)
    synth_sr = min(sr, FLUIDSYNTH_MAX_SR)
    with tempfile.TemporaryDirectory(prefix="aigc-render-") as folder:
        source, target = Path(folder) / "in.mid", Path(folder) / "out.wav"
        midi.write(str(source))
        command = [
            executable, "-ni", "-q", "-g", str(FLUIDSYNTH_GAIN), "-r", str(synth_sr),
            "-O", "float", "-T", "wav", "-F", str(target), str(font), str(source),
        ]  # fmt: skip
        # Fast render runs well above real time; the limit only guards against a hang.
        limit = 120.0 + 2.0 * midi.get_end_time()
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=limit, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise MediaError(f"fluidsynth did not finish within {limit:.0f} s") from exc
        if done.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
            message = (done.stderr or done.stdout).strip().splitlines()
            reason = message[-1] if message else "no output"
            raise MediaError(f"fluidsynth failed (exit {done.returncode}): {reason}")
        data, rate = sf.read(str(target), dtype="float32", always_2d=True)
    audio = np.ascontiguousarray(data.T)
    if rate != sr:
        audio = resample_audio(audio, int(rate), sr)
    return audio, f"fluidsynth ({font.name})"


def render_with_synth(
    midi: pretty_midi.PrettyMIDI, sr: int, *, soundfont: str | Path | None = None
) -> tuple[np.ndarray, str]:
    """Render MIDI with the built-in synthesizer (:mod:`aigc_studio.music.synthesizer`).

    Parameters
    ----------
    midi : pretty_midi.PrettyMIDI
        The music.
    sr : int
        Output sample rate in Hz.
    soundfont : str or Path, optional
        Ignored (accepted so that every renderer has one signature).

    Returns
    -------
    audio : np.ndarray
        float32 stereo, shape (2, samples).
    description : str
        ``"synth (built-in synthesizer)"``.
    """
    del soundfont
    return synthesize_midi(midi, sr), "synth (built-in synthesizer)"


#: Renderers by method name. ``"auto"`` is not one: it chooses among these (see
#: :func:`choose_method`). ``"neural"`` is the project's own pitch-conditional GAN instrument.
RENDERERS: dict[str, Renderer] = {
    "fluidsynth": render_with_fluidsynth,
    "synth": render_with_synth,
    "neural": render_with_neural_instrument,
}


def choose_method(soundfont: str | Path | None = None) -> tuple[str, str | None]:
    """Resolve ``method="auto"``: fluidsynth when it and a soundfont are installed, else synth.

    Parameters
    ----------
    soundfont : str or Path, optional
        A soundfont the caller will pass; then only fluidsynth itself must be installed.

    Returns
    -------
    method : str
        ``"fluidsynth"`` or ``"synth"``.
    note : str or None
        Why the built-in synthesizer was chosen and how to get fluidsynth; ``None`` otherwise.
    """
    if system_tools.tool_status("fluidsynth").path is None:
        missing = "fluidsynth is not installed"
        hint = system_tools.INSTALL_HINTS["fluidsynth"]
    elif soundfont is None and system_tools.find_soundfont() is None:
        missing = "no General MIDI soundfont was found"
        hint = system_tools.INSTALL_HINTS["soundfont"]
    else:
        return "fluidsynth", None
    return "synth", f"{missing}; for realistic instruments install it: {hint}"


def render_midi(
    midi: pretty_midi.PrettyMIDI,
    *,
    sr: int = 44_100,
    instrument: str | None = None,
    soundfont: str | Path | None = None,
    target_lufs: float = -16.0,
    true_peak_dbtp: float = -1.0,
    method: str = "auto",
) -> tuple[np.ndarray, int, str]:
    """Render MIDI to loudness-normalized stereo audio.

    Parameters
    ----------
    midi : pretty_midi.PrettyMIDI
        The music; it is not modified.
    sr : int
        Output sample rate, 8000-192000 Hz.
    instrument : str, optional
        Play every (non-drum) track on this instrument, a name of :data:`INSTRUMENTS`
        (``"piano"``, ``"strings"``, ``"flute"``, ...). ``None`` keeps the file's programs.
    soundfont : str or Path, optional
        The ``.sf2`` file fluidsynth uses; by default ``$AIGC_SOUNDFONT`` or a system one.
    target_lufs : float
        Integrated loudness of the output, -70 to 0 LUFS (ITU-R BS.1770-4).
    true_peak_dbtp : float
        True-peak ceiling, -20 to 0 dBTP; it wins over ``target_lufs`` when they conflict.
    method : str
        ``"auto"`` (fluidsynth when installed with a soundfont, else the built-in synthesizer
        with a :class:`RenderFallbackWarning`), or a name of :data:`RENDERERS`:
        ``"fluidsynth"``, ``"synth"``.

    Returns
    -------
    audio : np.ndarray
        float32, shape (2, samples).
    sr : int
        The sample rate of ``audio``.
    method_used : str
        What rendered it, starting with the method name: ``"fluidsynth (FluidR3_GM.sf2)"``,
        ``"synth (built-in synthesizer)"``, or, when "auto" fell back, ``"synth (built-in
        synthesizer: fluidsynth is not installed; ...)"`` with the install hint.

    Raises
    ------
    ParameterError
        If ``sr``, ``instrument``, ``method`` or a loudness target is out of range.
    MediaError
        If the MIDI holds no notes, lasts over 30 minutes, renders to silence, or the renderer
        fails.
    ToolMissingError
        If ``method="fluidsynth"`` and fluidsynth or a soundfont is not installed.

    References
    ----------
    ITU-R BS.1770-4 (2015), *Algorithms to measure audio programme loudness and true-peak audio
    level*; MIDI Manufacturers Association (1991), *General MIDI System Level 1*.

    Examples
    --------
    >>> midi = pretty_midi.PrettyMIDI()
    >>> track = pretty_midi.Instrument(program=0)
    >>> track.notes.append(pretty_midi.Note(90, 60, 0.0, 1.0))
    >>> midi.instruments.append(track)
    >>> audio, sr, used = render_midi(midi, sr=22050, method="synth", instrument="flute")
    >>> audio.shape[0], sr, used.split()[0]
    (2, 22050, 'synth')
    """
    if not isinstance(midi, pretty_midi.PrettyMIDI):
        raise ParameterError(f"midi must be a pretty_midi.PrettyMIDI, got {type(midi).__name__}")
    check_render_options(
        sr=sr,
        instrument=instrument,
        method=method,
        target_lufs=target_lufs,
        true_peak_dbtp=true_peak_dbtp,
    )
    duration = midi.get_end_time()
    if not any(track.notes for track in midi.instruments):
        raise MediaError("the MIDI holds no notes; nothing to render")
    if duration > MAX_SECONDS:
        raise MediaError(
            f"the MIDI lasts {duration / 60:.1f} min, more than the {MAX_SECONDS / 60:.0f} min "
            "a render may take; cut it into parts"
        )
    if instrument is not None:
        midi = with_program(midi, INSTRUMENTS[instrument])
    note = None
    if method == "auto":
        method, note = choose_method(soundfont)
        if note is not None:
            warnings.warn(
                f"rendering with the built-in synthesizer: {note}",
                RenderFallbackWarning,
                stacklevel=2,
            )
    audio, used = RENDERERS[method](midi, sr, soundfont=soundfont)
    if note is not None:
        used = f"synth (built-in synthesizer: {note})"
    if not np.any(audio):
        raise MediaError("the MIDI renders to silence (are all note velocities 0?)")
    shortfall = int(MIN_RENDER_SECONDS * sr) - audio.shape[1]
    if shortfall > 0:  # BS.1770 gating needs 400 ms; a lone short note gets silence after it
        audio = np.pad(audio, ((0, 0), (0, shortfall)))
    audio, _ = normalize_loudness(audio, sr, target_lufs, true_peak_dbtp)
    return audio, sr, used


def with_program(midi: pretty_midi.PrettyMIDI, program: int) -> pretty_midi.PrettyMIDI:
    """Return a copy of ``midi`` whose non-drum tracks all play General MIDI ``program``."""
    changed = copy.deepcopy(midi)
    for track in changed.instruments:
        if not track.is_drum:
            track.program = program
    return changed


def check_render_options(
    *,
    sr: object = 44_100,
    instrument: str | None = None,
    method: str = "auto",
    target_lufs: float = -16.0,
    true_peak_dbtp: float = -1.0,
) -> None:
    """Check the options of :func:`render_midi` before any work (e.g. before a batch).

    Raises
    ------
    ParameterError
        If an option is out of range; the message names it and the allowed values.
    """
    if isinstance(sr, bool) or not isinstance(sr, int | np.integer) or not MIN_SR <= sr <= MAX_SR:
        raise ParameterError(f"sr must be an integer in [{MIN_SR}, {MAX_SR}] Hz, got {sr!r}")
    if instrument is not None and instrument not in INSTRUMENTS:
        raise ParameterError(
            f"instrument must be one of {', '.join(INSTRUMENTS)}; got {instrument!r}"
        )
    if method != "auto" and method not in RENDERERS:
        raise ParameterError(f"method must be one of auto, {', '.join(RENDERERS)}; got {method!r}")
    low, high = LUFS_RANGE
    if not low <= target_lufs <= high:
        raise ParameterError(f"target_lufs must be in [{low:g}, {high:g}] LUFS, got {target_lufs}")
    low, high = TRUE_PEAK_RANGE
    if not low <= true_peak_dbtp <= high:
        raise ParameterError(
            f"true_peak_dbtp must be in [{low:g}, {high:g}] dBTP, got {true_peak_dbtp}"
        )


def _soundfont_path(soundfont: str | Path | None) -> Path:
    if soundfont is None:
        found = system_tools.find_soundfont()
        if found is None:
            system_tools.require("soundfont")  # raises with the install hint
            raise ToolMissingError("no General MIDI soundfont found")  # unreachable in practice
        return found
    path = Path(soundfont)
    if not path.is_file():
        raise MediaError(f"{path}: no such soundfont file")
    return path
