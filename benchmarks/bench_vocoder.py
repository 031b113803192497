"""Vocoder vs Griffin-Lim on held-out notes: quality (LSD, MR-STFT) and speed on one CPU core.

The shipped GAN vocoder (``weights/vocoder-instrument``, or ``--vocoder PATH``) and Griffin-Lim
with 32 and 100 iterations all invert the same 128-band log-mel spectrograms of the nsynth-gm
test split (every instrument; no model trained on it). Lower distances are better; "x real
time" is seconds of audio made per second of compute on one thread. When the vocoder ends in
consistency projections, a second row runs its network alone (no projection), so that the
table shows what the network does and what the fixed projections add.

Usage: python benchmarks/bench_vocoder.py [--vocoder PATH] [--items N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import _common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocoder", default=None, help="trained vocoder (default: shipped)")
    parser.add_argument(
        "--items", type=int, default=None, help="held-out notes to score, evenly spread (all)"
    )
    args = parser.parse_args()

    from aigc_studio.datasets.cache import load_split, read_manifest
    from aigc_studio.dsp import griffin_lim_from_mel, log_mel_spectrogram
    from aigc_studio.evaluation import log_spectral_distance, multi_resolution_stft_distance
    from aigc_studio.training import load_trained
    from aigc_studio.weights import shipped_weights

    root = _common.dataset("nsynth-gm")
    features = read_manifest(root)["params"]
    sr = int(features.get("sr", 16000))
    audio = np.asarray(load_split(root, "test", fields=["audio"])["audio"])
    if args.items is not None and args.items < len(audio):
        # the split is ordered by instrument: spread the picks over all of them
        audio = audio[np.linspace(0, len(audio) - 1, args.items).astype(int)]
    mels = [
        log_mel_spectrogram(a[None], sr, n_fft=1024, hop_length=256, n_mels=128, fmax=8000.0)[0]
        for a in audio
    ]
    source = args.vocoder or shipped_weights("vocoder-instrument")
    if source is None:
        raise SystemExit(
            "no vocoder: train one (make weights-vocoder-instrument) or pass --vocoder"
        )
    generator = load_trained(source).modules["generator"]
    generator.remove_weight_norm()

    projections = int(getattr(generator.config, "projections", 0))

    def network_alone(mel: np.ndarray) -> np.ndarray:
        generator.config.projections = 0
        try:
            return generator.synthesize(mel)[0]
        finally:
            generator.config.projections = projections

    methods = {
        "GAN vocoder (ours)": lambda m: generator.synthesize(m)[0],
        **({"GAN vocoder (ours), network alone": network_alone} if projections else {}),
        "Griffin-Lim, 32 it.": lambda m: griffin_lim_from_mel(m, sr, n_iter=32, fmax=8000.0)[0],
        "Griffin-Lim, 100 it.": lambda m: griffin_lim_from_mel(m, sr, n_iter=100, fmax=8000.0)[0],
    }
    rows = []
    seconds_of_audio = audio.shape[0] * audio.shape[1] / sr
    for name, method in methods.items():
        lsd, mrstft = [], []
        start = time.perf_counter()
        outputs = [method(m) for m in mels]
        elapsed = time.perf_counter() - start
        for reference, estimate in zip(audio, outputs, strict=True):
            lsd.append(log_spectral_distance(reference, estimate))
            mrstft.append(multi_resolution_stft_distance(reference, estimate))
        rows.append([name, float(np.mean(lsd)), float(np.mean(mrstft)), seconds_of_audio / elapsed])
    print(
        f"Vocoder benchmark: {len(audio)} held-out nsynth-gm test notes, 16 kHz "
        f"({_common.machine_line()})\n"
    )
    print(
        _common.markdown_table(
            ["method", "LSD (dB) ↓", "MR-STFT distance ↓", "× real time (1 core) ↑"], rows
        )
    )


if __name__ == "__main__":
    main()
