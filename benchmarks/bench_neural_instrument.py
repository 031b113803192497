"""The neural instrument (pitch-conditional SpecGAN) against held-out real notes.

Generates notes at every trained pitch (MIDI 36-84), renders them with the shipped vocoder, and
scores them the way GANSynth (Engel et al. 2019) was scored: pitch accuracy with pitch estimated
by librosa's pyin, pitch entropy, NDB (Richardson & Weiss 2018) and a Fréchet distance on
log-mel statistics against the held-out test notes. Real held-out notes, run through the same
pitch estimator, give the ceiling of pitch accuracy.

Usage: python benchmarks/bench_neural_instrument.py [--model PATH] [--per-pitch N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import _common


def pooled(mel: np.ndarray) -> np.ndarray:
    """Per-note features: mean and std over time of each mel band."""
    return np.concatenate([mel.mean(axis=-1), mel.std(axis=-1)], axis=-1)


def _timed_render(mel: np.ndarray, features: dict) -> float:
    """Seconds the shipped vocoder takes to render ``mel``."""
    from aigc_studio.training.mel_rendering import render_mel

    start = time.perf_counter()
    render_mel(mel, features, vocoder="auto")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="trained instrument (default: shipped)")
    parser.add_argument(
        "--vocoder",
        default="griffin-lim",
        help="renderer of the headline row (griffin-lim, auto or a path)",
    )
    parser.add_argument("--per-pitch", type=int, default=2, help="notes generated per pitch")
    args = parser.parse_args()

    from aigc_studio.datasets.cache import load_split, read_manifest
    from aigc_studio.evaluation import (
        frechet_distance,
        number_of_statistically_different_bins,
        pitch_accuracy,
        pitch_entropy,
    )
    from aigc_studio.evaluation.pitch import estimate_pitch
    from aigc_studio.training import load_trained
    from aigc_studio.training.mel_rendering import render_mel
    from aigc_studio.weights import shipped_weights

    root = _common.dataset("nsynth-gm")
    features = read_manifest(root)["params"]
    sr = int(features.get("sr", 16000))
    test = load_split(root, "test", fields=["audio", "mel", "pitch"])
    real_audio, real_mel = np.asarray(test["audio"]), np.asarray(test["mel"])[..., :64]
    real_pitch = [int(p) for p in test["pitch"]]

    source = args.model or shipped_weights("neural-instrument")
    if source is None:
        raise SystemExit(
            "no instrument: train one (make weights-neural-instrument) or pass --model"
        )
    model = load_trained(source)
    pitches = [p for p in range(36, 85) for _ in range(args.per_pitch)]
    start = time.perf_counter()
    result = model.generate(len(pitches), seed=0, labels=pitches)
    audio, renderer = render_mel(result["mel"], features, vocoder=args.vocoder)
    elapsed = time.perf_counter() - start
    speed = audio.shape[0] * audio.shape[1] / sr / elapsed

    fake_pitch_estimates = [estimate_pitch(a, sr) for a in audio]
    real_pitch_estimates = [estimate_pitch(a, sr) for a in real_audio]
    fake_acc = pitch_accuracy(list(audio), sr, pitches)
    real_acc = pitch_accuracy(list(real_audio), sr, real_pitch)
    ndb = number_of_statistically_different_bins(pooled(real_mel), pooled(result["mel"]), n_bins=20)
    train_mel = np.asarray(load_split(root, "train", fields=["mel"])["mel"])[:400, :, :64]
    fd_fake = frechet_distance(pooled(real_mel), pooled(result["mel"]))
    fd_train = frechet_distance(pooled(real_mel), pooled(train_mel))
    ndb_train = number_of_statistically_different_bins(
        pooled(real_mel), pooled(train_mel), n_bins=20
    )
    start = time.perf_counter()
    vocoded, _ = render_mel(result["mel"], features, vocoder="auto")
    vocoded_speed = vocoded.shape[0] * vocoded.shape[1] / sr / (time.perf_counter() - start)
    vocoded_acc = pitch_accuracy(list(vocoded), sr, pitches)
    rows = [
        [
            f"SpecGAN instrument (ours), {renderer.split(':')[0]}",
            fake_acc,
            pitch_entropy(fake_pitch_estimates),
            f"{ndb['ndb']}/20",
            fd_fake,
            f"{speed:.1f}",
        ],
        ["same notes, shipped vocoder", vocoded_acc, "-", "-", "-", f"{vocoded_speed:.1f}"],
        [
            "real notes (held-out / train)",
            real_acc,
            pitch_entropy(real_pitch_estimates),
            f"{ndb_train['ndb']}/20",
            fd_train,
            "-",
        ],
    ]
    print(
        f"Neural instrument: {len(pitches)} generated notes (MIDI 36-84) vs "
        f"{len(real_audio)} held-out test notes "
        f"({_common.machine_line()})\n"
    )
    print(
        _common.markdown_table(
            [
                "notes",
                "pitch accuracy ↑",
                "pitch entropy (bits)",
                "NDB ↓",
                "Fréchet (log-mel) ↓",
                "× real time (1 core)",
            ],
            rows,
        )
    )
    print(
        "\nThe real-notes row is the ceiling: pitch accuracy of the estimator on real held-out "
        "notes; NDB/Fréchet of 400 training notes against the held-out ones. Speed: generating "
        "and rendering, seconds of audio per second on one core."
    )


if __name__ == "__main__":
    main()
