"""`.tmstyle` files: one safetensors file, the style's numbers as tensors, its card as JSON metadata.

safetensors holds raw little-endian tensors behind a JSON header (whose `__metadata__` is a
string -> string map); reading one never runs code, unlike pickle. The card (name, base version,
pairs, fit figures, the settings the style tends toward) is one JSON string in that metadata,
and a SHA-256 over the tensor bytes catches a corrupt file that still parses. A style made for
another base (the character measurement or the chain's parameters changed) or another format
version is refused with one line, as is a file that is not a style at all.
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
FORMAT_VERSION = "2"  # 1 was the embedding style of models/files.py
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


def save_style(style, path) -> Path:
    """Write `style` (inference.style.Style) to `path` atomically (the suffix .tmstyle is added if missing)."""
    from safetensors.numpy import save_file

    path = Path(path)
    if path.suffix != SUFFIX:
        path = path.with_name(path.name + SUFFIX)
    arrays = {name: np.asarray(getattr(style, name), dtype=np.float64) for name in TENSORS}
    card = {
        "meta": _clean(dict(style.meta, base=base_version())),
        "habit": _clean(style.habit),
        "true_peak_dbtp": float(style.true_peak_dbtp),
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
    write_atomic(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))
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
    if metadata.get("format_version") != FORMAT_VERSION:
        raise TonematchError(
            f"'{path}' is a style of format version {metadata.get('format_version')!r}; this "
            f"tonematch reads version {FORMAT_VERSION}: fit it again"
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
        card = json.loads(metadata["card"])
        k = arrays["bump_hz"].shape
        if arrays["tone_a"].shape != k or arrays["tone_c"].shape != k or arrays["scalar_a"].shape != (3,):
            raise ValueError("tensor shapes disagree")
        style = Style(
            **{n: np.asarray(arrays[n], dtype=np.float64) for n in TENSORS},
            true_peak_dbtp=float(card["true_peak_dbtp"]),
            habit=card.get("habit"),
            meta=card.get("meta") or {},
        )
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
        raise TonematchError(f"'{path}' has an unreadable style card: {exc}") from None
    if not all(np.isfinite(getattr(style, n)).all() for n in TENSORS):
        raise TonematchError(f"'{path}' holds non-finite numbers")
    return style
