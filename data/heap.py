"""glibc's heap, tuned for runs that allocate and free many large arrays (elsewhere than glibc
these do nothing).

By default glibc maps each array over 128 kB fresh and hands it back when freed, so every large
temporary is page-faulted in again, in the kernel (docs/decisions.md has what that costs a
style fit and a match). `kept` raises that threshold for a stretch of work; `release`
hands back what is free (before a render, so a run's peak is not its garbage)."""

from __future__ import annotations

import contextlib
import ctypes

# glibc's mallopt parameters and their default
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
GLIBC_DEFAULT_BYTES = 128 << 10


def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


@contextlib.contextmanager
def kept(keep_bytes: int):
    """Arrays up to `keep_bytes` come from the heap, and freed heap (up to four times that) is
    kept for the next array rather than handed back and faulted in again. On leaving, the
    defaults again and the kept heap handed back."""
    libc = _libc()
    try:
        libc.mallopt(M_MMAP_THRESHOLD, int(keep_bytes))
        libc.mallopt(M_TRIM_THRESHOLD, 4 * int(keep_bytes))
    except AttributeError:  # no glibc
        yield
        return
    try:
        yield
    finally:
        libc.mallopt(M_MMAP_THRESHOLD, GLIBC_DEFAULT_BYTES)
        libc.mallopt(M_TRIM_THRESHOLD, GLIBC_DEFAULT_BYTES)
        libc.malloc_trim(0)


def release() -> None:
    """Hand the heap that is free back to the system: glibc keeps freed blocks in its arenas (one
    per thread that allocated), which would otherwise add to the run's peak."""
    try:
        _libc().malloc_trim(0)
    except AttributeError:
        pass
