"""`style fit`: read every pair, identify the engineer's chain on each, fit, and check."""

from __future__ import annotations

import time

from tonematch.data import heap
from tonematch.data.errors import TonematchError

from .. import match
from ..console import reraise_interrupt
from .character_fit import fit_style
from .heldout import format_check, heldout_check
from .model import Style
from .pair import PairData, read_pair
from .settings_fit import attach

# a fit's arrays (pairs' audio, spectra, renders) come from a kept heap up to this size (data/heap.py)
KEEP_BYTES = 256 << 20


def fit_pairs(
    pairs,
    name: str = "style",
    check: bool = True,
    options: match.Options | None = None,
    say=print,
    error=None,
    progress: bool = True,
) -> Style:
    """Read, align and analyse every pair (a pair that fails is reported in one line and left out),
    identify the engineer's chain on each, fit, and run the held-out check (its masters made with
    `options`, else match's defaults)."""
    with heap.kept(KEEP_BYTES):
        return _fit_pairs(pairs, name, check, options, say, error, progress)


def _fit_pairs(pairs, name, check, options, say, error, progress) -> Style:
    started = time.perf_counter()
    error = error or say
    data = _read_pairs(pairs, error, progress)
    if len(data) < 2:
        raise TonematchError(f"a style needs at least 2 usable pairs, got {len(data)}")
    style = fit_style(data, name)  # the character lines; the chain is the settings style's (attach)
    attach(style, data)
    if check:
        result = heldout_check(data, pairs, options or match.Options(), say=say)
        if result is not None:
            say(format_check(result))
            style.meta["check"] = result
        else:
            say("held-out check skipped: it needs at least 4 pairs")
    style.meta["fit_seconds"] = round(time.perf_counter() - started, 1)
    return style


def _read_pairs(pairs, error, progress: bool) -> list[PairData]:
    """Every pair read and its chain identified; one that fails is reported through `error` and
    left out, and so is what reading a pair changed (its notes: a flipped polarity, an edit left
    out). The bar is drawn only on a terminal (disable=None), and cleared around each report so
    that the line does not land inside it."""
    data: list[PairData] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(pairs), unit="pair", leave=False, desc="fitting", disable=None)

    def report(text: str) -> None:
        if bar is not None:
            bar.clear()
        error(text)
        if bar is not None:
            bar.refresh()

    for pair in pairs:
        try:
            p = read_pair(pair, identify=True)  # and the chain's settings on it (sets p.settings)
            data.append(p)
        except Exception as exc:  # noqa: BLE001 - an unreadable file is one pair's problem
            reraise_interrupt(exc)  # but Ctrl-C or SIGTERM met inside a compiled kernel stops
            report(left_out(pair.name, exc))
        else:
            for note in p.notes:  # what reading the pair changed: a flipped polarity, an edit left out
                report(note)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return data


def left_out(name: str, exc: Exception) -> str:
    """'pair NAME left out: why', naming the pair once (the reasons from reading and aligning
    start 'pair NAME: ...' or 'pair NAME does ...')."""
    reason = _reason(exc)
    for prefix in (f"pair {name}: ", f"pair {name} "):
        reason = reason.removeprefix(prefix)
    return f"pair {name} left out: {reason}"


def _reason(exc: Exception) -> str:
    """One line; an error that is not the user's files' names its type."""
    text = " ".join(str(exc).split())
    return text if isinstance(exc, TonematchError) else f"{type(exc).__name__}: {text}"
