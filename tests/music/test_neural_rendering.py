from __future__ import annotations

import pretty_midi
import pytest

from aigc_studio.errors import ToolMissingError
from aigc_studio.music import neural_rendering
from aigc_studio.music.neural_rendering import fold_into_range, render_with_neural_instrument


@pytest.mark.parametrize(("pitch", "expected"), [(30, 42), (36, 36), (60, 60), (84, 84), (97, 73)])
def test_pitches_fold_by_octaves_into_the_trained_range(pitch: int, expected: int) -> None:
    assert fold_into_range(pitch, 36, 84) == expected


def test_missing_instrument_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(neural_rendering, "INSTRUMENT_WEIGHTS", "no-such-weights")
    midi = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0)
    inst.notes.append(pretty_midi.Note(90, 60, 0.0, 0.5))
    midi.instruments.append(inst)
    with pytest.raises(ToolMissingError, match="make weights-neural-instrument"):
        render_with_neural_instrument(midi, 16000)
