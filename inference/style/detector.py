"""The compressor's detector of a style, chosen on exact renders: peak, or RMS over a window.

Many mastering compressors hear a passage's RMS (or, in feedback designs, their own output)
rather than its peaks, and their gain traces are not ones the chain's peak detector can make
with any ratio or timing. So the consensus (consensus.py) also searches an RMS-detecting
compressor, scored by MR-STFT to the masters, and keeps it where it renders clearly closer
(docs/decisions.md has the figures).
"""

from __future__ import annotations

import math
from typing import Callable

RMS_WINDOWS_MS = (20.0, 7.0, 60.0)  # the search's window, then the others tried at what it found
RMS_START_RATIO = 3.0  # the search starts here: a peak reading's ratio overstates an RMS compressor's
RMS_EVALUATIONS = 40  # renders of the consensus pairs the search may take (Powell's; more bought little: docs)
# the search's reach around its start, per setting: threshold dB, ln ratio, ln attack, ln release
RMS_BOUNDS = ((-24.0, 12.0), (0.0, math.log(20.0)), (math.log(0.1), math.log(100.0)))
RMS_BOUNDS += ((math.log(10.0), math.log(1500.0)),)


# What the renders can tell of the search's timing: each is rendered this factor either side of
# what the search found, and counts as heard only if both sides measure at least TIMING_HEARD
# (relative MR-STFT) further from the masters; along a flat direction Powell's answer is no
# reading (docs/decisions.md). gain_trace's READ_FACTOR / READ_MARGIN do this for the traces' fit.
TIMING_PROBES = ((4, "attack_ms", 3.0), (5, "release_ms", 2.0))  # (theta index, setting, factor)
TIMING_HEARD = 0.005


def timing_heard(cost: Callable[[list], float], theta: list, best: float) -> dict:
    """{setting: [cost / best - 1 at / factor, at x factor]} for the attack and the release of
    an RMS search's theta (the detector's 7 entries); `heard` compares them with TIMING_HEARD."""
    out = {}
    for index, key, factor in TIMING_PROBES:
        sides = []
        for step in (-math.log(factor), math.log(factor)):
            trial = list(theta)
            trial[index] += step
            sides.append(cost(trial) / best - 1.0 if best > 0.0 else 0.0)
        out[key] = sides
    return out


def heard(probes: dict, key: str) -> bool:
    """Whether the renders tell the search's `key` timing from the same factor either side."""
    return key not in probes or min(probes[key]) >= TIMING_HEARD


def rms_search(cost: Callable[[list], float], start: list) -> tuple[float, list]:
    """(cost, theta) of the closest RMS-detecting compressor found from `start`, consensus's
    [ln limiter release, ceiling, threshold, ln ratio, ln attack, ln release] (the limiter's
    two held): theta gains a seventh entry, the ln of the RMS window in ms. The threshold, ratio
    and timing are searched at the first of RMS_WINDOWS_MS (a search over the window too spent
    its renders before reaching it), then the other windows are tried with what it found."""
    from scipy.optimize import minimize

    window = [math.log(RMS_WINDOWS_MS[0])]
    u0 = [start[2], math.log(RMS_START_RATIO), start[4], start[5]]
    bounds = [(start[2] + RMS_BOUNDS[0][0], start[2] + RMS_BOUNDS[0][1]), *RMS_BOUNDS[1:]]
    result = minimize(
        lambda u: cost(start[:2] + [float(v) for v in u] + window),
        u0,
        method="Powell",
        bounds=bounds,
        options={"maxfev": RMS_EVALUATIONS, "xtol": 1e-2, "ftol": 1e-3},
    )
    best = (float(result.fun), start[:2] + [float(v) for v in result.x] + window)
    for ms in RMS_WINDOWS_MS[1:]:
        theta = best[1][:6] + [math.log(ms)]
        best = min(best, (cost(theta), theta), key=lambda t: t[0])
    return best
