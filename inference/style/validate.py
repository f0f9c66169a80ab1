"""What a style's numbers may be: a loaded file's style checked before it is used."""

from __future__ import annotations

import math

import numpy as np

from tonematch.data.errors import TonematchError
from tonematch.models.chain import TABLE

from .settings_model import GROUPS, MODEL_VERSION
from .transfer import grid_hz

X_MEAN_LIMIT = 200.0  # a line's average mix: a crest or side level in dB, a loudness in LUFS
CEILING_SLACK_DB = 0.5  # how far past its range an older fit's limiter ceiling was written (consensus's trials)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def _line_problem(line, name: str, low: float, high: float) -> str | None:
    if not isinstance(line, dict) or line.get("mode") not in ("fixed", "adaptive"):
        return f"its {name} is not a fixed or adaptive line"
    for key in ("value", "slope", "x_mean"):
        if not _number(line.get(key)):
            return f"its {name}'s {key} is not a number"
    if not low <= float(line["value"]) <= high or abs(float(line["slope"])) > 10.0:
        return f"its {name} lies outside {low:g} .. {high:g} (or its slope beyond +-10)"
    if abs(float(line["x_mean"])) > X_MEAN_LIMIT:
        return f"its {name}'s average mix is {float(line['x_mean']):.3g}, beyond +-{X_MEAN_LIMIT:g}"
    return None


def settings_problem(model) -> str | None:
    """Why a style file's settings model cannot be used (its shape, numbers and ranges), or None."""
    if not isinstance(model, dict) or model.get("version") != MODEL_VERSION:
        return f"its settings are not version {MODEL_VERSION} settings"
    g = model.get("groups")
    if not isinstance(g, dict) or any(name not in g for name in GROUPS):
        return "its settings lack a group"
    bumps = model.get("bump_hz")
    if not isinstance(bumps, list) or len(bumps) < 2 or not all(_number(b) and 10 < b < 30000 for b in bumps):
        return "its settings' bumps are not frequencies"
    eq, n = g["eq"], len(grid_hz())
    if not isinstance(eq, dict) or eq.get("mode") not in ("fixed", "adaptive", "character"):
        return "its EQ is not fixed, adaptive or character"
    for key, size, low, high in (
        ("curve_db", n, -60.0, 60.0),
        ("weight", n, 0.0, 1.0),
        ("slopes", len(bumps), -10.0, 10.0),
        ("mix_mean", len(bumps), -100.0, 100.0),
    ):
        v = eq.get(key)
        if not isinstance(v, list) or len(v) != size or not all(_number(x) and low <= x <= high for x in v):
            return f"its EQ's {key} is not {size} numbers in {low:g} .. {high:g}"
    values = eq.get("values")
    if not isinstance(values, dict) or any(not str(k).startswith("eq.") for k in values):
        return "its EQ's values are not EQ settings"
    try:
        TABLE.validate(dict(values))
    except Exception as exc:  # noqa: BLE001 - TonematchError names the key
        return f"its EQ: {exc}"
    comp = g["compressor"]
    if not isinstance(comp, dict) or not isinstance(comp.get("on"), bool):
        return "its compressor is not an object saying whether it is on"
    if not _count(comp.get("pairs")) or not (comp.get("reduction_db") is None or _number(comp["reduction_db"])):
        return "its compressor's count of pairs or gain reduction is not a number"
    if comp["on"]:
        if not _count(comp.get("timing_pairs")):
            return "its compressor's count of pairs read for timing is not a count"
        thr = comp.get("threshold")
        bad = _line_problem(thr, "threshold", -100.0, 50.0) or _line_problem(
            comp.get("log_ratio"), "ratio", 0.0, math.log(20.0)
        )
        if bad:
            return bad
        if thr.get("reference") not in ("dBFS", "mix loudness"):
            return "its threshold is neither in dBFS nor relative to the mix's loudness"
        # rms_ms: absent from styles fitted before the RMS detector (peak)
        for key in ("attack_ms", "release_ms", "knee_db") + (("rms_ms",) if "rms_ms" in comp else ()):
            spec = TABLE.by_key[f"compressor.{key}"].spec
            if not _number(comp.get(key)) or not spec.low <= comp[key] <= spec.high:
                return f"its compressor's {key} is not a number in {spec.low:g} .. {spec.high:g}"
        probes = comp.get("timing_probes", {})  # absent from styles fitted before the probes
        if not isinstance(probes, dict) or any(
            k not in ("attack_ms", "release_ms") or not isinstance(v, list) or len(v) != 2 or not all(map(_number, v))
            for k, v in probes.items()
        ):
            return "its compressor's timing probes are not two numbers for the attack and the release"
    bad = _line_problem(g["width"], "width", -40.0, 20.0) or _line_problem(g["loudness"], "loudness", -70.0, 10.0)
    if bad:
        return bad
    if model.get("floor_db") is not None and not _number(model["floor_db"]):
        return "its settings' floor is not a number of dB"
    if not isinstance(model.get("pairs", []), list):
        return "its settings' pairs are not a list"
    lim = g["limiter"]
    if not isinstance(lim, dict) or not _number(lim.get("ceiling_dbtp")) or not _number(lim.get("release_ms")):
        return "its limiter is not a ceiling and a release"
    if not -70.0 <= lim["ceiling_dbtp"] <= 20.0 or not 0.1 <= lim["release_ms"] <= 100000.0:
        return "its limiter's ceiling or release is out of range"
    return _fixed_problem(g)


def _fixed_problem(g: dict) -> str | None:
    """A fixed setting outside the chain's range: a fit reads the chain's settings and never writes
    one (older fits' ceilings may sit CEILING_SLACK_DB past it), so the file was edited, and master
    would clip it silently to something other than `style show` says."""
    lufs, width, ceiling = (
        TABLE.by_key[k].spec for k in ("loudness.target_lufs", "width.width", "limiter.ceiling_dbtp")
    )
    checks = [("limiter's ceiling", g["limiter"]["ceiling_dbtp"], ceiling.low, ceiling.high, CEILING_SLACK_DB, "dBTP")]
    if g["loudness"]["mode"] == "fixed":
        checks.append(("loudness", g["loudness"]["value"], lufs.low, lufs.high, 0.0, "LUFS"))
    if g["width"]["mode"] == "fixed":  # the side's gain in dB; a fit floors the width at 1e-3
        checks.append(("width", g["width"]["value"], -60.0, 20.0 * math.log10(width.high), 0.0, "dB of side"))
    for name, value, low, high, slack, unit in checks:
        if not low - slack <= value <= high + slack:
            return f"its {name} is {value:g} {unit}, outside {low:g} .. {high:.3g} {unit}"
    return None


# What a style's numbers can be. The slopes a are clipped to [0, 1] by the fit; the rest are
# sanity bounds, far wider than any fit gives, that a corrupt or hand-edited file would cross.
_TENSOR_RANGES = {
    "bump_hz": (10.0, 30000.0),
    "tone_a": (0.0, 1.0),
    "tone_c": (-60.0, 60.0),  # dB
    "width_a": (0.0, 1.0),
    "width_c": (-100.0, 100.0),  # side/mid dB
    "scalar_a": (0.0, 1.0),
    "scalar_c": (-200.0, 200.0),  # LU, dB, LUFS intercepts
}
_HABIT_KEYS = ("threshold_rel_lufs", "ratio", "attack_ms", "release_ms", "knee_db", "width", "target_lufs")
_HABIT_OPTIONAL = ("threshold_db", "ceiling_dbtp", "reduction_db")  # may be null
_HABIT_RANGES = {  # mastering clips the compressor's values to the chain's table; these catch corruption
    "threshold_rel_lufs": (-100.0, 100.0),
    "threshold_db": (-200.0, 50.0),
    "ratio": (1.0, 100.0),
    "attack_ms": (0.001, 10000.0),
    "release_ms": (0.1, 100000.0),
    "knee_db": (0.0, 100.0),
    "width": (0.0, 2.0),
    "target_lufs": (-70.0, 10.0),
    "ceiling_dbtp": (-70.0, 20.0),
    "reduction_db": (-100.0, 100.0),
}


def _finite_everywhere(v, where: str) -> str | None:
    """The first non-finite (or non-numeric where a number belongs) value in a card, else None."""
    if isinstance(v, dict):
        for k, x in v.items():
            bad = _finite_everywhere(x, f"{where}.{k}")
            if bad is not None:
                return bad
    elif isinstance(v, list):
        for i, x in enumerate(v):
            bad = _finite_everywhere(x, f"{where}[{i}]")
            if bad is not None:
                return bad
    elif isinstance(v, float) and not math.isfinite(v):
        return f"{where} is {v}"
    return None


def style_problem(style, card: dict) -> str | None:
    """Why a style read from a file cannot be used (shapes, finiteness, ranges of every number in
    its tensors and its card, the habit as the card holds it), or None."""
    k = style.bump_hz.shape
    if len(k) != 1 or k[0] < 2 or style.width_a.shape != style.width_c.shape or style.width_a.ndim != 1:
        return "its tensors have inconsistent shapes"
    if style.scalar_c.shape != (3,):
        return "its tensors have inconsistent shapes"
    for name in _TENSOR_RANGES:
        v = getattr(style, name)
        if not np.isfinite(v).all():
            return f"'{name}' holds non-finite numbers"
        low, high = _TENSOR_RANGES[name]
        if v.size and (v.min() < low or v.max() > high):
            return f"'{name}' holds {float(v[np.argmax((v < low) | (v > high))]):g}, outside {low:g} .. {high:g}"
    if np.any(np.diff(style.bump_hz) <= 0):
        return "'bump_hz' is not increasing"
    bad = _finite_everywhere(card, "card")
    if bad is not None:
        return bad
    if not -70.0 <= style.true_peak_dbtp <= 20.0:
        return f"its true peak {style.true_peak_dbtp:g} dBTP is outside -70 .. 20"
    if not isinstance(style.meta, dict) or not isinstance(style.meta.get("name", ""), str):
        return "its card's meta is not an object with a name"
    bad = meta_problem(style.meta)
    if bad is not None:
        return bad
    if style.settings is not None:
        bad = settings_problem(style.settings)
        if bad is not None:
            return bad
    return habit_problem(card.get("habit"))


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def meta_problem(meta: dict) -> str | None:
    """Why the figures `style show` prints from a card's meta (what it was fitted on, its held-out
    check) cannot be read as such, or None: an edited card is refused, never printed or crashed on."""
    if meta.get("kind") not in ("pairs", "references"):
        return "its card's meta does not say whether it was fitted on pairs or on references"
    for key in ("pairs", "references"):
        if key in meta and not _count(meta[key]):
            return f"its card's {key} is {meta[key]!r}, not a count"
    check = meta.get("check")
    if check is None:
        return None
    if not isinstance(check, dict):
        return "its card's held-out check is not a set of figures"
    figures = [(check.get(k), ("mrstft", "lufs_error", "crest_error")) for k in ("style", "generic")]
    figures += [(check["floor"], ("mrstft",))] if "floor" in check else []
    if not _number(check.get("mrstft_gain")) or any(
        not isinstance(part, dict) or not all(_number(part.get(k)) for k in keys) for part, keys in figures
    ):
        return "its card's held-out check is not a set of figures"
    return None


def habit_problem(h) -> str | None:
    """Why a card's habit object cannot be read into a model.Habit, or None (None: no habit)."""
    if h is None:
        return None
    if not isinstance(h, dict):
        return "its habit is not an object"
    missing = [key for key in _HABIT_KEYS if key not in h]
    if missing:
        return f"its habit lacks {', '.join(missing)}"
    for key, value in h.items():
        if key == "eq":
            if not isinstance(value, dict):
                return "its habit's eq is not an object"
            try:
                TABLE.validate(dict(value))
            except TonematchError as exc:
                return f"its habit's eq: {exc}"
            if any(not str(k).startswith("eq.") for k in value):
                return "its habit's eq names a setting outside the EQ"
            continue
        if key == "timing_pairs":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                return f"its habit's timing_pairs is {value!r}, not a count"
            continue
        if value is None and key in _HABIT_OPTIONAL:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"its habit's {key} is {value!r}, not a number"
        low, high = _HABIT_RANGES.get(key, (-1e6, 1e6))
        if not low <= value <= high:
            return f"its habit's {key} is {value:g}, outside {low:g} .. {high:g}"
    return None
