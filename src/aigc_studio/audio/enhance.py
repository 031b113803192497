"""Restore and finish a recording in one pass: clipping, hum, noise, then loudness.

:func:`enhance` chains the studio's restoration steps in the order each one needs: clipping is
repaired first, while the clipped plateaus are still exactly flat; mains hum is notched out
next, so the denoiser does not spend itself on a steady tone; then the noise is reduced
(:func:`aigc_studio.audio.denoise.denoise`); last, the integrated loudness is brought to a
target (ITU-R BS.1770-4) under a true-peak ceiling. Where the gain that reaches the target
would push peaks over the ceiling, a look-ahead true-peak limiter
(:func:`aigc_studio.audio.limiter.limit_true_peak`) turns down just the peaks, so the target
is still met. Limiting is capped at 12 dB of peak reduction, and skipped where it would not
make the material louder (impulsive sounds lose as much loudness as their peaks); then the gain
stops where the peaks allow and the report says the target was missed.

Loudness normalization needs the whole signal, so :func:`enhance_file` holds the file in
memory: about 32 bytes per sample and channel at the peak (about 11 GB for an hour of 48 kHz
stereo), and files longer than 2 hours are refused. Each step is also usable on its own
(:mod:`~aigc_studio.audio.declip`, :mod:`~aigc_studio.audio.hum`,
:mod:`~aigc_studio.audio.denoise`, :mod:`~aigc_studio.audio.limiter`); this module only
orders them and reports what they did.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from aigc_studio.audio.declip import Clipping
from aigc_studio.audio.denoise import SilentInputWarning
from aigc_studio.audio.hum import Hum
from aigc_studio.errors import MediaError, ParameterError

#: Longest input enhanced (it is held in memory whole), hours.
MAX_HOURS = 2.0
#: Shortest input: one BS.1770 gating block, seconds.
MIN_SECONDS = 0.4
#: Inputs whose peak stays below this (-120 dBFS) are silence and are returned unchanged.
SILENCE_PEAK = 1e-6
#: Most peak reduction the limiter may apply to reach the loudness target, dB; more would
#: audibly flatten transients, so the gain is reduced instead.
MAX_LIMITING_DB = 12.0
#: Limiting lowers the loudness a little; the gain is corrected until within this, LU.
LOUDNESS_TOLERANCE_LU = 0.1
#: When limiting gains less loudness than this over plain gain, LU, it is not used.
MIN_LIMITING_BENEFIT_LU = 1.0
#: At most this many limiter passes to converge on the target.
MAX_LOUDNESS_PASSES = 4
#: The steps in order, as reported to ``on_progress``.
STEPS = ("repairing clipping", "removing hum", "denoising", "normalizing loudness")

DenoiseMethod = Literal["net", "gate"]
#: ``on_progress(step, done, total)``: ``step`` is starting, ``done`` of ``total`` steps are done.
StepCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class EnhanceReport:
    """What :func:`enhance` found and did.

    Attributes
    ----------
    clipping : Clipping
        Clipping found in the input (repaired when ``clipping.detected``).
    hum : Hum or None
        Hum found after clipping repair (notched out when not None).
    denoise_method : str or None
        ``"net"``, ``"gate"``, or None when denoising was skipped.
    strength : float
        Denoising strength used.
    loudness_before_lufs : float
        Integrated loudness of the input, LUFS (``-inf`` for silence).
    loudness_after_lufs : float
        Integrated loudness of the output, LUFS.
    true_peak_after_dbtp : float
        True peak of the output, dBTP.
    gain_db : float
        Gain applied to reach the loudness target, dB.
    limiter_reduction_db : float
        Largest peak reduction of the true-peak limiter, dB (0 when it did nothing).
    notes : tuple of str
        Things the caller should know (silent input, target not reached).
    """

    clipping: Clipping
    hum: Hum | None
    denoise_method: str | None
    strength: float
    loudness_before_lufs: float
    loudness_after_lufs: float
    true_peak_after_dbtp: float
    gain_db: float
    limiter_reduction_db: float
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON types (``-inf`` as None)."""
        values: dict[str, Any] = {
            "clipping": self.clipping.to_dict(),
            "hum": self.hum.to_dict() if self.hum else None,
            "denoise_method": self.denoise_method,
            "strength": self.strength,
            "notes": list(self.notes),
        }
        for name in (
            "loudness_before_lufs",
            "loudness_after_lufs",
            "true_peak_after_dbtp",
            "gain_db",
            "limiter_reduction_db",
        ):
            value = float(getattr(self, name))
            values[name] = round(value, 3) if math.isfinite(value) else None
        return values

    def summary(self) -> str:
        """Return one line saying what was done, for people."""
        done = []
        if self.clipping.detected:
            done.append(f"repaired clipping ({100 * self.clipping.fraction:.2g} % of samples)")
        if self.hum is not None:
            done.append(
                f"removed {self.hum.base_hz:g} Hz hum ({self.hum.level_db:.0f} dB above the floor)"
            )
        if self.denoise_method:
            done.append(f"denoised ({self.denoise_method}, strength {self.strength:g})")
        if math.isfinite(self.loudness_before_lufs):
            limiter = (
                f", limiter {self.limiter_reduction_db:.1f} dB"
                if self.limiter_reduction_db > 0
                else ""
            )
            done.append(
                f"{self.loudness_before_lufs:.1f} → {self.loudness_after_lufs:.1f} LUFS, "
                f"true peak {self.true_peak_after_dbtp:.1f} dBTP{limiter}"
            )
        return " · ".join(done + list(self.notes)) or "nothing to do"


def check_enhance_options(
    target_lufs: float,
    true_peak_db: float,
    denoise_method: str | None,
    strength: float,
) -> None:
    """Check :func:`enhance`'s options, so that a batch can refuse them before the first file.

    Raises
    ------
    ParameterError
        If ``target_lufs`` is outside [-70, 0] LUFS, ``true_peak_db`` outside [-20, 0] dBTP,
        ``denoise_method`` not ``"net"``, ``"gate"`` or None, or ``strength`` outside [0, 1].
    """
    if isinstance(target_lufs, bool) or not -70.0 <= float(target_lufs) <= 0.0:
        raise ParameterError(f"target_lufs must be in [-70, 0] LUFS, got {target_lufs!r}")
    if isinstance(true_peak_db, bool) or not -20.0 <= float(true_peak_db) <= 0.0:
        raise ParameterError(f"true_peak_db must be in [-20, 0] dBTP, got {true_peak_db!r}")
    if denoise_method not in ("net", "gate", None):
        raise ParameterError(
            f"denoise_method must be 'net', 'gate' or None, got {denoise_method!r}"
        )
    if isinstance(strength, bool) or not 0.0 <= float(strength) <= 1.0:
        raise ParameterError(f"strength must be in [0, 1], got {strength!r}")


def enhance(
    audio: np.ndarray,
    sr: int,
    *,
    target_lufs: float = -16.0,
    true_peak_db: float = -1.0,
    denoise_method: DenoiseMethod | None = "net",
    strength: float = 1.0,
    model: Any = None,
    on_progress: StepCallback | None = None,
) -> tuple[np.ndarray, EnhanceReport]:
    """Repair clipping, remove hum, denoise and normalize loudness, in that order.

    Parameters
    ----------
    audio : np.ndarray
        float (channels, samples) or (samples,); mono to 5.1 (the LFE, fourth in WAV order,
        is processed but left out of the loudness measurement, as BS.1770 says).
    sr : int
        Sample rate in Hz.
    target_lufs : float
        Integrated loudness target, LUFS, in [-70, 0] (-16 suits podcasts and streaming, -23
        is EBU R 128 broadcast).
    true_peak_db : float
        True-peak ceiling, dBTP, in [-20, 0].
    denoise_method : {"net", "gate"} or None
        As in :func:`aigc_studio.audio.denoise.denoise`; None skips denoising.
    strength : float
        Denoising strength in [0, 1].
    model : optional
        The denoiser for ``"net"`` (see :func:`~aigc_studio.audio.denoise.denoise`).
    on_progress : callable, optional
        Called as ``on_progress(step, done, total)`` before each step and once at the end.

    Returns
    -------
    audio : np.ndarray
        float32 of the input's shape and rate.
    report : EnhanceReport
        What was found and done.

    Raises
    ------
    MediaError
        If the audio holds NaN or infinite samples, is shorter than 0.4 s, longer than 2 hours,
        or has more than 6 channels.
    ParameterError
        If an option is out of range (see :func:`check_enhance_options`).
    ToolMissingError
        If ``denoise_method="net"`` and no trained denoiser is installed.

    Warns
    -----
    SilentInputWarning
        If the input is digital silence (it is returned unchanged).

    References
    ----------
    ITU-R BS.1770-4 (loudness and true peak); EBU R 128 (loudness normalization).

    Examples
    --------
    >>> t = np.arange(48000) / 48000
    >>> take = 0.05 * np.sin(2 * np.pi * 440 * t) + 0.02 * np.sin(2 * np.pi * 50 * t)
    >>> out, report = enhance(take, 48000, denoise_method=None)
    >>> report.hum.base_hz, round(report.loudness_after_lufs)
    (50.0, -16)
    """
    from aigc_studio.audio.analysis import bs1770_channels
    from aigc_studio.audio.declip import detect_clipping, repair_clipping
    from aigc_studio.audio.denoise import denoise, load_denoiser
    from aigc_studio.audio.hum import detect_hum, remove_hum
    from aigc_studio.dsp.loudness import measure_loudness, true_peak
    from aigc_studio.media.checks import as_audio_array, check_sample_rate

    sr = check_sample_rate(sr)
    check_enhance_options(target_lufs, true_peak_db, denoise_method, strength)
    one_dimensional = np.ndim(audio) == 1
    data = as_audio_array(audio, what="audio")
    seconds = data.shape[1] / sr
    if seconds < MIN_SECONDS:
        raise MediaError(
            f"audio is {1000 * seconds:.0f} ms long; enhancement needs at least "
            f"{1000 * MIN_SECONDS:.0f} ms (one loudness gating block)"
        )
    if seconds > MAX_HOURS * 3600:
        raise MediaError(
            f"audio is {seconds / 3600:.1f} h long, over the {MAX_HOURS:g} h that enhancement "
            "holds in memory; split it first"
        )
    bs1770_channels(data)  # refuse > 5.1 before any work
    if denoise_method == "net":
        model = load_denoiser(model)  # a missing denoiser fails now, not after the other steps
    progress = on_progress or (lambda step, done, total: None)

    def shaped(out: np.ndarray) -> np.ndarray:
        return out[0] if one_dimensional else out

    if float(np.max(np.abs(data))) < SILENCE_PEAK:
        warnings.warn("the input is silence; returned unchanged", SilentInputWarning, stacklevel=2)
        report = EnhanceReport(
            clipping=detect_clipping(data),
            hum=None,
            denoise_method=None,
            strength=float(strength),
            loudness_before_lufs=float("-inf"),
            loudness_after_lufs=float("-inf"),
            true_peak_after_dbtp=float("-inf"),
            gain_db=0.0,
            limiter_reduction_db=0.0,
            notes=("silent input left unchanged",),
        )
        progress(STEPS[-1], len(STEPS), len(STEPS))
        return shaped(data.copy()), report
    before = measure_loudness(bs1770_channels(data), sr).integrated_lufs

    progress(STEPS[0], 0, len(STEPS))
    clipping = detect_clipping(data)
    if clipping.detected:
        data = repair_clipping(data)
    progress(STEPS[1], 1, len(STEPS))
    hum = detect_hum(data, sr)
    if hum is not None:
        # Notch only up to the highest harmonic found: each notch also takes a sliver of music.
        highest = round(max(hum.harmonics_hz) / hum.base_hz)
        data = remove_hum(data, sr, hum.frequency_hz, n_harmonics=highest)
    progress(STEPS[2], 2, len(STEPS))
    if denoise_method is not None:
        data = denoise(data, sr, strength=strength, method=denoise_method, model=model)
    progress(STEPS[3], 3, len(STEPS))
    out, gain, reduction, notes = _normalize(data, sr, float(target_lufs), float(true_peak_db))
    after = measure_loudness(bs1770_channels(out), sr)
    peak_db = after.true_peak_dbtp
    if out.shape[0] > 5:  # the LFE is left out of the loudness, not out of the peak
        peak_db = 20.0 * math.log10(max(true_peak(out, sr), 1e-30))
    progress(STEPS[3], len(STEPS), len(STEPS))
    report = EnhanceReport(
        clipping=clipping,
        hum=hum,
        denoise_method=denoise_method,
        strength=float(strength),
        loudness_before_lufs=before,
        loudness_after_lufs=after.integrated_lufs,
        true_peak_after_dbtp=peak_db,
        gain_db=gain,
        limiter_reduction_db=reduction,
        notes=notes,
    )
    return shaped(out), report


def enhance_file(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    target_lufs: float = -16.0,
    true_peak_db: float = -1.0,
    denoise_method: DenoiseMethod | None = "net",
    strength: float = 1.0,
    model: Any = None,
    tags: Mapping[str, str] | None = None,
    on_progress: StepCallback | None = None,
) -> EnhanceReport:
    """Enhance a file into another (see :func:`enhance`); the output appears only when complete.

    The file is read whole (loudness needs all of it; files over 2 hours are refused). The
    output has the input's rate and channels; its format follows ``out_path``'s suffix
    (WAV/FLAC 24-bit, or 32-bit float WAV when the input is a float WAV).

    Parameters
    ----------
    in_path, out_path : str or PathLike
        Input (any format :func:`aigc_studio.media.load_audio` reads) and output.
    target_lufs, true_peak_db, denoise_method, strength, model, on_progress
        As in :func:`enhance`.
    tags : mapping, optional
        Text tags for the output (provenance).

    Returns
    -------
    EnhanceReport

    Raises
    ------
    MediaError
        If the input is unreadable, too short, too long, holds NaN samples or has more than 6
        channels, or the output cannot be written.
    ParameterError, ToolMissingError
        As in :func:`enhance`.

    Warns
    -----
    SilentInputWarning
        If the input is digital silence (the output is a copy).
    """
    from aigc_studio.media import load_audio, save_audio

    check_enhance_options(target_lufs, true_peak_db, denoise_method, strength)
    source, target = Path(in_path), Path(out_path)
    audio, sr = load_audio(source, max_hours=MAX_HOURS)
    try:
        out, report = enhance(
            audio,
            sr,
            target_lufs=target_lufs,
            true_peak_db=true_peak_db,
            denoise_method=denoise_method,
            strength=strength,
            model=model,
            on_progress=on_progress,
        )
    except MediaError as exc:
        raise MediaError(f"{source}: {exc}") from exc
    save_audio(target, out, sr, tags=tags, subtype=_float_subtype(source, target))
    return report


def _float_subtype(source: Path, target: Path) -> str | None:
    """Return "FLOAT" when a float WAV input goes to a WAV output (keep its precision)."""
    import soundfile as sf

    if target.suffix.lower() != ".wav":
        return None
    try:
        return "FLOAT" if sf.info(str(source)).subtype in ("FLOAT", "DOUBLE") else None
    except Exception:  # not a libsndfile format (decoded through PyAV): the default will do
        return None


def _normalize(
    audio: np.ndarray, sr: int, target_lufs: float, ceiling_db: float
) -> tuple[np.ndarray, float, float, tuple[str, ...]]:
    """Bring loudness to the target under the true-peak ceiling.

    Returns the audio, the gain (dB), the limiter's largest reduction (dB) and notes.
    """
    from aigc_studio.audio.analysis import bs1770_channels
    from aigc_studio.audio.limiter import limit_true_peak
    from aigc_studio.dsp.loudness import measure_loudness, true_peak

    level = measure_loudness(bs1770_channels(audio), sr).integrated_lufs
    if not math.isfinite(level):
        return audio, 0.0, 0.0, ("below the -70 LUFS gate: loudness left as it was",)
    wanted = target_lufs - level
    # The gain that brings the true peak just to the ceiling: up to it, no limiting is needed.
    headroom = ceiling_db - 20.0 * math.log10(max(true_peak(audio, sr), 1e-30))
    if wanted <= headroom:
        return _scaled(audio, wanted), float(wanted), 0.0, ()
    most = headroom + MAX_LIMITING_DB
    gain = min(wanted, most)
    for attempt in range(MAX_LOUDNESS_PASSES):
        out, reduction = limit_true_peak(_scaled(audio, gain), sr, ceiling_dbtp=ceiling_db)
        loudness = measure_loudness(bs1770_channels(out), sr).integrated_lufs
        # The limiter took some loudness with the peaks: give it back and limit again.
        error = target_lufs - loudness
        if abs(error) <= LOUDNESS_TOLERANCE_LU or attempt == MAX_LOUDNESS_PASSES - 1:
            break
        if error > 0 and gain >= most:
            break
        gain = min(gain + error, most)
    if loudness >= target_lufs - LOUDNESS_TOLERANCE_LU:
        return out, float(gain), float(reduction), ()
    if loudness < level + headroom + MIN_LIMITING_BENEFIT_LU:
        # Impulsive material (clicks, drum hits) loses as much loudness as its peaks lose:
        # limiting would flatten it for nothing, so only the gain the peaks allow is applied.
        short = target_lufs - (level + headroom)
        note = (
            f"target not reached ({short:.1f} LU short): the peaks allow {headroom:+.1f} dB of "
            "gain and limiting them would not make this material louder"
        )
        return _scaled(audio, headroom), float(headroom), 0.0, (note,)
    note = (
        f"target not reached ({target_lufs - loudness:.1f} LU short): it needs more than "
        f"{MAX_LIMITING_DB:g} dB of peak limiting"
    )
    return out, float(gain), float(reduction), (note,)


def _scaled(audio: np.ndarray, gain_db: float) -> np.ndarray:
    return audio * np.float32(10.0 ** (gain_db / 20.0))
