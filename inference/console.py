"""What the command line says on stderr: `tonematch: error: ...` and `tonematch: warning: ...`,
one line each, and how an exception becomes that line. Every command and batch prints through
here, the training commands too under their own names (`tonematch-eval: error: ...`)."""

from __future__ import annotations

import sys

from tonematch.data.errors import TonematchError


def warn(message: str, prog: str = "tonematch") -> None:
    print(f"{prog}: warning: {message}", file=sys.stderr, flush=True)


def error(message: str, prog: str = "tonematch") -> None:
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)


def user_error(exc: BaseException) -> bool:
    """Errors that describe the user's files or system, not a bug in tonematch."""
    return isinstance(exc, (TonematchError, OSError)) or type(exc).__module__ == "soundfile"


def one_line(exc: BaseException) -> str:
    """The message of a user error; for anything else (a bug) its type too, and where to go."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    text = " ".join(text.split())
    if not user_error(exc):
        text = f"internal error ({type(exc).__name__}: {text}); please report it with the output of -v"
    return text


def hidden_interrupt(exc: BaseException) -> BaseException | None:
    """The Ctrl-C or SIGTERM (a BaseException, not an Exception) that `exc` carries, if any. A
    signal handler that raises while a numba kernel returns (its result is unpickled in Python)
    comes back wrapped in SystemError ('... returned a result with an exception set'), once per
    level, which `except Exception` would report as a bug or a bad mix."""
    while isinstance(exc, SystemError):
        exc = exc.__cause__
    return exc if isinstance(exc, BaseException) and not isinstance(exc, Exception) else None


def reraise_interrupt(exc: BaseException) -> None:
    """Raise the Ctrl-C or SIGTERM `exc` hides (hidden_interrupt), if any: an `except Exception`
    that goes on after one bad file must still stop for it."""
    hidden = hidden_interrupt(exc)
    if hidden is not None:
        raise hidden from None


class Terminated(BaseException):
    """SIGTERM, raised where the main thread is, so `with` blocks clean up on the way out.
    A BaseException like KeyboardInterrupt: no `except Exception` may swallow it."""


_SIGNALLED: list[type[BaseException]] = []  # the signal that arrived in this run, kept


def signalled(kind: type[BaseException]) -> None:
    """Keep that a signal arrived (the handler then raises `kind`)."""
    _SIGNALLED.append(kind)


def stop_if_signalled() -> None:
    """Raise the kept signal's exception again: Python drops one raised while it runs an import's
    cleanup callback, and the run would go on to the end as if nothing had come. Long loops call this."""
    if _SIGNALLED:
        raise _SIGNALLED[0]()


def forget_signals() -> None:
    _SIGNALLED.clear()


def traceback_if(verbose: bool, exc: BaseException) -> None:
    """Under -v, the traceback of an error reported in one line (a batch goes on after it)."""
    if verbose:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
