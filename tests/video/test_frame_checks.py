from __future__ import annotations

import numpy as np
import pytest

from aigc_studio.errors import MediaError, ParameterError
from aigc_studio.video.frame_checks import (
    check_frame,
    check_int,
    frame_from_model,
    to_uint8,
)


def test_to_uint8_rounds_and_clips() -> None:
    values = np.array([-3.0, 0.4, 0.6, 254.5, 300.0])
    assert to_uint8(values).tolist() == [0, 0, 1, 254, 255]
    assert to_uint8(values).dtype == np.uint8


def test_frame_from_model_keeps_uint8_converts_floats_and_refuses_the_rest() -> None:
    frame = np.full((2, 3, 3), 7, np.uint8)
    assert frame_from_model(frame, frame.shape, who="net") is frame
    assert frame_from_model(frame + 0.6, frame.shape, who="net").tolist() == (frame + 1).tolist()
    with pytest.raises(ParameterError, match=r"net returned shape \(3, 2, 3\), expected"):
        frame_from_model(np.zeros((3, 2, 3)), frame.shape, who="net")
    with pytest.raises(ParameterError, match="net returned dtype <U1"):
        frame_from_model(np.full(frame.shape, "a"), frame.shape, who="net")


def test_check_frame_names_the_frame() -> None:
    with pytest.raises(MediaError, match="frame 3 must have shape"):
        check_frame(np.zeros((2, 2), np.uint8), what="frame 3")


def test_check_int_takes_python_and_numpy_integers_in_range_only() -> None:
    assert check_int(3, "n", 0, 8) == 3 and check_int(np.int64(8), "n", 0, 8) == 8
    for bad in (True, 2.0, "3"):
        with pytest.raises(ParameterError, match="n must be an integer in"):
            check_int(bad, "n", 0, 8)
    with pytest.raises(ParameterError, match=r"n=9 is outside the supported range \[0, 8\]"):
        check_int(9, "n", 0, 8)
