"""Training throughput (optimizer steps per second) of every shipped preset on this machine.

Each preset trains for a few steps on its real dataset in a scratch run folder; the first step
(warm-up) is not timed. Uses all the threads torch is given (set OMP_NUM_THREADS to compare).

Usage: python benchmarks/bench_training_throughput.py [--steps N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

import _common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    threads = int(os.environ.get("AIGC_BENCH_THREADS", "2"))
    torch.set_num_threads(threads)

    from aigc_studio.training import TrainConfig, Trainer, list_presets, load_preset

    rows = []
    for name in list_presets():
        values = load_preset(name)
        _common.dataset(values["data"])
        with tempfile.TemporaryDirectory() as run:
            values.update(
                run_dir=run,
                steps=args.steps + 1,
                eval_every=0,
                checkpoint_every=10**6,
                log_every=1,
                lr_decay_start=None,  # a schedule's start lies past these few steps
            )
            times: list[float] = []
            last = [time.perf_counter()]

            def tick(
                step: int, total: int, losses: dict[str, float], times=times, last=last
            ) -> None:
                now = time.perf_counter()
                if step > 1:
                    times.append(now - last[0])
                last[0] = now

            Trainer(TrainConfig.from_dict(values), on_progress=tick).fit()
        per_step = sum(times) / len(times)
        rows.append(
            [
                name,
                values["model"],
                values["batch_size"],
                1 / per_step,
                values["batch_size"] / per_step,
            ]
        )
    print(f"Training throughput ({_common.machine_line()})\n")
    print(_common.markdown_table(["preset", "model", "batch", "steps/s", "items/s"], rows))


if __name__ == "__main__":
    main()
