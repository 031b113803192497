"""Spectral reconstruction losses for waveform generators (torch, differentiable).

:class:`MultiResolutionSTFTLoss` is Parallel WaveGAN's auxiliary loss (Yamamoto et al. 2020) and
:func:`mel_l1_loss` is HiFi-GAN's mel reconstruction loss (Kong et al. 2020). They are training
objectives on tensors; the numpy metrics that score finished audio (including peers') are in
:mod:`aigc_studio.evaluation.spectral`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from aigc_studio.errors import ParameterError
from aigc_studio.models.mel import LogMelSpectrogram

#: Floor on the squared STFT magnitude, as in Parallel WaveGAN's reference code (keeps log finite).
POWER_FLOOR = 1e-7


def _as_batch(wave: torch.Tensor, name: str) -> torch.Tensor:
    if wave.dim() == 3 and wave.shape[1] == 1:
        return wave[:, 0]
    if wave.dim() != 2:
        raise ParameterError(f"{name} must be (B, T) or (B, 1, T), got shape {tuple(wave.shape)}")
    return wave


class MultiResolutionSTFTLoss(nn.Module):
    """Multi-resolution STFT loss (Yamamoto et al. 2020, Parallel WaveGAN, eqs. 4-6).

    At each resolution, with ``|S|`` the STFT magnitude of the target and ``|Ŝ|`` of the
    prediction (squared magnitude floored at 1e-7):

    - spectral convergence ``|| |S| - |Ŝ| ||_F / || |S| ||_F`` (over the whole batch),
    - log-magnitude L1 ``mean(| log|S| - log|Ŝ| |)``;

    each is averaged over the resolutions.

    Parameters
    ----------
    fft_sizes, hop_sizes, win_lengths : tuple of int
        One entry per resolution (Hann windows, centered frames with zero padding).

    Raises
    ------
    ParameterError
        If the tuples differ in length, or a resolution has ``hop > win > fft``.

    Examples
    --------
    >>> loss = MultiResolutionSTFTLoss()
    >>> x = torch.randn(2, 1, 8000)
    >>> sc, mag = loss(x, x)
    >>> float(sc), float(mag)
    (0.0, 0.0)
    """

    def __init__(
        self,
        fft_sizes: tuple[int, ...] = (512, 1024, 2048),
        hop_sizes: tuple[int, ...] = (128, 256, 512),
        win_lengths: tuple[int, ...] = (512, 1024, 2048),
        power_floor: float = POWER_FLOOR,
    ) -> None:
        super().__init__()
        if not 0 < power_floor < 1:
            raise ParameterError(f"power_floor must be in (0, 1), got {power_floor}")
        # The log-magnitude term cannot tell apart levels below the floor: a vocoder meant to
        # keep silence between harmonics silent needs it as low as the metric it is judged by.
        self.power_floor = power_floor
        if not fft_sizes or not len(fft_sizes) == len(hop_sizes) == len(win_lengths):
            raise ParameterError(
                "fft_sizes, hop_sizes and win_lengths need the same, non-zero number of entries"
            )
        for fft, hop, win in zip(fft_sizes, hop_sizes, win_lengths, strict=True):
            if not 1 <= hop <= win <= fft:
                raise ParameterError(
                    f"each resolution needs 1 <= hop <= win <= fft, got fft={fft}, hop={hop}, "
                    f"win={win}"
                )
        self.resolutions = list(zip(fft_sizes, hop_sizes, win_lengths, strict=True))
        for i, (_, _, win) in enumerate(self.resolutions):
            self.register_buffer(f"window_{i}", torch.hann_window(win), persistent=False)

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Compute the losses of ``pred`` against ``target``.

        Parameters
        ----------
        pred, target : torch.Tensor
            (B, T) or (B, 1, T), the same shape.

        Returns
        -------
        tuple of torch.Tensor
            ``(spectral_convergence, log_magnitude_l1)``, scalars averaged over resolutions.

        Raises
        ------
        ParameterError
            If the shapes differ or are not waveform batches.
        """
        pred = _as_batch(pred, "pred")
        target = _as_batch(target, "target")
        if pred.shape != target.shape:
            raise ParameterError(
                f"pred and target must have the same shape, got {tuple(pred.shape)} and "
                f"{tuple(target.shape)}"
            )
        sc_total = pred.new_zeros(())
        mag_total = pred.new_zeros(())
        for i, (fft, hop, win) in enumerate(self.resolutions):
            window = getattr(self, f"window_{i}")
            pred_mag = _magnitude(pred, fft, hop, win, window, self.power_floor)
            target_mag = _magnitude(target, fft, hop, win, window, self.power_floor)
            convergence, log_l1 = magnitude_losses(pred_mag, target_mag)
            sc_total = sc_total + convergence
            mag_total = mag_total + log_l1
        n = len(self.resolutions)
        return sc_total / n, mag_total / n


def magnitude_losses(
    pred_magnitude: torch.Tensor, target_magnitude: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Spectral convergence and log-magnitude L1 of two magnitude spectrograms.

    ``|| |S| - |Ŝ| ||_F / || |S| ||_F`` over the whole batch and ``mean(| log|S| - log|Ŝ| |)``:
    one resolution of :class:`MultiResolutionSTFTLoss`, usable on a vocoder's own predicted
    magnitudes as well as on the STFT of its output.

    Parameters
    ----------
    pred_magnitude, target_magnitude : torch.Tensor
        Positive magnitudes of the same shape (floor them before: the log needs it).

    Returns
    -------
    tuple of torch.Tensor
        ``(spectral_convergence, log_magnitude_l1)`` scalars.
    """
    convergence = torch.linalg.norm(target_magnitude - pred_magnitude) / torch.linalg.norm(
        target_magnitude
    )
    return convergence, F.l1_loss(pred_magnitude.log(), target_magnitude.log())


def anti_wrapped(phase_difference: torch.Tensor) -> torch.Tensor:
    """Distance of a phase difference to the nearest whole turn, in [0, π] (Ai & Ling 2023)."""
    turn = 2 * torch.pi
    return torch.abs(phase_difference - turn * torch.round(phase_difference / turn))


def phase_derivative_losses(
    pred_phase: torch.Tensor, target_phase: torch.Tensor, target_magnitude: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Group-delay and instantaneous-frequency losses of a predicted STFT phase (APNet).

    Ai & Ling 2023 ("APNet: an all-frame-level neural vocoder incorporating direct prediction
    of amplitude and phase spectra") supervise a phase spectrum through its derivatives, each
    difference measured by :func:`anti_wrapped` so that a whole turn costs nothing:

    - group delay: the difference between neighbouring bins of one frame; it is what keeps the
      bins of one partial in step, so that overlapping frames add up instead of cancelling;
    - instantaneous frequency: the difference between neighbouring frames of one bin.

    Here each difference is weighted by the geometric mean of the two target magnitudes it
    joins (the phase of a silent bin is noise and does not shape the waveform), and both are
    weighted means over the batch.

    Parameters
    ----------
    pred_phase, target_phase, target_magnitude : torch.Tensor
        (B, bins, frames), the same shape; phases in radians.

    Returns
    -------
    tuple of torch.Tensor
        ``(group_delay, instantaneous_frequency)`` scalars in radians, each in [0, π].

    Raises
    ------
    ParameterError
        If the shapes differ or are not (B, bins, frames) with at least two bins and frames.
    """
    shape = target_phase.shape
    if (
        pred_phase.shape != shape
        or target_magnitude.shape != shape
        or len(shape) != 3
        or min(shape[1], shape[2]) < 2
    ):
        raise ParameterError(
            "pred_phase, target_phase and target_magnitude must be the same (B, bins, frames) "
            f"with >= 2 bins and frames, got {tuple(pred_phase.shape)}, {tuple(shape)}, "
            f"{tuple(target_magnitude.shape)}"
        )
    error = pred_phase - target_phase
    magnitude = target_magnitude.detach()
    losses = []
    for dim in (1, 2):  # bins (group delay), frames (instantaneous frequency)
        step = anti_wrapped(torch.diff(error, dim=dim))
        weight = torch.sqrt(
            magnitude.narrow(dim, 0, shape[dim] - 1) * magnitude.narrow(dim, 1, shape[dim] - 1)
        )
        losses.append((weight * step).sum() / weight.sum().clamp_min(1e-12))
    return losses[0], losses[1]


def _magnitude(
    wave: torch.Tensor,
    n_fft: int,
    hop: int,
    win: int,
    window: torch.Tensor,
    power_floor: float = POWER_FLOOR,
) -> torch.Tensor:
    spec = torch.stft(
        wave,
        n_fft=n_fft,
        hop_length=hop,
        win_length=win,
        window=window,
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    return (spec.real.square() + spec.imag.square()).clamp_min(power_floor).sqrt()


def mel_l1_loss(
    pred_wave: torch.Tensor, target_log_mel: torch.Tensor, mel_module: LogMelSpectrogram
) -> torch.Tensor:
    """Mean L1 distance between the log-mel of ``pred_wave`` and a target (Kong et al. 2020).

    Parameters
    ----------
    pred_wave : torch.Tensor
        Generated waveforms, (B, T) or (B, 1, T).
    target_log_mel : torch.Tensor
        (B, n_mels, frames), the same feature of the real audio (usually ``mel_module(real)``).
    mel_module : LogMelSpectrogram
        The feature extractor; gradients flow through it to ``pred_wave``.

    Returns
    -------
    torch.Tensor
        Scalar. HiFi-GAN weights it by 45 in the generator loss.

    Raises
    ------
    ParameterError
        If batch size or mel bands differ, or the frame counts differ by more than one.

    Notes
    -----
    With centered frames, ``T`` samples give ``1 + T // hop`` frames, one more than the frames a
    vocoder consumed to make them; both spectrograms are trimmed to the shorter length so either
    convention works.
    """
    pred_mel = mel_module(pred_wave)
    if pred_mel.shape[:2] != target_log_mel.shape[:2] or target_log_mel.dim() != 3:
        raise ParameterError(
            f"target_log_mel must be (B, n_mels, frames) = ({pred_mel.shape[0]}, "
            f"{pred_mel.shape[1]}, frames), got {tuple(target_log_mel.shape)}"
        )
    frames = min(pred_mel.shape[-1], target_log_mel.shape[-1])
    if max(pred_mel.shape[-1], target_log_mel.shape[-1]) - frames > 1:
        raise ParameterError(
            f"pred_wave gives {pred_mel.shape[-1]} mel frames but target_log_mel has "
            f"{target_log_mel.shape[-1]}; they may differ by at most one"
        )
    return F.l1_loss(pred_mel[..., :frames], target_log_mel[..., :frames])
