from __future__ import annotations

import pytest
import torch

from aigc_studio.errors import ConfigError, ParameterError
from aigc_studio.models.frame_restorer import (
    FLOW_OUTPUTS,
    FrameRestorer,
    FrameRestorerConfig,
    compose_refined,
    weight_logit,
)


@pytest.mark.parametrize("unshuffle", [1, 2, 4])
@pytest.mark.parametrize("size", [(16, 16), (19, 27), (5, 7)])
def test_untrained_image_head_returns_its_base_image_at_any_size(
    unshuffle: int, size: tuple[int, int]
) -> None:
    torch.manual_seed(0)
    net = FrameRestorer(
        FrameRestorerConfig(
            in_channels=5, base_channel=2, channels=8, blocks=2, unshuffle=unshuffle
        )
    )
    stack = torch.rand(2, 5, *size)
    torch.testing.assert_close(net(stack), stack[:, 2:5])


def test_a_few_steps_learn_a_colour_shift() -> None:
    torch.manual_seed(0)
    net = FrameRestorer(FrameRestorerConfig(channels=8, blocks=1))
    images = torch.rand(4, 3, 16, 16) * 0.5
    target = images + 0.1
    optimizer = torch.optim.Adam(net.parameters(), 1e-2)
    first = None
    for _ in range(30):
        loss = (net(images) - target).abs().mean()
        first = first if first is not None else float(loss.detach())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(loss.detach()) < 0.3 * first


def test_flow_head_outputs_zero_corrections_that_compose_to_the_classical_blend() -> None:
    torch.manual_seed(0)
    net = FrameRestorer(FrameRestorerConfig(in_channels=14, channels=8, blocks=1, output="flow"))
    corrections = net(torch.rand(2, 14, 12, 10))
    assert corrections.shape == (2, FLOW_OUTPUTS, 12, 10) and not corrections.any()
    margin = 3
    frames = torch.rand(2, 6, 12 + 2 * margin, 10 + 2 * margin)
    weight = torch.rand(2, 1, 12, 10).clamp(0.01, 0.99)
    out = compose_refined(corrections, frames, torch.zeros(2, 4, 12, 10), weight, margin)
    inner = frames[..., margin:-margin, margin:-margin]
    expected = weight * inner[:, :3] + (1 - weight) * inner[:, 3:]
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_compose_follows_a_flow_correction_of_whole_pixels() -> None:
    margin = 4
    frames = torch.rand(1, 6, 8 + 2 * margin, 8 + 2 * margin)
    corrections = torch.zeros(1, FLOW_OUTPUTS, 8, 8)
    corrections[:, 0] = 2.0 / 4.0  # frame 0 sampled 2 pixels to the right
    corrections[:, 4] = 20.0  # all weight on frame 0
    out = compose_refined(
        corrections, frames, torch.zeros(1, 4, 8, 8), torch.full((1, 1, 8, 8), 0.5), margin
    )
    expected = frames[:, :3, margin : margin + 8, margin + 2 : margin + 10]
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=0)


def test_weight_logit_inverts_the_sigmoid_inside_the_clamp() -> None:
    weight = torch.tensor([0.0, 0.25, 0.5, 1.0])
    back = torch.sigmoid(weight_logit(weight))
    torch.testing.assert_close(back, weight.clamp(1e-3, 1 - 1e-3))


@pytest.mark.parametrize(
    "values",
    [
        {"in_channels": 2},
        {"in_channels": 3, "base_channel": 1},
        {"channels": 2},
        {"blocks": -1},
        {"unshuffle": 3},
        {"output": "mask"},
        {"depth": 3},
    ],
)
def test_bad_configs_are_refused(values: dict) -> None:
    with pytest.raises(ConfigError):
        FrameRestorerConfig.from_dict(values)


def test_wrong_input_shape_is_a_parameter_error() -> None:
    net = FrameRestorer(FrameRestorerConfig(channels=8, blocks=1))
    with pytest.raises(ParameterError, match="input must be"):
        net(torch.rand(1, 4, 8, 8))
    with pytest.raises(ParameterError, match="input must be"):
        net(torch.rand(3, 8, 8))
