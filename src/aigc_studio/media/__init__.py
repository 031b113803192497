"""Media input and output: the one place in the studio that touches codecs and containers.

Audio is float32 ``(channels, samples)`` with its sample rate; video frames are uint8 RGB
``(H, W, 3)`` streamed one at a time; MIDI is a ``pretty_midi.PrettyMIDI``. Every reader raises
:class:`aigc_studio.errors.MediaError` naming the file on bad input, and every writer writes to a
temporary file that is renamed into place.
"""

from aigc_studio.media.atomic import atomic_output
from aigc_studio.media.audio_io import load_audio, read_audio_tags, resample_audio, save_audio
from aigc_studio.media.midi_io import load_midi, read_midi_tags, save_midi

__all__ = [
    "atomic_output",
    "load_audio",
    "load_midi",
    "read_audio_tags",
    "read_midi_tags",
    "resample_audio",
    "save_audio",
    "save_midi",
]
