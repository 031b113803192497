"""A small causal speech denoiser: a GRU over ERB-band energies predicts a gain per band.

In the manner of RNNoise (Valin 2018, "A Hybrid DSP/Deep Learning Approach to Real-Time
Full-Band Speech Enhancement") and the first stage of DeepFilterNet (Schröter et al. 2022): the
noisy signal's causal STFT (20 ms square-root-Hann window, 10 ms hop at 16 kHz: 320/160 samples)
is pooled into ``n_bands`` triangular bands equally spaced on the ERB-rate scale (Glasberg &
Moore 1990), their log powers are mean-normalized with an exponential moving average (as in
DeepFilterNet), and a GRU stack maps each frame to ``n_bands`` gains in [0, 1]. The gains are
interpolated linearly to the STFT bins, multiply the noisy complex spectrum, and overlap-add
resynthesizes the waveform.

Everything is causal: an output sample depends on at most one window (20 ms) of later input, so
:meth:`GRUDenoiser.step` processes audio block by block, carrying the GRU state, the feature
mean and the overlap-add buffer, with the same output as :meth:`GRUDenoiser.forward` on the
whole signal. There is no deep-filtering stage (the gains cannot separate harmonics within one
band) and no dereverberation. Training is ``aigc_studio.training.tasks.enhancement``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from scipy.signal import lfilter
from torch import nn

from aigc_studio.config_values import dataclass_from_dict
from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.models.causal_stft import CausalSTFT, FramingState

#: Starting value of the feature mean, in dB (a quiet room); it adapts within ``norm_tau``.
NORM_INIT_DB = -50.0
#: Scale of the mean-normalized log band powers fed to the network (dB per unit).
NORM_SCALE_DB = 40.0
#: Floor added to band powers before the logarithm (-100 dB).
POWER_FLOOR = 1e-10
#: Where the features and gains live: ERB bands or STFT bins.
RESOLUTIONS = ("bands", "bins")


def hz_to_erb_rate(hz: np.ndarray | float) -> np.ndarray:
    """Return the ERB-rate (ERB number) of frequencies (Glasberg & Moore 1990, eq. 4).

    ``E(f) = 21.4 log10(1 + 0.00437 f)``, with ``f`` in Hz.
    """
    return 21.4 * np.log10(1.0 + 0.00437 * np.asarray(hz, dtype=np.float64))


def erb_rate_to_hz(erb: np.ndarray | float) -> np.ndarray:
    """Invert :func:`hz_to_erb_rate`."""
    return (10.0 ** (np.asarray(erb, dtype=np.float64) / 21.4) - 1.0) / 0.00437


def erb_band_centers(
    n_bands: int, sr: int, n_fft: int, min_spacing_bins: float = 1.0
) -> np.ndarray:
    """Return band centres, in STFT bins, equally spaced on the ERB-rate scale from 0 Hz to Nyquist.

    Where equal ERB spacing would put two centres closer than ``min_spacing_bins`` (the lowest
    bands at a short FFT), a centre moves up by that minimum and the bands above share the
    remaining ERB range equally, as DeepFilterNet's minimum band width does (Schröter et al.
    2022).

    Parameters
    ----------
    n_bands : int
        Number of bands (at least 2).
    sr : int
        Sample rate in Hz.
    n_fft : int
        FFT size; there are ``n_fft // 2 + 1`` bins.
    min_spacing_bins : float
        Least distance between neighbouring centres.

    Returns
    -------
    np.ndarray
        float64 (n_bands,), increasing, first 0, last ``n_fft // 2``.

    Raises
    ------
    ConfigError
        If the bands do not fit in the bins at that spacing.
    """
    top = n_fft // 2
    if n_bands < 2 or (n_bands - 1) * min_spacing_bins > top:
        raise ConfigError(
            f"n_bands must be in [2, {int(top / min_spacing_bins) + 1}] for n_fft={n_fft}, "
            f"got {n_bands}"
        )
    bin_hz = sr / n_fft
    top_erb = float(hz_to_erb_rate(sr / 2))
    centers = [0.0]
    for index in range(1, n_bands):
        here = float(hz_to_erb_rate(centers[-1] * bin_hz))
        step = (top_erb - here) / (n_bands - index)
        centers.append(
            max(float(erb_rate_to_hz(here + step)) / bin_hz, centers[-1] + min_spacing_bins)
        )
    centers[-1] = float(top)  # equal to it up to rounding
    return np.asarray(centers)


def erb_interpolation_matrix(centers: np.ndarray, n_bins: int) -> np.ndarray:
    """Return the (n_bins, n_bands) matrix that interpolates band values linearly to bins.

    Row ``k`` holds the weights of bin ``k`` on the two bands whose centres enclose it (they sum
    to 1). Its columns are triangular filters on the ERB-spaced centres, so its transpose,
    normalized per column, pools bin powers into band powers.
    """
    bins = np.arange(n_bins, dtype=np.float64)
    matrix = np.zeros((n_bins, len(centers)))
    for band in range(len(centers)):
        triangle = np.ones(n_bins)
        if band > 0:
            left = centers[band - 1]
            triangle = np.minimum(triangle, (bins - left) / (centers[band] - left))
        if band < len(centers) - 1:
            right = centers[band + 1]
            triangle = np.minimum(triangle, (right - bins) / (right - centers[band]))
        matrix[:, band] = np.clip(triangle, 0.0, 1.0)
    return matrix


@dataclass
class DenoiserConfig:
    """Configuration of :class:`GRUDenoiser` (defaults: 32 bands, 2 GRU layers of 128 units).

    Parameters
    ----------
    sr : int
        Sample rate the model works at (8000-48000 Hz).
    n_fft : int
        STFT window and FFT length (default 320 = 20 ms at 16 kHz); the algorithmic latency.
    hop_length : int
        Frame step (default 160 = 10 ms); ``n_fft`` must be a whole multiple >= 2 of it.
    n_bands : int
        ERB bands of the features and the gains.
    min_band_bins : float
        Least spacing of the band centres in STFT bins.
    hidden_size : int
        Width of the input layer and of each GRU layer.
    gru_layers : int
        Stacked GRU layers.
    norm_tau : float
        Time constant (seconds) of the moving mean that normalizes the log band powers.
    resolution : str
        ``"bands"``: features and gains on the ``n_bands`` ERB bands (RNNoise); ``"bins"``:
        features and gains per STFT bin (as NSNet2, Braun et al. 2021), which can follow the
        harmonics of a voice at some extra cost in the input and output layers.
    """

    sr: int = 16_000
    n_fft: int = 320
    hop_length: int = 160
    n_bands: int = 32
    min_band_bins: float = 1.0
    hidden_size: int = 128
    gru_layers: int = 2
    norm_tau: float = 1.0
    resolution: str = "bands"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every value's range.

        Raises
        ------
        ConfigError
            Naming the first value out of range.
        """
        if not 8000 <= self.sr <= 48_000:
            raise ConfigError(f"sr must be in [8000, 48000] Hz, got {self.sr}")
        if not 16 <= self.n_fft <= 4096 or self.n_fft % 2:
            raise ConfigError(f"n_fft must be an even number in [16, 4096], got {self.n_fft}")
        if self.hop_length < 1 or self.n_fft % self.hop_length or self.n_fft < 2 * self.hop_length:
            raise ConfigError(
                f"hop_length must divide n_fft={self.n_fft} at least twice, got {self.hop_length}"
            )
        if not 0.5 <= self.min_band_bins <= 8:
            raise ConfigError(f"min_band_bins must be in [0.5, 8], got {self.min_band_bins}")
        erb_band_centers(self.n_bands, self.sr, self.n_fft, self.min_band_bins)
        if not 4 <= self.hidden_size <= 1024:
            raise ConfigError(f"hidden_size must be in [4, 1024], got {self.hidden_size}")
        if not 1 <= self.gru_layers <= 8:
            raise ConfigError(f"gru_layers must be in [1, 8], got {self.gru_layers}")
        if not 0.01 <= self.norm_tau <= 60:
            raise ConfigError(f"norm_tau must be in [0.01, 60] seconds, got {self.norm_tau}")
        if self.resolution not in RESOLUTIONS:
            raise ConfigError(
                f"resolution must be one of {', '.join(RESOLUTIONS)}, got {self.resolution!r}"
            )

    @property
    def n_features(self) -> int:
        """Features (and gains) per frame: ``n_bands``, or ``n_fft // 2 + 1`` bins."""
        return self.n_bands if self.resolution == "bands" else self.n_fft // 2 + 1

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DenoiserConfig:
        """Build a config from plain values, rejecting unknown keys.

        Raises
        ------
        ConfigError
            If a key is unknown or a value out of range.
        """
        return dataclass_from_dict(cls, d, "DenoiserConfig")

    def to_dict(self) -> dict[str, Any]:
        """Return plain values."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class DenoiserState:
    """What :meth:`GRUDenoiser.step` carries from one block to the next.

    Attributes
    ----------
    framing : FramingState
        Input history, pending samples and overlap-add tail.
    hidden : torch.Tensor
        (gru_layers, B, hidden_size) GRU state.
    mean : torch.Tensor
        (B, n_features) moving mean of the log band (or bin) powers (dB).
    """

    framing: FramingState
    hidden: torch.Tensor
    mean: torch.Tensor


class GRUDenoiser(nn.Module):
    """Causal ERB-band gain denoiser (Valin 2018; Schröter et al. 2022, without deep filtering).

    Parameters
    ----------
    config : DenoiserConfig
        Sizes; see its docstring.

    Examples
    --------
    >>> model = GRUDenoiser(DenoiserConfig(hidden_size=16, gru_layers=1)).eval()
    >>> noisy = torch.randn(1, 16000) * 0.1
    >>> model(noisy).shape
    torch.Size([1, 16000])
    >>> state = model.initial_state(1)
    >>> first, state = model.step(noisy[:, :1000], state)
    >>> rest, state = model.step(noisy[:, 1000:], state)
    >>> tail = model.flush(state)
    >>> torch.allclose(torch.cat([first, rest, tail], -1), model(noisy), atol=1e-5)
    True
    """

    def __init__(self, config: DenoiserConfig) -> None:
        super().__init__()
        self.config = config
        self.stft = CausalSTFT(config.n_fft, config.hop_length)
        if config.resolution == "bands":
            centers = erb_band_centers(
                config.n_bands, config.sr, config.n_fft, config.min_band_bins
            )
            interpolation = erb_interpolation_matrix(centers, self.stft.n_bins)
        else:
            interpolation = np.eye(self.stft.n_bins)
        pooling = interpolation / interpolation.sum(axis=0, keepdims=True)
        self.register_buffer(
            "band_to_bin", torch.tensor(interpolation.T, dtype=torch.float32), persistent=False
        )
        self.register_buffer(
            "bin_to_band", torch.tensor(pooling, dtype=torch.float32), persistent=False
        )
        self.norm_alpha = math.exp(-config.hop_length / (config.sr * config.norm_tau))
        self.input_layer = nn.Linear(config.n_features, config.hidden_size)
        self.gru = nn.GRU(
            config.hidden_size, config.hidden_size, num_layers=config.gru_layers, batch_first=True
        )
        self.output_layer = nn.Linear(config.hidden_size, config.n_features)

    @property
    def latency_samples(self) -> int:
        """Algorithmic latency: later input samples an output sample may depend on, plus one."""
        return self.config.n_fft

    def forward(self, noisy: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
        """Denoise whole signals.

        Parameters
        ----------
        noisy : torch.Tensor
            (B, T) or (B, 1, T) at ``config.sr``.
        strength : float
            In [0, 1]: 1 applies the predicted gains, 0 returns the input (gains blended toward 1).

        Returns
        -------
        torch.Tensor
            (B, T), aligned with the input.
        """
        squeeze = noisy.dim() == 3
        if squeeze:
            if noisy.shape[1] != 1:
                raise ParameterError(f"noisy must be (B, T) or (B, 1, T), got {tuple(noisy.shape)}")
            noisy = noisy[:, 0]
        if noisy.dim() != 2:
            raise ParameterError(f"noisy must be (B, T) or (B, 1, T), got {tuple(noisy.shape)}")
        spec = self.stft.analyze(noisy)
        state = self._initial_recurrent(noisy.shape[0], noisy.device)
        enhanced, _, _ = self._enhance(spec, *state, strength)
        return self.stft.synthesize(enhanced, noisy.shape[-1])

    def band_gains(self, noisy: torch.Tensor) -> torch.Tensor:
        """Return the predicted gains (B, frames, n_features) of whole signals (B, T)."""
        spec = self.stft.analyze(noisy)
        hidden, mean = self._initial_recurrent(noisy.shape[0], noisy.device)
        gains, _, _ = self._gains(spec, hidden, mean)
        return gains

    # -- streaming ----------------------------------------------------------------------------

    def initial_state(self, batch: int, *, device: torch.device | None = None) -> DenoiserState:
        """Return the state before the first block of ``batch`` independent signals."""
        hidden, mean = self._initial_recurrent(batch, device)
        return DenoiserState(self.stft.initial_state(batch, device=device), hidden, mean)

    def step(
        self, block: torch.Tensor, state: DenoiserState, strength: float = 1.0
    ) -> tuple[torch.Tensor, DenoiserState]:
        """Denoise the next block of a stream.

        Parameters
        ----------
        block : torch.Tensor
            (B, S) at ``config.sr``, any ``S >= 0``.
        state : DenoiserState
            From :meth:`initial_state` or the previous step.
        strength : float
            As in :meth:`forward`.

        Returns
        -------
        out : torch.Tensor
            (B, S') the output samples completed so far (``S'`` lags the input by up to one
            window; :meth:`flush` returns the rest). All outputs concatenated equal
            :meth:`forward` of the whole input.
        state : DenoiserState
            The state for the next block.
        """
        spec, framing = self.stft.push(block, state.framing)
        return self._step_frames(spec, framing, state, strength)

    def flush(self, state: DenoiserState, strength: float = 1.0) -> torch.Tensor:
        """Return the output samples still owed after the last block."""
        spec, framing = self.stft.finish(state.framing)
        out, _ = self._step_frames(spec, framing, state, strength)
        return out

    def _step_frames(
        self, spec: torch.Tensor, framing: FramingState, state: DenoiserState, strength: float
    ) -> tuple[torch.Tensor, DenoiserState]:
        hidden, mean = state.hidden, state.mean
        if spec.shape[1]:
            spec, hidden, mean = self._enhance(spec, hidden, mean, strength)
        out, framing = self.stft.pull(spec, framing)
        return out, DenoiserState(framing, hidden, mean)

    # -- the network --------------------------------------------------------------------------

    def _initial_recurrent(
        self, batch: int, device: torch.device | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        device = device or self.band_to_bin.device
        hidden = torch.zeros(self.config.gru_layers, batch, self.config.hidden_size, device=device)
        mean = torch.full((batch, self.config.n_features), NORM_INIT_DB, device=device)
        return hidden, mean

    def _features(
        self, spec: torch.Tensor, mean: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean-normalized log ERB-band powers (B, frames, n_bands) and the updated mean."""
        with torch.no_grad():  # a function of the input only: nothing to differentiate
            power = spec.real.square() + spec.imag.square()
            level = 10.0 * torch.log10(power @ self.bin_to_band + POWER_FLOOR)
            # The moving mean m[t] = a m[t-1] + (1 - a) level[t] is a one-pole filter: run it
            # with lfilter (float64, exact) instead of a Python loop over frames.
            alpha = self.norm_alpha
            level64 = level.double().cpu().numpy()
            initial = alpha * mean.double().cpu().numpy()[:, None, :]
            means, _ = lfilter([1.0 - alpha], [1.0, -alpha], level64, axis=1, zi=initial)
            means_t = torch.from_numpy(means).to(level.dtype).to(level.device)
            normalized = level - means_t
            if level.shape[1]:
                mean = means_t[:, -1]
        return normalized / NORM_SCALE_DB, mean

    def _gains(
        self, spec: torch.Tensor, hidden: torch.Tensor, mean: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        features, mean = self._features(spec, mean)
        x = torch.relu(self.input_layer(features))
        x, hidden = self.gru(x, hidden)
        return torch.sigmoid(self.output_layer(x)), hidden, mean

    def _enhance(
        self, spec: torch.Tensor, hidden: torch.Tensor, mean: torch.Tensor, strength: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if not 0.0 <= strength <= 1.0:
            raise ParameterError(f"strength must be in [0, 1], got {strength}")
        gains, hidden, mean = self._gains(spec, hidden, mean)
        bin_gains = gains @ self.band_to_bin
        if strength != 1.0:
            bin_gains = 1.0 - strength * (1.0 - bin_gains)
        return spec * bin_gains, hidden, mean
