"""`.tmstyle` files: one safetensors file, the style's numbers as tensors, its card as JSON metadata.

safetensors holds raw little-endian tensors behind a JSON header (whose `__metadata__` is a
string -> string map); reading one never runs code, unlike pickle. The card (name, base version,
pairs, fit figures, the settings the style tends toward) is one JSON string in that metadata,
and a SHA-256 over the tensor bytes catches a corrupt file that still parses. A style made for
another base (the character measurement or the chain's parameters changed) or another format
version is refused with one line, as is a file that is not a style at all. Format 3 adds the
settings style (inference/style_settings.py: the engineer's chain per group, fixed or adaptive)
to the card; a format-2 file (character lines only) still loads and masters as before.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

from tonematch.data.atomic import write_atomic
from tonematch.data.errors import TonematchError

FORMAT = "tonematch-style"
FORMAT_VERSION = "3"  # 1 was the embedding style of models/files.py; 3 adds the settings style
READS = ("2", "3")  # 2: a style of character lines only (before the settings style): it loads as such
SUFFIX = ".tmstyle"
TENSORS = ("bump_hz", "tone_a", "tone_c", "width_a", "width_c", "scalar_a", "scalar_c")
CHARACTER_VERSION = "1"  # inference/character.py's measurement, as a style reads it


def base_version() -> str:
    """What a style's numbers mean something to: the character measurement and the chain's table."""
    from tonematch.models.chain import TABLE

    h = hashlib.sha256("\n".join(TABLE.learned_keys).encode()).hexdigest()[:12]
    return f"character-{CHARACTER_VERSION}/chain-{h}"


def _digest(tensors: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in TENSORS:
        h.update(name.encode())
        h.update(np.ascontiguousarray(tensors[name], dtype="<f8").tobytes())
    return h.hexdigest()


def _clean(v):
    """JSON-safe copy: numpy scalars to floats, non-finite numbers to None."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def save_style(style, path, replace: bool = True) -> Path:
    """Write `style` (inference.style.Style) to `path` atomically (the suffix .tmstyle is added if
    missing); replace=False never replaces an existing file (data.atomic.place)."""
    from safetensors.numpy import save_file

    path = Path(path)
    if path.suffix != SUFFIX:
        path = path.with_name(path.name + SUFFIX)
    arrays = {name: np.asarray(getattr(style, name), dtype=np.float64) for name in TENSORS}
    card = {
        "meta": _clean(dict(style.meta, base=base_version())),
        "habit": _clean(style.habit),
        "true_peak_dbtp": float(style.true_peak_dbtp),
        "settings": _clean(style.settings),
    }
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "base": base_version(),
        "card": json.dumps(card, allow_nan=False),
        "sha256": _digest(arrays),
    }
    tensors = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda tmp: save_file(tensors, tmp, metadata=metadata), replace=replace)
    return path


def load_style(path):
    """Read a .tmstyle file -> inference.style.Style; anything wrong is one TonematchError line."""
    from safetensors import safe_open

    from tonematch.inference.style import Style

    path = Path(path)
    if not path.is_file():
        raise TonematchError(f"style file not found: {path}")
    try:
        with safe_open(str(path), framework="numpy") as f:
            metadata = f.metadata() or {}
            names = set(f.keys())
            arrays = {name: f.get_tensor(name) for name in names & set(TENSORS)}
    except Exception as exc:  # noqa: BLE001 - safetensors raises several kinds on a bad file
        detail = " ".join(str(exc).split())[:120]
        raise TonematchError(f"'{path}' is not a readable style file (corrupt or truncated?): {detail}") from None
    if metadata.get("format") != FORMAT:
        raise TonematchError(f"'{path}' is not a tonematch style file")
    if metadata.get("format_version") not in READS:
        raise TonematchError(
            f"'{path}' is a style of format version {metadata.get('format_version')!r}; this "
            f"tonematch reads versions {' and '.join(READS)}: fit it again"
        )
    if metadata.get("base") != base_version():
        raise TonematchError(
            f"'{path}' was fitted for another base version ({metadata.get('base')}; this tonematch "
            f"is {base_version()}): fit it again from your pairs"
        )
    missing = [n for n in TENSORS if n not in names]
    if missing:
        raise TonematchError(f"'{path}' is an incomplete style file (no {', '.join(missing)})")
    if _digest(arrays) != metadata.get("sha256"):
        raise TonematchError(f"'{path}' is corrupt: its numbers do not match their checksum")
    try:
        card = json.loads(metadata["card"], parse_constant=_no_constant)
        k = arrays["bump_hz"].shape
        if arrays["tone_a"].shape != k or arrays["tone_c"].shape != k or arrays["scalar_a"].shape != (3,):
            raise ValueError("tensor shapes disagree")
        style = Style(
            **{n: np.asarray(arrays[n], dtype=np.float64) for n in TENSORS},
            true_peak_dbtp=float(card["true_peak_dbtp"]),
            habit=card.get("habit"),
            settings=card.get("settings") if metadata["format_version"] != "2" else None,
            meta=card.get("meta") or {},
        )
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
        raise TonematchError(f"'{path}' has an unreadable style card: {' '.join(str(exc).split())}") from None
    problem = _invalid(style, card)
    if problem is not None:
        raise TonematchError(f"'{path}' is not a usable style: {problem}")
    return style


def _no_constant(name: str):
    raise ValueError(f"the card holds {name}, which is not a number a style can use")


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


def _invalid(style, card: dict) -> str | None:
    """Why `style` cannot be used (shapes, finiteness, ranges of every number), or None."""
    k = style.bump_hz.shape
    if len(k) != 1 or k[0] < 2 or style.width_a.shape != style.width_c.shape or style.width_a.ndim != 1:
        return "its tensors have inconsistent shapes"
    if style.scalar_c.shape != (3,):
        return "its tensors have inconsistent shapes"
    for name in TENSORS:
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
    if style.settings is not None:
        from tonematch.inference.style_settings import problem

        bad = problem(style.settings)
        if bad is not None:
            return bad
    h = style.habit
    if h is None:
        return None
    if not isinstance(h, dict):
        return "its habit is not an object"
    missing = [key for key in _HABIT_KEYS if key not in h]
    if missing:
        return f"its habit lacks {', '.join(missing)}"
    from tonematch.models.chain import TABLE

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
        if value is None and key == "reduction_db":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"its habit's {key} is {value!r}, not a number"
        low, high = _HABIT_RANGES.get(key, (-1e6, 1e6))
        if not low <= value <= high:
            return f"its habit's {key} is {value:g}, outside {low:g} .. {high:g}"
    return None
