from __future__ import annotations

import pytest
import torch

from aigc_studio.datasets import melody_tokens as mt
from aigc_studio.errors import ParameterError
from aigc_studio.music.compose import (
    MAJOR_KEY_GUIDANCE,
    MINOR_KEY_PENALTY,
    key_steering,
    relative_minor_header,
    sample_drafts,
)

VOCAB = 128


def _header(tonic: int, mode: str) -> list[int]:
    return [mt.BOS, mt.style_token("folk"), mt.meter_token("4/4"), mt.key_token(tonic, mode)]


def test_major_keys_are_guided_away_from_their_relative_minor() -> None:
    header = _header(0, "major")  # C major -> A minor
    assert relative_minor_header(header)[3] == mt.key_token(9, "minor")
    contrast, guidance, bias = key_steering(header, [mt.BAR], 1.0, VOCAB)
    assert contrast == [[*header[:3], mt.key_token(9, "minor"), mt.BAR]]
    assert guidance == MAJOR_KEY_GUIDANCE and bias is None
    assert key_steering(header, [], 0.5, VOCAB)[1] == pytest.approx(MAJOR_KEY_GUIDANCE / 2)


def test_minor_keys_avoid_their_major_third_and_sixth() -> None:
    contrast, guidance, bias = key_steering(_header(2, "minor"), [], 1.0, VOCAB)  # D minor
    assert contrast is None and guidance == 0.0 and bias is not None
    penalized = {
        int(t) - mt.NOTE_OFFSET + mt.NOTE_MIN for t in torch.nonzero(bias).flatten().tolist()
    }
    assert penalized and {p % 12 for p in penalized} == {6, 11}  # F sharp and B
    assert float(bias.min()) == -MINOR_KEY_PENALTY


def test_strength_zero_steers_nothing() -> None:
    assert key_steering(_header(0, "major"), [], 0.0, VOCAB) == (None, 0.0, None)


class _Uniform(torch.nn.Module):
    """A 'language model' whose next-token scores depend only on the key token seen first."""

    max_len = None

    def forward(self, tokens: torch.Tensor, cache=None):
        key = tokens[:, 3:4] if cache is None else cache
        logits = torch.zeros(tokens.shape[0], tokens.shape[1], mt.VOCAB_SIZE)
        # Under A minor, NOTE tokens are likelier than under any other header.
        logits[..., mt.NOTE_OFFSET : mt.NOTE_OFFSET + 20] += (key == mt.key_token(9, "minor"))[
            :, :, None
        ].float() * 3.0
        return logits, key


def test_guidance_pushes_away_from_what_the_contrast_header_likes() -> None:
    header = _header(0, "major")

    def note_share(guidance: float) -> float:
        (tokens,) = sample_drafts(
            _Uniform(),
            header,
            bars=4,
            bar_length=16,
            seed=0,
            top_p=None,
            contrast_prefixes=[relative_minor_header(header)],
            guidance=guidance,
        )
        notes = [t for t in tokens if mt.NOTE_OFFSET <= t < mt.NOTE_OFFSET + 20]
        return len(notes) / len(tokens)

    assert note_share(3.0) < note_share(0.0)


def test_contrast_prefixes_must_match_the_prefix_and_strength_is_checked() -> None:
    from aigc_studio.music.compose import compose_melody
    from aigc_studio.music.prompt import CompositionControls

    with pytest.raises(ParameterError, match="as long as"):
        sample_drafts(
            _Uniform(),
            _header(0, "major"),
            bars=1,
            bar_length=16,
            contrast_prefixes=[[mt.BOS]],
            guidance=1.0,
        )
    with pytest.raises(ParameterError, match="key_strength"):
        compose_melody(
            _Uniform(),
            CompositionControls(style="folk", key=0, mode="major", meter="4/4", bars=2),
            key_strength=5.0,
        )
