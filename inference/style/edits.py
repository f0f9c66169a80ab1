"""Where a pair's master is an edit rather than mastering: a fade or missing audio at either end.

A master is often faded in or out, or cut shorter than its mix (or the alignment leaves the end
of the mix with no master under it). None of that is the engineer's chain, and read as one it is
gain reduction: a 3 s fade-out in one of six excerpts took a compressor's trace error from 0.2 to
4 dB and its timing became unreadable. So a pair is read only where the master is mastering.

The edit is found on the master's level over the mix's (all channels' power, 0.4 s windows every
0.1 s, where the mix is within GATE_DB of its loudest window). Mastering moves that ratio with the
mix's level (a compressor works harder on loud passages: +-5 dB on songs with loud and quiet
sections), and hardly otherwise: a quadratic in the mix's window level (dB), fitted on the pair's
windows, leaves +-1.5 dB. A fade takes the ratio steadily away from that. An end whose ratio lies
DEEP_DB or more under the fit is an edit, and the edit reaches back to the last window still
within UNTOUCHED_DB of it, or to where the fade's amplitude, on a line through its windows
between FADE_FIT of the fit's, comes back to the fit's, whichever is earlier (MARGIN_S earlier
still: a fade's first fraction of a dB). Where the master has no audio at all (its samples under
SILENT) while the mix has, it is cut to the sample. A mix that fades with its master is no edit:
the ratio stays where it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tonematch.data.errors import TonematchError

BLOCK_S = 0.1  # the ratio's blocks ...
WINDOW_BLOCKS = 4  # ... summed over windows of this many (0.4 s)
GATE_DB = 60.0  # mix windows this far under the mix's loudest window say nothing
DEEP_DB = 10.0  # an end this far under the mastering's ratio (the fit) is an edit
UNTOUCHED_DB = 0.5  # the edit starts after the last window within this of the fit
FADE_FIT = (0.3, 0.9)  # amplitudes (re the fit's) on which a fade's line is drawn back to its start
OUTLIER_DB = 2.0  # windows this far under the first fit are left out of the second (a fade's)
LEVEL_SPREAD_DB = 3.0  # mix levels spread less than this: no curve to fit, the median ratio is mastering's
MARGIN_S = 0.25  # and this much earlier: a fade's first fraction of a dB
SILENT = 10.0 ** (-80.0 / 20.0)  # master samples under this (-80 dBFS) are no audio
AUDIBLE_DB = 60.0  # ... which matters where the mix peaks within this of its own peak
MIN_KEPT_S = 1.0  # less than this left: the pair cannot be read
UNNOTED_S = 0.01  # a master this little short at an end (an export's rounding) is cut without a line
CHUNK = 1 << 18  # frames measured at a time (no copy of a whole file)


@dataclass(frozen=True)
class Span:
    """The mix's frames [start, end) the pair is read on, and what was left out, in words (None
    when nothing was, or only the few samples under UNNOTED_S a master lacks at an end)."""

    start: int
    end: int
    note: str | None = None


def _block_stats(x: np.ndarray, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Per block of `hop` frames (the last one partial): the power summed over channels (float64)
    and the peak over channels."""
    frames = x.shape[1]
    blocks = -(-frames // hop)
    power, peak = np.zeros(blocks), np.zeros(blocks)
    step = max(hop, CHUNK // hop * hop)
    for lo in range(0, frames, step):
        chunk = np.asarray(x[:, lo : lo + step], dtype=np.float64)
        n = chunk.shape[1]
        pad = -n % hop
        if pad:
            chunk = np.pad(chunk, ((0, 0), (0, pad)))
        shaped = chunk.reshape(chunk.shape[0], -1, hop)
        b = lo // hop
        power[b : b + shaped.shape[1]] = np.sum(shaped * shaped, axis=(0, 2))
        peak[b : b + shaped.shape[1]] = np.abs(shaped).max(axis=(0, 2))
    return power, peak


def _audible_range(master: np.ndarray, peak: np.ndarray, hop: int) -> tuple[int, int] | None:
    """[first, last + 1) of the master's samples above SILENT, or None if there are none."""
    loud = np.flatnonzero(peak > SILENT)
    if loud.size == 0:
        return None
    first, last = int(loud[0]) * hop, int(loud[-1]) * hop
    head = np.flatnonzero(np.abs(master[:, first : first + hop]).max(axis=0) > SILENT)
    tail = np.flatnonzero(np.abs(master[:, last : last + hop]).max(axis=0) > SILENT)
    return first + int(head[0]), last + int(tail[-1]) + 1


def _mastering_residual(ratio_db: np.ndarray, level_db: np.ndarray, gated: np.ndarray) -> np.ndarray:
    """The ratio (dB) over what mastering makes of each window's mix level: a quadratic in the
    level fitted on the gated windows, then again without those OUTLIER_DB under the first fit
    (where a fade lies); levels outside those fitted are read at the nearest fitted level."""
    if not gated.any():
        return np.zeros_like(ratio_db)
    median = float(np.median(ratio_db[gated]))
    use = gated & (ratio_db > median - DEEP_DB / 2.0)  # the plain fades left out
    residual = ratio_db - median
    for _ in range(2):
        x = level_db[use]
        if x.size < 8 or np.ptp(x) < LEVEL_SPREAD_DB:  # music at one level: the median is the fit
            return ratio_db - float(np.median(ratio_db[use])) if x.size else residual
        coef = np.polyfit(x, ratio_db[use], 2)
        residual = ratio_db - np.polyval(coef, np.clip(level_db, x.min(), x.max()))
        use = use & (residual > -OUTLIER_DB)
    return residual


def _fade_blocks(residual_db: np.ndarray, gated: np.ndarray) -> int:
    """How many blocks at the end of the windows' residuals (dB, a window every block; `gated`:
    the windows that say something) belong to an edit: 0 when the last window that says something
    is not DEEP_DB under; else those after the last window within UNTOUCHED_DB (all of them if
    none is), or after where the fade's amplitude, on a line through its windows between FADE_FIT,
    reaches 1, if that is earlier (a window with a fade's first fraction of a dB passes for
    untouched), at most twice as many."""
    said = np.flatnonzero(gated)
    if said.size == 0 or residual_db[said[-1]] > -DEEP_DB:
        return 0
    blocks = residual_db.size + WINDOW_BLOCKS - 1
    untouched = said[residual_db[said] >= -UNTOUCHED_DB]
    if not untouched.size:
        return blocks
    last = int(untouched[-1])
    walked = residual_db.size - 1 - last
    fade = said[said > last]
    amplitude = 10.0 ** (residual_db[fade] / 20.0)
    use = (amplitude > FADE_FIT[0]) & (amplitude < FADE_FIT[1])
    if np.count_nonzero(use) >= 3:
        slope, intercept = np.polyfit(fade[use].astype(np.float64), amplitude[use], 1)
        if slope < 0.0:  # the window (centred WINDOW_BLOCKS / 2 blocks in) at which it is 1
            begins = (1.0 - intercept) / slope + 0.5 * WINDOW_BLOCKS
            walked = max(walked, min(2 * walked, math.ceil(blocks - begins)))
    return min(walked, blocks)


def _seconds(frames: int, sample_rate: int) -> str:
    return f"{max(frames / sample_rate, 0.05):.1f} s"


def unedited_span(mix: np.ndarray, master: np.ndarray, sample_rate: int, name: str = "(unnamed)") -> Span:
    """The stretch of an aligned pair (mix, master: [C, T]) where the master is mastering, not an
    edit: a fade-in or fade-out of the master, or an end where it has no audio while the mix has,
    is left out (see the module docstring). A pair with no edit is read whole."""
    frames = mix.shape[1]
    hop = max(1, int(round(BLOCK_S * sample_rate)))
    mix_power, mix_peak = _block_stats(mix, hop)
    master_power, master_peak = _block_stats(master, hop)
    audible = _audible_range(master, master_peak, hop)
    if audible is None:
        return Span(0, frames)  # a silent master: read_pair says so
    quiet = float(mix_peak.max(initial=0.0)) * 10.0 ** (-AUDIBLE_DB / 20.0)

    def heard(lo: int, hi: int) -> bool:  # the mix has audio in [lo, hi)
        return hi > lo and float(np.abs(mix[:, lo:hi]).max()) > quiet

    start = audible[0] if heard(0, audible[0]) else 0
    end = audible[1] if heard(audible[1], frames) else frames
    silent = {"head": start, "tail": frames - end}

    # the level ratio on whole blocks inside [start, end), windows of WINDOW_BLOCKS blocks
    first, last = -(-start // hop), end // hop
    kernel = np.ones(WINDOW_BLOCKS)
    faded = {"head": 0, "tail": 0}
    if last - first >= 2 * WINDOW_BLOCKS:
        px = np.convolve(mix_power[first:last], kernel, "valid")
        py = np.convolve(master_power[first:last], kernel, "valid")
        gated = px > px.max() * 10.0 ** (-GATE_DB / 10.0)
        level = 10.0 * np.log10(np.maximum(px, 1e-30))
        ratio = 10.0 * np.log10(np.maximum(py, 1e-30)) - level
        residual = _mastering_residual(ratio, level, gated)
        tail, head = _fade_blocks(residual, gated), _fade_blocks(residual[::-1], gated[::-1])
        faded["tail"] = end - (last - tail) * hop if tail else 0
        faded["head"] = (first + head) * hop - start if head else 0

    margin = int(round(MARGIN_S * sample_rate))
    words = []
    if faded["head"]:
        start += faded["head"] + margin
        words.append(f"fades in over the first {_seconds(silent['head'] + faded['head'], sample_rate)}")
    elif silent["head"] >= UNNOTED_S * sample_rate:
        words.append(f"has no audio over the first {_seconds(silent['head'], sample_rate)}")
    if faded["tail"]:
        end -= faded["tail"] + margin
        words.append(f"fades out over the last {_seconds(silent['tail'] + faded['tail'], sample_rate)}")
    elif silent["tail"] >= UNNOTED_S * sample_rate:
        words.append(f"has no audio over the last {_seconds(silent['tail'], sample_rate)}")
    if not words:
        return Span(start, end)  # read whole, or but for a few samples the master lacks
    note = "its master " + " and ".join(words)
    if end - start < MIN_KEPT_S * sample_rate:
        raise TonematchError(f"pair {name}: {note}: too little is left to read")
    return Span(start, end, note)
