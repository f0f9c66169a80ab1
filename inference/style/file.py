"""`.tmstyle` files: one safetensors file, the style's numbers as tensors, its card as JSON metadata.

safetensors holds raw little-endian tensors behind a JSON header (whose `__metadata__` is a
string -> string map); reading one never runs code, unlike pickle. The card (name, base version,
pairs, fit figures, the settings the style tends toward) is one JSON string in that metadata,
and a SHA-256 over the tensor bytes catches a corrupt file that still parses. A style made for
another base (the character measurement or the chain's parameters changed) or another format
version is refused with one line, as is a file that is not a style at all, or one whose numbers
no fit gives (validate.py). Format 3 adds the settings style (settings_fit.py: the engineer's
chain per group, fixed or adaptive) to the card; a format-2 file (character lines only) still
loads and masters as before.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

from tonematch.data.atomic import write_atomic
from tonematch.data.errors import TonematchError

from .model import Habit, Style
from .validate import style_problem

FORMAT = "tonematch-style"
FORMAT_VERSION = "3"  # 1 was the embedding style of models/files.py; 3 adds the settings style
READS = ("2", "3")  # 2: a style of character lines only (before the settings style): it loads as such
SUFFIX = ".tmstyle"
TENSORS = ("bump_hz", "tone_a", "tone_c", "width_a", "width_c", "scalar_a", "scalar_c")
CHARACTER_VERSION = "1"  # inference/character.py's measurement, as a style reads it
FORMAT_VERSION_WITHOUT_SETTINGS = "2"
MAX_CARD_DEPTH = 32  # a fitted card nests 6 levels; a deeper one is hostile (reading it recurses per level)
MAX_INT_DIGITS = 15  # a card's counts and figures; a longer integer overflows a float


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


def json_safe(v):
    """JSON-safe copy: numpy scalars to floats, non-finite numbers to None."""
    if isinstance(v, dict):
        return {str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def card_of(style: Style) -> dict:
    """The style's card as the file holds it (JSON-safe); `style show --json` prints it too, so
    the two cannot drift apart."""
    return {
        "meta": json_safe(dict(style.meta, base=base_version())),
        "habit": json_safe(style.habit.to_dict() if style.habit is not None else None),
        "true_peak_dbtp": float(style.true_peak_dbtp),
        "settings": json_safe(style.settings),
    }


def style_object_problem(style: Style) -> str | None:
    """Why a Style object (fitted, loaded, or edited in Python) cannot master, as load_style would
    refuse its file, or None: checked on its card as the file would hold it (non-finite numbers
    become null there, and are refused as not numbers)."""
    from dataclasses import replace as copy

    card = card_of(style)
    return style_problem(copy(style, settings=card["settings"], meta=card["meta"]), card)


def save_style(style: Style, path, replace: bool = True) -> Path:
    """Write `style` to `path` atomically (the suffix .tmstyle is added if
    missing); replace=False never replaces an existing file (data.atomic.place)."""
    from safetensors.numpy import save_file

    path = Path(path)
    if path.suffix != SUFFIX:
        path = path.with_name(path.name + SUFFIX)
    arrays = {name: np.asarray(getattr(style, name), dtype=np.float64) for name in TENSORS}
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "base": base_version(),
        "card": json.dumps(card_of(style), allow_nan=False),
        "sha256": _digest(arrays),
    }
    tensors = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda tmp: save_file(tensors, tmp, metadata=metadata), replace=replace)
    return path


def load_style(path) -> Style:
    """Read a .tmstyle file; anything wrong is one TonematchError line."""
    from safetensors import safe_open

    path = Path(path)
    if path.is_dir():
        raise TonematchError(f"cannot read '{path}': it is a folder, not a style file")
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
        card = _parse_card(metadata["card"])
        k = arrays["bump_hz"].shape
        if arrays["tone_a"].shape != k or arrays["tone_c"].shape != k or arrays["scalar_a"].shape != (3,):
            raise ValueError("tensor shapes disagree")
        style = Style(
            **{n: np.asarray(arrays[n], dtype=np.float64) for n in TENSORS},
            true_peak_dbtp=_float(card["true_peak_dbtp"], "true peak"),
            settings=card.get("settings") if metadata["format_version"] != FORMAT_VERSION_WITHOUT_SETTINGS else None,
            meta=card.get("meta") or {},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TonematchError(f"'{path}' has an unreadable style card: {' '.join(str(exc).split())}") from None
    problem = style_problem(style, card)
    if problem is not None:
        raise TonematchError(f"'{path}' is not a usable style: {problem}")
    if card.get("habit") is not None:
        style.habit = Habit.from_dict(card["habit"])
    return style


def _no_constant(name: str):
    raise ValueError(f"the card holds {name}, which is not a number a style can use")


def _no_huge_int(text: str) -> int:
    # float() of a longer integer overflows where the card's numbers are read
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"the card holds an integer of {len(text)} digits, which is not a number a style can use")
    return int(text)


def _parse_card(text: str):
    """The card's JSON object, refused (ValueError) where it nests deeper than a style's card
    does: reading, checking and printing it recurse once per level."""
    try:
        card = json.loads(text, parse_constant=_no_constant, parse_int=_no_huge_int)
    except RecursionError:
        raise ValueError(f"the card nests deeper than {MAX_CARD_DEPTH} levels") from None
    if not isinstance(card, dict):
        raise ValueError("the card is not a JSON object")
    stack = [(card, 1)]
    while stack:  # containers only, level by level, without recursing
        v, depth = stack.pop()
        if depth > MAX_CARD_DEPTH:
            raise ValueError(f"the card nests deeper than {MAX_CARD_DEPTH} levels")
        inner = v.values() if isinstance(v, dict) else v
        stack.extend((x, depth + 1) for x in inner if isinstance(x, (dict, list)))
    return card


def _float(v, what: str) -> float:
    """A card's number as a float; a string, a boolean or null is refused, never converted."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"its {what} is {v!r}, not a number")
    return float(v)
