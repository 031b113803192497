"""Turn a short text prompt ("calm folk tune in D minor, 6/8") into composition controls.

A rule-based reader, not a language model: it looks for a key ("D minor", "in F#", "Bb major"),
a meter ("6/8", or a dance that implies one: waltz 3/4, jig 6/8, reel 4/4, march 2/4), a style
(folk, reel, jig, chorale/hymn), a tempo ("96 bpm", or a mood word such as calm or lively), a
length ("16 bars") and an adventurousness word that sets the sampling temperature. Whatever
the prompt does not say stays ``None``, so that explicit command-line flags and defaults can
be merged over it with :func:`merge_controls` (an explicit flag always wins).

This module parses text; it does not compose.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from aigc_studio.errors import ParameterError

#: Styles the melody model knows (the STYLE tokens of the melody vocabulary).
STYLES = ("folk", "reel", "jig", "fiddle", "chorale")
#: Longest prompt read, in characters.
MAX_PROMPT_CHARS = 500

_PITCH_CLASSES = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_STYLE_WORDS = {
    "folk": "folk",
    "folksong": "folk",
    "song": "folk",
    "reel": "reel",
    "jig": "jig",
    "fiddle": "fiddle",
    "hornpipe": "fiddle",
    "chorale": "chorale",
    "hymn": "chorale",
    "bach": "chorale",
}
#: Dances and forms that imply a meter (and, for the Irish dances, a style).
_METER_WORDS = {
    "waltz": "3/4",
    "minuet": "3/4",
    "mazurka": "3/4",
    "jig": "6/8",
    "slide": "12/8",
    "reel": "4/4",
    "hornpipe": "4/4",
    "march": "2/4",
    "polka": "2/4",
}
#: Mood words → tempo in quarter notes per minute.
_TEMPO_WORDS = {
    "slow": 66,
    "calm": 72,
    "gentle": 76,
    "peaceful": 72,
    "sad": 66,
    "relaxed": 80,
    "moderate": 96,
    "lively": 126,
    "happy": 120,
    "cheerful": 120,
    "fast": 138,
    "energetic": 138,
    "quick": 132,
}
#: Adventurousness words → sampling temperature.
_TEMPERATURE_WORDS = {
    "simple": 0.7,
    "plain": 0.7,
    "predictable": 0.6,
    "traditional": 0.8,
    "surprising": 1.1,
    "adventurous": 1.15,
    "experimental": 1.2,
    "wild": 1.25,
}
_KEY_RE = re.compile(
    r"\b(?:in\s+)?([a-g])(#|♯|b|♭|-sharp|-flat|\s+sharp|\s+flat)?\s*"
    r"(major|minor|maj|min|dorian|mixolydian|aeolian|ionian)?(?![a-z])",
    re.IGNORECASE,
)
_METER_RE = re.compile(r"\b(\d{1,2})\s*/\s*(\d{1,2})\b")
_TEMPO_RE = re.compile(r"\b(\d{2,3})\s*(?:bpm|beats per minute)\b", re.IGNORECASE)
_BARS_RE = re.compile(r"\b(\d{1,3})\s*(?:bars?|measures?)\b", re.IGNORECASE)
_MINOR_MODES = {"minor", "min", "dorian", "aeolian"}


@dataclass
class CompositionControls:
    """What a composition may be asked for; ``None`` means "not said".

    Attributes
    ----------
    style : str or None
        One of :data:`STYLES`.
    key : int or None
        Tonic pitch class, 0 = C … 11 = B.
    mode : str or None
        ``"major"`` or ``"minor"``.
    meter : str or None
        A time signature such as ``"6/8"``.
    tempo : float or None
        Quarter notes per minute.
    bars : int or None
        Length in bars.
    temperature : float or None
        Sampling temperature.
    """

    style: str | None = None
    key: int | None = None
    mode: str | None = None
    meter: str | None = None
    tempo: float | None = None
    bars: int | None = None
    temperature: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the controls as plain values."""
        return asdict(self)


def parse_prompt(prompt: str) -> CompositionControls:
    """Read composition controls out of a short English prompt.

    Parameters
    ----------
    prompt : str
        For example ``"calm folk tune in D minor"`` or ``"a lively jig in G, 32 bars"``.

    Returns
    -------
    CompositionControls
        What the prompt says; everything else ``None``.

    Raises
    ------
    ParameterError
        If the prompt is longer than :data:`MAX_PROMPT_CHARS` characters or states an
        impossible value (a meter such as 7/0, 0 bars).

    Examples
    --------
    >>> c = parse_prompt("calm folk tune in D minor")
    >>> (c.style, c.key, c.mode, c.tempo)
    ('folk', 2, 'minor', 72)
    >>> parse_prompt("a lively jig in G").meter
    '6/8'
    """
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ParameterError(f"the prompt is {len(prompt)} characters; at most {MAX_PROMPT_CHARS}")
    text = prompt.lower()
    words = re.findall(r"[a-z]+", text)
    controls = CompositionControls()
    for word in words:
        if controls.style is None and word in _STYLE_WORDS:
            controls.style = _STYLE_WORDS[word]
        if controls.meter is None and word in _METER_WORDS:
            controls.meter = _METER_WORDS[word]
        if controls.tempo is None and word in _TEMPO_WORDS:
            controls.tempo = float(_TEMPO_WORDS[word])
        if controls.temperature is None and word in _TEMPERATURE_WORDS:
            controls.temperature = _TEMPERATURE_WORDS[word]
    meter = _METER_RE.search(text)
    if meter:
        numerator, denominator = int(meter.group(1)), int(meter.group(2))
        if numerator < 1 or denominator not in (1, 2, 4, 8, 16):
            raise ParameterError(f"the prompt's meter {meter.group(0)!r} is not a time signature")
        controls.meter = f"{numerator}/{denominator}"
    tempo = _TEMPO_RE.search(text)
    if tempo:
        controls.tempo = float(tempo.group(1))
    bars = _BARS_RE.search(text)
    if bars:
        if int(bars.group(1)) < 1:
            raise ParameterError(f"the prompt asks for {bars.group(0)!r}")
        controls.bars = int(bars.group(1))
    controls.key, controls.mode = _key_of(prompt)
    return controls


def merge_controls(
    prompt: CompositionControls, explicit: CompositionControls, defaults: CompositionControls
) -> CompositionControls:
    """Combine controls: an explicit flag wins over the prompt, the prompt over the defaults.

    Parameters
    ----------
    prompt, explicit, defaults : CompositionControls
        ``None`` fields are "not given".

    Returns
    -------
    CompositionControls
    """
    merged = CompositionControls()
    for field in fields(CompositionControls):
        for source in (explicit, prompt, defaults):
            value = getattr(source, field.name)
            if value is not None:
                setattr(merged, field.name, value)
                break
    return merged


def parse_key_name(name: str) -> int:
    """Return the pitch class of a key name such as ``"D"``, ``"F#"``, ``"Bb"`` or ``"e-flat"``.

    Raises
    ------
    ParameterError
        If the name is not a note letter with an optional sharp or flat.
    """
    match = re.fullmatch(r"\s*([a-gA-G])\s*(#|♯|b|♭|-?sharp|-?flat)?\s*", name)
    if not match:
        raise ParameterError(f"key must be a note name such as C, F# or Bb, got {name!r}")
    return _pitch_class(match.group(1), match.group(2))


def _pitch_class(letter: str, accidental: str | None) -> int:
    pc = _PITCH_CLASSES[letter.lower()]
    accidental = (accidental or "").strip().lower().lstrip("-")
    if accidental in ("#", "♯", "sharp"):
        pc += 1
    elif accidental in ("b", "♭", "flat"):
        pc -= 1
    return pc % 12


def _key_of(prompt: str) -> tuple[int | None, str | None]:
    """Find "X major/minor" or "in X": a bare letter elsewhere ("a tune") is not a key.

    Without a mode word the letter must be a capital or carry an accidental ("in D", "in f#"),
    so that the article in "in a lively style" is not read as A.
    """
    for match in _KEY_RE.finditer(prompt):
        letter, accidental, mode = match.group(1), match.group(2), match.group(3)
        said_in = match.group(0).lower().startswith("in ")
        if not mode and not (said_in and (letter.isupper() or accidental)):
            continue
        key = _pitch_class(letter, accidental)
        if mode is None:
            return key, None
        return key, "minor" if mode.lower() in _MINOR_MODES else "major"
    return None, None
