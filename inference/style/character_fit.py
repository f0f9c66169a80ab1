"""Fitting a style of character (model.py) from analysed pairs or from finished masters.

The shrinkage of each line is chosen by leave-one-out error over a small grid, so with a handful
of pairs the style falls back to "the engineer's average" and learns the slope only when the
pairs show it.
"""

from __future__ import annotations

import math

import numpy as np

from tonematch.data.errors import TonematchError

from .. import character
from ..inputs import Analysis, played_lufs
from .model import BUMP_HZ, SCALARS, Style, bump_basis, project
from .pair import PairData

SHRINK_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, math.inf)  # a = OLS slope / (1 + g); inf: a = 0


def shrunk_line(x, y) -> tuple[float, float, float]:
    """(a, c, g): y ~ a x + c with a = clip(OLS slope / (1 + g), 0, 1), g by leave-one-out error."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = x.size

    def fit(xs, ys, g):
        xm, ym = xs.mean(), ys.mean()
        sxx = float(((xs - xm) ** 2).sum())
        a = (
            0.0
            if (math.isinf(g) or sxx < 1e-9)
            else float(np.clip(((xs - xm) * (ys - ym)).sum() / (sxx * (1 + g)), 0, 1))
        )
        return a, ym - a * xm

    if n < 3:
        return 0.0, float(y.mean()), math.inf
    best = None
    for g in reversed(SHRINK_GRID):  # most shrinkage first: it wins ties
        err = 0.0
        for i in range(n):
            keep = np.arange(n) != i
            a, c = fit(x[keep], y[keep], g)
            err += (a * x[i] + c - y[i]) ** 2
        if best is None or err < best[0] - 1e-12:
            best = (err, g)
    a, c = fit(x, y, best[1])
    return a, float(c), best[1]


def fit_style(data: list[PairData], name: str = "style") -> Style:
    """A style of character lines from analysed pairs."""
    if not data:
        raise TonematchError("no usable pairs to fit a style on")
    k = len(BUMP_HZ)
    tone_mix, tone_master = [], []
    for p in data:
        sr = p.mix.sample_rate
        centres = character.band_centres(sr)
        basis = bump_basis(centres, BUMP_HZ)
        tone_mix.append(project(p.mix_char["tone"], centres, basis, sr)[0])
        tone_master.append(project(p.master_char["tone"], centres, basis, sr)[0])
    tone_mix, tone_master = np.array(tone_mix), np.array(tone_master)
    lines = [shrunk_line(tone_mix[:, j], tone_master[:, j]) for j in range(k)]
    stereo = [p for p in data if p.mix_char["width"].size and p.master_char["width"].size]
    if stereo:
        wm = np.array([p.mix_char["width"] for p in stereo]).clip(-40, 20)
        ws = np.array([p.master_char["width"] for p in stereo]).clip(-40, 20)
        wlines = [shrunk_line(wm[:, j], ws[:, j]) for j in range(wm.shape[1])]
    else:
        wlines = [(1.0, 0.0, 0.0)] * 4
    mixes = {
        "spread": [float(p.mix_char["spread"]) for p in data],
        "crest": [float(p.mix_char["crest"]) for p in data],
        "lufs": [float(played_lufs(p.mix)) if p.mix.lufs is not None else float(p.mix_char["lufs"]) for p in data],
    }
    masters = {
        "spread": [float(p.master_char["spread"]) for p in data],
        "crest": [float(p.master_char["crest"]) for p in data],
        "lufs": [float(p.played_master_lufs()) for p in data],
    }
    slines = [shrunk_line(mixes[n], masters[n]) for n in SCALARS]
    return Style(
        bump_hz=np.array(BUMP_HZ),
        tone_a=np.array([a for a, _, _ in lines]),
        tone_c=np.array([c for _, c, _ in lines]),
        width_a=np.array([a for a, _, _ in wlines]),
        width_c=np.array([c for _, c, _ in wlines]),
        scalar_a=np.array([a for a, _, _ in slines]),
        scalar_c=np.array([c for _, c, _ in slines]),
        true_peak_dbtp=float(np.mean([p.master.true_peak_dbtp for p in data])),
        meta={"name": name, "pairs": len(data), "kind": "pairs", "pair_names": [p.name for p in data]},
    )


def style_from_references(masters: list[Analysis], name: str = "style") -> Style:
    """A style from masters alone: the target is their average character (every a = 0)."""
    if not masters:
        raise TonematchError("no reference masters to make a style from")
    k = len(BUMP_HZ)
    coefs, widths, spreads, crests = [], [], [], []
    for m in masters:
        c = character.character_of(m.clips, m.sample_rate, m.true_peak_ratio)
        centres = character.band_centres(m.sample_rate)
        coefs.append(project(c["tone"], centres, bump_basis(centres, BUMP_HZ), m.sample_rate)[0])
        if c["width"].size:
            widths.append(c["width"].clip(-40, 20))
        spreads.append(float(c["spread"]))
        crests.append(float(c["crest"]))
    lufs = [played_lufs(m) for m in masters if m.lufs is not None]
    if not lufs:
        raise TonematchError("the reference masters are silent")
    return Style(
        bump_hz=np.array(BUMP_HZ),
        tone_a=np.zeros(k),
        tone_c=np.mean(coefs, axis=0),
        width_a=np.zeros(4) if widths else np.ones(4),
        width_c=np.mean(widths, axis=0) if widths else np.zeros(4),
        scalar_a=np.zeros(3),
        scalar_c=np.array([np.mean(spreads), np.mean(crests), np.mean(lufs)]),
        true_peak_dbtp=float(np.mean([m.true_peak_dbtp for m in masters])),
        habit=None,
        meta={"name": name, "pairs": 0, "references": len(masters), "kind": "references"},
    )
