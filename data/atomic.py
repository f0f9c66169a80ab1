"""Atomic writes: a file only ever appears complete, and files that belong together appear together.

Every file tonematch writes is first filled under a hidden temporary name in its destination's
folder (same filesystem, so the final rename is atomic), then renamed onto its name. A failure or
an interrupt leaves the destination as it was and no temporary behind. Temporary names carry the
host and PID of their writer (`.<name>.tmp-<host>-<pid>-<8 hex><ext>`), so one left by a process
killed outright (SIGKILL, power loss) is removed by the next write into that folder
(`sweep_stale_temps`).

* `write_atomic(path, write)`: one small file (settings, reports, model and style files); `write`
  fills the temporary path. The file gets the permissions a plain `open` would (temporary files
  often start as 0600; these files are for sharing).
* `Transaction`: several files (a master, its settings JSON and its report) renamed onto their
  names together, with SIGINT and SIGTERM held for those few renames, so a master never sits
  beside the settings of another. With `replace=False` an existing destination is never replaced,
  even one that appears while the files are being written (the rename is a no-clobber hard link).

Audio has its own streaming writer (data/writer.py), built on the same temporary names.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import threading
import time
from typing import Callable

from .errors import TonematchError

# A temp file of ours untouched this long is removed even when its writer's PID looks alive: the
# PID may have been reused, or the writer ran on another host sharing the folder. Long enough that
# a renderer still busy with its loudness passes (it writes only at the end) is never hit.
STALE_TEMP_S = 24 * 3600
# .<target name>.tmp-<host>-<pid>-<8 hex><ext>: what reserve_temp creates, and all the sweep touches.
_TEMP_NAME = re.compile(
    r"\.(?P<target>.+)\.tmp-(?P<host>[A-Za-z0-9]{0,24})-(?P<pid>[0-9]+)-[0-9a-f]{8}(\.[A-Za-z0-9]+)?"
)


def _host_tag() -> str:
    """This machine's name as it appears in temp names (letters and digits only, short)."""
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:24]


_HOST = _host_tag()
# Temporary names this process reserved and has not yet renamed or removed: a writer handed one
# (a Transaction's stage) fills it in place instead of making a temporary of the temporary.
_RESERVED: dict[str, str] = {}  # temporary -> the destination it stands for


def reserved(path) -> bool:
    """Whether `path` is a temporary name this process reserved (reserve_temp) and still holds."""
    return os.path.abspath(os.fspath(path)) in _RESERVED


def destination(path) -> str:
    """The file a reserved temporary name stands for (for messages); any other path as it is."""
    return _RESERVED.get(os.path.abspath(os.fspath(path)), os.fspath(path))


def failure(path, e: BaseException) -> TonematchError:
    """One line for a failed write, naming the destination (not our temporary name) and saying
    plainly when the disk is full (libsndfile reports that as 'System error')."""
    target = destination(path)
    reason = _one_line(e)
    try:
        st = os.statvfs(os.path.dirname(os.path.abspath(os.fspath(path))))
        if getattr(e, "errno", None) == 28 or st.f_bavail * st.f_frsize < (1 << 20):
            reason = "no space left on the disk"
    except (OSError, AttributeError):
        pass
    return TonematchError(f"cannot write '{target}': {reason}")


def _one_line(e: BaseException) -> str:
    text = getattr(e, "error_string", None) or getattr(e, "strerror", None) or str(e) or type(e).__name__
    return " ".join(str(text).split())


def reserve_temp(path) -> str:
    """Create (O_EXCL, empty) and return a fresh temporary name beside `path`, in the pattern the
    sweep recognises; the real extension comes last, for writers that pick a format from it."""
    path = os.path.abspath(os.fspath(path))
    folder, name = os.path.split(path)
    ext = os.path.splitext(name)[1]
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.tmp-{_HOST}-{os.getpid()}-{secrets.token_hex(4)}{ext}")
        try:
            # O_EXCL: never clobber another writer's temp file; mode 0o666 lets the umask decide.
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            _RESERVED[tmp] = destination(path)
            return tmp
        except FileExistsError:
            continue
        except OSError as e:
            raise TonematchError(f"cannot write '{os.fspath(path)}': {_one_line(e)}") from None
    raise TonematchError(f"cannot write '{path}': no free temporary file name")


def sweep_stale_temps(folder: str, now: float | None = None) -> list[str]:
    """Remove temp files of ours left in `folder` by writers that are gone; returns their names.

    Only names of exactly our pattern are touched. One is stale when it was written on this host
    by a PID that no longer exists, or when nobody has touched it for STALE_TEMP_S. Failures are
    ignored: sweeping is housekeeping and must never stop a write.
    """
    now = time.time() if now is None else now
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        m = _TEMP_NAME.fullmatch(name)
        if m is None:
            continue
        path = os.path.join(folder, name)
        try:
            age = now - os.stat(path).st_mtime
        except OSError:
            continue
        orphan = m["host"] == _HOST and not _pid_alive(int(m["pid"]))
        if orphan or age > STALE_TEMP_S:
            try:
                os.remove(path)
                removed.append(name)
            except OSError:
                pass
    return removed


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":  # os.kill would terminate the process on Windows: trust age alone there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, it is someone else's
        return True
    return True


def _shareable(path: str) -> None:
    """The permissions a plain `open` gives under the user's umask."""
    umask = os.umask(0)  # reading the umask means setting it: put it straight back
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _remove(path: str) -> None:
    _RESERVED.pop(path, None)
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some filesystems cannot fsync a file opened read-only; the rename still holds
        pass
    finally:
        os.close(fd)


def fsync_dir(folder: str) -> None:
    """Make a rename durable; folders cannot be opened this way on Windows, where it is skipped."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def exists_message(path: str) -> str:
    return f"'{path}' already exists; use --overwrite (-f) to replace it"


def place(tmp: str, path: str, replace: bool = True) -> None:
    """Rename the finished `tmp` onto `path`. replace=False never replaces an existing `path`,
    even one created a moment ago by another process: a hard link fails if the name exists.
    Where the filesystem has no hard links, the check and the rename are two steps."""
    _RESERVED.pop(tmp, None)
    if replace:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise TonematchError(exists_message(path)) from None
    except OSError:  # no hard links here (FAT, some network filesystems)
        if os.path.lexists(path):
            raise TonematchError(exists_message(path)) from None
        os.replace(tmp, path)
        return
    os.remove(tmp)


def write_atomic(path, write: Callable[[str], None], replace: bool = True) -> None:
    """`write(tmp)` fills a temporary file beside `path`, which is then renamed onto `path`.
    A `path` that is itself a reserved temporary name (a Transaction's) is filled in place."""
    path = os.fspath(path)
    if reserved(path):
        try:
            write(path)
        except OSError as e:
            raise failure(path, e) from None
        _shareable(path)
        return
    tmp = reserve_temp(path)
    try:
        try:
            write(tmp)
        except OSError as e:
            raise failure(path, e) from None
        _shareable(tmp)
        place(tmp, path, replace)
    finally:
        _remove(tmp)


@contextlib.contextmanager
def signals_held():
    """SIGINT and SIGTERM wait (they are delivered on leaving) while a few renames run, so an
    interrupt never lands between a master and its settings. Only the main thread can hold them."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class Transaction:
    """Files written under temporary names and renamed onto theirs together by `commit()`.

        with Transaction(replace=False) as t:
            render_to(t.stage("out.wav"))                      # any writer that fills a path
            t.write("out.json", lambda p: save_settings(p))
            t.commit()

    Leaving the block without a commit (an error, Ctrl-C, SIGTERM) removes every temporary file and
    leaves every destination as it was. With replace=False, commit refuses (TonematchError) when
    any destination exists, and takes back the files it had already placed if one appears while
    it renames.
    """

    def __init__(self, replace: bool = True):
        self.replace = bool(replace)
        self._staged: list[tuple[str, str]] = []  # (temporary, destination)
        self._done = False

    def stage(self, path) -> str:
        """A temporary path that `commit()` will rename onto `path` (created empty, beside it)."""
        target = os.path.abspath(os.fspath(path))
        tmp = reserve_temp(target)
        self._staged.append((tmp, target))
        return tmp

    def write(self, path, write: Callable[[str], None]) -> None:
        """Stage `path` and fill it now with `write(tmp)`."""
        tmp = self.stage(path)
        try:
            write(tmp)
        except OSError as e:
            raise failure(tmp, e) from None

    def commit(self) -> None:
        if self._done:
            raise RuntimeError("transaction already finished")
        with signals_held():
            if not self.replace:
                for _, target in self._staged:
                    if os.path.lexists(target):
                        raise TonematchError(exists_message(target))
            for tmp, _ in self._staged:
                _shareable(tmp)
                fsync_path(tmp)
            placed: list[str] = []
            try:
                for tmp, target in self._staged:
                    place(tmp, target, self.replace)
                    placed.append(target)
            except BaseException:
                if not self.replace:  # ours, placed a moment ago: no one else's file is touched
                    for target in placed:
                        _remove(target)
                raise
            self._done = True
            for folder in sorted({os.path.dirname(t) for _, t in self._staged}):
                fsync_dir(folder)

    def discard(self) -> None:
        self._done = True
        for tmp, _ in self._staged:
            _remove(tmp)

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        for tmp, _ in self._staged:  # placed files have moved; what is left here are leftovers
            _remove(tmp)
        self._done = True
