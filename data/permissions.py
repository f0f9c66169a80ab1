"""Files tonematch writes are for sharing: the permissions a plain `open` would give them.

Temporary files for atomic writes come from mkstemp (always 0600) or libraries that choose their
own mode; before the rename, `as_umask_allows` gives them 0666 minus the user's umask, as the
audio writer's own temp files get.
"""

from __future__ import annotations

import os


def as_umask_allows(path) -> None:
    umask = os.umask(0)  # reading the umask means setting it: put it straight back
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
