"""Music models beside simple baselines: held-out NLL, melody statistics, melody VAE, speed.

Everything is measured in one run on one CPU thread (issue #4, "Evaluation and benchmarks"):

1. Melody NLL on the folk-melodies test split (tunes in their written keys, which no model
   trained on): our transformer melody model against interpolated Kneser-Ney n-grams of order
   3 and 5 fit on the same train split (every tune transposed into up to 12 keys), in nats
   per token and per note or rest event.
2. Chorale NLL per eighth-note step on the bach-chorales test split: our chorale model against
   Kneser-Ney n-grams over the same chorale tokens.
3. Statistics after mgeval (Yang & Lerch 2018) of 16-bar melodies composed by our model and
   sampled from the 5-gram, each from the header (style, meter, key) of a held-out tune,
   against those held-out tunes; the longest run of notes shared with the corpus (copy check);
   the fraction of whole bars.
4. Melody VAE: reconstruction accuracy on the 4/4 test windows, and how smoothly latent
   interpolation (slerp, lerp) morphs one held-out melody into another, against a crossfade
   of the two grids.
5. Speed: composing 16 bars; rendering them with fluidsynth and the built-in synthesizer.

A model that is not there (no shipped weights, no such run folder) skips its rows with a line
saying so. ``--quick`` scores a few tunes and samples for a smoke test, not for the README.

Usage: python benchmarks/bench_music.py [--melody-model PATH] [--chorale-model PATH]
       [--vae-model PATH] [--samples N] [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

import _common

#: Bars of every generated melody (and of the held-out tunes they are compared with).
BARS = 16
#: Nucleus of every sampler here: compose_melody's default, given to the n-gram as well.
TOP_P = 0.95
#: Melodies on each latent interpolation path, both ends included.
PATH_STEPS = 9
#: Header of the timed compositions.
TIMING_CONTROLS = {"style": "folk", "key": 7, "mode": "major", "meter": "4/4"}
#: Tempo of the rendered melody, quarter notes per minute.
RENDER_TEMPO = 120.0


def say(message: str) -> None:
    """Report progress on stderr, so that stdout holds only the tables."""
    print(message, file=sys.stderr, flush=True)


def load_model(source: str, flag: str) -> Any | None:
    """Load a trained model, or print why its section is skipped and return None."""
    from aigc_studio.training import load_trained
    from aigc_studio.weights import shipped_weights

    if not Path(source).exists() and shipped_weights(source) is None:
        print(
            f"_Skipped: no model at {source!r} (no run folder, checkpoint or shipped weights "
            f"by that name); train it or pass {flag} PATH._\n"
        )
        return None
    say(f"loading {source}")
    return load_trained(source)


def split_sequences(root: Path, split: str) -> tuple[list[np.ndarray], np.ndarray]:
    """Return every token sequence of a split (int64 copies) and each one's transposition."""
    from aigc_studio.datasets.cache import load_split

    data = load_split(root, split, ["tokens", "transpose"], mmap=False)
    tokens, offsets = data["tokens"].astype(np.int64), data["tokens_offsets"]
    sequences = [tokens[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
    return sequences, np.asarray(data["transpose"])


def model_window(trained: Any) -> int | None:
    """Return the longest window the model was trained on: its context, cut to max_len.

    Learned positions past the training context were never trained, so the scoring stays
    inside it. Rounded down to a multiple of 8 so that the half-window
    hops start on a chorale group boundary. None for recurrent models (no window).
    """
    max_len = getattr(trained.modules["model"], "max_len", None)
    if max_len is None:
        return None
    window = min(int(max_len), int(trained.task.options.get("context", max_len)))
    return window - window % 8


@torch.no_grad()
def token_nll(model: torch.nn.Module, sequence: np.ndarray, window: int | None) -> np.ndarray:
    """Return the NLL (nats) of every token given the tokens before it; entry 0 (BOS) is 0.

    A sequence longer than ``window`` tokens is read in windows of ``window`` tokens that start
    every ``window // 2`` tokens: the first scores all its tokens, each later one only the
    tokens after those already scored, so every token past the first window is predicted from
    at least ``window // 2`` tokens before it, as in the training windows (``window``-token
    slices of the token stream at half-window hops).
    """
    tokens = torch.from_numpy(np.ascontiguousarray(sequence, dtype=np.int64))
    n = len(tokens)
    out = np.zeros(n)
    width = n if window is None else window
    hop = max(1, width // 2)
    start, scored = 0, 1
    while scored < n:
        inputs = tokens[start : start + width]
        targets = tokens[start + 1 : start + width + 1]
        logits, _ = model(inputs[None])
        nll = F.cross_entropy(logits[0, : len(targets)].float(), targets, reduction="none")
        positions = np.arange(start + 1, start + 1 + len(targets))
        fresh = positions >= scored
        out[positions[fresh]] = nll.numpy()[fresh]
        scored = int(positions[-1]) + 1
        start += hop
    return out


def ngram_token_nll(model: Any, sequence: np.ndarray) -> np.ndarray:
    """Return the n-gram's NLL of every token after the first, as :func:`token_nll`."""
    tokens = [int(t) for t in sequence]
    out = np.zeros(len(tokens))
    for i in range(1, len(tokens)):
        context = tokens[max(0, i - model.order + 1) : i]
        out[i] = -math.log(model.probability(tokens[i], context))
    return out


def fit_ngram(order: int, sequences: list[np.ndarray], vocab_size: int) -> tuple[Any, float]:
    """Fit an interpolated Kneser-Ney n-gram; return it and the seconds the fit took."""
    from aigc_studio.music.ngram_baseline import NGramModel

    start = time.perf_counter()
    model = NGramModel(order=order, vocab_size=vocab_size).fit(s.tolist() for s in sequences)
    return model, time.perf_counter() - start


# -- 1. melody NLL ---------------------------------------------------------------------------


def melody_nll(
    melody: Any | None, ngrams: dict[str, tuple[Any, str, float]], test: list[np.ndarray]
) -> None:
    """Print the held-out NLL table of the melody models."""
    from aigc_studio.datasets import melody_tokens as mt

    events = sum(int(((s >= mt.NOTE_OFFSET) & (s <= mt.REST)).sum()) for s in test)
    predicted = sum(len(s) - 1 for s in test)

    def row(name: str, trained_on: str, total: float, seconds: float) -> list[object]:
        per_token = total / predicted
        return [name, trained_on, per_token, math.exp(per_token), total / events, seconds]

    rows = []
    if melody is not None:
        net = melody.modules["model"].eval()
        context = model_window(melody)
        windows = [context]
        max_len = getattr(net, "max_len", None)
        if max_len is not None and context is not None and max_len > context:
            windows.append(int(max_len))
        dataset = melody.task.state.get("dataset")
        trained_on = "train, transposed" if dataset == "folk-melodies" else f"{dataset} (its own)"
        for window in windows:
            start = time.perf_counter()
            total = sum(float(token_nll(net, s, window).sum()) for s in test)
            label = "whole tunes" if window is None else f"window {window}"
            if window == context and len(windows) > 1:
                label += " (training context)"
            elif window == max_len and window != context:
                label += " (max_len: positions past the context untrained)"
            rows.append(
                row(
                    f"transformer, ours (step {melody.step}), {label}",
                    trained_on,
                    total,
                    time.perf_counter() - start,
                )
            )
    for name, (model, trained_on, fit_seconds) in ngrams.items():
        start = time.perf_counter()
        total = sum(model.nll_per_token([s.tolist()]) * (len(s) - 1) for s in test)
        scored = time.perf_counter() - start
        rows.append(row(name.split(" (")[0], trained_on, total, fit_seconds + scored))
    print(f"\n### 1. Melody NLL, folk-melodies test split ({len(test)} tunes, original keys)\n")
    print(
        _common.markdown_table(
            [
                "model",
                "fit on",
                "nats/token ↓",
                "perplexity ↓",
                "nats/event ↓",
                "fit + score (s)",
            ],
            rows,
        )
    )
    print(
        f"\nnats/token: mean NLL of the {predicted} tokens after BOS (header, BAR, NOTE/REST, "
        f"DUR, EOS), pooled over tunes. nats/event: all tunes' NLL over their {events} note "
        "and rest events. Tunes longer than the transformer's window are read in windows "
        "hopping half a window, each token scored once with at least half a window before it. "
        "The n-grams are interpolated Kneser-Ney (Chen & Goodman 1999); the transformer's "
        "time is scoring only."
    )


# -- 2. chorale NLL --------------------------------------------------------------------------


def chorale_nll(source: str, quick: bool) -> None:
    """Print the per-step NLL table of the chorale model (if there is one) and the n-grams."""
    from aigc_studio.datasets import chorale_tokens as ct
    from aigc_studio.evaluation.piano_roll import step_nll

    print("\n### 2. Chorale NLL per eighth-note step, bach-chorales test split\n")
    chorale = load_model(source, "--chorale-model")
    root = _common.dataset("bach-chorales")
    train, _ = split_sequences(root, "train")
    test, _ = split_sequences(root, "test")
    if quick:
        test = test[:8]
    layout = {
        "lookahead": ct.LOOKAHEAD,
        "header_length": ct.HEADER_LENGTH,
        "group_size": ct.GROUP_SIZE,
    }

    def row(name: str, per_token: list[np.ndarray], seconds: float) -> list[object]:
        steps = [step_nll(nll, **layout) for nll in per_token]
        total, count = sum(float(s.sum()) for s in steps), sum(len(s) for s in steps)
        return [name, total / count, total / count / ct.GROUP_SIZE, seconds]

    rows = []
    if chorale is not None:
        if chorale.task.state.get("token_names") not in (None, ct.ChoraleTokenizer().token_names):
            print(f"_Skipped {chorale.source}: not trained on chorale tokens._\n")
        else:
            net, window = chorale.modules["model"].eval(), model_window(chorale)
            start = time.perf_counter()
            nll = [token_nll(net, s, window) for s in test]
            label = "whole pieces" if window is None else f"window {window}"
            rows.append(
                row(
                    f"transformer, ours (step {chorale.step}), {label}",
                    nll,
                    time.perf_counter() - start,
                )
            )
    for order in (5, 9):
        model, seconds = fit_ngram(order, train, ct.VOCAB_SIZE)
        start = time.perf_counter()
        nll = [ngram_token_nll(model, s) for s in test]
        rows.append(
            row(
                f"Kneser-Ney {order}-gram, train (transposed)",
                nll,
                seconds + time.perf_counter() - start,
            )
        )
    steps = sum((len(s) - ct.HEADER_LENGTH) // ct.GROUP_SIZE - ct.LOOKAHEAD - 1 for s in test)
    print(
        _common.markdown_table(
            ["model", "nats/step ↓", "nats/voice token ↓", "fit + score (s)"], rows
        )
    )
    print(
        f"\n{len(test)} chorales, {steps} steps. nats/step: the NLL of a step's four voice "
        "tokens (S, A, T, B: NOTE, HOLD or REST each) summed, pooled over all steps "
        "(`frame_nll_per_step`); header, padding rests and EOS not counted. Order 5 sees the "
        "previous step of the same voice, order 9 two steps.\n\n"
        "Caveat: this is not the frame NLL of Boulanger-Lewandowski et al. 2012 on JSB "
        "chorales (88 Bernoulli keys per quarter-note frame, no voices, no re-striking), nor "
        "their corpus or split, so their published figures are not comparable with these."
    )


# -- 3. statistics of generated melodies -----------------------------------------------------


def first_bars(events: list[Any], bars: int) -> list[Any]:
    """Return the events before the ``bars + 1``-th bar line (a pickup is kept)."""
    out, seen = [], 0
    for event in events:
        if event.bar_start:
            seen += 1
            if seen > bars:
                break
        out.append(event)
    return out


def bar_counts(events: list[Any], meter: str) -> tuple[int, int]:
    """Return (whole bars, bars): bars run from one bar line to the next (pickup not counted)."""
    from aigc_studio.datasets.melody_tokens import grid_steps
    from aigc_studio.music.compose import bar_steps

    length = bar_steps(meter)
    bars: list[int] = []
    for event in events:
        if event.bar_start:
            bars.append(0)
        if bars:
            bars[-1] += grid_steps(event.duration)
    return sum(b == length for b in bars), len(bars)


def ngram_melody(model: Any, header: list[int], *, bars: int, seed: int) -> list[int]:
    """Sample ``bars`` bars from an n-gram after a header (``NGramModel.sample`` takes no prompt).

    Ancestral draws with the nucleus of :data:`TOP_P`, as compose_melody uses; PAD, BOS and
    control tokens are never drawn, EOS not before the last bar has begun, and the melody ends
    at EOS or before a further bar line.
    """
    from aigc_studio.datasets import melody_tokens as mt
    from aigc_studio.models.sampling import filter_logits

    generator = torch.Generator().manual_seed(seed)
    blocked = torch.zeros(model.vocab_size, dtype=torch.bool)
    blocked[[mt.PAD, mt.BOS]] = True
    blocked[mt.STYLE_OFFSET :] = True
    tokens, begun = list(header), 0
    for _ in range(40 * bars):  # a guard against a sampler that never draws a bar line
        mask = blocked.clone()
        mask[mt.EOS] = begun < bars
        logits = torch.log(torch.from_numpy(model.distribution(tokens))).masked_fill(
            mask, -math.inf
        )
        probs = torch.softmax(filter_logits(logits, top_p=TOP_P), -1)
        token = int(torch.multinomial(probs, 1, generator=generator))
        if token == mt.BAR:
            if begun == bars:
                break
            begun += 1
        tokens.append(token)
        if token == mt.EOS:
            break
    return tokens if tokens[-1] == mt.EOS else [*tokens, mt.EOS]


def melody_statistics(
    melody: Any | None,
    ngram: Any,
    test: list[np.ndarray],
    train: list[np.ndarray],
    train_keys: np.ndarray,
    samples: int,
) -> None:
    """Print the statistics table and the copy-check and whole-bar table."""
    from aigc_studio.datasets import melody_tokens as mt
    from aigc_studio.music.compose import DEFAULT_DRAFTS, DEFAULT_MAX_SHARED, compose_melody
    from aigc_studio.music.copy_check import IntervalIndex, corpus_index, longest_shared_run
    from aigc_studio.music.prompt import CompositionControls
    from aigc_studio.music.statistics import compare_sets, key_agreement, pitch_range

    tokenizer = mt.MelodyTokenizer()
    # compose_melody needs a meter with a bar length; METER_other has none.
    playable = [
        i
        for i, s in enumerate(test)
        if (c := mt.controls_of(s)).meter not in (None, "other") and c.style and c.key
    ]
    chosen = np.random.default_rng(0).permutation(playable)
    reference_ids, other_ids = chosen[:samples], chosen[samples : 2 * samples]
    controls = [mt.controls_of(test[i]) for i in reference_ids]
    meters = [c.meter for c in controls]
    reference = [first_bars(tokenizer.decode(test[i]), BARS) for i in reference_ids]
    sets: dict[str, tuple[list[Any], list[str]]] = {}
    if melody is not None:
        wanted = [
            CompositionControls(
                style=c.style, key=c.key[0], mode=c.key[1], meter=c.meter, bars=BARS
            )
            for c in controls
        ]
        say(f"composing {len(controls)} melodies with our model, with and without the cadence")
        ours, uncadenced = (
            [
                compose_melody(melody, w, seed=seed, copy_index=None, cadence=cadence).events
                for seed, w in enumerate(wanted)
            ]
            for cadence in (True, False)
        )
        sets["transformer, ours"] = (ours, meters)
        say(f"composing {len(controls)} melodies with one draft each")
        one_draft = [
            compose_melody(melody, w, seed=seed, copy_index=None, drafts=1).events
            for seed, w in enumerate(wanted)
        ]
    say(f"sampling {len(controls)} melodies from the 5-gram")
    sampled = [
        tokenizer.decode(ngram_melody(ngram, test[i][:4].tolist(), bars=BARS, seed=seed))
        for seed, i in enumerate(reference_ids)
    ]
    sets["Kneser-Ney 5-gram"] = (sampled, meters)
    if len(other_ids) == len(reference_ids):
        others = [first_bars(tokenizer.decode(test[i]), BARS) for i in other_ids]
        other_meters = [mt.controls_of(test[i]).meter for i in other_ids]
        sets[f"{len(others)} other held-out tunes"] = (others, other_meters)

    rows = []
    for name, (melodies, _) in sets.items():
        result = compare_sets(melodies, reference)
        cells: list[object] = [name]
        for feature in ("pitch_class", "pitch_interval", "note_length", "pitch_range"):
            cells += [result[feature]["overlap"], result[feature]["kl"]]
        cells.append(result["pitch_range"]["generated_mean"])
        rows.append(cells)
    print(
        f"\n### 3. Generated vs held-out melodies ({len(reference)} held-out tunes, first "
        f"{BARS} bars)\n"
    )
    headers = ["melodies"]
    for feature in ("pitch class", "interval", "note length", "range"):
        headers += [f"{feature} overlap ↑", "KL ↓"]
    print(_common.markdown_table([*headers, "mean range (semitones)"], rows))
    reference_range = float(np.mean([pitch_range(m) for m in reference]))
    print(
        "\nEach generated melody has the header (style, meter, key) of one held-out test "
        f"tune, drawn at random among those in a meter with a bar length; the tunes are cut "
        f"to their first {BARS} bars (pickup kept), and their mean range is "
        f"{reference_range:.1f} semitones. Histograms are pooled over the set and compared by "
        "overlap (histogram intersection) and KL(held-out ‖ generated) in nats "
        "(`aigc_studio.music.statistics.compare_sets`, a simplification of mgeval's "
        "comparison of distance distributions: comparable between rows only). Ours: "
        f"`compose_melody`, temperature 1, top-p {TOP_P}, no copy check; the 5-gram: "
        f"ancestral draws with the same nucleus, EOS barred before bar {BARS}. The last row "
        "compares another set of real tunes with the same held-out tunes: the ceiling."
    )

    keys = [tuple(c.key) for c in controls]
    key_sets = {
        name: (melodies, keys) for name, (melodies, _) in sets.items() if "held-out" not in name
    }
    if melody is not None:
        key_sets["transformer, ours, 1 draft"] = (one_draft, keys)
        key_sets["transformer, ours, no cadence"] = (uncadenced, keys)
    if len(other_ids) == len(reference_ids):
        other_keys = [tuple(mt.controls_of(test[i]).key) for i in other_ids]
        key_sets[f"{len(others)} other held-out tunes (their own keys)"] = (others, other_keys)
    if melody is not None:
        # The random draw above holds few minor headers: a set of minor ones only, with the
        # real tunes of those headers beside it (their own keys heard: the ceiling).
        minor_ids = [i for i in chosen if mt.controls_of(test[i]).key[1] == "minor"][:samples]
        minor_controls = [mt.controls_of(test[i]) for i in minor_ids]
        say(f"composing {len(minor_ids)} melodies for minor-key headers, default and 1 draft")
        minor_keys = [tuple(c.key) for c in minor_controls]
        for label, drafts in (("", None), (", 1 draft", 1)):
            minor_ours = [
                compose_melody(
                    melody,
                    CompositionControls(
                        style=c.style, key=c.key[0], mode=c.key[1], meter=c.meter, bars=BARS
                    ),
                    seed=seed,
                    copy_index=None,
                    drafts=drafts,
                ).events
                for seed, c in enumerate(minor_controls)
            ]
            name = f"transformer, ours{label}, minor headers only ({len(minor_ids)})"
            key_sets[name] = (minor_ours, minor_keys)
        minor_real = [first_bars(tokenizer.decode(test[i]), BARS) for i in minor_ids]
        key_sets[f"the {len(minor_ids)} held-out minor tunes (their own keys)"] = (
            minor_real,
            minor_keys,
        )
    rows = []
    for name, (melodies, asked) in key_sets.items():
        playable = [
            (m, k) for m, k in zip(melodies, asked, strict=True) if any(e[0] is not None for e in m)
        ]
        heard = [m for m, _ in playable], [k for _, k in playable]
        agreement = key_agreement(*heard)
        other_finder = key_agreement(*heard, finder="bellman-budge")
        rows.append(
            [
                name,
                agreement["key"],
                agreement["key_major"],
                agreement["key_minor"],
                other_finder["key"],
                agreement["tonic"],
                agreement["ends_on_tonic"],
            ]
        )
    minor = sum(k[1] == "minor" for k in keys)
    print(f"\nKeys asked ({len(keys) - minor} major, {minor} minor) vs keys heard:\n")
    print(
        _common.markdown_table(
            [
                "melodies",
                "key heard ↑",
                "major ↑",
                "minor ↑",
                "key heard, Bellman–Budge ↑",
                "tonic heard ↑",
                "ends on tonic",
            ],
            rows,
        )
    )
    print(
        "\nKey heard: the Krumhansl–Schmuckler estimate (music21) of the first "
        f"{BARS} bars equals the key asked (for held-out tunes: their own header's key); the "
        "Bellman–Budge column asks another of music21's key finders; tonic: the same tonic in "
        "either mode (Krumhansl–Schmuckler). Ours keeps, of its drafts "
        f"({DEFAULT_DRAFTS['major']} in major keys, {DEFAULT_DRAFTS['minor']} in minor keys; "
        "or 1), the one whose pitch classes fit the asked key best by a third "
        "profile (Temperley–Kostka–Payne, `key_clarity`), so that neither finder here is the "
        "one that chose. The headers fold church modes into major/minor by their third, so a "
        "dorian tune is 'minor' but often heard as its relative major: the held-out rows are "
        "what real tunes reach. Ends on tonic: the last note of the first "
        f"{BARS} bars is the tonic (ours: the whole melody; its cadence moves that note "
        "there unless turned off)."
    )

    say("copy check")
    index = corpus_index("folk-melodies")
    originals = [
        (str(i), [e.pitch for e in tokenizer.decode(s)])
        for i, (s, shift) in enumerate(zip(train, train_keys, strict=True))
        if shift == 0
    ]
    train_index = IntervalIndex(originals, min_length=index.min_length)
    # Real tunes are in the corpus index themselves: they are checked against train only.
    checked = []
    for name, (melodies, set_meters) in sets.items():
        real = "held-out" in name
        label = f"{name} (vs train only)" if real else name
        checked.append((label, melodies, set_meters, train_index if real else index))
    checked.append(("the held-out tunes (vs train only)", reference, meters, train_index))
    rows = []
    for name, melodies, set_meters, against in checked:
        runs = [longest_shared_run([e.pitch for e in m], against).length_notes for m in melodies]
        counts = np.array(
            [bar_counts(m, meter) for m, meter in zip(melodies, set_meters, strict=True)]
        )
        copies = float(np.mean([r > DEFAULT_MAX_SHARED for r in runs]))
        whole = float(counts[:, 0].sum() / counts[:, 1].sum())
        rows.append([name, float(np.mean(runs)), max(runs), copies, whole])
    print()
    print(
        _common.markdown_table(
            [
                "melodies",
                "mean longest shared run (notes) ↓",
                "max",
                f"fraction > {DEFAULT_MAX_SHARED} notes",
                "whole bars",
            ],
            rows,
        )
    )
    print(
        "\nLongest run of notes whose intervals occur in a corpus tune (`longest_shared_run`; "
        f"runs under {index.min_length} notes count 0; {DEFAULT_MAX_SHARED} is compose's "
        "default limit). Generated melodies are checked against "
        "`corpus_index('folk-melodies')`, which holds the tunes of every split; real held-out "
        "tunes against the train tunes only (original keys), as a yardstick of what real, "
        "unseen tunes share. Whole bars: the fraction of bars (bar line to bar line, pickup "
        "not counted) exactly as long as the meter's bar."
    )


# -- 4. melody VAE ---------------------------------------------------------------------------


def melody_vae(source: str, root: Path, *, windows: int | None, pairs: int) -> None:
    """Print the reconstruction and interpolation tables of the melody VAE, if there is one."""
    from aigc_studio.evaluation.melody_interpolation import (
        interpolation_smoothness,
        melody_distance,
    )
    from aigc_studio.models.melody_vae import grid_to_events
    from aigc_studio.music.variation import interpolate_melodies
    from aigc_studio.training.tasks.melody_vae import cut_split_windows

    vae = load_model(source, "--vae-model")
    if vae is None:
        return
    model = vae.modules["model"].eval()
    config = model.config
    print(f"\n### 4. Melody VAE ({source}, {config.bars} bars), folk-melodies test split\n")
    grids = cut_split_windows(
        root, "test", bars=config.bars, hop_bars=config.bars, steps_per_bar=config.steps_per_bar
    ).astype(np.int64)
    rng = np.random.default_rng(0)
    if windows is not None and len(grids) > windows:
        grids = grids[np.sort(rng.choice(len(grids), windows, replace=False))]
    say(f"VAE: reconstructing {len(grids)} windows")
    batches = [{"grid": torch.from_numpy(grids[i : i + 256])} for i in range(0, len(grids), 256)]
    scores = vae.task.evaluate(vae.modules, batches)
    print(
        f"Step {vae.step}; {len(grids)} distinct {config.bars}-bar test windows of "
        f"{config.steps_per_bar}-step bars (4/4, 2/2).\n"
    )
    print(
        _common.markdown_table(
            ["greedy accuracy ↑", "teacher-forced accuracy ↑", "note-on accuracy ↑", "ELBO ↑"],
            [
                [
                    scores["greedy_accuracy"],
                    scores["teacher_forced_accuracy"],
                    scores["note_on_accuracy"],
                    scores["elbo"],
                ]
            ],
        )
    )
    print(
        "\nDecoded from the posterior mean (the training task's `evaluate`): greedy is the "
        "fraction of grid steps the free-running greedy decoding gets right, teacher-forced "
        "with the true previous steps fed, note-on of the true note onsets struck with the "
        "right pitch; ELBO in nats per window with beta 1."
    )

    def events(grid: np.ndarray) -> list[Any]:
        return grid_to_events(grid, steps_per_bar=config.steps_per_bar)

    picks = [rng.choice(len(grids), 2, replace=False) for _ in range(pairs)]
    methods: dict[str, list[dict[str, float]]] = {"slerp": [], "lerp": [], "crossfade": []}
    say(f"VAE: {pairs} interpolations")
    for a_index, b_index in picks:
        a, b = events(grids[a_index]), events(grids[b_index])
        paths = {
            method: interpolate_melodies(model, a, b, PATH_STEPS, method=method)
            for method in ("slerp", "lerp")
        }
        # Each step switches from a to b once, at its own random threshold: the walk in data
        # space that a latent interpolation should beat for musical sense, not for smoothness.
        threshold = rng.random(grids.shape[1])
        paths["crossfade"] = [
            events(np.where(threshold < t, grids[b_index], grids[a_index]))
            for t in np.linspace(0.0, 1.0, PATH_STEPS)
        ]
        for method, path in paths.items():
            result = interpolation_smoothness(path)
            result["endpoint_error"] = (
                melody_distance(path[0], a) + melody_distance(path[-1], b)
            ) / 2
            methods[method].append(result)
    labels = {
        "slerp": "VAE, slerp",
        "lerp": "VAE, lerp",
        "crossfade": "crossfade of the grids (no model)",
    }
    rows = []
    for method, results in methods.items():

        def mean(key: str, results: list[dict[str, float]] = results) -> float:
            return float(np.mean([r[key] for r in results]))

        rows.append(
            [
                labels[method],
                mean("endpoint_error"),
                mean("endpoint_distance"),
                mean("step_distance_mean"),
                mean("step_distance_max"),
                float(np.median([r["path_ratio"] for r in results])),
                mean("monotonic_fraction"),
                mean("well_formed"),
            ]
        )
    print(f"\n{pairs} pairs of held-out windows, {PATH_STEPS} melodies per path (ends included)\n")
    print(
        _common.markdown_table(
            [
                "path",
                "endpoint error ↓",
                "endpoint distance",
                "mean step",
                "max step ↓",
                "path ratio (median) ↓",
                "monotonic ↑",
                "well-formed ↑",
            ],
            rows,
        )
    )
    print(
        "\n`interpolation_smoothness` (Roberts et al. 2018), distances are the fraction of "
        "sixteenth steps that differ (rest / onset of a pitch / held pitch). Endpoint error: "
        "distance of the path's ends from the two melodies (the VAE starts and ends at its "
        "greedy reconstructions). Path ratio: summed step distances over the endpoint distance "
        "(1 = no detour). The crossfade takes each step of the grid from melody b once t passes "
        "that step's own uniform random threshold, else from a (a hold after a rest reads as a "
        "rest): smooth and monotone by construction, so it is the bar for smoothness, not for "
        "musical sense."
    )


# -- 5. speed --------------------------------------------------------------------------------


def speed(melody: Any | None, ngram: Any, *, runs: int, render_runs: int) -> None:
    """Print the composing and rendering times."""
    from aigc_studio.datasets import melody_tokens as mt
    from aigc_studio.errors import AigcError
    from aigc_studio.music.compose import DEFAULT_DRAFTS, compose_melody
    from aigc_studio.music.prompt import CompositionControls
    from aigc_studio.music.rendering import render_midi
    from aigc_studio.music.scores import melody_to_midi

    controls = CompositionControls(**TIMING_CONTROLS, bars=BARS)
    header = [
        mt.BOS,
        mt.style_token(controls.style),
        mt.meter_token(controls.meter),
        mt.key_token(controls.key, controls.mode),
    ]
    rows: list[list[object]] = []
    events = None
    minor = CompositionControls(**{**TIMING_CONTROLS, "key": 4, "mode": "minor"}, bars=BARS)
    # The CLI uses every core; the rest of the table one thread.
    cores = os.cpu_count() or 1

    def default_drafts(threads: int) -> list[tuple[Any, None, float, int, str]]:
        """Return the default composing (each mode's drafts, key steering on) on ``threads``."""
        on = f", {threads} threads" if threads > 1 else ""
        return [
            (asked, None, 1.0, threads, f"{name}, {DEFAULT_DRAFTS[asked.mode]} drafts{on}")
            for asked, name in ((controls, "G major"), (minor, "E minor"))
        ]

    variants = [
        *default_drafts(1),
        (controls, 1, 1.0, 1, "G major, 1 draft"),
        (controls, 1, 0.0, 1, "G major, 1 draft, no key steering"),
        *(default_drafts(cores) if cores > 1 else []),
    ]
    for asked, drafts, key_strength, threads, variant in variants:
        if melody is None:
            break
        times, tokens = [], []
        torch.set_num_threads(threads)
        try:
            for seed in range(runs):
                start = time.perf_counter()
                composition = compose_melody(
                    melody,
                    asked,
                    seed=seed,
                    copy_index=None,
                    key_strength=key_strength,
                    drafts=drafts,
                )
                times.append(time.perf_counter() - start)
                tokens.append(len(composition.tokens) * composition.drafts)
        finally:
            torch.set_num_threads(1)
        events = composition.events if events is None else events
        median = statistics.median(times)
        rate = f"{np.mean(tokens) / median:.0f} tokens/s"
        rows.append([f"compose {BARS} bars, transformer (ours, {variant})", median, rate])
    times, tokens = [], []
    for seed in range(runs):
        start = time.perf_counter()
        sampled = ngram_melody(ngram, header, bars=BARS, seed=seed)
        times.append(time.perf_counter() - start)
        tokens.append(len(sampled) - len(header))
    median = statistics.median(times)
    rows.append(
        [
            f"sample {BARS} bars, Kneser-Ney 5-gram",
            median,
            f"{np.mean(tokens) / median:.0f} tokens/s",
        ]
    )
    rendered = "our last composition" if events is not None else "the 5-gram's last melody"
    if events is None:
        events = mt.MelodyTokenizer().decode(sampled)
    midi = melody_to_midi(
        events,
        tempo=RENDER_TEMPO,
        meter=controls.meter,
        key=(controls.key, controls.mode),
        program=73,  # flute: a melody instrument every GM soundfont has
    )
    seconds = midi.get_end_time()
    for method in ("fluidsynth", "synth"):
        times = []
        try:
            for _ in range(render_runs):
                start = time.perf_counter()
                render_midi(midi, sr=44_100, method=method)
                times.append(time.perf_counter() - start)
        except AigcError as exc:
            rows.append([f"render, {method}", "–", f"skipped: {exc}"])
            continue
        median = statistics.median(times)
        rate = f"{seconds / median:.1f} × real time"
        rows.append([f"render {seconds:.0f} s of music, {method}", median, rate])
    print(
        f"\n### 5. Speed (one thread unless said; median of {runs} compositions, of {render_runs} "
        f"render{'s' if render_runs > 1 else ''})\n"
    )
    print(_common.markdown_table(["task", "seconds ↓", "rate ↑"], rows))
    print(
        f"\nComposing: {controls.style}, {controls.meter}, temperature 1, top-p "
        f"{TOP_P}, no copy check (`compose_melody`, seeds 0-{runs - 1}; tokens/s counts the "
        "kept melody's tokens times the drafts, an estimate of all drafts' tokens; key "
        "steering samples major keys twice per step); the 5-gram as in "
        f"section 3. Rendering: {rendered} as MIDI (`melody_to_midi`, flute, "
        f"{RENDER_TEMPO:.0f} quarter notes a minute) to 44.1 kHz stereo with `render_midi`, "
        "loudness normalization included. × real time: seconds of music per second of wall "
        "time; fluidsynth's includes starting the process and loading the soundfont."
    )


#: The tables this script can print, in order.
SECTIONS = ("nll", "chorale", "stats", "vae", "speed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--melody-model", default="melody-folk", help="melody LM (run/weights)")
    parser.add_argument("--chorale-model", default="chorale-harmonizer", help="chorale LM")
    parser.add_argument(
        "--vae-model",
        action="append",
        default=None,
        help="melody VAE (repeatable; default: the shipped 2- and 4-bar VAEs)",
    )
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=SECTIONS,
        default=list(SECTIONS),
        help="which tables to print (default: all)",
    )
    parser.add_argument("--samples", type=int, default=100, help="generated melodies per model")
    parser.add_argument("--quick", action="store_true", help="few tunes and samples (smoke test)")
    args = parser.parse_args()
    if args.samples < 1:
        parser.error("--samples must be >= 1")
    samples = min(args.samples, 12) if args.quick else args.samples

    from aigc_studio.datasets import melody_tokens as mt

    print(f"Music benchmark ({_common.machine_line()}){' — QUICK' if args.quick else ''}\n")
    sections = set(args.sections)
    root = _common.dataset("folk-melodies")
    if sections & {"nll", "stats", "speed"}:
        melody = load_model(args.melody_model, "--melody-model")
        train, train_keys = split_sequences(root, "train")
        test, _ = split_sequences(root, "test")
        say("fitting n-grams")
        originals = [s for s, shift in zip(train, train_keys, strict=True) if shift == 0]
        ngrams: dict[str, tuple[Any, str, float]] = {}
        for order, sequences, trained_on in (
            (3, train, "train, transposed"),
            (5, train, "train, transposed"),
            (5, originals, "train, original keys only"),
        ):
            model, seconds = fit_ngram(order, sequences, mt.VOCAB_SIZE)
            ngrams[f"Kneser-Ney {order}-gram ({trained_on})"] = (model, trained_on, seconds)
        ngram = ngrams["Kneser-Ney 5-gram (train, transposed)"][0]
    if "nll" in sections:
        if args.quick:
            rng = np.random.default_rng(0)
            test_nll = [test[i] for i in np.sort(rng.choice(len(test), 60, replace=False))]
        else:
            test_nll = test
        say("scoring melodies")
        melody_nll(melody, ngrams, test_nll)
    if "chorale" in sections:
        chorale_nll(args.chorale_model, args.quick)
    if "stats" in sections:
        melody_statistics(melody, ngram, test, train, train_keys, samples)
    if "vae" in sections:
        for vae in args.vae_model or ["melody-vae-2bar", "melody-vae"]:
            melody_vae(
                vae, root, windows=200 if args.quick else None, pairs=5 if args.quick else 50
            )
    if "speed" in sections:
        speed(melody, ngram, runs=3 if args.quick else 10, render_runs=1 if args.quick else 3)


if __name__ == "__main__":
    main()
