"""Decoding an audio stream packet by packet, skipping the packets that are damaged.

A recording whose last audio frame was cut off, or that has a few corrupt packets, plays in
every player: ffmpeg logs "Invalid data found" and goes on. PyAV's ``container.decode`` instead
raises at the first such packet, which would throw away a whole job (often after its video was
processed). :func:`decode_audio` decodes each packet on its own, skips those the decoder
refuses, and warns once (:class:`~aigc_studio.errors.DamagedMediaWarning`) with their number.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av.error

from aigc_studio.errors import DamagedMediaWarning

__all__ = ["decode_audio"]


def decode_audio(container: Any, stream: Any, path: str | Path) -> Iterator[Any]:
    """Yield the decoded frames of an audio stream, skipping damaged packets.

    Parameters
    ----------
    container : av.container.InputContainer
        The open input.
    stream : av.audio.stream.AudioStream
        One of its audio streams.
    path : str or Path
        The file, to name in the warning.

    Yields
    ------
    av.AudioFrame
        Decoded frames, in order, then those the decoder still held at the end.

    Warns
    -----
    DamagedMediaWarning
        Once, at the end, if any packet could not be decoded.
    """
    skipped = 0
    for packet in container.demux(stream):
        try:
            # The end-of-stream packet (no data) flushes the decoder.
            yield from packet.decode()
        except av.error.InvalidDataError:
            skipped += 1
    if skipped:
        warnings.warn(
            f"{path}: skipped {skipped} damaged audio packet{'s' if skipped > 1 else ''} "
            "(the rest of the audio is kept)",
            DamagedMediaWarning,
            stacklevel=2,
        )
