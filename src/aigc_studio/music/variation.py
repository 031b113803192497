"""Vary a melody and morph one melody into another through a trained melody VAE's latent space.

A melody is cut into windows of the model's ``bars`` whole bars (4/4 or 2/2 bars with the
default 16 steps per bar; see :func:`~aigc_studio.models.melody_vae.melody_windows`), each
window is encoded to its own latent code, and new codes are decoded back into windows that are
joined into a melody again. This module returns melodies as lists of
:class:`~aigc_studio.datasets.melody_tokens.MelodyEvent`; it does not train models, load
checkpoints (use :func:`aigc_studio.training.load_trained` and its ``modules["model"]``),
or write MIDI or audio.

References
----------
Roberts et al. 2018, A Hierarchical Latent Vector Model for Learning Long-Term Structure in
Music (latent interpolation between melodies); White 2016, Sampling Generative
Networks (spherical interpolation).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

import torch

from aigc_studio.datasets.melody_tokens import MelodyEvent
from aigc_studio.errors import ParameterError
from aigc_studio.models.melody_vae import MelodyVAE, grid_to_events, melody_windows
from aigc_studio.models.spectrogram_vae import interpolate_latents

__all__ = ["encode_melody", "interpolate_melodies", "vary_melody"]

Melody = Sequence[tuple[int | None, float, bool]]


@contextlib.contextmanager
def _inference(model: MelodyVAE) -> Iterator[None]:
    # Dropout off and no autograd graph; the caller's training mode comes back afterwards.
    if not isinstance(model, MelodyVAE):
        raise ParameterError(
            f"model must be a MelodyVAE (e.g. load_trained(run).modules['model']), got "
            f"{type(model).__name__}"
        )
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _posterior(model: MelodyVAE, events: Melody, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    config = model.config
    windows = melody_windows(events, config.bars, config.bars, steps_per_bar=config.steps_per_bar)
    if len(windows) == 0:
        raise ParameterError(
            f"{name} has no {config.bars}-bar window of whole {config.steps_per_bar}-step bars "
            "with a note in it; the model reads melodies in 4/4 or 2/2 with bar lines marked "
            "(bar_start) on every bar"
        )
    device = next(model.parameters()).device
    return model.encode(torch.from_numpy(windows).to(device))


def _decode(
    model: MelodyVAE,
    z: torch.Tensor,
    melodies: int,
    temperature: float,
    generator: torch.Generator,
) -> list[list[MelodyEvent]]:
    """Decode ``(melodies * windows, latent)`` codes into melodies of consecutive windows."""
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ParameterError(f"temperature must be finite and >= 0, got {temperature!r}")
    grids = model.decode(
        z,
        temperature=temperature,
        # A CPU generator cannot drive sampling on another device; seeds then hold per device.
        generator=generator if z.device.type == "cpu" else None,
    )
    joined = grids.reshape(melodies, -1).cpu().numpy()
    return [grid_to_events(row, steps_per_bar=model.config.steps_per_bar) for row in joined]


def encode_melody(model: MelodyVAE, events: Melody) -> torch.Tensor:
    """Return the latent code (posterior mean) of each window of a melody.

    Parameters
    ----------
    model : MelodyVAE
        A trained model.
    events : sequence of (pitch or None, duration in quarters, bar_start)
        The melody, e.g. from ``MelodyTokenizer.decode``; its bars must be marked.

    Returns
    -------
    torch.Tensor
        ``(windows, latent_dim)``: one code per window of ``model.config.bars`` whole bars that
        do not overlap, in the melody's order (windows with a bar of another length are left
        out).

    Raises
    ------
    ParameterError
        If ``model`` is not a MelodyVAE or the melody has no complete window.

    Examples
    --------
    >>> from aigc_studio.models.melody_vae import MelodyVAEConfig
    >>> model = MelodyVAE(MelodyVAEConfig(bars=1, latent_dim=4, encoder_hidden=8,
    ...                                   decoder_hidden=8))
    >>> encode_melody(model, [(60, 4.0, True), (62, 4.0, True)]).shape
    torch.Size([2, 4])
    """
    with _inference(model):
        return _posterior(model, events, "the melody")[0]


def interpolate_melodies(
    model: MelodyVAE,
    a_events: Melody,
    b_events: Melody,
    steps: int,
    *,
    seed: int = 0,
    temperature: float = 0.0,
    method: str = "slerp",
) -> list[list[MelodyEvent]]:
    """Morph melody ``a`` into melody ``b`` through the latent space, window by window.

    Window ``k`` of ``a`` and window ``k`` of ``b`` are encoded to their posterior means, the
    path between them is walked with
    :func:`~aigc_studio.models.spectrogram_vae.interpolate_latents` (spherical by default), and
    every point is decoded; the ``k``-th windows of all points are joined in order. When the
    melodies have different numbers of windows, the shorter one's count is used.

    Parameters
    ----------
    model : MelodyVAE
        A trained model.
    a_events, b_events : sequence of (pitch or None, duration in quarters, bar_start)
        The two melodies.
    steps : int
        Melodies to return, >= 2, both ends included.
    seed : int
        Seed of the decoder's sampling (the result does not depend on it at temperature 0).
    temperature : float
        Decoder temperature, >= 0; 0 (greedy) makes the first melody the model's reconstruction
        of ``a`` and the last its reconstruction of ``b``.
    method : {"slerp", "lerp"}
        How to walk between the codes.

    Returns
    -------
    list of list of MelodyEvent
        ``steps`` melodies, each ``windows * bars`` bars long.

    Raises
    ------
    ParameterError
        If ``steps < 2``, ``method`` or ``temperature`` is invalid, or a melody has no complete
        window.
    """
    if steps < 2:
        raise ParameterError(f"steps must be >= 2 (the two endpoints), got {steps}")
    with _inference(model):
        mu_a = _posterior(model, a_events, "melody a")[0]
        mu_b = _posterior(model, b_events, "melody b")[0]
        windows = min(len(mu_a), len(mu_b))
        paths = torch.stack(
            [interpolate_latents(mu_a[k], mu_b[k], steps, method) for k in range(windows)],
            dim=1,
        )  # (steps, windows, latent)
        z = paths.reshape(steps * windows, -1)
        return _decode(model, z, steps, temperature, torch.Generator().manual_seed(seed))


def vary_melody(
    model: MelodyVAE,
    events: Melody,
    n: int,
    *,
    spread: float = 0.5,
    seed: int = 0,
    temperature: float = 0.0,
) -> list[list[MelodyEvent]]:
    """Make ``n`` variations of a melody by decoding codes drawn around its own.

    Each window's code is drawn from ``N(mu, (spread * sigma)^2)``, the posterior of the window
    with its spread scaled: 0 gives the reconstruction, 1 a sample of the posterior, and larger
    values wander further. Scaling by the posterior's ``sigma`` keeps the latent dimensions the
    model does not use for this melody from being pushed more than the ones it does.

    Parameters
    ----------
    model : MelodyVAE
        A trained model.
    events : sequence of (pitch or None, duration in quarters, bar_start)
        The melody.
    n : int
        Variations, 1..10000.
    spread : float
        Multiple of the posterior standard deviation, >= 0.
    seed : int
        Seed of the draws and of the decoder's sampling.
    temperature : float
        Decoder temperature, >= 0 (0 is greedy).

    Returns
    -------
    list of list of MelodyEvent
        ``n`` melodies, each as long as the melody's windows.

    Raises
    ------
    ParameterError
        If ``n``, ``spread`` or ``temperature`` is out of range, or the melody has no complete
        window.
    """
    if not 1 <= n <= 10_000:
        raise ParameterError(f"n must be in [1, 10000], got {n}")
    if not (math.isfinite(spread) and spread >= 0):
        raise ParameterError(f"spread must be finite and >= 0, got {spread!r}")
    with _inference(model):
        mu, logvar = _posterior(model, events, "the melody")
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn((n, *mu.shape), generator=generator).to(mu)
        z = mu + spread * torch.exp(0.5 * logvar) * noise  # (n, windows, latent)
        return _decode(model, z.reshape(-1, mu.shape[1]), n, temperature, generator)
