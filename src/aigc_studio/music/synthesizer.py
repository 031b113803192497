"""A small built-in synthesizer that renders MIDI without fluidsynth or a soundfont.

Each note is a band-limited wavetable oscillator (additive: a table of harmonic amplitudes per
timbre, rebuilt per pitch so that no harmonic passes Nyquist) under an ADSR envelope. Percussive
timbres (piano, plucked strings, mallets) decay exponentially, faster for higher notes, and their
spectrum fades from a bright to a dull table while they ring, the way a subtractive low-pass
envelope would. Velocity sets the gain (amplitude ``(v/127)**2``, about the 40 dB range of the
General MIDI volume curve) and, for percussive timbres, the brightness. The 128 General MIDI
programs are mapped by family to eleven timbres (:data:`TIMBRE_OF_FAMILY`, :func:`timbre_for`);
channel 10 percussion is a few noise and swept-sine drums. Channel volume (CC 7), pan (CC 10,
equal-power) and the sustain pedal (CC 64) are honoured; pitch bend and other controllers are not.

The sound is a sketch of the music, not a realistic instrument: the studio renders with
fluidsynth and a General MIDI soundfont when they are installed (see
:mod:`aigc_studio.music.rendering`). This module does not normalize loudness or write files.

References
----------
Smith, J. O. (2010). *Physical Audio Signal Processing* (plucked-string decay and pluck-position
comb); Moore, F. R. (1990). *Elements of Computer Music* (wavetable synthesis, ADSR envelopes);
MIDI Manufacturers Association (1991). *General MIDI System Level 1* (program families, CC 7/10/64,
percussion key map).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pretty_midi

from aigc_studio.errors import ParameterError

#: Samples per wavetable cycle; linear interpolation at this size is clean to well above -80 dB.
TABLE_SIZE = 2048
#: Harmonics are kept below this fraction of the sample rate (a margin under Nyquist).
HARMONIC_LIMIT = 0.45
#: Percussive notes stop once their envelope is this far down (-80 dB).
SILENCE = 1e-4
#: Vibrato rate in Hz and the time it takes to fade in, in seconds.
VIBRATO_HZ, VIBRATO_ONSET = 5.5, 0.35


@dataclass(frozen=True)
class Timbre:
    """How one family of instruments sounds.

    Attributes
    ----------
    name : str
        What the timbre imitates.
    bright : tuple of float
        Amplitude of harmonics 1, 2, 3, ... at the start of the note.
    dull : tuple of float or None
        Spectrum a percussive note fades to; ``None`` keeps ``bright`` throughout.
    attack : float
        Seconds to full level.
    decay : float
        Percussive: time constant (s) of the exponential decay at middle C, halved every two
        octaves up. Sustained: time constant of the fall from full level to ``sustain``.
    sustain : float
        Level held while the key is down, 0 for percussive timbres.
    release : float
        Seconds from note-off to -60 dB.
    brightness_decay : float
        Time constant (s) of the bright-to-dull fade of percussive timbres.
    vibrato : float
        Vibrato depth in semitones (0 for none).
    formants : tuple of (float, float) or None
        ``(centre Hz, bandwidth Hz)`` resonances that shape the spectrum per pitch (voices).
    """

    name: str
    bright: tuple[float, ...]
    dull: tuple[float, ...] | None
    attack: float
    decay: float
    sustain: float
    release: float
    brightness_decay: float = 0.3
    vibrato: float = 0.0
    formants: tuple[tuple[float, float], ...] | None = None

    @property
    def percussive(self) -> bool:
        """Whether the tone dies away while the key is held."""
        return self.sustain == 0.0


def _power_law(count: int, exponent: float, odd_boost: float = 1.0) -> tuple[float, ...]:
    return tuple((odd_boost if k % 2 else 1.0) / k**exponent for k in range(1, count + 1))


def _plucked(count: int, position: float, exponent: float) -> tuple[float, ...]:
    # A string plucked at `position` of its length lacks the harmonics with a node there.
    return tuple(
        max(abs(np.sin(np.pi * k * position)), 0.05) / k**exponent for k in range(1, count + 1)
    )


#: The timbres; positional fields: name, bright, dull, attack, decay, sustain, release,
#: brightness_decay (see :class:`Timbre`).
TIMBRES: dict[str, Timbre] = {
    timbre.name: timbre
    for timbre in (
        Timbre("piano", _plucked(24, 0.12, 1.1), _power_law(24, 3.0), 0.003, 1.1, 0.0, 0.15, 0.35),
        Timbre(  # marimba-like: the bar's overtones sit near 4x and 10x the fundamental
            "mallet",
            bright=(1.0, 0.0, 0.0, 0.35, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1),
            dull=(1.0,),
            attack=0.002,
            decay=0.45,
            sustain=0.0,
            release=0.1,
            brightness_decay=0.08,
        ),
        Timbre("organ", (1.0, 0.7, 0.5, 0.4, 0.0, 0.25, 0.0, 0.2), None, 0.012, 0.05, 1.0, 0.06),
        Timbre("pluck", _plucked(20, 0.2, 1.0), _power_law(20, 3.0), 0.002, 0.7, 0.0, 0.08, 0.12),
        Timbre("bass", _plucked(12, 0.25, 1.6), _power_law(12, 3.5), 0.004, 1.2, 0.0, 0.08, 0.2),
        Timbre("bowed", _power_law(28, 1.0), None, 0.09, 0.3, 0.85, 0.25, vibrato=0.12),
        Timbre("brass", _power_law(20, 0.9), None, 0.04, 0.2, 0.85, 0.1, vibrato=0.05),
        Timbre(
            "reed", _power_law(20, 1.1, odd_boost=4.0), None, 0.03, 0.2, 0.9, 0.08, vibrato=0.04
        ),
        Timbre("flute", (1.0, 0.35, 0.12, 0.05, 0.02), None, 0.06, 0.2, 0.9, 0.1, vibrato=0.08),
        Timbre(  # a sung "ah": formants of an open vowel (Peterson & Barney 1952)
            "voice",
            bright=_power_law(40, 0.5),
            dull=None,
            attack=0.12,
            decay=0.3,
            sustain=0.9,
            release=0.3,
            vibrato=0.15,
            formants=((700.0, 130.0), (1220.0, 170.0), (2600.0, 250.0)),
        ),
        Timbre("pad", _power_law(16, 1.5), None, 0.35, 0.5, 0.9, 0.6, vibrato=0.03),
    )
}

#: Timbre of each General MIDI program family (program // 8).
TIMBRE_OF_FAMILY: tuple[str, ...] = (
    "piano",  # 0-7 pianos
    "mallet",  # 8-15 chromatic percussion
    "organ",  # 16-23 organs
    "pluck",  # 24-31 guitars
    "bass",  # 32-39 basses
    "bowed",  # 40-47 solo strings
    "bowed",  # 48-55 ensembles
    "brass",  # 56-63 brass
    "reed",  # 64-71 reeds
    "flute",  # 72-79 pipes
    "brass",  # 80-87 synth leads (bright and sustained)
    "pad",  # 88-95 synth pads
    "pad",  # 96-103 synth effects
    "pluck",  # 104-111 ethnic (sitar, banjo, koto, ...)
    "mallet",  # 112-119 percussive (bells, steel drums, ...)
    "pad",  # 120-127 sound effects
)
#: Programs whose family timbre does not fit: pizzicato and harp pluck, choirs and voice sing.
TIMBRE_OF_PROGRAM: dict[int, str] = {
    45: "pluck",
    46: "pluck",
    47: "bass",
    52: "voice",
    53: "voice",
    54: "voice",
    85: "voice",
}


def timbre_for(program: int) -> Timbre:
    """Return the timbre that renders a General MIDI program (0-127).

    Raises
    ------
    ParameterError
        If ``program`` is outside 0-127.
    """
    if not 0 <= program <= 127:
        raise ParameterError(f"program must be a General MIDI program in [0, 127], got {program}")
    return TIMBRES[TIMBRE_OF_PROGRAM.get(program, TIMBRE_OF_FAMILY[program // 8])]


def synthesize_midi(midi: pretty_midi.PrettyMIDI, sr: int) -> np.ndarray:
    """Render every note of a MIDI file with the built-in synthesizer.

    Parameters
    ----------
    midi : pretty_midi.PrettyMIDI
        The music; it is not modified.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    np.ndarray
        float32 stereo audio, shape (2, samples), not loudness-normalized; it runs to the end of
        the last note's release.

    Raises
    ------
    ParameterError
        If ``sr`` is not positive.

    Examples
    --------
    >>> midi = pretty_midi.PrettyMIDI()
    >>> piano = pretty_midi.Instrument(program=0)
    >>> piano.notes.append(pretty_midi.Note(100, 60, 0.0, 0.5))
    >>> midi.instruments.append(piano)
    >>> synthesize_midi(midi, 22050).shape[0]
    2
    """
    if sr <= 0:
        raise ParameterError(f"sr must be positive, got {sr}")
    ends = {id(track): _pedal_ends(track) for track in midi.instruments if not track.is_drum}
    last = max([midi.get_end_time(), *(max(e, default=0.0) for e in ends.values())])
    tail = max(t.release for t in TIMBRES.values())
    if any(track.is_drum for track in midi.instruments):
        tail = max(tail, _DrumKit.LONGEST)  # let a last cymbal ring out
    length = int(np.ceil((last + tail + 0.05) * sr)) + 1
    mix = np.zeros((2, length), dtype=np.float64)
    drums = _DrumKit(sr)
    for instrument in midi.instruments:
        if not instrument.notes:
            continue
        track = np.zeros(length, dtype=np.float64)
        first_onset = min(note.start for note in instrument.notes)
        if instrument.is_drum:
            for note in instrument.notes:
                drums.add(track, note)
        else:
            timbre = timbre_for(instrument.program)
            tables: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
            for note, end in zip(instrument.notes, ends[id(instrument)], strict=True):
                if note.pitch not in tables:
                    tables[note.pitch] = _wavetables(timbre, _hz(note.pitch), sr)
                _add_note(track, note, end, timbre, tables[note.pitch], sr)
        volume = _controller_at(instrument, 7, first_onset, default=100) / 127.0
        pan = _controller_at(instrument, 10, first_onset, default=64) / 127.0
        angle = pan * np.pi / 2
        mix[0] += np.cos(angle) * volume**2 * track
        mix[1] += np.sin(angle) * volume**2 * track
    return mix.astype(np.float32)


def _hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def _controller_at(
    instrument: pretty_midi.Instrument, number: int, time: float, default: int
) -> int:
    """Return the last value of a controller at or before ``time`` (the setting of the track)."""
    value = default
    for change in sorted(instrument.control_changes, key=lambda c: c.time):
        if change.number == number and change.time <= time + 1e-6:
            value = change.value
    return value


def _pedal_ends(instrument: pretty_midi.Instrument) -> list[float]:
    """Return each note's release time with the sustain pedal (CC 64 >= 64) holding it."""
    changes = sorted(
        (c for c in instrument.control_changes if c.number == 64), key=lambda c: c.time
    )
    downs: list[tuple[float, float]] = []
    start: float | None = None
    for change in changes:
        if change.value >= 64 and start is None:
            start = change.time
        elif change.value < 64 and start is not None:
            downs.append((start, change.time))
            start = None
    if start is not None:
        downs.append((start, float("inf")))
    ends = []
    for note in instrument.notes:
        end = note.end
        for down, up in downs:
            if down <= end < up:
                end = min(up, note.end + 30.0)
                break
        ends.append(end)
    return ends


def _wavetables(timbre: Timbre, f0: float, sr: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Build one cycle of the bright (and dull) spectrum of ``timbre`` at ``f0``, band-limited."""
    phase = np.arange(TABLE_SIZE) / TABLE_SIZE

    def table(amplitudes: tuple[float, ...]) -> np.ndarray:
        count = min(len(amplitudes), max(1, int(HARMONIC_LIMIT * sr / f0)))
        k = np.arange(1, count + 1)
        weights = np.asarray(amplitudes[:count], dtype=np.float64)
        if timbre.formants is not None:
            frequencies = k * f0
            # Resonances over a flat floor: the vowel colour of a sung "ah".
            envelope = 0.1 + sum(
                1.0 / (1.0 + ((frequencies - centre) / width) ** 2)
                for centre, width in timbre.formants
            )
            weights = weights * envelope
        wave = np.sin(2 * np.pi * np.outer(k, phase)).T @ weights
        peak = np.max(np.abs(wave))
        return wave / peak if peak > 0 else wave

    return table(timbre.bright), None if timbre.dull is None else table(timbre.dull)


def _envelope(timbre: Timbre, pitch: int, held: float, sr: int) -> np.ndarray:
    """Return the amplitude envelope of one note held for ``held`` seconds, with its release."""
    if timbre.percussive:
        tau = timbre.decay * 2.0 ** (-(pitch - 60) / 24)
        held = min(held, tau * np.log(1 / SILENCE))  # nothing audible rings past this
    else:
        tau = timbre.decay
    n_held = max(int(round(held * sr)), 1)
    t = np.arange(n_held) / sr
    attack = np.minimum(t / timbre.attack, 1.0) if timbre.attack > 0 else np.ones(n_held)
    after_attack = np.maximum(t - timbre.attack, 0.0)
    level = timbre.sustain + (1.0 - timbre.sustain) * np.exp(-after_attack / tau)
    body = attack * level
    n_release = max(int(round(timbre.release * sr)), 1)
    # -60 dB at the end of the release: exp(-6.9) = 1e-3.
    tail = body[-1] * np.exp(-6.9 * np.arange(1, n_release + 1) / n_release)
    return np.concatenate([body, tail])


def _add_note(
    track: np.ndarray,
    note: pretty_midi.Note,
    end: float,
    timbre: Timbre,
    tables: tuple[np.ndarray, np.ndarray | None],
    sr: int,
) -> None:
    envelope = _envelope(timbre, note.pitch, max(end - note.start, 0.005), sr)
    first = int(round(note.start * sr))
    n = min(len(envelope), len(track) - first)
    if n <= 0 or note.velocity <= 0:
        return
    envelope = envelope[:n]
    t = np.arange(n) / sr
    f0 = _hz(note.pitch)
    if timbre.vibrato > 0:
        depth = 2.0 ** (timbre.vibrato / 12) - 1.0
        fade_in = np.minimum(t / VIBRATO_ONSET, 1.0)
        frequency = f0 * (1.0 + depth * fade_in * np.sin(2 * np.pi * VIBRATO_HZ * t))
        cycles = np.cumsum(frequency) / sr
    else:
        cycles = f0 * t
    grid = np.arange(TABLE_SIZE) / TABLE_SIZE
    bright, dull = tables
    wave = np.interp(cycles, grid, bright, period=1.0)
    if dull is not None:
        # Louder strikes stay bright for longer, like a felt hammer or a firmer pluck.
        fade = np.exp(-t / (timbre.brightness_decay * (0.5 + note.velocity / 127)))
        wave = fade * wave + (1.0 - fade) * np.interp(cycles, grid, dull, period=1.0)
    gain = 0.25 * (note.velocity / 127.0) ** 2
    track[first : first + n] += gain * envelope * wave


class _DrumKit:
    """General MIDI channel-10 sounds made from noise and swept sines, built once per key."""

    #: Length of the longest sound (a crash cymbal), seconds.
    LONGEST = 0.35 * 7

    def __init__(self, sr: int) -> None:
        self.sr = sr
        self.sounds: dict[int, np.ndarray] = {}
        self.rng = np.random.default_rng(0)  # fixed: the same file always renders the same

    def add(self, track: np.ndarray, note: pretty_midi.Note) -> None:
        if note.pitch not in self.sounds:
            self.sounds[note.pitch] = self._sound(note.pitch)
        sound = self.sounds[note.pitch]
        first = int(round(note.start * self.sr))
        n = min(len(sound), len(track) - first)
        if n > 0:
            track[first : first + n] += 0.3 * (note.velocity / 127.0) ** 2 * sound[:n]

    def _sound(self, key: int) -> np.ndarray:
        def decaying(seconds: float) -> np.ndarray:
            t = np.arange(int(seconds * 7 * self.sr)) / self.sr
            return np.exp(-t / seconds)

        def sweep(start_hz: float, end_hz: float, seconds: float) -> np.ndarray:
            envelope = decaying(seconds)
            t = np.arange(len(envelope)) / self.sr
            frequency = end_hz + (start_hz - end_hz) * np.exp(-t / 0.03)
            return np.sin(2 * np.pi * np.cumsum(frequency) / self.sr) * envelope

        def noise(seconds: float, bright: bool) -> np.ndarray:
            envelope = decaying(seconds)
            white = self.rng.standard_normal(len(envelope) + 1)
            # A first difference tilts white noise towards the highs (cymbals, hats).
            return (np.diff(white) / 2 if bright else white[1:] / 3) * envelope

        if key in (35, 36):
            return sweep(150.0, 50.0, 0.12)
        if key in (38, 40):
            body = sweep(240.0, 185.0, 0.05)
            rattle = noise(0.06, bright=False)
            rattle[: len(body)] += 0.6 * body
            return rattle
        if key in (41, 43, 45, 47, 48, 50):
            pitch_hz = 80.0 * 2 ** ((key - 41) / 12)
            return sweep(pitch_hz * 1.5, pitch_hz, 0.12)
        if key in (42, 44):
            return noise(0.015, bright=True)
        if key in (46, 49, 51, 52, 55, 57, 59):
            return noise(0.35 if key != 46 else 0.1, bright=True)
        return noise(0.03, bright=False)
