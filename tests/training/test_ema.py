from __future__ import annotations

import torch
from torch import nn

from aigc_studio.training.ema import ExponentialMovingAverage


def test_average_warms_up_then_tracks_slowly() -> None:
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = ExponentialMovingAverage(model, decay=0.999)
    with torch.no_grad():
        model.weight.fill_(1.0)
    for _ in range(50):
        ema.update(model)
    # Without warm-up 0.999**50 of the initial 0 would remain (about 0.95): the average would
    # still be ~0.05. With warm-up it has mostly moved to the current weight.
    assert ema.module.weight.item() > 0.6
    assert ema.updates == 50


def test_buffers_are_copied_and_average_is_frozen() -> None:
    model = nn.BatchNorm1d(2)
    ema = ExponentialMovingAverage(model, decay=0.9)
    model.running_mean.fill_(3.0)
    ema.update(model)
    assert torch.equal(ema.module.running_mean, model.running_mean)
    assert not any(p.requires_grad for p in ema.module.parameters())
