"""The output library: provenance of every file the studio writes.

Generated content raises questions of authorship and copyright, so the studio keeps a record of
each output it writes: which command and parameters made it, which model and checkpoint (by
hash), which seed, and which input files (by hash). The record lives in two places:

- in the file itself, as tags that media writers embed (:meth:`Provenance.as_tags`, read back
  with :func:`parse_embedded`);
- in a local SQLite database (:class:`OutputLibrary`), which can later tell whether a file is
  one the studio made, even after it was copied or renamed (:meth:`OutputLibrary.verify`).

This package does not read or write media; the ``media`` wing embeds the tags.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> out = folder / "melody.mid"
>>> _ = out.write_bytes(b"MThd")
>>> prov = Provenance.create("music compose", {"bars": 8}, "midi", model="melody-vae", seed=7)
>>> with OutputLibrary(folder / "library.sqlite3") as lib:
...     rec = lib.record(out, prov)
...     [r.seed for r in lib.find(out)]
[7]
"""

from aigc_studio.library.hashing import sha256_file
from aigc_studio.library.provenance import (
    KINDS,
    PROVENANCE_PREFIX,
    SOFTWARE,
    InputRef,
    Provenance,
    parse_embedded,
)
from aigc_studio.library.store import (
    SCHEMA_VERSION,
    OutputLibrary,
    OutputRecord,
    Verification,
    default_library_path,
)

__all__ = [
    "KINDS",
    "PROVENANCE_PREFIX",
    "SCHEMA_VERSION",
    "SOFTWARE",
    "InputRef",
    "OutputLibrary",
    "OutputRecord",
    "Provenance",
    "Verification",
    "default_library_path",
    "parse_embedded",
    "sha256_file",
]
