"""The settings style fitted on identified pairs: per group of settings, how they depend on the mix.

From constant ("my chain": the median of the pairs' settings) to adaptive (settings_model.py's
lines; or, for the EQ, the character model of character_fit.py, which pulls every mix toward
the engineer's balance), whichever predicts the held-out pair best, leave one pair out at a
time; the dynamics' fixed parts are then chosen on exact renders (consensus.py).
"""

from __future__ import annotations

import math

import numpy as np

from .. import character
from .bands import fit_bands
from .character_fit import shrunk_line
from .consensus import consensus
from .identify import PairFit
from .model import BUMP_HZ, bump_basis, project
from .settings_model import (
    MARGIN,
    MIN_ADAPTIVE_PAIRS,
    MODEL_VERSION,
    NOISE,
    adaptive_line,
    bump_grid,
    eq_curve,
    loo_error,
    median,
    relative_tone,
)
from .transfer import grid_hz


def _curve_error(pred: np.ndarray, truth: np.ndarray, weight: np.ndarray) -> float:
    """Weighted mean square (dB^2) of two EQ curves' difference, up to a constant."""
    w = weight / max(float(weight.sum()), 1e-12)
    d = pred - truth
    d = d - np.sum(w * d)
    return float(np.sum(w * d**2))


def _eq_model(fits: list[PairFit], masters_tone: np.ndarray, mode: str, bump_hz) -> dict:
    """An EQ model on these pairs: the median curve plus, per bump, a slope on the mix's own
    balance there ("adaptive": shrunk toward none by leave-one-out; "character": the character
    model's pull, shrunk_line's master = a mix + c, as a change of a - 1 per dB of the mix)."""

    curves = np.array([f.curve_db for f in fits])
    mix = relative_tone([f.descriptors["tone"] for f in fits])  # [n, K]
    basis = bump_grid(bump_hz)
    w = np.median(np.array([f.weight for f in fits]), axis=0)
    sel = w > 0
    coef = np.linalg.lstsq(basis[sel] * np.sqrt(w[sel, None]), (curves[:, sel] * np.sqrt(w[sel])).T, rcond=None)[0].T
    coef = relative_tone(coef)
    slopes = np.zeros(mix.shape[1])
    if mode == "adaptive":
        for k in range(mix.shape[1]):
            line = adaptive_line(mix[:, k], coef[:, k], NOISE["eq"])
            slopes[k] = line["slope"]
    elif mode == "character":
        masters = relative_tone(masters_tone)
        for k in range(mix.shape[1]):
            a, _, _ = shrunk_line(mix[:, k], masters[:, k])
            slopes[k] = a - 1.0
    mean = mix.mean(axis=0)
    return {
        "mode": mode,
        "curve_db": np.median(curves - (basis @ (slopes[None] * (mix - mean)).T).T, axis=0),
        "weight": w,
        "slopes": slopes,
        "mix_mean": mean,
    }


def _choose_eq(fits: list[PairFit], masters_tone: np.ndarray, bump_hz) -> tuple[dict, dict]:
    """(the EQ model the pairs prefer, leave-one-out error per mode, dB^2)."""
    n = len(fits)
    modes = ("fixed", "adaptive", "character") if n >= MIN_ADAPTIVE_PAIRS else ("fixed",)
    errors = {}
    for mode in modes:
        err = 0.0
        for i in range(n):
            keep = [j for j in range(n) if j != i]
            m = _eq_model([fits[j] for j in keep], masters_tone[keep], mode, bump_hz)
            err += _curve_error(eq_curve(m, fits[i].descriptors["tone"], bump_hz), fits[i].curve_db, m["weight"])
        errors[mode] = err / n
    best = "fixed"
    for mode in modes[1:]:
        better = errors[mode] < (1.0 - MARGIN) * errors["fixed"] and errors["fixed"] - errors[mode] > NOISE["eq"] ** 2
        if better and errors[mode] < errors[best]:
            best = mode
    return _eq_model(fits, masters_tone, best, bump_hz), errors


def _compressor_model(on: list[PairFit], pairs: int) -> dict:
    """The compressor: on where most pairs compress. Its threshold fixed in dBFS, or relative to
    the mix's loudness (fixed there, or following the mix's crest), whichever predicts held-out
    pairs best; the ratio fixed or following the crest; attack and release the medians of the
    pairs whose timing was read; the knee as read."""
    comp: dict = {"on": len(on) * 2 > pairs, "pairs": len(on), "mode": "fixed"}
    if not comp["on"]:
        return comp
    n = len(on)
    thr = np.array([f.values["compressor.threshold_db"] for f in on])
    lufs = np.array([f.descriptors["lufs"] for f in on])
    crest = np.array([f.descriptors["crest"] for f in on])
    rel = adaptive_line(crest, thr - lufs, NOISE["threshold"])
    if n >= 3:
        e_abs = loo_error(np.zeros(n), thr, None) / n
        e_rel = rel["loo"]["adaptive"] if rel["mode"] == "adaptive" else loo_error(crest, thr - lufs, None) / n
    else:
        e_abs, e_rel = math.inf, 0.0
    if e_abs < e_rel:
        threshold = {"mode": "fixed", "value": median(thr), "slope": 0.0, "x_mean": 0.0, "reference": "dBFS"}
    else:
        threshold = dict(rel, reference="mix loudness")
    threshold["loo"] = {"dBFS": e_abs, "mix loudness": e_rel}
    ratio = adaptive_line(crest, np.log([f.values["compressor.ratio"] for f in on]), NOISE["log_ratio"])
    timed = [f for f in on if f.timing]
    reductions = [f.reduction_db for f in on if math.isfinite(f.reduction_db)]

    def timing(name: str, default: float) -> float:
        return float(np.exp(median(np.log([f.values[name] for f in timed])))) if timed else default

    comp.update(
        {
            "threshold": threshold,
            "log_ratio": ratio,
            "knee_db": median([f.values["compressor.knee_db"] for f in on]),
            "timing_pairs": len(timed),
            "attack_ms": timing("compressor.attack_ms", 10.0),
            "release_ms": timing("compressor.release_ms", 150.0),
            # what the engineer's compressor took off, read from the masters: comparable across designs
            "reduction_db": median(reductions) if reductions else None,
            "mode": "adaptive" if "adaptive" in (threshold["mode"], ratio["mode"]) else "fixed",
        }
    )
    return comp


def fit_model(fits: list[PairFit], masters_tone, sample_rate: int, names=None, audio=None, probe=True) -> dict:
    """The settings style of identified pairs (JSON-ready: lists and floats); `probe` as consensus takes it."""
    bump_hz = BUMP_HZ
    masters_tone = np.asarray(masters_tone, np.float64)
    groups: dict = {}
    eq, eq_errors = _choose_eq(fits, masters_tone, bump_hz)
    fixed_values, fixed_error = fit_bands(eq["curve_db"], eq["weight"], grid_hz(), sample_rate, prune=True)
    groups["eq"] = {
        "mode": eq["mode"],
        "curve_db": eq["curve_db"].tolist(),
        "weight": eq["weight"].tolist(),
        "slopes": eq["slopes"].tolist(),
        "mix_mean": eq["mix_mean"].tolist(),
        "values": {k: float(v) for k, v in fixed_values.items()},
        "fit_error_db": fixed_error,
        "loo": eq_errors,
    }
    on = [f for f in fits if f.compressed]
    groups["compressor"] = _compressor_model(on, len(fits))
    width_db = [20.0 * math.log10(max(f.values["width.width"], 1e-3)) for f in fits]
    groups["width"] = adaptive_line([f.descriptors["width_db"] for f in fits], width_db, NOISE["width_db"])
    groups["loudness"] = adaptive_line(
        [f.descriptors["lufs"] for f in fits], [f.values["loudness.target_lufs"] for f in fits], NOISE["loudness"]
    )
    groups["limiter"] = {
        "mode": "fixed",
        "ceiling_dbtp": median([f.values["limiter.ceiling_dbtp"] for f in fits]),
        "release_ms": float(np.exp(median(np.log([f.values["limiter.release_ms"] for f in fits])))),
    }
    if audio is not None:
        rows = [(f, mix, master) for f, (mix, master) in zip(fits, audio)]
        groups = consensus(groups, rows, sample_rate, probe)
    floors = [f.floor_db for f in fits if math.isfinite(f.floor_db)]
    return {
        "version": MODEL_VERSION,
        "sample_rate": int(sample_rate),
        "bump_hz": [float(f) for f in bump_hz],
        "groups": groups,
        "pairs": [
            {"name": str(name), "floor_db": f.floor_db, "eq_error_db": f.eq_error_db}
            for name, f in zip(names or [f"pair {i + 1}" for i in range(len(fits))], fits)
        ],
        "floor_db": float(np.mean(floors)) if floors else None,
    }


def master_tone(p) -> np.ndarray:
    """The master's tonal balance in the style's bumps (what the character model reads)."""
    sr = p.master.sample_rate
    centres = character.band_centres(sr)
    return project(p.master_char["tone"], centres, bump_basis(centres, BUMP_HZ), sr)[0]


def attach(fitted, data: list, probe: bool = True) -> None:
    """Fit the settings style of identified pairs (pair.PairData with `fit`) onto a model.Style;
    `probe` as consensus takes it."""
    rows = [p for p in data if getattr(p, "fit", None) is not None]
    if not rows:
        return
    fitted.settings = fit_model(
        [p.fit for p in rows],
        [master_tone(p) for p in rows],
        rows[0].mix.sample_rate,
        [p.name for p in rows],
        [(p.mix, p.master) for p in rows],
        probe,
    )
