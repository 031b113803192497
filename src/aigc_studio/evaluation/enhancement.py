"""Full-reference metrics of speech enhancement: SI-SDR and its improvement over the input.

Pure functions on numpy arrays (Le Roux et al. 2019); they score any denoiser's output, ours or
a peer's. The differentiable training loss is :mod:`aigc_studio.models.enhancement_losses`.
"""

from __future__ import annotations

import numpy as np

from aigc_studio.errors import ParameterError

#: Added to both energies so that silence stays finite.
EPSILON = 1e-8


def _signal(name: str, x: np.ndarray) -> np.ndarray:
    array = np.asarray(x, dtype=np.float64)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1 or array.size == 0:
        raise ParameterError(f"{name} must be (samples,) or (1, samples), got {np.shape(x)}")
    if not np.all(np.isfinite(array)):
        raise ParameterError(f"{name} holds NaN or infinite samples")
    return array


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019, eqs. 1-3).

    Parameters
    ----------
    reference : np.ndarray
        The clean signal, (samples,) or (1, samples).
    estimate : np.ndarray
        The same length.

    Returns
    -------
    float
        ``10 log10(||a s||² / ||a s - ŝ||²)`` with ``a = <ŝ, s> / ||s||²``, after removing means.

    Raises
    ------
    ParameterError
        If a signal is not 1-D, empty, non-finite, or the lengths differ.

    Examples
    --------
    >>> s = np.sin(np.arange(1000) / 5)
    >>> round(si_sdr(s, s + 0.1 * np.cos(np.arange(1000) / 3)), 1)
    20.0
    """
    ref = _signal("reference", reference)
    est = _signal("estimate", estimate)
    if ref.shape != est.shape:
        raise ParameterError(f"lengths differ: reference {ref.size}, estimate {est.size}")
    ref = ref - ref.mean()
    est = est - est.mean()
    target = (np.dot(est, ref) / (np.dot(ref, ref) + EPSILON)) * ref
    residual = est - target
    return float(
        10.0 * np.log10((np.dot(target, target) + EPSILON) / (np.dot(residual, residual) + EPSILON))
    )


def si_sdr_improvement(reference: np.ndarray, noisy: np.ndarray, enhanced: np.ndarray) -> float:
    """Return ``si_sdr(reference, enhanced) - si_sdr(reference, noisy)`` in dB (SI-SDRi)."""
    return si_sdr(reference, enhanced) - si_sdr(reference, noisy)
