"""Run by ``torch.distributed.run`` in test_distributed.py: train a tiny model, dump the weights.

Usage: ddp_worker.py CONFIG_JSON OUT_DIR
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from aigc_studio.training import TrainConfig, Trainer
from aigc_studio.training.distributed import teardown_distributed


def main() -> None:
    config = TrainConfig.from_dict(json.loads(Path(sys.argv[1]).read_text()))
    out = Path(sys.argv[2])
    trainer = Trainer(config)
    result = trainer.fit()
    rank = int(os.environ["RANK"])
    torch.save(
        {
            "weights": trainer.final_weights,
            "checkpoint": str(result.checkpoint),
            "world": trainer.context.world_size,
        },
        out / f"rank{rank}.pt",
    )
    teardown_distributed()  # as `aigc train` does


if __name__ == "__main__":
    main()
