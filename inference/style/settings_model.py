"""The settings style's model: each setting fixed or a line on one descriptor of the mix, and the
settings it predicts for a new mix.

A line is fixed (the median of the pairs' readings) or adaptive (a ridge line on a descriptor:
the mix's own balance for each EQ region, its loudness for the threshold and loudness, its
crest for the ratio, its width for the width), whichever predicts the held-out pair best, leave
one pair out at a time (settings_fit.py chooses).
"""

from __future__ import annotations

import math

import numpy as np

from .bands import fit_bands
from .identify import clip_setting
from .model import bump_basis
from .transfer import grid_hz

MODEL_VERSION = 1
SHRINK = (0.0, 0.3, 1.0, 3.0)  # an adaptive line's slope is the OLS slope / (1 + g), g by leave-one-out
MARGIN = 0.15  # an adaptive model must predict the held-out pairs this much better (relative) than fixed
MIN_ADAPTIVE_PAIRS = 5  # fewer pairs: every group fixed (a line on four points says little)
GROUPS = ("eq", "compressor", "width", "loudness", "limiter")
MID_BUMPS = (2, 3, 4)  # the bumps at 254 Hz, 640 Hz and 1.6 kHz: the mids a balance is heard against
# What a setting's reading varies by anyway: an adaptive line must predict better than this
# (per pair, RMS) to be kept; within it the setting is fixed.
NOISE = {"eq": 0.1, "threshold": 0.5, "log_ratio": 0.05, "width_db": 0.1, "loudness": 0.1}


def median(values) -> float:
    return float(np.median(np.asarray(values, np.float64)))


def _line(x: np.ndarray, y: np.ndarray, g: float) -> tuple[float, float, float]:
    """(slope, x mean, intercept): y ~ intercept + slope (x - x mean), the slope OLS / (1 + g), the
    intercept the median residual (one misread pair moves it little)."""
    xm = float(x.mean())
    sxx = float(((x - xm) ** 2).sum())
    slope = 0.0 if sxx < 1e-9 else float(((x - xm) * (y - y.mean())).sum() / (sxx * (1.0 + g)))
    return slope, xm, median(y - slope * (x - xm))


def loo_error(x: np.ndarray, y: np.ndarray, g: float | None) -> float:
    """Leave-one-out squared error of the line with shrinkage g (None: the median, fixed)."""
    n, err = len(y), 0.0
    for i in range(n):
        keep = np.arange(n) != i
        if g is None:
            pred = median(y[keep])
        else:
            slope, xm, c = _line(x[keep], y[keep], g)
            pred = c + slope * (x[i] - xm)
        err += float((pred - y[i]) ** 2)
    return err


def adaptive_line(x, y, noise: float = 0.0) -> dict:
    """A setting y (per pair) as a function of one mix descriptor x: fixed (the median) or a line,
    whichever predicts held-out pairs better (leave one out; the line must win by MARGIN, and by
    more than `noise`^2 per pair: a setting that hardly varies is fixed)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    fixed = {"mode": "fixed", "value": median(y), "slope": 0.0, "x_mean": float(x.mean()) if x.size else 0.0}
    if len(y) < MIN_ADAPTIVE_PAIRS:
        fixed["loo"] = {"fixed": None, "adaptive": None}
        return fixed
    e_fixed = loo_error(x, y, None)
    e_best, g_best = min((loo_error(x, y, g), g) for g in SHRINK)
    fixed["loo"] = {"fixed": e_fixed / len(y), "adaptive": e_best / len(y)}
    if e_best >= (1.0 - MARGIN) * e_fixed or e_fixed - e_best <= len(y) * noise**2:
        return fixed
    slope, xm, c = _line(x, y, g_best)
    return {"mode": "adaptive", "value": c, "slope": slope, "x_mean": xm, "loo": fixed["loo"]}


def line_value(line: dict, x: float) -> float:
    if line["mode"] == "fixed":  # as `style show` says it: a fit writes no slope on a fixed line
        return float(line["value"])
    return float(line["value"] + line["slope"] * (x - line["x_mean"]))


def bump_grid(bump_hz) -> np.ndarray:
    """[G, K] the style's bumps on the EQ grid."""
    return bump_basis(grid_hz(), bump_hz)


def relative_tone(tone) -> np.ndarray:
    """Bump coefficients [..., K] relative to the mids (the mean of MID_BUMPS): a balance as an
    engineer hears it (bass and treble against the mids), and an EQ curve known up to a constant."""
    tone = np.asarray(tone, np.float64)
    return tone - tone[..., MID_BUMPS].mean(axis=-1, keepdims=True)


def eq_curve(model: dict, tone, bump_hz) -> np.ndarray:
    """The EQ curve (dB on the grid) an EQ model gives a mix of tonal balance `tone` (bumps)."""
    basis = bump_grid(bump_hz)
    return np.asarray(model["curve_db"]) + basis @ (
        np.asarray(model["slopes"]) * (relative_tone(tone) - np.asarray(model["mix_mean"]))
    )


def beyond_rate(eq_values: dict, sample_rate: int) -> bool:
    """Whether an EQ band that does something sits above what `sample_rate` allows."""
    return any(
        key.endswith(".freq_hz")
        and clip_setting(key, value, sample_rate) < value
        and eq_values.get(key.replace(".freq_hz", ".gain_db"), 0.0) != 0.0
        for key, value in eq_values.items()
    )


def _fit_below_top(curve: np.ndarray, weight, sample_rate: int) -> dict:
    """The chain's bands fitted to an EQ curve on the grid up to 0.45 x the rate (above it, nothing
    to hear)."""
    weight = np.asarray(weight, np.float64).copy()
    weight[grid_hz() > 0.45 * sample_rate] = 0.0
    return fit_bands(curve, weight, grid_hz(), sample_rate, prune=True)[0]


def predict(model: dict, descriptors: dict, sample_rate: int, eq_only: bool = False) -> dict:
    """The chain's settings (engineer's units, every key of the table) the style sets for a mix
    of these descriptors (mix_descriptors); `eq_only`: the fixed EQ, width and limiter only (the
    compressor off, the loudness the table's default)."""
    from tonematch.models.chain.settings import Settings

    g = model["groups"]
    values = Settings.defaults(sample_rate).values
    eq = g["eq"]
    if eq_only:
        values.update(eq["values"])
        values["width.width"] = 10.0 ** (g["width"]["value"] / 20.0)
        values["limiter.ceiling_dbtp"] = g["limiter"]["ceiling_dbtp"]
        values["limiter.release_ms"] = g["limiter"]["release_ms"]
        return {k: clip_setting(k, v, sample_rate) for k, v in values.items()}
    if eq["mode"] == "fixed":
        values.update(eq["values"])
        if "curve_db" in eq and beyond_rate(eq["values"], sample_rate):
            # a band the rate cannot hold would move to its top at full gain: the curve is refitted below
            values.update(_fit_below_top(np.asarray(eq["curve_db"]), eq["weight"], sample_rate))
    else:
        curve = eq_curve(eq, descriptors["tone"], model["bump_hz"])
        values.update(_fit_below_top(curve, eq["weight"], sample_rate))
    comp = g["compressor"]
    if comp["on"]:
        thr = comp["threshold"]
        threshold = line_value(thr, descriptors["crest"])
        if thr["reference"] == "mix loudness":
            threshold += descriptors["lufs"]
        values["compressor.threshold_db"] = threshold
        values["compressor.ratio"] = math.exp(line_value(comp["log_ratio"], descriptors["crest"]))
        for name in ("attack_ms", "release_ms", "knee_db"):
            values[f"compressor.{name}"] = comp[name]
        values["compressor.rms_ms"] = comp.get("rms_ms", 0.0)  # styles fitted before it: peak
    values["width.width"] = 10.0 ** (line_value(g["width"], descriptors["width_db"]) / 20.0)
    values["loudness.target_lufs"] = line_value(g["loudness"], descriptors["lufs"])
    values["limiter.ceiling_dbtp"] = g["limiter"]["ceiling_dbtp"]
    values["limiter.release_ms"] = g["limiter"]["release_ms"]
    return {k: clip_setting(k, v, sample_rate) for k, v in values.items()}
