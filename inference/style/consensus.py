"""The fixed parts of the dynamics chosen on exact renders of the pairs (settings_fit.py calls it)."""

from __future__ import annotations

import math

import numpy as np

from .detector import rms_search, timing_heard
from .distance import Distance
from .identify import ExcerptRenders, clip_setting
from .model import BUMP_HZ
from .settings_model import predict

CONSENSUS_PAIRS = 6  # a fixed compressor is chosen on renders of at most this many pairs ...
CONSENSUS_EXCERPTS = 2  # ... this many excerpts of each (one let a single passage decide: docs/decisions.md)
CONSENSUS_SWEEPS = 2  # steps along each setting, the second half the first
CONSENSUS_LIMITER_MS = (20.0, 60.0, 150.0)  # limiter releases tried beside the pairs' median
CONSENSUS_CEILING_DB = (0.1, 0.2)  # ceilings tried above the masters' median true peak
CONSENSUS_MARGIN = 0.05  # a single pair's compressor replaces the medians only if this much closer
# then one step along each: ln limiter release, ceiling dB, threshold dB, ln ratio, ln attack, ln release
CONSENSUS_STEPS = (0.5, 0.2, 1.0, 0.2, 0.5, 0.4)


def _subset(a, count: int):
    """`count` excerpts of an analysis (inputs.Analysis) spread over its inner ones (the first is
    often an intro), as a shallow copy."""
    from dataclasses import replace

    n = a.clips.shape[0]
    pick = np.unique(np.linspace(0, n - 1, count + 2)[1:-1].round().astype(int)) if n > count else np.arange(n)
    return replace(a, clips=a.clips[pick])


def _heard(use: list, values, bases: list, renders: list):
    """The detector's cost: MR-STFT of the renders to the masters' excerpts (float32, the masters'
    spectra taken once). The 1/3-octave distance the rest of the consensus uses scores a level
    trace frame by frame, and on bench_style's fixed engineer it preferred the peak detector
    where MR-STFT, what the held-out check and the benchmark score, preferred RMS (docs/decisions.md)."""
    from ..quality import MRSTFT

    measures = [[MRSTFT(clip, np.float32) for clip in master.clips] for _, _, master in use]

    def heard(theta) -> float:
        total = 0.0
        for (fit, _, _), base, per_clip, render in zip(use, bases, measures, renders):
            out = render(values(theta, fit, base))
            total += float(np.mean([m(clip) for m, clip in zip(per_clip, out)]))
        return total / len(use)

    return heard


def consensus(groups: dict, rows: list, sample_rate: int, probe: bool = True) -> dict:
    """The fixed parts of the dynamics chosen on exact renders: the limiter's release and ceiling
    and, where the compressor is fixed, the compressor. Each pair's reading is a reading of the
    same chain through its own music, and the readings scatter (a compressor or limiter of
    another design is explained differently by different music; the limiter's release read from
    a gain trace is its model's, not the chain's). So the medians, each pair's reading and no
    compression are tried on the pairs (CONSENSUS_PAIRS of them, CONSENSUS_EXCERPTS excerpts
    each, with the style's EQ and width, at each master's loudness), the one with the least
    1/3-octave distance to the masters kept, then moved a step along each setting where that
    measures better. rows: [(PairFit, mix, master)] (inputs.Analysis). `probe`: also render what
    the renders tell of an RMS detector's timing (detector.timing_heard), which only `style show`
    reads (four renders; the held-out check's style is never shown). Returns the groups."""
    comp, lim = dict(groups["compressor"]), dict(groups["limiter"])
    if len(rows) < 2:
        return groups
    pick = np.unique(np.linspace(0, len(rows) - 1, min(CONSENSUS_PAIRS, len(rows))).round().astype(int))
    use = [(rows[i][0], _subset(rows[i][1], CONSENSUS_EXCERPTS), _subset(rows[i][2], CONSENSUS_EXCERPTS)) for i in pick]
    model = {"groups": groups, "bump_hz": list(BUMP_HZ)}
    bases = [predict(model, fit.descriptors, sample_rate) for fit, _, _ in use]
    fixed = comp["on"]  # the compressor's settings are searched (its lines' values, their slopes kept)
    relative = fixed and comp["threshold"]["reference"] == "mix loudness"
    slopes = [comp["threshold"]["slope"], comp["log_ratio"]["slope"]] if fixed else [0.0, 0.0]

    def crest_offsets(fit) -> list[float]:
        """The pair's crest from the mean the threshold's and the ratio's lines are centred on."""
        return [fit.descriptors["crest"] - comp[key]["x_mean"] for key in ("threshold", "log_ratio")]

    def values(theta, fit, base, slope=None):
        v = dict(base)
        v["limiter.release_ms"] = clip_setting("limiter.release_ms", math.exp(theta[0]), sample_rate)
        v["limiter.ceiling_dbtp"] = clip_setting("limiter.ceiling_dbtp", theta[1], sample_rate)
        if fixed:
            if theta[2] is None:
                v["compressor.ratio"] = 1.0
                return v
            slope = slopes if slope is None else slope
            dx = crest_offsets(fit)
            thr = theta[2] + slope[0] * dx[0] + (fit.descriptors["lufs"] if relative else 0.0)
            v["compressor.threshold_db"] = clip_setting("compressor.threshold_db", thr, sample_rate)
            v["compressor.ratio"] = clip_setting("compressor.ratio", math.exp(theta[3] + slope[1] * dx[1]), sample_rate)
            for i, key in enumerate(("attack_ms", "release_ms")):
                v[f"compressor.{key}"] = clip_setting(f"compressor.{key}", math.exp(theta[4 + i]), sample_rate)
            rms = clip_setting("compressor.rms_ms", math.exp(theta[6]), sample_rate) if len(theta) > 6 else 0.0
            v["compressor.rms_ms"] = rms
        else:
            v["compressor.ratio"] = 1.0
        return v

    distances = [Distance(master.clips, sample_rate) for _, _, master in use]
    # every trial keeps each pair's gain and EQ (the style's): those stages are rendered once
    renders = [ExcerptRenders(base, mix, master) for (_, mix, master), base in zip(use, bases)]

    def cost(theta, slope=None) -> float:
        total = 0.0
        for (fit, _, _), base, distance, render in zip(use, bases, distances, renders):
            total += distance(render(values(theta, fit, base, slope)))
        return total / len(use)

    theta = [math.log(lim["release_ms"]), lim["ceiling_dbtp"]]
    if fixed:
        theta += [
            comp["threshold"]["value"],
            comp["log_ratio"]["value"],
            math.log(comp["attack_ms"]),
            math.log(comp["release_ms"]),
        ]
    cands = [theta] + [[math.log(ms)] + theta[1:] for ms in CONSENSUS_LIMITER_MS]
    scores = [cost(c) for c in cands]
    best_cost, best = min(zip(scores, range(len(cands))))
    best = list(cands[best])
    record = {"medians": scores[0]}
    for above in CONSENSUS_CEILING_DB:  # a limiter's true peaks land a little under its ceiling
        trial = [best[0], theta[1] + above] + best[2:]
        c = cost(trial)
        if c < best_cost:
            best_cost, best = c, trial
    if fixed:  # each pair's compressor, and none
        cands = [best[:2] + [None]]
        for fit, *_ in rows:
            if fit.compressed:  # its reading, as the lines' values at the mean crest
                dx = crest_offsets(fit)
                t = fit.values["compressor.threshold_db"] - (fit.descriptors["lufs"] if relative else 0.0)
                t -= slopes[0] * dx[0]
                r = math.log(fit.values["compressor.ratio"]) - slopes[1] * dx[1]
                timing = [math.log(fit.values[f"compressor.{k}"]) for k in ("attack_ms", "release_ms")]
                cands.append(best[:2] + [t, r] + (timing if fit.timing else best[4:]))
        scores = [cost(c) for c in cands]
        record["no compression"] = scores[0]
        i = int(np.argmin(scores))
        if scores[i] < (1.0 - CONSENSUS_MARGIN) * best_cost:  # the medians, unless clearly worse
            best_cost, best = scores[i], list(cands[i])
    for sweep in range(CONSENSUS_SWEEPS):
        for axis, step in enumerate(CONSENSUS_STEPS[: len(best)]):
            if best[axis] is None or (axis >= 2 and best[2] is None) or (sweep > 0 and axis < 2):
                continue  # the limiter's settings take one sweep, the compressor's two
            for sign in (1.0, -1.0):
                trial = list(best)
                trial[axis] += sign * step * 0.5**sweep
                c = cost(trial)
                if c < best_cost:
                    best_cost, best = c, trial
                    break
    if fixed:  # an RMS detector, from the compressor chosen (or the medians, where none was)
        heard = _heard(use, values, bases, renders)
        peak_heard = heard(best)
        rms_heard, rms_theta = rms_search(heard, best if best[2] is not None else best[:2] + theta[2:])
        record["peak detector, MR-STFT"], record["rms detector, MR-STFT"] = peak_heard, rms_heard
        if rms_heard < (1.0 - CONSENSUS_MARGIN) * peak_heard:
            best, best_cost = rms_theta, cost(rms_theta)
            if probe:
                comp["timing_probes"] = timing_heard(heard, rms_theta, rms_heard)
    record["chosen"] = best_cost
    # stored as rendered (values() clips): a trial over 0 dBTP would otherwise be shown but not used
    lim.update(
        release_ms=clip_setting("limiter.release_ms", math.exp(best[0]), sample_rate),
        ceiling_dbtp=clip_setting("limiter.ceiling_dbtp", best[1], sample_rate),
    )
    if fixed and best[2] is not None and any(slopes):  # the lines must earn their slopes on renders too
        flat = cost(best, [0.0, 0.0])
        record["without slopes"] = flat
        if flat <= (1.0 + CONSENSUS_MARGIN) * best_cost:
            slopes[:] = [0.0, 0.0]
            comp["mode"] = "fixed"
    if fixed:
        if best[2] is None:
            comp["on"] = False
            comp["mode"] = "fixed"
        else:
            comp["threshold"] = dict(comp["threshold"], value=float(best[2]), slope=float(slopes[0]))
            log_ratio = float(min(max(best[3], 0.0), math.log(20.0)))
            comp["log_ratio"] = dict(comp["log_ratio"], value=log_ratio, slope=float(slopes[1]))
            for key, slope in zip(("threshold", "log_ratio"), slopes):
                comp[key]["mode"] = "adaptive" if slope else "fixed"
            comp["attack_ms"], comp["release_ms"] = float(math.exp(best[4])), float(math.exp(best[5]))
            comp["rms_ms"] = clip_setting("compressor.rms_ms", math.exp(best[6]), sample_rate) if len(best) > 6 else 0.0
    comp["consensus"] = record
    return dict(groups, compressor=comp, limiter=lim)
