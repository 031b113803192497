"""A MusicVAE-style variational autoencoder over N-bar melodies on a sixteenth-note grid.

The model (bidirectional LSTM encoder, z-conditioned LSTM decoder), its loss, and the
conversions between a melody (a list of
:class:`~aigc_studio.datasets.melody_tokens.MelodyEvent`) and the fixed grid the model reads
and writes. It is the studio's melody VAE for interpolating between and varying melodies; it
does not train itself (see :mod:`aigc_studio.training`), does not cut datasets (the training
task does), and does not render audio or MIDI.

The grid has ``bars * steps_per_bar`` steps of a sixteenth note each, one class per step::

    0        rest (nothing sounds; after a note it is the note-off)
    1        hold (the note sounding at the step before goes on)
    2 .. 62  note-on of MIDI pitch 36 .. 96 (class - 2 + 36)

as in Roberts et al. (2018), whose melodies use a note-off, a no-event and 128 note-on classes;
here the pitch range is the studio's melody tokens' and a rest is a class of its own at every
silent step, so that a hold can only continue a note.

References
----------
Roberts, A., Engel, J., Raffel, C., Hawthorne, C. & Eck, D. (2018). A Hierarchical Latent
Vector Model for Learning Long-Term Structure in Music. ICML. (This module is its "flat"
decoder, which the paper uses for 2-bar melodies; the hierarchical conductor is not built.)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from aigc_studio.config_values import dataclass_from_dict, raise_first_failure
from aigc_studio.datasets.melody_tokens import (
    NOTE_MAX,
    NOTE_MIN,
    STEPS_PER_QUARTER,
    MelodyEvent,
    grid_steps,
)
from aigc_studio.errors import ParameterError
from aigc_studio.models.spectrogram_vae import SpectrogramVAE, kl_term

__all__ = [
    "HOLD",
    "NOTE_ON_OFFSET",
    "NUM_CLASSES",
    "REST",
    "MelodyVAE",
    "MelodyVAEConfig",
    "events_to_grid",
    "grid_to_events",
    "melody_vae_loss",
    "melody_windows",
    "true_elbo_config",
]

#: Grid class of a silent step.
REST = 0
#: Grid class of a step where the previous step's note goes on sounding.
HOLD = 1
#: Grid class of the note-on of MIDI pitch ``NOTE_MIN`` (36); pitch ``p`` is ``p - 34``.
NOTE_ON_OFFSET = 2
#: Number of grid classes: rest, hold and one note-on per pitch 36..96.
NUM_CLASSES = NOTE_ON_OFFSET + NOTE_MAX - NOTE_MIN + 1


@dataclass
class MelodyVAEConfig:
    """Sizes and loss options of a :class:`MelodyVAE`.

    The default model has 5,879,487 parameters (the count does not depend on ``bars``).

    Parameters
    ----------
    bars : int
        Bars per melody window, 1..16.
    steps_per_bar : int
        Grid steps (sixteenth notes) per bar, 4..48; 16 is a 4/4 or 2/2 bar.
    latent_dim : int
        Size of the latent vector ``z``.
    encoder_hidden, encoder_layers : int
        Width (per direction) and depth of the bidirectional LSTM encoder.
    decoder_hidden, decoder_layers : int
        Width and depth of the LSTM decoder.
    dropout : float
        Dropout between stacked LSTM layers, in [0, 1).
    kl_warmup_steps : int
        Steps over which the KL weight rises linearly from 0 to ``beta`` (Bowman et al. 2016);
        0 uses ``beta`` from the first step.
    free_bits : float
        Nats of KL per latent dimension that are not penalized (Kingma et al. 2016); MusicVAE
        uses a total budget instead, which is ``latent_dim * free_bits`` here.
    beta : float
        Final weight of the KL term (Higgins et al. 2017); Roberts et al. 2018 train their
        melody models with ``beta < 1`` for better reconstructions.
    """

    bars: int = 2
    steps_per_bar: int = 16
    latent_dim: int = 64
    encoder_hidden: int = 256
    encoder_layers: int = 2
    decoder_hidden: int = 512
    decoder_layers: int = 2
    dropout: float = 0.1
    kl_warmup_steps: int = 2000
    free_bits: float = 0.25
    beta: float = 0.5

    def __post_init__(self) -> None:
        self.validate()

    @property
    def steps(self) -> int:
        """Grid steps of one window, ``bars * steps_per_bar``."""
        return self.bars * self.steps_per_bar

    def validate(self) -> None:
        """Check every value's range.

        Raises
        ------
        ConfigError
            Naming the first value out of range.
        """
        checks = [
            (1 <= self.bars <= 16, f"bars must be in [1, 16], got {self.bars}"),
            (
                4 <= self.steps_per_bar <= 48,
                f"steps_per_bar must be in [4, 48], got {self.steps_per_bar}",
            ),
            (self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}"),
            (self.encoder_hidden >= 1, f"encoder_hidden must be >= 1, got {self.encoder_hidden}"),
            (self.encoder_layers >= 1, f"encoder_layers must be >= 1, got {self.encoder_layers}"),
            (self.decoder_hidden >= 1, f"decoder_hidden must be >= 1, got {self.decoder_hidden}"),
            (self.decoder_layers >= 1, f"decoder_layers must be >= 1, got {self.decoder_layers}"),
            (0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}"),
            (
                self.kl_warmup_steps >= 0,
                f"kl_warmup_steps must be >= 0, got {self.kl_warmup_steps}",
            ),
            (
                math.isfinite(self.free_bits) and self.free_bits >= 0,
                f"free_bits must be >= 0, got {self.free_bits}",
            ),
            (math.isfinite(self.beta) and self.beta >= 0, f"beta must be >= 0, got {self.beta}"),
        ]
        raise_first_failure(checks)

    def to_dict(self) -> dict[str, Any]:
        """Return the config as plain values (for checkpoints and presets)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> MelodyVAEConfig:
        """Build a config from a dict, refusing unknown keys.

        Raises
        ------
        ConfigError
            If a key is unknown or a value is out of range.
        """
        return dataclass_from_dict(cls, values, "melody VAE")


class MelodyVAE(nn.Module):
    """Variational autoencoder over ``(B, bars * steps_per_bar)`` grids of melody classes.

    Encoder: the one-hot grid through a bidirectional LSTM; the last layer's final forward and
    backward states, concatenated, go through a linear layer to the mean and log-variance of a
    diagonal Gaussian posterior. Decoder: ``tanh(W z + b)`` is the initial hidden and cell state
    of every decoder layer, and ``z`` is concatenated to the decoder's input at every step, the
    one-hot class of the step before (zeros at step 0); a linear layer gives the logits of the
    step's class. Training feeds the true classes (teacher forcing); :meth:`decode` without a
    teacher feeds back its own choices.

    Parameters
    ----------
    config : MelodyVAEConfig
        Model sizes.

    References
    ----------
    Roberts et al. 2018, A Hierarchical Latent Vector Model for Learning Long-Term Structure in
    Music (the flat, non-hierarchical decoder); Kingma & Welling 2014, Auto-Encoding
    Variational Bayes.
    """

    #: ``z = mu + exp(logvar / 2) * eps``; the spectrogram VAE's, shared.
    reparameterize = staticmethod(SpectrogramVAE.reparameterize)

    def __init__(self, config: MelodyVAEConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.encoder = nn.LSTM(
            NUM_CLASSES,
            c.encoder_hidden,
            num_layers=c.encoder_layers,
            batch_first=True,
            bidirectional=True,
            dropout=c.dropout if c.encoder_layers > 1 else 0.0,
        )
        self.to_posterior = nn.Linear(2 * c.encoder_hidden, 2 * c.latent_dim)
        self.to_initial_state = nn.Linear(c.latent_dim, 2 * c.decoder_layers * c.decoder_hidden)
        self.decoder = nn.LSTM(
            NUM_CLASSES + c.latent_dim,
            c.decoder_hidden,
            num_layers=c.decoder_layers,
            batch_first=True,
            dropout=c.dropout if c.decoder_layers > 1 else 0.0,
        )
        self.to_logits = nn.Linear(c.decoder_hidden, NUM_CLASSES)

    def _check_grid(self, x: torch.Tensor, name: str) -> None:
        steps = self.config.steps
        if x.ndim != 2 or x.shape[1] != steps or x.dtype != torch.long:
            raise ParameterError(
                f"{name} must be a LongTensor of shape (B, {steps}), got {x.dtype} {tuple(x.shape)}"
            )
        if x.numel() and (x.min() < 0 or x.max() >= NUM_CLASSES):
            raise ParameterError(f"{name} classes must be in [0, {NUM_CLASSES - 1}]")

    def _check_z(self, z: torch.Tensor) -> None:
        if z.ndim != 2 or z.shape[1] != self.config.latent_dim:
            raise ParameterError(
                f"z must have shape (B, {self.config.latent_dim}), got {tuple(z.shape)}"
            )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters of a batch of grids.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, steps)`` long, classes in ``[0, NUM_CLASSES)``.

        Returns
        -------
        mu, logvar : torch.Tensor
            ``(B, latent_dim)`` each: mean and natural-log variance of ``q(z | x)``.

        Raises
        ------
        ParameterError
            If ``x`` has the wrong shape, dtype or a class out of range.
        """
        self._check_grid(x, "x")
        one_hot = F.one_hot(x, NUM_CLASSES).to(self.to_posterior.weight.dtype)
        _, (h_n, _) = self.encoder(one_hot)
        # h_n is (layers * 2, B, H); the last two rows are the top layer's two directions.
        summary = torch.cat([h_n[-2], h_n[-1]], dim=1)
        mu, logvar = self.to_posterior(summary).chunk(2, dim=1)
        return mu, logvar

    def _initial_state(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        state = torch.tanh(self.to_initial_state(z))
        state = state.view(-1, 2, c.decoder_layers, c.decoder_hidden).permute(1, 2, 0, 3)
        return state[0].contiguous(), state[1].contiguous()

    def teacher_forced_logits(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Logits of every step's class given ``z`` and the true classes before it.

        Parameters
        ----------
        z : torch.Tensor
            ``(B, latent_dim)``.
        x : torch.Tensor
            ``(B, steps)`` long: the grid whose previous steps are fed.

        Returns
        -------
        torch.Tensor
            ``(B, steps, NUM_CLASSES)`` unnormalized log-probabilities.

        Raises
        ------
        ParameterError
            If a shape disagrees with the config.
        """
        self._check_z(z)
        self._check_grid(x, "x")
        if z.shape[0] != x.shape[0]:
            raise ParameterError(
                f"z and x must have one batch size, got {z.shape[0]}, {x.shape[0]}"
            )
        previous = F.one_hot(x[:, :-1], NUM_CLASSES).to(z.dtype)
        previous = F.pad(previous, (0, 0, 1, 0))  # step 0 has no previous class: zeros
        inputs = torch.cat([previous, z[:, None, :].expand(-1, x.shape[1], -1)], dim=2)
        out, _ = self.decoder(inputs, self._initial_state(z))
        return self.to_logits(out)

    def decode(
        self,
        z: torch.Tensor,
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        teacher: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Grids for latent vectors, sampled step by step from the decoder.

        Parameters
        ----------
        z : torch.Tensor
            ``(B, latent_dim)``; ``torch.randn`` samples the prior.
        temperature : float
            Softmax temperature, >= 0; 0 takes the most likely class at each step (greedy).
        generator : torch.Generator, optional
            Source of the sampling noise (ignored at temperature 0).
        teacher : torch.Tensor, optional
            ``(B, steps)`` grid to feed as the previous classes instead of the decoder's own
            choices; each step's choice is then conditioned on the true history.

        Returns
        -------
        torch.Tensor
            ``(B, steps)`` long class ids.

        Raises
        ------
        ParameterError
            If a shape disagrees with the config or ``temperature`` is negative.

        Examples
        --------
        >>> model = MelodyVAE(MelodyVAEConfig(bars=1, latent_dim=4, encoder_hidden=8,
        ...                                   decoder_hidden=8))
        >>> model.decode(torch.zeros(3, 4), temperature=0).shape
        torch.Size([3, 16])
        """
        if not (math.isfinite(temperature) and temperature >= 0):
            raise ParameterError(f"temperature must be finite and >= 0, got {temperature!r}")
        self._check_z(z)
        if teacher is not None:
            return _choose(self.teacher_forced_logits(z, teacher), temperature, generator)
        state = self._initial_state(z)
        step_input = torch.zeros(z.shape[0], 1, NUM_CLASSES, dtype=z.dtype, device=z.device)
        chosen = []
        for _ in range(self.config.steps):
            out, state = self.decoder(torch.cat([step_input, z[:, None, :]], dim=2), state)
            choice = _choose(self.to_logits(out[:, 0]), temperature, generator)
            chosen.append(choice)
            step_input = F.one_hot(choice, NUM_CLASSES).to(z.dtype)[:, None, :]
        return torch.stack(chosen, dim=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode, sample the posterior once and decode with teacher forcing.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, steps)`` long grid.

        Returns
        -------
        logits, mu, logvar : torch.Tensor
            ``(B, steps, NUM_CLASSES)`` and ``(B, latent_dim)`` twice; pass them to
            :func:`melody_vae_loss`.
        """
        mu, logvar = self.encode(x)
        return self.teacher_forced_logits(self.reparameterize(mu, logvar), x), mu, logvar


def _choose(
    logits: torch.Tensor, temperature: float, generator: torch.Generator | None
) -> torch.Tensor:
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    flat = probs.reshape(-1, probs.shape[-1])
    return torch.multinomial(flat, 1, generator=generator).view(probs.shape[:-1])


def melody_vae_loss(
    logits: torch.Tensor,
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    *,
    step: int,
    config: MelodyVAEConfig,
) -> dict[str, torch.Tensor]:
    """Negative ELBO of a batch of grids, with KL warm-up and free bits.

    ``loss = reconstruction + beta_t * kl`` where ``reconstruction`` is the cross-entropy of
    the true classes summed over the steps and averaged over the batch (the negative
    categorical log-likelihood, nats per window), and ``kl`` and ``beta_t`` are those of
    :func:`aigc_studio.models.spectrogram_vae.kl_term` (analytic Gaussian KL floored at
    ``free_bits`` nats per dimension; ``beta`` reached linearly over ``kl_warmup_steps``).

    Parameters
    ----------
    logits : torch.Tensor
        ``(B, steps, NUM_CLASSES)`` from :meth:`MelodyVAE.forward`.
    x : torch.Tensor
        ``(B, steps)`` the true grid.
    mu, logvar : torch.Tensor
        Posterior parameters ``(B, latent_dim)``.
    step : int
        The optimizer step (0 at the start of training), for the warm-up.
    config : MelodyVAEConfig
        Supplies ``beta``, ``kl_warmup_steps`` and ``free_bits``.

    Returns
    -------
    dict of str to torch.Tensor
        Scalars ``"loss"`` (to backpropagate), ``"reconstruction"``, ``"kl"`` (free bits
        applied), ``"beta"`` (the weight used) and ``"accuracy"`` (teacher-forced per-step
        argmax accuracy, no gradient).

    Raises
    ------
    ParameterError
        If shapes disagree or ``step`` is negative.
    """
    if logits.ndim != 3 or logits.shape[:2] != x.shape or logits.shape[2] != NUM_CLASSES:
        raise ParameterError(
            f"logits must be (B, steps, {NUM_CLASSES}) for x of shape (B, steps); got "
            f"{tuple(logits.shape)} and {tuple(x.shape)}"
        )
    if mu.shape != logvar.shape or mu.ndim != 2 or mu.shape[0] != x.shape[0]:
        raise ParameterError(
            f"mu and logvar must both be (B, latent_dim) with B={x.shape[0]}; got "
            f"{tuple(mu.shape)} and {tuple(logvar.shape)}"
        )
    if step < 0:
        raise ParameterError(f"step must be >= 0, got {step}")
    kl, beta_t = kl_term(mu, logvar, step=step, config=config)
    reconstruction = (
        F.cross_entropy(logits.float().transpose(1, 2), x, reduction="none").sum(dim=1).mean()
    )
    accuracy = (logits.detach().argmax(dim=-1) == x).float().mean()
    return {
        "loss": reconstruction + beta_t * kl,
        "reconstruction": reconstruction,
        "kl": kl,
        "beta": beta_t,
        "accuracy": accuracy,
    }


def true_elbo_config(config: MelodyVAEConfig) -> MelodyVAEConfig:
    """Return ``config`` with the plain ELBO's KL weighting: ``beta`` 1, no warm-up or free bits.

    Held-out figures use it so that they are comparable between runs trained with different
    KL schedules.
    """
    return dataclasses.replace(config, beta=1.0, kl_warmup_steps=0, free_bits=0.0)


# -- melodies and the grid ------------------------------------------------------------------


def _melody_steps(
    events: Sequence[tuple[int | None, float, bool]],
) -> tuple[np.ndarray, np.ndarray]:
    """Return the onset and end grid step of every event, the first onset being step 0."""
    onsets, ends = [], []
    position = 0.0
    for index, event in enumerate(events):
        if len(event) < 3:
            raise ParameterError(f"events[{index}] must be (pitch, duration, bar_start)")
        pitch, duration = event[0], float(event[1])
        if not (math.isfinite(duration) and duration > 0):
            raise ParameterError(f"events[{index}]: duration must be > 0 quarters, got {duration}")
        if pitch is not None and not NOTE_MIN <= int(pitch) <= NOTE_MAX:
            raise ParameterError(
                f"events[{index}]: pitch must be in [{NOTE_MIN}, {NOTE_MAX}] or None, got {pitch}"
            )
        # Rounding the running position, not each duration, keeps off-grid input from drifting.
        onsets.append(grid_steps(position))
        position += duration
        ends.append(grid_steps(position))
    return np.asarray(onsets, dtype=np.int64), np.asarray(ends, dtype=np.int64)


def _paint(
    events: Sequence[tuple[int | None, float, bool]], onsets: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """Return the grid of the whole melody from its first event (rests 0, note-on, holds)."""
    grid = np.full(int(ends[-1]) if len(ends) else 0, REST, dtype=np.int64)
    for event, start, end in zip(events, onsets, ends, strict=True):
        if event[0] is None or end <= start:  # a note shorter than half a step vanishes
            continue
        grid[start] = NOTE_ON_OFFSET + int(event[0]) - NOTE_MIN
        grid[start + 1 : end] = HOLD
    return grid


def events_to_grid(
    events: Sequence[tuple[int | None, float, bool]],
    bars: int,
    *,
    steps_per_bar: int = 16,
) -> np.ndarray:
    """Put the first ``bars`` bars of a melody on the grid of a :class:`MelodyVAE`.

    The grid starts at the first event that starts a bar (at the first event if none does, as
    if the melody began on a downbeat), so a pickup before it is dropped; it is
    ``bars * steps_per_bar`` sixteenth-note steps long, and a melody that ends sooner is padded
    with rests. A note becomes its note-on class followed by holds, a rest becomes rest steps.
    Onsets are rounded to the nearest sixteenth (halves up, as the tokenizer does). Bar lines
    inside the window are not checked (see :func:`melody_windows` for that).

    Parameters
    ----------
    events : sequence of (pitch or None, duration in quarters, bar_start)
        E.g. :class:`~aigc_studio.datasets.melody_tokens.MelodyEvent` from
        ``MelodyTokenizer.decode``; pitches in [36, 96].
    bars : int
        Bars to take, >= 1.
    steps_per_bar : int
        Sixteenths per bar (16 for 4/4 or 2/2).

    Returns
    -------
    np.ndarray
        ``(bars * steps_per_bar,)`` int64 classes (see the module docstring).

    Raises
    ------
    ParameterError
        If ``bars`` or ``steps_per_bar`` is below 1, a pitch is out of range or a duration is
        not positive.

    Examples
    --------
    >>> events_to_grid([(60, 0.5, True), (None, 0.25, False), (62, 0.25, False)], 1)[:5]
    array([26,  1,  0, 28,  0])
    """
    if bars < 1 or steps_per_bar < 1:
        raise ParameterError(f"bars and steps_per_bar must be >= 1, got {bars}, {steps_per_bar}")
    length = bars * steps_per_bar
    if not events:
        return np.full(length, REST, dtype=np.int64)
    onsets, ends = _melody_steps(events)
    first_bar = next((i for i, event in enumerate(events) if event[2]), 0)
    whole = _paint(events, onsets, ends)[int(onsets[first_bar]) :][:length]
    return np.pad(whole, (0, length - len(whole)), constant_values=REST)


def grid_to_events(
    grid: np.ndarray | Sequence[int], *, steps_per_bar: int = 16
) -> list[MelodyEvent]:
    """Read a grid back as a melody.

    Step 0 is a downbeat. Events are cut at every bar line, as the studio's melody tokens are:
    a note sounding across a bar line becomes two events of the same pitch, the second one
    starting the bar, and rests are merged within a bar. A hold with no note sounding (at
    step 0 or after a rest, which a sampled decoder can produce) is read as a rest.

    Parameters
    ----------
    grid : array-like of int
        ``(steps,)`` classes (see the module docstring).
    steps_per_bar : int
        Sixteenths per bar.

    Returns
    -------
    list of MelodyEvent
        Durations in quarter notes; ``bar_start`` on the first event of every bar.

    Raises
    ------
    ParameterError
        If the grid is not 1-D or holds a class outside ``[0, NUM_CLASSES)``.

    Examples
    --------
    >>> [(e.pitch, e.duration) for e in grid_to_events([26, 1, 0, 28])]
    [(60, 0.5), (None, 0.25), (62, 0.25)]
    """
    classes = np.asarray(grid)
    if classes.ndim != 1 or (classes.size and classes.dtype.kind not in "iu"):
        raise ParameterError(
            f"grid must be a 1-D integer array, got {classes.dtype} {classes.shape}"
        )
    if classes.size and (classes.min() < 0 or classes.max() >= NUM_CLASSES):
        raise ParameterError(f"grid classes must be in [0, {NUM_CLASSES - 1}]")
    if steps_per_bar < 1:
        raise ParameterError(f"steps_per_bar must be >= 1, got {steps_per_bar}")
    events: list[MelodyEvent] = []
    pitch: int | None = None
    start = 0
    for step, value in enumerate(int(c) for c in classes):
        if value >= NOTE_ON_OFFSET:
            new_pitch, cut = value - NOTE_ON_OFFSET + NOTE_MIN, True
        elif value == HOLD and pitch is not None:
            new_pitch, cut = pitch, False
        else:
            new_pitch, cut = None, pitch is not None
        if step > 0 and (cut or step % steps_per_bar == 0):
            events.append(_event(pitch, step - start, start % steps_per_bar == 0))
            start = step
        pitch = new_pitch
    if classes.size:
        events.append(_event(pitch, classes.size - start, start % steps_per_bar == 0))
    return events


def _event(pitch: int | None, steps: int, bar_start: bool) -> MelodyEvent:
    return MelodyEvent(pitch, steps / STEPS_PER_QUARTER, bar_start)


def melody_windows(
    events: Sequence[tuple[int | None, float, bool]],
    bars: int,
    hop_bars: int = 1,
    *,
    steps_per_bar: int = 16,
) -> np.ndarray:
    """Cut a melody into grids of ``bars`` whole bars each.

    Bars are the spans between events with ``bar_start`` (the last one ends with the melody).
    A window starts at every ``hop_bars``-th bar and is kept only when each of its bars is
    exactly ``steps_per_bar`` sixteenths long — with the default 16, bars of 4/4 or 2/2 (a
    pickup, a short final bar, a bar of another meter, or a note held across an unmarked bar
    line spoils the windows it falls in) — and when it holds at least one note. A melody in
    another meter therefore gives no windows.

    Parameters
    ----------
    events : sequence of (pitch or None, duration in quarters, bar_start)
        The melody, as ``MelodyTokenizer.decode`` returns it.
    bars : int
        Bars per window, >= 1.
    hop_bars : int
        Bars between the starts of consecutive windows, >= 1 (``bars`` gives windows that do
        not overlap).
    steps_per_bar : int
        Sixteenths a bar must have.

    Returns
    -------
    np.ndarray
        ``(windows, bars * steps_per_bar)`` int64 grids in the melody's order; possibly
        ``(0, bars * steps_per_bar)``.

    Raises
    ------
    ParameterError
        If ``bars``, ``hop_bars`` or ``steps_per_bar`` is below 1, or an event is malformed.

    Examples
    --------
    >>> bar = [(60, 2.0, True), (64, 2.0, False)]
    >>> melody_windows(bar * 3, bars=2, hop_bars=1).shape
    (2, 32)
    """
    if bars < 1 or hop_bars < 1 or steps_per_bar < 1:
        raise ParameterError(
            f"bars, hop_bars and steps_per_bar must be >= 1, got {bars}, {hop_bars}, "
            f"{steps_per_bar}"
        )
    length = bars * steps_per_bar
    empty = np.zeros((0, length), dtype=np.int64)
    if not events:
        return empty
    onsets, ends = _melody_steps(events)
    bar_lines = [int(onsets[i]) for i, event in enumerate(events) if event[2]]
    if not bar_lines:
        return empty
    bar_lines = sorted(set(bar_lines))
    edges = np.asarray([*bar_lines, int(ends[-1])])
    whole_bar = np.diff(edges) == steps_per_bar
    grid = _paint(events, onsets, ends)
    windows = []
    for first in range(0, len(whole_bar) - bars + 1, hop_bars):
        if not whole_bar[first : first + bars].all():
            continue
        window = grid[edges[first] : edges[first] + length]
        if (window >= NOTE_ON_OFFSET).any():
            windows.append(window)
    return np.stack(windows) if windows else empty
