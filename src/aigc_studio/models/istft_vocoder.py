"""An iSTFT GAN vocoder: log-mel frames → STFT magnitude and phase → waveform (Vocos-style).

Siuzdak 2023 ("Vocos: Closing the gap between time-domain and Fourier-based neural vocoders")
keeps the generator at the frame rate: a ConvNeXt stack (Liu et al. 2022) maps each mel frame to
the log-magnitude and phase of one STFT frame, and ``torch.istft`` makes the waveform. There is
no learned upsampling, so it trains in far fewer steps than a HiFi-GAN generator and synthesizes
hundreds of times faster than real time on one CPU core. It is trained with the same GAN recipe
as HiFi-GAN (multi-period and multi-scale discriminators, feature matching, mel L1, and the
multi-resolution STFT loss): see ``aigc_studio.training.tasks.vocoder``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from aigc_studio.config_values import dataclass_from_dict
from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.models.mel import MelConfig, matching_mel_config
from aigc_studio.models.vocoder import synthesize_numpy

#: Largest magnitude the head may output (exp of the log-magnitude is clipped here, as in Vocos,
#: so an early training step cannot produce an overflow).
MAX_MAGNITUDE = 100.0
#: Smallest magnitude of the pseudo-inverse prior (the mel feature's own floor).
PRIOR_FLOOR = 1e-5
#: Floor of the magnitude that a consistency projection divides by (keeps silent bins finite).
PROJECTION_EPS = 1e-7
#: Most consistency projections a generator may apply.
MAX_PROJECTIONS = 8
#: How the head's second half becomes the STFT phase (see ``ISTFTVocoderConfig.phase``).
PHASE_MODES = ("direct", "integrated")


@dataclass
class ISTFTVocoderConfig:
    """Configuration of :class:`ISTFTVocoderGenerator`.

    Parameters
    ----------
    n_mels : int
        Mel bands of the input (equal to ``mel.n_mels``).
    hop_length : int
        Samples per frame (equal to ``mel.hop_length``); also the iSTFT hop.
    n_fft : int
        FFT size of the synthesis STFT (Hann window of the same length).
    channels : int
        Width of the ConvNeXt stack.
    layers : int
        ConvNeXt blocks.
    kernel_size : int
        Odd kernel of each block's depthwise convolution (in frames).
    magnitude_prior : bool
        Predict the log-magnitude as a correction of the mel filter bank's pseudo-inverse applied
        to the input (the magnitude Griffin-Lim starts from) instead of from scratch: training
        starts at Griffin-Lim's magnitude quality and only has to learn the difference and the
        phase.
    phase : {"integrated", "direct"}
        ``"integrated"``: the head predicts each bin's phase advance per frame (its
        instantaneous frequency, as a deviation of at most half a turn from the bin's centre
        frequency, the GANSynth parameterization of Engel et al. 2019), and the phase is its
        running sum. A steady input then gives phase that turns at a steady rate, the
        consistent phase of a sustained partial; ``"direct"`` (Vocos) predicts each frame's
        phase on its own, which a convolutional stack keeps constant on a steady input, so that
        sustained notes buzz at the frame rate.
    projections : int
        Consistency projections after the first waveform (0 to :data:`MAX_PROJECTIONS`): each
        keeps the predicted magnitude and takes the phase of the STFT of the waveform so far
        (one Griffin-Lim iteration, Griffin & Lim 1984, started from the predicted phase; a
        fixed layer, as in Masuyama et al. 2019's "Deep Griffin-Lim iteration"). It removes
        the part of the predicted phase that overlapping frames cannot agree on, which
        otherwise cancels energy in the overlap-add. Each costs one STFT and one inverse STFT.
    mel : MelConfig or dict, optional
        The feature being inverted; defaults to the studio feature with ``n_mels``/``hop_length``.
    """

    n_mels: int = 128
    hop_length: int = 256
    n_fft: int = 1024
    channels: int = 192
    layers: int = 6
    kernel_size: int = 7
    magnitude_prior: bool = True
    phase: str = "direct"
    projections: int = 0
    mel: MelConfig | None = field(default=None)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check ranges and consistency.

        Raises
        ------
        ConfigError
            If a field is out of range or disagrees with ``mel``.
        """
        self.mel = matching_mel_config(self.mel, self.n_mels, self.hop_length, "vocoder")
        if self.n_fft < self.hop_length or self.n_fft % 2:
            raise ConfigError(f"n_fft must be even and >= hop_length, got {self.n_fft}")
        if not 8 <= self.channels <= 2048:
            raise ConfigError(f"channels must be in [8, 2048], got {self.channels}")
        if not 1 <= self.layers <= 64:
            raise ConfigError(f"layers must be in [1, 64], got {self.layers}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size must be odd, got {self.kernel_size}")
        if not 0 <= self.projections <= MAX_PROJECTIONS:
            raise ConfigError(
                f"projections must be in [0, {MAX_PROJECTIONS}], got {self.projections}"
            )
        if self.phase not in PHASE_MODES:
            raise ConfigError(f"phase must be one of {list(PHASE_MODES)}, got {self.phase!r}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ISTFTVocoderConfig:
        """Build a config from plain values, rejecting unknown keys.

        Raises
        ------
        ConfigError
            If a key is unknown or a value out of range.
        """
        return dataclass_from_dict(cls, d, "ISTFTVocoderConfig")

    def to_dict(self) -> dict[str, Any]:
        """Return plain values (``mel`` as a nested dict)."""
        assert isinstance(self.mel, MelConfig)
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "mel"}
        return {**values, "mel": self.mel.to_dict()}


def _mel_pseudo_inverse(config: ISTFTVocoderConfig) -> torch.Tensor:
    """Return the (n_fft/2+1, n_mels) pseudo-inverse of the mel filter bank (librosa, Slaney)."""
    import librosa

    assert isinstance(config.mel, MelConfig)
    filters = librosa.filters.mel(
        sr=config.mel.sr,
        n_fft=config.n_fft,
        n_mels=config.n_mels,
        fmin=config.mel.fmin,
        fmax=config.mel.fmax,
    )
    return torch.tensor(np.linalg.pinv(filters), dtype=torch.float32)


class _ConvNeXtBlock(nn.Module):
    """Depthwise conv → LayerNorm → pointwise MLP (×3) → layer scale, with a residual."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv1d(
            channels, channels, kernel_size, padding=kernel_size // 2, groups=channels
        )
        self.norm = nn.LayerNorm(channels)
        self.expand = nn.Linear(channels, 3 * channels)
        self.project = nn.Linear(3 * channels, channels)
        self.scale = nn.Parameter(torch.full((channels,), 1.0 / 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.depthwise(x).transpose(1, 2)
        h = self.project(F.gelu(self.expand(self.norm(h))))
        return x + (self.scale * h).transpose(1, 2)


class ISTFTVocoderGenerator(nn.Module):
    """Log-mel spectrogram → waveform through a predicted STFT (Siuzdak 2023).

    Parameters
    ----------
    config : ISTFTVocoderConfig
        Sizes and the feature.

    Examples
    --------
    >>> gen = ISTFTVocoderGenerator(ISTFTVocoderConfig(channels=16, layers=1))
    >>> gen(torch.zeros(1, 128, 10)).shape
    torch.Size([1, 1, 2560])
    """

    def __init__(self, config: ISTFTVocoderConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.embed = nn.Conv1d(config.n_mels, c, 7, padding=3)
        self.input_norm = nn.LayerNorm(c)
        self.blocks = nn.ModuleList(
            _ConvNeXtBlock(c, config.kernel_size) for _ in range(config.layers)
        )
        self.output_norm = nn.LayerNorm(c)
        self.head = nn.Linear(c, config.n_fft + 2)
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        bins = torch.arange(config.n_fft // 2 + 1, dtype=torch.float64)
        # A partial at bin k's centre frequency turns 2π k hop / n_fft per frame; centred
        # frames start n_fft / 2 samples early, which puts a phase of π k on bin k.
        self.register_buffer(
            "centre_advance",
            2 * torch.pi * bins * config.hop_length / config.n_fft,
            persistent=False,
        )
        self.register_buffer("frame_offset", torch.pi * bins, persistent=False)
        if config.magnitude_prior:
            self.register_buffer("mel_inverse", _mel_pseudo_inverse(config), persistent=False)
            with torch.no_grad():  # start exactly at the prior: a zero correction
                self.head.weight[: config.n_fft // 2 + 1].zero_()
                self.head.bias[: config.n_fft // 2 + 1].zero_()
        if config.phase == "integrated":
            with torch.no_grad():  # start with every bin turning at its centre frequency
                self.head.weight[config.n_fft // 2 + 1 :].zero_()
                self.head.bias[config.n_fft // 2 + 1 :].zero_()

    def forward(
        self, log_mel: torch.Tensor, return_spectrum: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Synthesize (B, 1, frames * hop_length) waveforms from (B, n_mels, frames) log-mels.

        Parameters
        ----------
        log_mel : torch.Tensor
            (B, n_mels, frames).
        return_spectrum : bool
            Also return the predicted STFT that the waveform was made from, as
            ``(wave, magnitude, phase)`` with (B, n_fft/2+1, frames) magnitude and phase (the
            predicted phase, before any consistency projection), for
            losses on the spectrum itself (training passes it through the forward call, so that
            DistributedDataParallel sees it).

        Raises
        ------
        ParameterError
            If the input does not have shape (B, n_mels, frames).
        """
        if log_mel.dim() != 3 or log_mel.shape[1] != self.config.n_mels:
            raise ParameterError(
                f"log_mel must be (B, n_mels={self.config.n_mels}, frames), "
                f"got {tuple(log_mel.shape)}"
            )
        x = self.embed(log_mel)
        x = self.input_norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        out = self.head(self.output_norm(x.transpose(1, 2))).transpose(1, 2)
        log_magnitude, phase = out.float().chunk(2, dim=1)
        if self.config.magnitude_prior:
            prior = torch.matmul(self.mel_inverse, torch.exp(log_mel.float()))
            log_magnitude = log_magnitude + torch.log(prior.clamp(min=PRIOR_FLOOR))
        magnitude = torch.exp(log_magnitude).clamp(max=MAX_MAGNITUDE)
        if self.config.phase == "integrated":
            phase = self._integrate_phase(phase)
        frames = log_mel.shape[-1]
        wave = self._inverse_stft(torch.polar(magnitude, phase), frames)
        for _ in range(self.config.projections):
            rebuilt = self.analysis_stft(wave, frames)
            # |rebuilt| with a floor that keeps the gradient finite where a bin is silent
            size = torch.sqrt(rebuilt.real.square() + rebuilt.imag.square() + PROJECTION_EPS**2)
            wave = self._inverse_stft(magnitude * rebuilt / size, frames)
        wave = wave.clamp(-1.0, 1.0).unsqueeze(1)
        if return_spectrum:
            return wave, magnitude, phase
        return wave

    def analysis_stft(self, wave: torch.Tensor, frames: int) -> torch.Tensor:
        """Return the complex STFT of (B, samples) waveforms at the synthesis resolution.

        The same frames (size, hop, window, centring) as the generator's inverse STFT, cut to
        the first ``frames``: (B, n_fft/2+1, frames).
        """
        return torch.stft(
            wave,
            self.config.n_fft,
            self.config.hop_length,
            window=self.window,
            center=True,
            return_complex=True,
        )[..., :frames]

    def _inverse_stft(self, spectrum: torch.Tensor, frames: int) -> torch.Tensor:
        return torch.istft(
            spectrum,
            self.config.n_fft,
            self.config.hop_length,
            self.config.n_fft,
            window=self.window,
            center=True,
            length=frames * self.config.hop_length,
        )

    def _integrate_phase(self, deviation: torch.Tensor) -> torch.Tensor:
        """Turn per-frame frequency deviations (B, bins, frames) into phase by a running sum.

        The sum runs in float64 and wraps to one turn, so an hour of frames keeps its precision.
        """
        advance = self.centre_advance[:, None] + torch.pi * torch.tanh(deviation.double())
        advance = torch.remainder(advance, 2 * torch.pi)
        total = torch.remainder(torch.cumsum(advance, dim=-1), 2 * torch.pi)
        return (total + self.frame_offset[:, None]).float()

    def remove_weight_norm(self) -> None:
        """Do nothing: this generator has no weight norm (kept for a uniform vocoder API)."""

    def synthesize(self, log_mel: np.ndarray) -> np.ndarray:
        """Synthesize float32 (channels, samples) audio from (n_mels, frames) or 3-D log-mels.

        Raises
        ------
        ParameterError
            If the array has the wrong shape or non-finite values.
        """
        return synthesize_numpy(self, log_mel, self.config.n_mels)
