"""Compose and continue melodies with a trained melody language model, bar by bar.

The model is one of the autoregressive families (``transformer-lm``, ``lstm-lm``, ``gru-lm``)
trained on a melody token cache whose pieces begin with the header ``STYLE METER KEY`` (see
:mod:`aigc_studio.datasets.melody_tokens`). Composing starts from ``BOS STYLE METER KEY`` (and,
to continue a melody, the melody's own tokens) and samples one token at a time with the model's
cache.

Sampling is constrained by the token grammar so that every output is a sequence of whole bars
of the requested meter (grammar-constrained decoding): a note or rest is always followed by its
duration, a duration never runs past the bar line, the bar line comes exactly when the bar is
full, and the piece ends after the last requested bar. Within those rules the model chooses
freely, with temperature and nucleus (top-p) filtering (Holtzman et al. 2020).

Each attempt samples several drafts together in one batch (:func:`sample_drafts`;
:data:`DEFAULT_DRAFTS`: more in minor keys, where fewer of the model's melodies state their
key) and ranks them by how clearly they state the asked key
(:func:`~aigc_studio.music.statistics.key_clarity`). Copying is checked after sampling: the
longest run of notes shared with any training tune (transposition-invariant,
:mod:`aigc_studio.music.copy_check`) must not exceed ``max_shared`` notes; the best draft that
passes is kept, and if none does the attempt is repeated with the next seed, up to
``max_attempts`` times.

This module composes token sequences and events; writing MIDI/MusicXML/audio is elsewhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from aigc_studio.datasets import melody_tokens as mt
from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.music.prompt import STYLES, CompositionControls

#: Longest composition, in bars.
MAX_BARS = 256
#: Default length of a shared run (in notes) above which a melody counts as a copy.
DEFAULT_MAX_SHARED = 12
#: Resampling attempts before giving up on an original melody.
DEFAULT_MAX_ATTEMPTS = 8
#: Drafts sampled together per attempt by default, of which the one that states its key most
#: clearly is kept (:func:`~aigc_studio.music.statistics.key_clarity`), and the most allowed.
#: Chosen on 60 major and 60 minor headers of the folk-melodies test split (key heard by
#: Krumhansl-Schmuckler, which does not choose): major 0.82 (one draft) -> 0.97 with 4 drafts;
#: minor 0.29 -> 0.42 with 4, 0.53 with 8. Minor keys get more because fewer of the model's
#: minor drafts state their key; 16 bars take about as long either way (major keys are
#: sampled twice per step by the key steering).
DEFAULT_DRAFTS = {"major": 4, "minor": 8}
MAX_DRAFTS = 16


def bar_steps(meter: str) -> int:
    """Return the length of one bar of a time signature in sixteenth notes.

    Raises
    ------
    ParameterError
        If ``meter`` is not ``N/D`` with D in 1, 2, 4, 8, 16, or the bar is longer than four
        whole notes.
    """
    try:
        numerator, denominator = (int(part) for part in meter.split("/"))
    except ValueError:
        raise ParameterError(f"meter must look like 6/8, got {meter!r}") from None
    if numerator < 1 or denominator not in (1, 2, 4, 8, 16):
        raise ParameterError(f"meter must look like 6/8, got {meter!r}")
    steps = numerator * 16 // denominator
    if not 1 <= steps <= 64:
        raise ParameterError(f"a {meter} bar is not between a sixteenth and four whole notes")
    return steps


@dataclass
class Composition:
    """A composed melody and how it was made.

    Attributes
    ----------
    events : list of MelodyEvent
        The melody (for ``continue_melody``: the continuation only).
    controls : CompositionControls
        The controls used (style, key, mode, meter, bars, temperature; tempo is passed through).
    tokens : list of int
        Everything sampled after the header, for inspection.
    seed : int
        The seed of the accepted attempt.
    attempts : int
        Samples drawn until one passed the copy check.
    copy_report : dict or None
        The copy check of the accepted melody (:meth:`CopyReport.to_dict`), None if not run.
    drafts : int
        Melodies sampled per attempt, of which this one was kept.
    """

    events: list[mt.MelodyEvent]
    controls: CompositionControls
    tokens: list[int]
    seed: int
    attempts: int = 1
    copy_report: dict[str, Any] | None = field(default=None)
    drafts: int = 1


class _BarGrammar:
    """Which tokens may come next so that the melody is made of whole bars."""

    def __init__(self, vocab_size: int, bar_length: int, bars: int) -> None:
        self.vocab_size = vocab_size
        self.bar_length = bar_length
        self.bars_left = bars
        self.remaining = 0  # sixteenths left in the current bar; 0 before the first bar line
        self.expect_duration = False
        self.last_duration = 0
        self.done = False

    def allowed(self) -> torch.Tensor:
        mask = torch.zeros(self.vocab_size, dtype=torch.bool)
        durations = torch.arange(1, mt.MAX_DUR + 1)
        if self.expect_duration or (self.last_duration == mt.MAX_DUR and self.remaining > 0):
            fits = durations <= self.remaining
            mask[mt.DUR_OFFSET : mt.DUR_OFFSET + mt.MAX_DUR] = fits
            if not self.expect_duration:  # after DUR_16 a new note may also start
                mask[mt.NOTE_OFFSET : mt.REST + 1] = True
            return mask
        if self.remaining > 0:
            mask[mt.NOTE_OFFSET : mt.REST + 1] = True
        elif self.bars_left > 0:
            mask[mt.BAR] = True
        else:
            mask[mt.EOS] = True
        return mask

    def accept(self, token: int) -> None:
        if token == mt.BAR:
            self.bars_left -= 1
            self.remaining = self.bar_length
            self.last_duration = 0
        elif mt.NOTE_OFFSET <= token <= mt.REST:
            self.expect_duration = True
            self.last_duration = 0
        elif mt.DUR_OFFSET <= token < mt.DUR_OFFSET + mt.MAX_DUR:
            steps = token - mt.DUR_OFFSET + 1
            self.remaining -= steps
            self.expect_duration = False
            self.last_duration = steps
        elif token == mt.EOS:
            self.done = True


def _check_model(model: Any) -> tuple[Any, int | None]:
    """Return the language model of a trained melody model and its training context."""
    if getattr(model, "spec", None) is not None:
        if model.spec.family != "autoregressive":
            raise ConfigError(f"{model.name} is not a melody language model")
        vocab = model.task.state.get("vocab_size") or model.task.model_config.vocab_size
        if vocab < mt.VOCAB_SIZE:
            raise ConfigError(
                f"{model.source}: trained on a {vocab}-token vocabulary without the style, "
                f"meter and key tokens ({mt.VOCAB_SIZE} needed); train on folk-melodies"
            )
        return model.modules["model"], model.task.options.get("context")
    return model, None


def _header(controls: CompositionControls) -> list[int]:
    if controls.style not in STYLES:
        raise ParameterError(f"style must be one of {', '.join(STYLES)}, got {controls.style!r}")
    if controls.key is None or not 0 <= controls.key < 12:
        raise ParameterError(f"key must be a pitch class 0-11, got {controls.key!r}")
    mode = controls.mode or "major"
    return [
        mt.BOS,
        mt.style_token(controls.style),
        mt.meter_token(controls.meter),
        mt.key_token(controls.key, mode),
    ]


#: Key steering (``key_strength`` 1): guidance of a major key against its relative minor, and
#: the penalty (nats) on the major third and sixth of a minor key. Chosen on 40 major and 40
#: minor headers of the folk-melodies test split (key heard by Krumhansl-Schmuckler): major
#: 0.47 -> 0.82 with guidance 2; minor 0.17 -> 0.28 with the penalty. Guidance does not help
#: minor keys: the "minor" headers fold dorian and aeolian tunes, and guided away from its
#: relative major a minor melody keeps its tonic but is heard as major.
MAJOR_KEY_GUIDANCE = 2.0
MINOR_KEY_PENALTY = 4.0
#: Intervals above the tonic that a (natural) minor key avoids: the major third and sixth.
_MAJOR_THIRD_AND_SIXTH = (4, 9)


def _check_key_strength(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3:
        raise ParameterError(f"key_strength must be a number in [0, 3], got {value!r}")
    return float(value)


def relative_minor_header(header: list[int]) -> list[int]:
    """Return a major-key header with its key replaced by the relative minor (C -> A minor)."""
    tonic, _ = mt.key_of_token(header[3])
    return [*header[:3], mt.key_token((tonic + 9) % 12, "minor")]


def key_steering(
    header: list[int], body: list[int], strength: float, vocab_size: int
) -> tuple[list[list[int]] | None, float, torch.Tensor | None]:
    """Return what :func:`sample_drafts` needs to hold a melody to its key.

    A major key is steered by classifier-free guidance away from its relative minor (the same
    notes, another tonic), so that the melody leans on its own tonic; a minor key by a penalty
    on its major third and major sixth, which keeps it in natural minor (the corpus's "minor"
    tunes are often dorian, whose major sixth makes a melody sound like the major key a tone
    below). ``strength`` scales both (0: neither).

    Returns
    -------
    (contrast prefixes or None, guidance, token bias or None)
    """
    if strength <= 0:
        return None, 0.0, None
    tonic, mode = mt.key_of_token(header[3])
    if mode == "major":
        return [relative_minor_header(header) + body], MAJOR_KEY_GUIDANCE * strength, None
    bias = torch.zeros(vocab_size)
    tokenizer = mt.MelodyTokenizer()
    for pitch in range(mt.NOTE_MIN, mt.NOTE_MAX + 1):
        if (pitch - tonic) % 12 in _MAJOR_THIRD_AND_SIXTH:
            bias[tokenizer.note_token(pitch)] = -MINOR_KEY_PENALTY * strength
    return None, 0.0, bias


def _drafts_for(drafts: int | None, controls: CompositionControls) -> int:
    if drafts is None:
        return DEFAULT_DRAFTS[controls.mode or "major"]
    return _check_drafts(drafts)


def _check_drafts(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DRAFTS:
        raise ParameterError(f"drafts must be an integer in [1, {MAX_DRAFTS}], got {value!r}")
    return value


def _check_controls(controls: CompositionControls) -> tuple[int, int, float]:
    bars = controls.bars if controls.bars is not None else 16
    if not 1 <= bars <= MAX_BARS:
        raise ParameterError(f"bars must be in [1, {MAX_BARS}], got {bars}")
    temperature = controls.temperature if controls.temperature is not None else 1.0
    if not (math.isfinite(temperature) and 0.05 <= temperature <= 3.0):
        raise ParameterError(f"temperature must be in [0.05, 3], got {temperature}")
    if controls.meter is None:
        raise ParameterError("a meter is needed (e.g. 4/4)")
    return bars, bar_steps(controls.meter), temperature


@torch.no_grad()
def sample_drafts(
    model: Any,
    prefix: list[int],
    *,
    bars: int,
    bar_length: int,
    drafts: int = 1,
    temperature: float = 1.0,
    top_p: float | None = 0.95,
    seed: int = 0,
    window: int | None = None,
    contrast_prefixes: list[list[int]] | None = None,
    guidance: float = 0.0,
    token_bias: torch.Tensor | None = None,
) -> list[list[int]]:
    """Sample ``drafts`` independent sets of whole bars after ``prefix``, in one batch.

    Each draft follows the bar grammar on its own; all advance together through the model, so
    that a few drafts cost far less than a few calls (the model's cache is batched).

    Parameters
    ----------
    model : nn.Module
        ``model(tokens, cache) -> (logits, cache)``, with ``max_len`` (None for recurrent
        models, which have no window).
    prefix : list of int
        ``BOS STYLE METER KEY`` and any melody tokens to continue; must end on a complete
        bar (or be only the header).
    bars : int
        Bars to add.
    bar_length : int
        Sixteenths per bar.
    drafts : int
        Melodies to sample, in [1, :data:`MAX_DRAFTS`].
    temperature : float
        Softmax temperature (> 0).
    top_p : float or None
        Nucleus filtering (None: off).
    seed : int
        Seed of the draws. Each draft draws from its own generator (draft 0 from ``seed``
        itself), so a draft does not depend on how many others are sampled beside it: draft 0
        of any count is the melody of ``drafts=1``.
    window : int, optional
        Most tokens the model sees at once (default its ``max_len``); give the training
        context, since positions beyond it were never trained.
    contrast_prefixes : list of list of int, optional
        The same prefix with other headers (e.g. other keys); with ``guidance`` > 0 each step
        samples from ``log p(x | prefix) + guidance * (log p(x | prefix) - mean_c log p(x |
        c))``: classifier-free guidance (Ho and Salimans 2022, as MusicGen uses it for text)
        towards what makes the asked header differ from the others.
    guidance : float
        Strength of the contrast, >= 0 (0: plain sampling).
    token_bias : torch.Tensor, optional
        Added to every step's log-probabilities (vocabulary-sized), e.g. to avoid a pitch.

    Returns
    -------
    list of list of int
        Per draft, the new tokens, ending with EOS.

    Raises
    ------
    ParameterError
        If ``drafts`` is out of range or a contrast prefix differs in length.
    """
    from aigc_studio.models.sampling import filter_logits

    drafts = _check_drafts(drafts)
    grammars = [_BarGrammar(_vocab(model), bar_length, bars) for _ in range(drafts)]
    generators = [
        torch.Generator().manual_seed(_draft_seed(seed, draft)) for draft in range(drafts)
    ]
    max_len = getattr(model, "max_len", None)
    if window is not None:
        max_len = min(window, max_len) if max_len is not None else None
    was_training = model.training
    model.eval()
    try:
        guided = bool(contrast_prefixes) and guidance > 0
        prefixes = [prefix, *(contrast_prefixes or [])] if guided else [prefix]
        if any(len(other) != len(prefix) for other in prefixes):
            raise ParameterError("contrast prefixes must be as long as the prefix")
        # Rows of the batch: draft-major, each active draft's prefixes together. A finished
        # draft leaves the batch (its rows of the cache are dropped) where the model can
        # select cache rows; otherwise it stays, fed EOS, and its tokens are not kept.
        rows_per_draft = len(prefixes)
        select_cache = getattr(model, "select_cache", None)
        active = list(range(drafts))
        fed: list[list[int]] = [[] for _ in range(drafts)]
        new: list[list[int]] = [[] for _ in range(drafts)]

        def contexts() -> torch.Tensor:
            return torch.tensor(
                [_window(p, fed[draft], max_len) for draft in active for p in prefixes]
            )

        batch = contexts()
        logits, cache = model(batch)
        position = batch.shape[1]
        while True:
            last = torch.log_softmax(logits[:, -1].float(), dim=-1)
            last = last.view(len(active), rows_per_draft, -1)
            own = last[:, 0]
            scores = own + guidance * (own - last[:, 1:].mean(dim=1)) if guided else own
            if token_bias is not None:
                scores = scores + token_bias
            scores = scores / temperature
            allowed = torch.stack([grammars[draft].allowed() for draft in active])
            scores = filter_logits(scores.masked_fill(~allowed, float("-inf")), top_p=top_p)
            probabilities = torch.softmax(scores, -1)
            tokens = [
                int(torch.multinomial(row, 1, generator=generators[draft]))
                for row, draft in zip(probabilities, active, strict=True)
            ]
            for draft, token in zip(active, tokens, strict=True):
                if grammars[draft].done:
                    token = mt.EOS
                else:
                    grammars[draft].accept(token)
                    new[draft].append(token)
                fed[draft].append(token)
            still = [i for i, draft in enumerate(active) if not grammars[draft].done]
            if not still:
                return new
            if select_cache is not None and len(still) < len(active):
                rows = torch.tensor(
                    [i * rows_per_draft + r for i in still for r in range(rows_per_draft)]
                )
                cache = select_cache(cache, rows)
                active = [active[i] for i in still]
            if max_len is not None and position + 1 >= max_len:
                # Out of the model's window: start again from the header and the latest tokens.
                batch = contexts()
                logits, cache = model(batch)
                position = batch.shape[1]
            else:
                step = torch.tensor([fed[draft][-1] for draft in active])
                logits, cache = model(step.repeat_interleave(rows_per_draft)[:, None], cache)
                position += 1
    finally:
        model.train(was_training)


def _draft_seed(seed: int, draft: int) -> int:
    """Seed of one draft's generator: ``seed`` for draft 0, a derived stream for the others."""
    if draft == 0:
        return seed
    return int(np.random.SeedSequence([seed, draft]).generate_state(1)[0])


def _window(prefix: list[int], new: list[int], max_len: int | None) -> list[int]:
    """Return the header (4 tokens) and the latest history that fits half the window."""
    history = prefix + new
    if max_len is None or len(history) < max_len:
        return history
    keep = max_len // 2
    return history[:4] + history[4:][-keep:]


def _vocab(model: Any) -> int:
    config = getattr(model, "config", None)
    return int(getattr(config, "vocab_size", mt.VOCAB_SIZE))


def compose_melody(
    model: Any,
    controls: CompositionControls,
    *,
    seed: int = 0,
    top_p: float | None = 0.95,
    copy_index: Any = None,
    max_shared: int = DEFAULT_MAX_SHARED,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    cadence: bool = True,
    key_strength: float = 1.0,
    drafts: int | None = None,
) -> Composition:
    """Compose a new melody of whole bars.

    Parameters
    ----------
    model : TrainedModel or nn.Module
        A melody language model trained with the header tokens (``load_trained``).
    controls : CompositionControls
        ``style``, ``key``, ``mode``, ``meter`` are required (merge a prompt with defaults
        first); ``bars`` defaults to 16 and ``temperature`` to 1.0.
    seed : int
        Seed of the first attempt (attempt ``i`` uses ``seed + i``).
    top_p : float or None
        Nucleus filtering.
    copy_index : IntervalIndex, optional
        The training corpus: melodies sharing more than ``max_shared`` notes with a tune are
        sampled again. None skips the check (``--allow-copying``).
    max_shared : int
        Longest allowed shared run, in notes.
    max_attempts : int
        Attempts before :class:`ParameterError` says no original melody was found.
    cadence : bool
        End on the tonic (:func:`end_on_tonic`), as most folk tunes do.
    key_strength : float
        How firmly to hold the melody to its key (:func:`key_steering`), in [0, 3]; 0 samples
        the model as it is.
    drafts : int, optional
        Melodies sampled together per attempt, in [1, :data:`MAX_DRAFTS`]; the one that states
        the asked key most clearly (:func:`~aigc_studio.music.statistics.key_clarity`) and
        passes the copy check is kept. 1 takes the model's first sample; None: the mode's
        :data:`DEFAULT_DRAFTS`.

    Returns
    -------
    Composition

    Raises
    ------
    ParameterError
        If a control is out of range, or every attempt copied.
    ConfigError
        If the model is not a melody model with header tokens.
    """
    module, window = _check_model(model)
    bars, bar_length, temperature = _check_controls(controls)
    header = _header(controls)
    return _sample_checked(
        module,
        header,
        [],
        controls,
        bars=bars,
        bar_length=bar_length,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        copy_index=copy_index,
        max_shared=max_shared,
        max_attempts=max_attempts,
        window=window,
        cadence=cadence,
        key_strength=_check_key_strength(key_strength),
        drafts=_drafts_for(drafts, controls),
    )


def continue_melody(
    model: Any,
    events: list[mt.MelodyEvent],
    controls: CompositionControls,
    *,
    seed: int = 0,
    top_p: float | None = 0.95,
    copy_index: Any = None,
    max_shared: int = DEFAULT_MAX_SHARED,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    cadence: bool = True,
    drafts: int | None = None,
) -> Composition:
    """Continue a melody with ``controls.bars`` more bars in its meter and key.

    The melody's last bar is completed with a rest if it is short, so the continuation starts
    on a bar line. Its controls (meter, key) should describe the given melody (read them from
    the file with :func:`aigc_studio.music.scores.melody_from_midi`). Of ``drafts``
    continuations sampled together (None: the mode's :data:`DEFAULT_DRAFTS`), the one whose
    whole melody states the key most clearly and passes the copy check is kept (as in
    :func:`compose_melody`).

    Returns
    -------
    Composition
        ``events`` holds the continuation only.
    """
    module, window = _check_model(model)
    bars, bar_length, temperature = _check_controls(controls)
    if not events:
        raise ParameterError("the melody to continue has no notes")
    header = _header(controls)
    body = mt.MelodyTokenizer().encode(whole_bars(events, bar_length), add_bos_eos=False)
    return _sample_checked(
        module,
        header,
        body,
        controls,
        bars=bars,
        bar_length=bar_length,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        copy_index=copy_index,
        max_shared=max_shared,
        max_attempts=max_attempts,
        checked_prefix=events,
        window=window,
        cadence=cadence,
        drafts=_drafts_for(drafts, controls),
    )


def end_on_tonic(events: list[mt.MelodyEvent], tonic: int) -> list[mt.MelodyEvent]:
    """Move a melody's last note to the nearest pitch of the tonic (a cadence on the tonic).

    Nearly four in five of the held-out folk tunes end on their tonic, and the ending is what a
    listener (and a key-finding algorithm) hears the key by; a melody model trained for a few
    CPU minutes ends there far less often (see the README's key table). A last note already on
    the tonic stays; otherwise it moves by at most a tritone, downwards on a tie.

    Parameters
    ----------
    events : list of MelodyEvent
        The melody; rests are skipped when looking for the last note.
    tonic : int
        Pitch class of the tonic, 0 = C … 11 = B.

    Returns
    -------
    list of MelodyEvent
        A new list; the input is not changed.

    Examples
    --------
    >>> end_on_tonic([mt.MelodyEvent(64, 1.0, True), mt.MelodyEvent(67, 1.0, False)], 2)[-1].pitch
    62
    """
    result = list(events)
    for index in range(len(result) - 1, -1, -1):
        pitch = result[index].pitch
        if pitch is None:
            continue
        up = (tonic - pitch) % 12
        step = up if up < 6 else up - 12  # a tritone (6) goes down
        result[index] = result[index]._replace(pitch=pitch + step)
        return result
    return result


def whole_bars(events: list[mt.MelodyEvent], bar_length: int) -> list[mt.MelodyEvent]:
    """Return the melody with its last bar filled up by a rest (a continuation starts on a bar).

    Parameters
    ----------
    events : list of MelodyEvent
        The melody.
    bar_length : int
        Sixteenths per bar.
    """
    used = 0
    for event in events:
        if event.bar_start:
            used = 0
        used += mt.grid_steps(event.duration)
    missing = (-used) % bar_length
    if missing == 0:
        return list(events)
    return [*events, mt.MelodyEvent(None, missing / mt.STEPS_PER_QUARTER, False)]


def _sample_checked(
    module: Any,
    header: list[int],
    body: list[int],
    controls: CompositionControls,
    *,
    bars: int,
    bar_length: int,
    temperature: float,
    top_p: float | None,
    seed: int,
    copy_index: Any,
    max_shared: int,
    max_attempts: int,
    checked_prefix: list[mt.MelodyEvent] | None = None,
    window: int | None = None,
    cadence: bool = False,
    key_strength: float = 0.0,
    drafts: int = 1,
) -> Composition:
    from aigc_studio.music.copy_check import sample_original
    from aigc_studio.music.statistics import key_clarity

    tokenizer = mt.MelodyTokenizer()
    contrast, guidance, bias = key_steering(header, body, key_strength, _vocab(module))
    used = CompositionControls(**{**controls.to_dict(), "bars": bars, "temperature": temperature})
    first_seed = seed

    key = (int(controls.key or 0), controls.mode or "major")

    def draw(seed: int) -> list[Composition]:
        sampled = sample_drafts(
            module,
            header + body,
            bars=bars,
            bar_length=bar_length,
            drafts=drafts,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            window=window,
            contrast_prefixes=contrast,
            guidance=guidance,
            token_bias=bias,
        )
        candidates = []
        for tokens in sampled:
            events = tokenizer.decode(tokens)
            if cadence:
                events = end_on_tonic(events, key[0])
            attempt = seed - first_seed + 1
            candidates.append(Composition(events, used, tokens, seed, attempt, drafts=drafts))
        if len(candidates) == 1:
            return candidates
        # The clearest statement of the key first; a continuation is judged with its opening.
        clarity = [key_clarity([*(checked_prefix or []), *c.events], key) for c in candidates]
        order = sorted(range(len(candidates)), key=lambda i: -clarity[i])
        return [candidates[i] for i in order]

    # A continuation is judged on what it adds, with the given melody's end as context.
    context = [e.pitch for e in (checked_prefix or [])[-4:]]
    composition, _, report = sample_original(
        draw,
        lambda drawn: context + [e.pitch for e in drawn.events],
        copy_index,
        seed=seed,
        max_shared=max_shared,
        max_attempts=max_attempts,
        what="attempts",
    )
    if report is not None:
        composition.copy_report = report.to_dict()
    return composition
