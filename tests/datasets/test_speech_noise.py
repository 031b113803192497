from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aigc_studio.datasets.cache import load_split, read_manifest
from aigc_studio.datasets.registry import DATASETS, prepare_dataset
from aigc_studio.datasets.speech_noise import (
    DEFAULT_HELDOUT_NOISE,
    NOISE_TYPES,
    TEST_VARIANTS,
    TRAIN_VARIANTS,
    VALID_VARIANTS,
    prepare_speech_noise,
    room_impulse_response,
    speech_noise_split,
    synthesize_noise,
)
from aigc_studio.datasets.split import SPLITS
from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.system_tools import tool_status

SR = 16_000


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not tool_status("espeak-ng").found:
        pytest.skip("espeak-ng is not installed")
    calls: list[tuple[str, int, int]] = []
    root = prepare_speech_noise(
        tmp_path_factory.mktemp("speech") / "tiny",
        train_segments=7,
        valid_segments=2,
        test_segments=4,
        segment_seconds=0.5,
        languages=["en-us", "de"],
        test_snr_db=[0.0, 10.0],
        workers=2,
        progress=lambda *args: calls.append(args),
    )
    assert calls and calls[-1][1] == calls[-1][2]
    return root


def _variant(voice: str) -> str:
    return voice.partition("+")[2]


def test_splits_hold_the_asked_segments_with_exact_mixtures(tiny: Path) -> None:
    manifest = read_manifest(tiny)
    assert manifest["splits"] == {"train": 7, "valid": 2, "test": 4}
    for split in SPLITS:
        data = load_split(tiny, split)
        clean, noisy = np.asarray(data["clean"]), np.asarray(data["noisy"])
        assert clean.shape == noisy.shape == (manifest["splits"][split], SR // 2)
        assert clean.dtype == noisy.dtype == np.float32
        measured = 10 * np.log10((clean**2).sum(1) / ((noisy - clean) ** 2).sum(1))
        np.testing.assert_allclose(measured, data["snr"], atol=0.01)
        assert np.abs(noisy).max() <= 0.99 + 1e-6
    train_snr = load_split(tiny, "train")["snr"]
    assert np.all((train_snr >= -5) & (train_snr <= 20))
    assert set(load_split(tiny, "test")["snr"].tolist()) == {0.0, 10.0}


def test_test_split_holds_only_unheard_voices_and_noise_types(tiny: Path) -> None:
    manifest = read_manifest(tiny)
    voices, noises = manifest["labels"]["voice"], manifest["labels"]["noise_type"]
    seen: dict[str, tuple[set[str], set[str]]] = {}
    for split in SPLITS:
        data = load_split(tiny, split)
        variants = {_variant(voices[i]) for i in data["voice"]}
        types = {noises[i] for i in data["noise_type"]}
        seen[split] = (variants, types)
        for item_id in data["item_id"]:
            assert speech_noise_split(str(item_id)) == split
    assert seen["train"][0] <= set(TRAIN_VARIANTS)
    assert seen["valid"][0] <= set(VALID_VARIANTS)
    assert seen["test"][0] <= set(TEST_VARIANTS)
    assert seen["test"][1] == set(DEFAULT_HELDOUT_NOISE)
    assert not seen["train"][1] & set(DEFAULT_HELDOUT_NOISE)
    heldout = manifest["heldout"]
    assert heldout["test_noise_types"] == list(DEFAULT_HELDOUT_NOISE)
    assert {voices[i] for i in load_split(tiny, "test")["voice"]} <= set(heldout["test_voices"])
    assert all(_variant(voice) in TEST_VARIANTS for voice in heldout["test_voices"])


def test_clean_targets_are_speech_not_silence(tiny: Path) -> None:
    clean = np.asarray(load_split(tiny, "train")["clean"])
    rms_db = 10 * np.log10((clean**2).mean(1))
    assert np.all(rms_db > -50)


def test_split_rule_by_variant_and_noise() -> None:
    assert speech_noise_split("de+m3~wind~000001") == "train"
    assert speech_noise_split("de+m6~wind~000001") == "valid"
    assert speech_noise_split("de+m7~wind~000001") == "test"
    assert speech_noise_split("de+m3~pink~000001") == "test"
    assert speech_noise_split("de+m3~pink~000001", heldout_noise_types=[]) == "train"
    with pytest.raises(ParameterError):
        speech_noise_split("no-voice-here")
    assert not set(TRAIN_VARIANTS) & (set(VALID_VARIANTS) | set(TEST_VARIANTS))
    assert not set(VALID_VARIANTS) & set(TEST_VARIANTS)


@pytest.mark.parametrize("noise_type", NOISE_TYPES)
def test_every_noise_type_is_unit_rms_and_deterministic(noise_type: str) -> None:
    pool = [np.sin(np.arange(6000) * f) for f in (0.05, 0.07, 0.11, 0.13)]
    a = synthesize_noise(noise_type, 8000, SR, np.random.default_rng(3), babble_pool=pool)
    b = synthesize_noise(noise_type, 8000, SR, np.random.default_rng(3), babble_pool=pool)
    c = synthesize_noise(noise_type, 8000, SR, np.random.default_rng(4), babble_pool=pool)
    assert a.shape == (8000,) and np.all(np.isfinite(a))
    assert np.sqrt(np.mean(a**2)) == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def _low_share(x: np.ndarray) -> float:
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / SR)
    return float(power[freqs < 500].sum() / power.sum())


def test_noise_colors_order_and_hum_sits_on_mains_harmonics() -> None:
    shares = [
        _low_share(synthesize_noise(kind, SR, SR, np.random.default_rng(0)))
        for kind in ("white", "pink", "brown")
    ]
    assert shares[0] < shares[1] < shares[2]
    hum = synthesize_noise("hum", SR, SR, np.random.default_rng(0))
    spectrum = np.abs(np.fft.rfft(hum))  # 1 Hz bins over one second
    peaks = np.argsort(spectrum)[-5:]
    base = 50 if all(p % 50 == 0 for p in peaks) else 60
    assert all(p % base == 0 for p in peaks)


def test_babble_needs_voices_and_unknown_types_are_refused() -> None:
    with pytest.raises(ParameterError, match="pool"):
        synthesize_noise("babble", 100, SR, np.random.default_rng(0))
    with pytest.raises(ParameterError, match="noise_type"):
        synthesize_noise("traffic", 100, SR, np.random.default_rng(0))


def test_room_response_decays_by_rt60() -> None:
    rir = room_impulse_response(0.5, SR, np.random.default_rng(0))
    assert rir[0] == 1.0 and rir.size == SR // 2
    early = np.sum(rir[SR // 100 : SR // 20] ** 2)
    late = np.sum(rir[SR // 2 - SR // 25 : SR // 2 - SR // 100] ** 2)
    assert 10 * np.log10(early / late) > 40  # ~60 dB over the 0.5 s, minus window effects
    with pytest.raises(ParameterError):
        room_impulse_response(10.0, SR, np.random.default_rng(0))


@pytest.mark.parametrize(
    "options",
    [
        {"heldout_noise_types": list(NOISE_TYPES)},
        {"heldout_noise_types": ["traffic"]},
        {"snr_db": (20.0, -5.0)},
        {"train_segments": 0},
        {"languages": ["xx"]},
        {"segment_seconds": 0.01},
    ],
)
def test_bad_parameters_are_refused(tmp_path: Path, options: dict) -> None:
    with pytest.raises(ParameterError):
        prepare_speech_noise(tmp_path / "x", **options)
    assert not (tmp_path / "x").exists()


def test_registered_by_name_with_its_options() -> None:
    assert DATASETS["speech-noise"] is prepare_speech_noise
    with pytest.raises(ConfigError, match="does not take"):
        prepare_dataset("speech-noise", train_size=3)
