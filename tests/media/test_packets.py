"""Tests for decoding audio past damaged packets (aigc_studio.media.packets)."""

from __future__ import annotations

import warnings

import av
import numpy as np
import pytest

from aigc_studio.errors import DamagedMediaWarning
from aigc_studio.media.packets import decode_audio

RATE = 48_000


class _Packet:
    """A demuxed packet: its bytes, decoded by the stream's (real) AC3 decoder."""

    def __init__(self, decoder: av.CodecContext, data: bytes | None) -> None:
        self.decoder, self.data = decoder, data

    def decode(self) -> list[av.AudioFrame]:
        return self.decoder.decode(av.Packet(self.data) if self.data is not None else None)


class _Container:
    def __init__(self, packets: list[bytes]) -> None:
        self.decoder = av.CodecContext.create("ac3", "r")
        self.packets = packets

    def demux(self, stream: object) -> list[_Packet]:
        # As PyAV does, the demuxer ends with an empty packet that flushes the decoder.
        return [_Packet(self.decoder, data) for data in self.packets] + [
            _Packet(self.decoder, None)
        ]


def ac3_packets(seconds: float = 0.5) -> list[bytes]:
    """Real AC3 frames of a 440 Hz tone (192 kb/s stereo: 768 bytes each)."""
    encoder = av.CodecContext.create("ac3", "w")
    encoder.sample_rate, encoder.layout, encoder.format = RATE, "stereo", "fltp"
    encoder.bit_rate = 192_000
    t = np.arange(int(seconds * RATE)) / RATE
    tone = np.tile(0.3 * np.sin(2 * np.pi * 440 * t), (2, 1)).astype(np.float32)
    packets = []
    for start in range(0, tone.shape[1], 1536):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(tone[:, start : start + 1536]), format="fltp", layout="stereo"
        )
        frame.sample_rate, frame.pts = RATE, start
        packets += [bytes(p) for p in encoder.encode(frame)]
    packets += [bytes(p) for p in encoder.encode(None)]
    return packets


def samples(frames: object) -> int:
    return sum(frame.samples for frame in frames)  # type: ignore[attr-defined]


def test_intact_stream_decodes_without_warning():
    packets = ac3_packets()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert samples(decode_audio(_Container(packets), None, "ok.avi")) == 1536 * len(packets)


def test_a_cut_frame_is_skipped_with_one_warning():
    # A frame 27 bytes short, like the last one of opencv-doc's Megamind.avi; here the first,
    # where the decoder has nothing to conceal it with and refuses it, as PyAV's own decode
    # loop refused Megamind's (ending the whole job).
    packets = ac3_packets()
    damaged = [packets[0][:-27], *packets[1:]]
    with pytest.raises(av.error.InvalidDataError):
        av.CodecContext.create("ac3", "r").decode(av.Packet(damaged[0]))
    with pytest.warns(DamagedMediaWarning, match=r"cut\.avi: skipped 1 damaged audio packet "):
        count = samples(decode_audio(_Container(damaged), None, "cut.avi"))
    assert count == 1536 * (len(packets) - 1)


def test_several_damaged_packets_are_counted():
    packets = ac3_packets()
    lost = bytes(len(packets[0]))  # a packet read back as zeros (no sync word)
    damaged = [lost if i in (2, 5) else p for i, p in enumerate(packets)]
    with pytest.warns(DamagedMediaWarning, match="skipped 2 damaged audio packets"):
        assert samples(decode_audio(_Container(damaged), None, "x.mkv")) == 1536 * (
            len(packets) - 2
        )
