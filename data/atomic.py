"""Atomic writes of the small files tonematch shares: settings, reports, model and style files.

`write_atomic(path, write)` has `write` fill a temporary file in the destination's folder (same
filesystem, so the rename is atomic), gives it the permissions a plain `open` would (mkstemp
makes 0600 and safetensors' writer chooses its own mode; these files are for sharing), then
renames it over `path`. A failure or interrupt leaves `path` as it was and no temporary behind.
Audio has its own streaming writer (data/writer.py).
"""

from __future__ import annotations

import os
import tempfile
from typing import Callable


def write_atomic(path, write: Callable[[str], None]) -> None:
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    # the real extension last: writers that pick a format from it (matplotlib) see the right one
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.tmp-", suffix=os.path.splitext(name)[1], dir=folder)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)  # reading the umask means setting it: put it straight back
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
