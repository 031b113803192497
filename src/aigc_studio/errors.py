"""Errors raised on bad input, and the warning for damaged input that is still usable.

Every error a user can cause derives from :class:`AigcError`. Its message names the thing that was
wrong (a file, a parameter) and, where possible, what to do about it; the CLI prints it on one line
and exits with status 2. Anything that is not an ``AigcError`` is a bug in the studio.
"""

from __future__ import annotations


class AigcError(Exception):
    """Base class of all errors caused by bad input or a missing resource."""


class MediaError(AigcError):
    """A media file is missing, empty, corrupt, of an unsupported kind, or holds bad samples."""


class ParameterError(AigcError, ValueError):
    """A parameter is outside the range the function accepts."""


class ConfigError(AigcError):
    """A model, preset or run configuration is invalid or inconsistent."""


class ToolMissingError(AigcError):
    """A system tool (ffmpeg, fluidsynth, a soundfont, espeak-ng) is not installed."""


class LibraryError(AigcError):
    """The output library cannot be opened or holds no such record."""


class MediaWarning(UserWarning):
    """A media file was read or written with an adjustment the user should hear about."""


class DamagedMediaWarning(MediaWarning):
    """Part of a media file could not be decoded and was skipped (as ffmpeg skips it).

    Raised as a warning, not an error, when the rest of the file is usable: a damaged audio
    frame at the end of a camera's recording should not cost the user the whole job. The CLI
    prints it on one line.
    """
