"""Classical spectral gating: attenuate STFT bins that do not rise above a tracked noise floor.

The method of noise gates in audio editors and of ``noisereduce`` (Sainburg et al. 2020), made
causal so that it streams: each bin's noise power is tracked by minimum statistics (the lowest
60 ms-smoothed power of the last ``memory_s`` seconds, times a bias correction; Martin 2001,
"Noise power spectral density estimation based on optimal smoothing and minimum statistics",
simplified), a bin passes where its 25 ms-smoothed power exceeds the noise by ``threshold_db``
(a soft step), the mask is smoothed over neighbouring bins and released over 15 ms against
"musical noise", and gated bins are attenuated by ``reduction_db``. Steady noise (hiss, hum,
fans) is what it removes; bursts (clicks, wind, babble) pass, as with any gate. It works at any
sample rate (a 32 ms window, 75 % overlap) and learns nothing: it is the baseline the learned
denoiser (``aigc_studio.models.denoiser``) has to beat, and the fallback when no trained denoiser
is installed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812

from aigc_studio.errors import ParameterError
from aigc_studio.models.causal_stft import CausalSTFT, FramingState

#: Floor added to bin powers before the logarithm (-120 dB).
POWER_FLOOR = 1e-12
#: The minimum of smoothed noise power lies below its mean; this factor (2.6 dB) corrects it
#: (Martin 2001 derives it from the smoothing and the memory; this suits ours).
NOISE_BIAS = 1.8
#: Sub-windows of the noise tracker's memory (Martin 2001 keeps the minimum of each).
SUBWINDOWS = 6
#: Width in dB of the soft step from gated to passed.
SLOPE_DB = 3.0
#: Smoothing of the level over neighbouring bins, against isolated bins passing ("musical noise").
SMOOTHING = torch.tensor([[[0.25, 0.5, 0.25]]])


@dataclass
class GateState:
    """What :meth:`SpectralGate.step` carries between blocks (per channel and bin)."""

    framing: FramingState
    fast: torch.Tensor  # (B, bins) power smoothed over 25 ms: what is gated
    slow: torch.Tensor  # (B, bins) power smoothed over 60 ms: what the noise is tracked on
    minima: torch.Tensor  # (B, SUBWINDOWS, bins) minima of ``slow`` in past sub-windows
    current: torch.Tensor  # (B, bins) minimum of ``slow`` in the current sub-window
    mask: torch.Tensor  # (B, bins) previous frame's mask
    frames: int = 0


class SpectralGate:
    """Causal, streaming spectral gate.

    Parameters
    ----------
    sr : int
        Sample rate of the audio it will process.
    window_seconds : float
        STFT window (the hop is a quarter of it).
    threshold_db : float
        How far above the noise floor a bin must rise to pass.
    reduction_db : float
        Attenuation of gated bins at full strength.
    memory_s : float
        How far back the noise tracker looks for the quietest level (longer: speech is less often
        taken for noise; shorter: the gate follows rising noise sooner).

    Raises
    ------
    ParameterError
        If a value is out of range.

    Examples
    --------
    >>> gate = SpectralGate(16000)
    >>> state = gate.initial_state(1)
    >>> out, state = gate.step(torch.randn(1, 4000) * 0.01, state)
    >>> tail = gate.flush(state)
    >>> out.shape[-1] + tail.shape[-1]
    4000
    """

    def __init__(
        self,
        sr: int,
        *,
        window_seconds: float = 0.032,
        threshold_db: float = 6.0,
        reduction_db: float = 18.0,
        memory_s: float = 1.5,
    ) -> None:
        if not 1000 <= sr <= 768_000:
            raise ParameterError(f"sr must be in [1000, 768000] Hz, got {sr}")
        if not 0.008 <= window_seconds <= 0.2:
            raise ParameterError(f"window_seconds must be in [0.008, 0.2], got {window_seconds}")
        if not 0 <= threshold_db <= 40:
            raise ParameterError(f"threshold_db must be in [0, 40], got {threshold_db}")
        if not 0 < reduction_db <= 100:
            raise ParameterError(f"reduction_db must be in (0, 100], got {reduction_db}")
        if not 0.2 <= memory_s <= 10:
            raise ParameterError(f"memory_s must be in [0.2, 10] s, got {memory_s}")
        hop = max(1, round(window_seconds * sr / 4))
        self.sr = sr
        self.stft = CausalSTFT(4 * hop, hop)
        frame_s = hop / sr
        self.threshold_db = threshold_db
        self.reduction_db = reduction_db
        self.fast_alpha = math.exp(-frame_s / 0.025)
        self.slow_alpha = math.exp(-frame_s / 0.06)
        self.mask_alpha = math.exp(-frame_s / 0.015)
        self.sub_frames = max(1, round(memory_s / SUBWINDOWS / frame_s))

    @property
    def window_length(self) -> int:
        """Samples per analysis window (the shortest input it can process)."""
        return self.stft.n_fft

    def initial_state(self, batch: int) -> GateState:
        """Return the state before the first block of ``batch`` independent signals."""
        bins = self.stft.n_bins
        zeros = torch.zeros(batch, bins)
        return GateState(
            framing=self.stft.initial_state(batch),
            fast=zeros,
            slow=zeros,
            minima=torch.full((batch, SUBWINDOWS, bins), math.inf),
            current=torch.full((batch, bins), math.inf),
            mask=torch.ones(batch, bins),
        )

    def step(
        self, block: torch.Tensor, state: GateState, strength: float = 1.0
    ) -> tuple[torch.Tensor, GateState]:
        """Gate the next block (B, S) of a stream; see ``GRUDenoiser.step`` for the contract."""
        spec, framing = self.stft.push(block, state.framing)
        return self._frames(spec, framing, state, strength)

    def flush(self, state: GateState, strength: float = 1.0) -> torch.Tensor:
        """Return the output samples still owed after the last block."""
        spec, framing = self.stft.finish(state.framing)
        out, _ = self._frames(spec, framing, state, strength)
        return out

    def _frames(
        self, spec: torch.Tensor, framing: FramingState, state: GateState, strength: float
    ) -> tuple[torch.Tensor, GateState]:
        if not 0.0 <= strength <= 1.0:
            raise ParameterError(f"strength must be in [0, 1], got {strength}")
        fast, slow, minima, current = state.fast, state.slow, state.minima, state.current
        if spec.shape[1]:
            power = spec.real.square() + spec.imag.square() + POWER_FLOOR
            gains = torch.empty_like(power)
            floor_gain = 10.0 ** (-self.reduction_db * strength / 20.0)
            threshold = 10.0 ** (self.threshold_db / 10.0)
            mask = state.mask
            minima = minima.clone()
            for t in range(spec.shape[1]):
                frame = state.frames + t
                if frame == 0:
                    fast, slow = power[:, 0], power[:, 0]
                fast = self.fast_alpha * fast + (1.0 - self.fast_alpha) * power[:, t]
                slow = self.slow_alpha * slow + (1.0 - self.slow_alpha) * power[:, t]
                # Frames that overlap the zeros before the signal start would drag it down.
                if frame >= self.stft.n_fft // self.stft.hop_length:
                    current = torch.minimum(current, slow)
                    if frame % self.sub_frames == 0:  # the oldest sub-window leaves the memory
                        minima = torch.roll(minima, 1, dims=1)
                        minima[:, 0] = current
                        current = slow
                noise = torch.minimum(minima.amin(dim=1), current) * NOISE_BIAS
                noise = torch.where(torch.isinf(noise), slow * NOISE_BIAS, noise)
                level = F.conv1d(fast[:, None], SMOOTHING, padding=1)[:, 0]
                # A soft step in dB: how far the smoothed level stands above the noise.
                above = 10.0 * torch.log10(level / (noise * threshold)) / SLOPE_DB
                # Open at once, close over ~15 ms: onsets are kept and gating is not choppy.
                mask = torch.maximum(torch.sigmoid(above), self.mask_alpha * mask)
                gains[:, t] = floor_gain + (1.0 - floor_gain) * mask
            spec = spec * gains
        else:
            mask = state.mask
        out, framing = self.stft.pull(spec, framing)
        state = GateState(framing, fast, slow, minima, current, mask, state.frames + spec.shape[1])
        return out, state
