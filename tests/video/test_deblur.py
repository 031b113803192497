"""Tests for Wiener/unsharp deblurring and the per-shot blur estimate (aigc_studio.video.deblur)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aigc_studio.errors import ConfigError, MediaError, ParameterError
from aigc_studio.evaluation.video import psnr
from aigc_studio.video.deblur import (
    DeblurConfig,
    Deblurrer,
    deblur_frame,
    deblur_frames,
    defocus_psf,
    estimate_blur_sigma,
    gaussian_psf,
    unsharp_mask,
    wiener_deconvolve,
)


def shapes_scene(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """Colored rectangles and discs on gray: sharp step edges in every direction."""
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), 90, np.uint8)
    for _ in range(40):
        x, y = (int(v) for v in rng.integers(0, (width, height)))
        w, h = (int(v) for v in rng.integers(6, 30, 2))
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            cv2.rectangle(image, (x, y), (x + w, y + h), color, -1)
        else:
            cv2.circle(image, (x, y), w // 2, color, -1, lineType=cv2.LINE_AA)
    return image


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    blurred = cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma)
    return np.clip(np.rint(blurred), 0, 255).astype(np.uint8)


def gradient_energy(image: np.ndarray) -> float:
    luma = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(
        np.mean(cv2.Sobel(luma, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(luma, cv2.CV_32F, 0, 1) ** 2)
    )


@pytest.fixture(scope="module")
def sharp() -> np.ndarray:
    return shapes_scene()


# -- point-spread functions and the estimate ---------------------------------------------------


def test_psfs_are_normalized_and_centered():
    gauss = gaussian_psf(1.5)
    disk = defocus_psf(3.0)
    for kernel in (gauss, disk):
        assert kernel.sum() == pytest.approx(1.0, abs=1e-5)
        assert kernel.shape[0] % 2 == 1 and kernel.shape == kernel.shape[::-1]
        centre = kernel.shape[0] // 2
        assert kernel[centre, centre] == kernel.max()
        np.testing.assert_allclose(kernel, kernel.T, atol=1e-7)
    assert gauss.shape == (11, 11)  # 2 ceil(3 sigma) + 1
    assert disk[0, 0] == 0 and disk[3, 0] > 0  # a disk: corners empty, edges not
    assert gaussian_psf(0).shape == (1, 1) and defocus_psf(0.2).shape == (1, 1)
    with pytest.raises(ParameterError, match="sigma"):
        gaussian_psf(-1)


@pytest.mark.parametrize("sigma", [1.5, 3.0])
def test_blur_estimate_recovers_a_known_gaussian_blur(sharp, sigma):
    assert estimate_blur_sigma(blur(sharp, sigma)) == pytest.approx(sigma, rel=0.2)


def test_sharp_and_flat_frames_read_as_unblurred(sharp):
    assert estimate_blur_sigma(sharp) < 0.7
    assert estimate_blur_sigma(np.full((32, 32, 3), 128, np.uint8)) == 0.0


# -- Wiener deconvolution and unsharp masking ----------------------------------------------


def test_wiener_with_the_true_psf_restores_detail(sharp):
    luma = cv2.cvtColor(sharp, cv2.COLOR_RGB2GRAY).astype(np.float32)
    blurred = cv2.GaussianBlur(luma, (0, 0), 2.0)
    restored = wiener_deconvolve(blurred, gaussian_psf(2.0), nsr=1e-3)
    assert restored.shape == luma.shape and restored.dtype == np.float32
    error_before = np.abs(blurred - luma).mean()
    error_after = np.abs(restored - luma).mean()
    assert error_after < 0.6 * error_before
    # Borders are handled by reflection: no ring along the edge of the picture.
    assert np.abs(restored - luma)[:, :3].mean() < 2 * error_after + 2


def test_wiener_with_an_identity_psf_changes_nothing(sharp):
    luma = cv2.cvtColor(sharp, cv2.COLOR_RGB2GRAY).astype(np.float32)
    np.testing.assert_allclose(wiener_deconvolve(luma, gaussian_psf(0), nsr=1e-6), luma, atol=0.01)


def test_wiener_refuses_bad_arguments():
    with pytest.raises(ParameterError, match="odd size"):
        wiener_deconvolve(np.zeros((8, 8), np.float32), np.ones((2, 2)))
    with pytest.raises(ParameterError, match="nsr"):
        wiener_deconvolve(np.zeros((8, 8), np.float32), gaussian_psf(1), nsr=0)
    with pytest.raises(ParameterError, match="2-D"):
        wiener_deconvolve(np.zeros((8, 8, 3), np.float32), gaussian_psf(1))


def luma_psnr(reference: np.ndarray, estimate: np.ndarray) -> float:
    # Deblurring works on luminance, and these saturated test colors keep their chroma blur.
    gray = cv2.COLOR_RGB2GRAY
    return psnr(cv2.cvtColor(reference, gray), cv2.cvtColor(estimate, gray))


def test_deblur_frame_with_an_estimated_gaussian_beats_the_blurred_input(sharp):
    blurred = blur(sharp, 2.0)
    restored = deblur_frame(blurred)
    assert luma_psnr(sharp, restored) > luma_psnr(sharp, blurred) + 2.5


def test_defocus_psf_undoes_a_disk_blur(sharp):
    disk = cv2.filter2D(sharp.astype(np.float32), -1, defocus_psf(3.5))
    blurred = np.clip(np.rint(disk), 0, 255).astype(np.uint8)
    # A disk of radius 1.75 sigma is assumed: sigma 2 is radius 3.5.
    restored = deblur_frame(blurred, DeblurConfig(psf="defocus", sigma=2.0))
    assert luma_psnr(sharp, restored) > luma_psnr(sharp, blurred) + 2.5
    wrong_shape = deblur_frame(blurred, DeblurConfig(psf="gaussian", sigma=2.0))
    assert luma_psnr(sharp, restored) > luma_psnr(sharp, wrong_shape)


def test_deblurring_leaves_chroma_alone(sharp):
    blurred = blur(sharp, 2.0)
    for method in ("wiener", "unsharp"):
        restored = deblur_frame(blurred, DeblurConfig(method=method))
        before = cv2.cvtColor(blurred, cv2.COLOR_RGB2YCrCb).astype(int)
        after = cv2.cvtColor(restored, cv2.COLOR_RGB2YCrCb).astype(int)
        # Luma changes a lot, Cr and Cb only where sharpening clipped a channel.
        assert np.abs(after[..., 0] - before[..., 0]).mean() > 2
        assert np.median(np.abs(after[..., 1:] - before[..., 1:])) <= 1


def test_unsharp_mask_raises_gradient_energy_and_amount_zero_is_identity(sharp):
    blurred = blur(sharp, 1.5)
    sharpened = unsharp_mask(blurred, sigma=1.5, amount=1.0)
    assert gradient_energy(sharpened) > 1.3 * gradient_energy(blurred)
    np.testing.assert_array_equal(unsharp_mask(blurred, amount=0.0), blurred)
    # A threshold leaves small detail (here: all of a faint ripple) alone.
    ripple = (np.indices((32, 32)).sum(axis=0) % 2 * 2 + 120).astype(np.uint8)
    faint = np.repeat(ripple[..., None], 3, axis=2)
    np.testing.assert_array_equal(unsharp_mask(faint, amount=2.0, threshold=5), faint)
    with pytest.raises(ParameterError, match="amount"):
        unsharp_mask(blurred, amount=9)
    with pytest.raises(MediaError):
        unsharp_mask(blurred.astype(np.float32))


def test_strength_zero_returns_the_input(sharp):
    blurred = blur(sharp, 2.0)
    np.testing.assert_array_equal(deblur_frame(blurred, DeblurConfig(strength=0)), blurred)


# -- streams -------------------------------------------------------------------------------


def panning(image: np.ndarray, count: int, sigma: float) -> list[np.ndarray]:
    return [blur(np.roll(image, 3 * i, axis=1), sigma) for i in range(count)]


def test_one_blur_estimate_per_shot_and_a_new_one_after_a_cut():
    first = panning(shapes_scene(seed=1), 6, 1.2)
    second = panning(shapes_scene(seed=2)[..., ::-1], 5, 3.0)  # other colors: a hard cut
    deblurrer = Deblurrer(DeblurConfig(estimate_frames=4))
    out = list(deblurrer.process(first + second))
    assert len(out) == len(first) + len(second)
    assert len(deblurrer.sigmas) == 2
    assert deblurrer.sigmas[0] == pytest.approx(1.2, rel=0.3)
    assert deblurrer.sigmas[1] == pytest.approx(3.0, rel=0.3)
    # Frames come out in order, each deblurred with its own shot's filter.
    for restored, blurred in zip(out, first + second, strict=True):
        assert psnr(blurred, restored) > 18  # still the same picture


def test_stream_uses_a_given_sigma_without_estimating(sharp):
    deblurrer = Deblurrer(DeblurConfig(sigma=2.0))
    frames = list(deblurrer.process(panning(sharp, 3, 2.0)))
    assert len(frames) == 3 and deblurrer.sigmas == [2.0]


def test_single_frame_and_odd_sized_streams(sharp):
    odd = blur(sharp[:37, :23], 1.5)
    out = list(deblur_frames([odd]))
    assert len(out) == 1 and out[0].shape == (37, 23, 3)
    assert list(deblur_frames([])) == []


def test_stream_refuses_a_frame_of_another_size(sharp):
    with pytest.raises(MediaError, match="frame 1"):
        list(deblur_frames([sharp, sharp[:40]]))


def test_net_method_uses_the_shipped_network_or_says_it_is_missing(sharp, monkeypatch):
    import aigc_studio.weights
    from aigc_studio.errors import ToolMissingError
    from aigc_studio.weights import shipped_weights

    if shipped_weights("deblur-net") is not None:
        assert Deblurrer(DeblurConfig(method="net")).network is not None
    monkeypatch.setattr(aigc_studio.weights, "shipped_weights", lambda name: None)
    with pytest.raises(ToolMissingError, match="make weights-deblur-net"):
        Deblurrer(DeblurConfig(method="net"))

    def network(frame: np.ndarray) -> np.ndarray:
        return np.full(frame.shape, 7.0)  # float output is rounded into uint8

    out = deblur_frame(sharp, DeblurConfig(method="net"), network=network)
    assert out.dtype == np.uint8 and (out == 7).all()
    with pytest.raises(ParameterError, match="shape"):
        deblur_frame(sharp, DeblurConfig(method="net"), network=lambda f: f[:10])


def test_config_round_trip_and_validation():
    config = DeblurConfig(method="unsharp", strength=0.5, sigma=1.0)
    assert DeblurConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown deblur option"):
        DeblurConfig.from_dict({"radius": 3})
    for bad in ({"method": "magic"}, {"strength": 5}, {"psf": "box"}, {"nsr": 0},
                {"estimate_frames": 0}, {"sigma": -1}):  # fmt: skip
        with pytest.raises(ConfigError, match="deblur"):
            DeblurConfig(**bad)
