"""A causal STFT / overlap-add pair that runs on a whole signal or block by block, identically.

Real-time spectral processors (the denoiser, the spectral gate) analyse with a square-root Hann
window, change each frame's spectrum, and resynthesize by weighted overlap-add (Griffin & Lim
1984, "Signal estimation from modified short-time Fourier transform"). Here the frames never
look ahead of the window: frame ``t`` covers input samples ``[t*hop - (n_fft - hop),
t*hop + hop)``, so an output sample depends on at most ``n_fft - 1`` later input samples (the
algorithmic latency is one window). :meth:`CausalSTFT.analyze` / :meth:`CausalSTFT.synthesize`
process a whole signal; :meth:`CausalSTFT.push` / :meth:`CausalSTFT.pull` do the same in blocks
of any size with a carried :class:`FramingState`, and the concatenated block outputs equal the
whole-signal output. This module frames and overlap-adds; it does not decide what to do with the
spectra.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from aigc_studio.errors import ConfigError, ParameterError


@dataclass
class FramingState:
    """What a block-by-block STFT carries between blocks (one row per channel or batch item).

    Attributes
    ----------
    history : torch.Tensor
        (B, n_fft - hop): the input samples before the next frame's last hop (zeros at first:
        the left padding of the whole-signal path).
    pending : torch.Tensor
        (B, < hop): input received but not yet a whole hop.
    overlap : torch.Tensor
        (B, n_fft - hop): overlap-add tail not yet complete.
    to_skip : int
        Output samples still to drop (the left padding, ``n_fft - hop`` samples in all).
    received, emitted : int
        Input samples received and output samples returned so far.
    """

    history: torch.Tensor
    pending: torch.Tensor
    overlap: torch.Tensor
    to_skip: int
    received: int = 0
    emitted: int = 0


class CausalSTFT(nn.Module):
    """Square-root-Hann STFT with ``n_fft / hop`` an integer >= 2, and its overlap-add inverse.

    Parameters
    ----------
    n_fft : int
        Window and FFT length in samples (even).
    hop_length : int
        Frame step; ``n_fft`` must be a multiple of it, at least twice.

    Raises
    ------
    ConfigError
        If the sizes do not satisfy the constraints.

    Notes
    -----
    The periodic Hann window sums to ``n_fft / (2 hop)`` over shifted copies; analysis and
    synthesis each use its square root, and the synthesis window is scaled by ``2 hop / n_fft``
    so that an unmodified spectrum reconstructs the input exactly.
    """

    def __init__(self, n_fft: int, hop_length: int) -> None:
        super().__init__()
        if n_fft < 4 or n_fft % 2:
            raise ConfigError(f"n_fft must be an even number >= 4, got {n_fft}")
        if hop_length < 1 or n_fft % hop_length or n_fft // hop_length < 2:
            raise ConfigError(
                f"n_fft={n_fft} must be a multiple of hop_length, at least twice; "
                f"got hop_length={hop_length}"
            )
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.overlap_length = n_fft - hop_length
        window = torch.hann_window(n_fft, periodic=True).sqrt()
        self.register_buffer("analysis_window", window, persistent=False)
        self.register_buffer(
            "synthesis_window", window * (2.0 * hop_length / n_fft), persistent=False
        )

    @property
    def n_bins(self) -> int:
        """Frequency bins per frame (``n_fft // 2 + 1``)."""
        return self.n_fft // 2 + 1

    # -- whole signals ------------------------------------------------------------------------

    def analyze(self, wave: torch.Tensor) -> torch.Tensor:
        """Return the causal STFT of whole signals.

        Parameters
        ----------
        wave : torch.Tensor
            (B, T) float.

        Returns
        -------
        torch.Tensor
            Complex (B, frames, n_bins), ``frames = (T + n_fft - hop + pad) / hop`` where ``pad``
            rounds ``T`` up to a whole hop; enough frames to reconstruct every sample.
        """
        if wave.dim() != 2:
            raise ParameterError(f"wave must be (B, T), got shape {tuple(wave.shape)}")
        length = wave.shape[-1]
        right = self.overlap_length + (-length) % self.hop_length
        padded = F.pad(wave, (self.overlap_length, right))
        frames = padded.unfold(-1, self.n_fft, self.hop_length)
        return torch.fft.rfft(frames * self.analysis_window, dim=-1)

    def synthesize(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """Overlap-add the frames of :meth:`analyze` (possibly modified) back to ``length`` samples.

        Parameters
        ----------
        spec : torch.Tensor
            Complex (B, frames, n_bins).
        length : int
            The original signal length ``T``.

        Returns
        -------
        torch.Tensor
            (B, T).
        """
        frames = torch.fft.irfft(spec, n=self.n_fft, dim=-1) * self.synthesis_window
        count = frames.shape[1]
        total = (count - 1) * self.hop_length + self.n_fft
        wave = F.fold(
            frames.transpose(1, 2),
            output_size=(1, total),
            kernel_size=(1, self.n_fft),
            stride=(1, self.hop_length),
        )
        return wave[:, 0, 0, self.overlap_length : self.overlap_length + length]

    # -- block by block -----------------------------------------------------------------------

    def initial_state(self, batch: int, *, device: torch.device | None = None) -> FramingState:
        """Return the state before the first block (as if preceded by silence)."""
        zeros = torch.zeros(batch, self.overlap_length, device=device)
        return FramingState(
            history=zeros,
            pending=torch.zeros(batch, 0, device=device),
            overlap=zeros.clone(),
            to_skip=self.overlap_length,
        )

    def push(self, block: torch.Tensor, state: FramingState) -> tuple[torch.Tensor, FramingState]:
        """Take a block of input and return the spectra of the frames it completes.

        Parameters
        ----------
        block : torch.Tensor
            (B, S) float, any ``S >= 0``.
        state : FramingState
            From :meth:`initial_state` or the previous call.

        Returns
        -------
        spec : torch.Tensor
            Complex (B, frames, n_bins), possibly with zero frames.
        state : FramingState
            The updated state; pass the processed spectra to :meth:`pull` with it.
        """
        if block.dim() != 2 or block.shape[0] != state.history.shape[0]:
            raise ParameterError(
                f"block must be (B, S) with B={state.history.shape[0]}, got {tuple(block.shape)}"
            )
        incoming = torch.cat([state.pending, block], dim=-1)
        usable = incoming.shape[-1] - incoming.shape[-1] % self.hop_length
        stream = torch.cat([state.history, incoming[:, :usable]], dim=-1)
        if usable:
            frames = stream.unfold(-1, self.n_fft, self.hop_length)
            spec = torch.fft.rfft(frames * self.analysis_window, dim=-1)
        else:
            spec = torch.zeros(
                block.shape[0], 0, self.n_bins, dtype=torch.complex64, device=block.device
            )
        state = FramingState(
            history=stream[:, stream.shape[-1] - self.overlap_length :],
            pending=incoming[:, usable:],
            overlap=state.overlap,
            to_skip=state.to_skip,
            received=state.received + block.shape[-1],
            emitted=state.emitted,
        )
        return spec, state

    def pull(self, spec: torch.Tensor, state: FramingState) -> tuple[torch.Tensor, FramingState]:
        """Overlap-add processed frames from :meth:`push` and return the completed samples.

        The output lags the input by ``n_fft - hop`` samples plus whatever is pending; it never
        runs past the input received (the tail comes from :meth:`finish`).

        Returns
        -------
        out : torch.Tensor
            (B, S') completed output samples, aligned with the input (no delay in content).
        state : FramingState
            The updated state.
        """
        count = spec.shape[1]
        if count == 0:
            return state.overlap.new_zeros(state.overlap.shape[0], 0), state
        frames = torch.fft.irfft(spec, n=self.n_fft, dim=-1) * self.synthesis_window
        span = count * self.hop_length
        buffer = F.pad(state.overlap, (0, span))
        for index in range(count):
            start = index * self.hop_length
            buffer[:, start : start + self.n_fft] += frames[:, index]
        done, overlap = buffer[:, :span], buffer[:, span:]
        skip = min(state.to_skip, span)
        out = done[:, skip:]
        out = out[:, : max(0, state.received - state.emitted)]
        state = FramingState(
            history=state.history,
            pending=state.pending,
            overlap=overlap,
            to_skip=state.to_skip - skip,
            received=state.received,
            emitted=state.emitted + out.shape[-1],
        )
        return out, state

    def finish(self, state: FramingState) -> tuple[torch.Tensor, FramingState]:
        """Return the last frames after the final block (the input is padded with zeros).

        Pull them with :meth:`pull`: afterwards the outputs add up to exactly the number of
        input samples received.
        """
        batch = state.history.shape[0]
        length = self.overlap_length + (-state.pending.shape[-1]) % self.hop_length
        spec, new_state = self.push(state.history.new_zeros(batch, length), state)
        new_state.received = state.received  # the padding is not input
        return spec, new_state
