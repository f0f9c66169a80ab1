"""Settings: the object the network outputs, `refine` adjusts, the JSON holds and `render` reads.

JSON (physical values, engineer's units, one object per processor, in chain order):
  {"tonematch_version": "0.1.0", "sample_rate": 44100,
   "chain": [{"processor": "gain", "gain_db": 0.0},
             {"processor": "eq", "highpass": {"freq_hz": 30.0, "q": 0.707}, "low_shelf": {...}},
             {"processor": "compressor", "threshold_db": -18.0, ...}, ...],
   "source": {"model": "...", "reference": "..."}}
Any processor or EQ band may carry `"enabled": false` (bypass). Missing values take defaults.
Floats are written with full precision, so a file round-trips exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tonematch import __version__
from tonematch.data.atomic import write_atomic
from tonematch.data.errors import TonematchError

from . import match_eq
from .chain import TABLE
from .lazy import is_tensor, torch
from .params import describe_value as _kind

_TOP_KEYS = ("tonematch_version", "sample_rate", "chain", "source")
# A settings file is about 2 KB; one of megabytes (a `source` padded with junk, which render would
# copy into OUT.json, or not a settings file at all) is refused before it is read into memory.
_MAX_BYTES = 1_000_000
# What a settings file may name as its rate: whole Hz in a range libsndfile and the filters cover.
_RATE_RANGE = (1000, 1_000_000)


# Rows added to the table after settings files were first stamped: at these values (their
# defaults, what a file written before them means) they leave a file's fingerprint as it was.
_ADDED_ROWS = {"compressor.rms_ms": 0.0}


@dataclass
class Settings:
    values: dict[str, float]
    sample_rate: int
    bypass: frozenset = frozenset()
    source: dict = field(default_factory=dict)

    @classmethod
    def defaults(cls, sample_rate: int = 44100) -> "Settings":
        """A neutral chain: flat EQ (bands that are never neutral, the high-pass, start switched
        off: the parameter table says which), ratio 1, width 1, limiter at -1 dBTP, loudness
        target -14 LUFS."""
        sample_rate = _sample_rate(sample_rate, None)
        return cls(TABLE.defaults(sample_rate), sample_rate, TABLE.default_bypass)

    @classmethod
    def from_unit(cls, u, sample_rate: int, source: dict | None = None) -> "Settings":
        """From the network's [P] vector in [0, 1] (a tensor, or an array: no torch needed)."""
        if is_tensor(u):
            u = torch.as_tensor(u, dtype=torch.float64).reshape(1, -1)
        else:
            u = np.asarray(u, dtype=np.float64).reshape(1, -1)
        phys = TABLE.from_unit(u, sample_rate)
        return cls({k: float(v[0]) for k, v in phys.items()}, int(sample_rate), source=dict(source or {}))

    def to_unit(self) -> torch.Tensor:
        return TABLE.to_unit(self.tensors(), self.sample_rate)[0]

    def tensors(self, batch: int = 1) -> dict[str, torch.Tensor]:
        return {k: torch.full((batch,), v, dtype=torch.float64) for k, v in self.values.items()}

    def check(self) -> None:
        """What a file's settings are checked for, on settings built or edited in Python: every
        parameter of the table there and no other, known bypass names, each value in its
        rate-independent range (the rate is known when rendering)."""
        missing = [k for k in TABLE.by_key if k not in self.values]
        if missing:
            raise TonematchError(
                f"settings lack {len(missing)} parameter(s), e.g. '{missing[0]}': start from "
                "Settings.defaults(rate) or a settings file, which hold every one"
            )
        switches = set(TABLE.processors) | {f"{p}.{b}" for p in TABLE.processors for b in TABLE.bands(p)}
        unknown = sorted(str(b) for b in self.bypass if b not in switches)
        if unknown:
            raise TonematchError(f"unknown processor or band in bypass: '{unknown[0]}'")
        _sample_rate(self.sample_rate, None)
        TABLE.validate(self.values)

    def validate(self, sample_rate: int | None = None) -> None:
        """Every value in its range, and every enabled one also inside what `sample_rate` (default:
        the settings' own) allows. Renderers get `at_rate` copies, which always pass."""
        TABLE.validate(self.values, sample_rate or self.sample_rate, self.bypass)

    def at_rate(self, sample_rate: int) -> tuple["Settings", list[str]]:
        """A copy to render at `sample_rate`: frequencies above what the rate allows move to its
        limit, and a line for each move that changes the sound. The user's values stay here."""
        values, notes = dict(self.values), []
        for e in TABLE.entries:
            value = values[e.key]
            moved = e.spec.at_rate(value, sample_rate)
            if moved == value:
                continue
            values[e.key] = moved
            gain = self.values.get(f"{e.processor}.{e.band}.gain_db") if e.band else None
            if self.enabled(e.processor, e.band) and gain != 0.0:  # a 0 dB band sounds the same anywhere
                side = "above" if moved < value else "below"
                notes.append(
                    f"{e.key} {value:g} {e.spec.unit} is {side} what {sample_rate:g} Hz allows; "
                    f"using {moved:g} {e.spec.unit}"
                )
        for label in match_eq.out_of_reach(values, sample_rate, self.bypass):  # fixed centres: not moved, left out
            notes.append(
                f"{match_eq.NAME}.{label} ({match_eq.BAND_NAMES[label]}) is above what {sample_rate:g} Hz allows; "
                "left out of the render"
            )
        moved = Settings(values, int(sample_rate), self.bypass, dict(self.source))
        if values != self.values and "fingerprint" in self.source and not self.edited:  # the rate's limits are no edit
            moved = moved.stamped({k: v for k, v in self.source.items() if k != "fingerprint"})
        return moved, notes

    def fingerprint(self) -> str:
        """A short digest of what the settings do (every value and switch): any edit changes it."""
        values = {k: v for k, v in self.values.items() if not (k in _ADDED_ROWS and v == _ADDED_ROWS[k])}
        text = json.dumps([sorted(self.bypass), sorted((k, repr(float(v))) for k, v in values.items())])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def stamped(self, provenance: dict) -> "Settings":
        """A copy whose `source` is `provenance` plus the fingerprint of these values, so that an
        edit made afterwards shows (`edited`)."""
        source = {**provenance, "fingerprint": self.fingerprint()}
        return Settings(dict(self.values), self.sample_rate, self.bypass, source)

    @property
    def edited(self) -> bool:
        """The values differ from those their provenance was stamped on: a person changed them."""
        stamp = self.source.get("fingerprint")
        return stamp is not None and stamp != self.fingerprint()

    def enabled(self, processor: str, band: str | None = None) -> bool:
        return processor not in self.bypass and (band is None or f"{processor}.{band}" not in self.bypass)

    # JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        chain = []
        for proc in TABLE.processors:
            obj: dict = {"processor": proc}
            if proc in self.bypass:
                obj["enabled"] = False
            for e in TABLE.entries:
                if e.processor != proc:
                    continue
                value = float(self.values[e.key])  # numpy scalars set in Python are written as numbers
                if e.band is None:
                    obj[e.spec.name] = value
                else:
                    band = obj.setdefault(e.band, {})
                    if f"{proc}.{e.band}" in self.bypass:
                        band["enabled"] = False
                    band[e.spec.name] = value
            chain.append(obj)
        out = {"tonematch_version": __version__, "sample_rate": self.sample_rate, "chain": chain}
        # "edited" says what is true now: an edit undone is no edit
        source = {k: v for k, v in self.source.items() if k != "edited"}
        if source:
            out["source"] = {**source, "edited": True} if self.edited else source
        return out

    @classmethod
    def from_dict(cls, d: dict, sample_rate: int | None = None) -> "Settings":
        """Check the whole object against the parameter table; every refusal names its key.

        A processor or band that the file names is switched on unless it says `"enabled": false`;
        one it leaves out keeps its default state (the table's `default_enabled`). Values are
        checked against their rate-independent ranges only: the rate is known when rendering.
        """
        if not isinstance(d, dict):
            raise TonematchError(f"settings must be a JSON object, got {_kind(d)}")
        for key in d:
            if key not in _TOP_KEYS:
                raise TonematchError(f"unknown key '{key}' (known: {', '.join(_TOP_KEYS)})")
        if "chain" not in d:
            raise TonematchError("it has no 'chain' (the list of processor objects, in chain order)")
        if not isinstance(d["chain"], list):
            raise TonematchError(f"'chain' must be a list of processor objects, got {_kind(d['chain'])}")
        version = d.get("tonematch_version")
        if version is not None and not isinstance(version, str):
            raise TonematchError(f"'tonematch_version' must be a string, got {_kind(version)}")
        source = d.get("source")
        if source is not None and not isinstance(source, dict):
            raise TonematchError(f"'source' must be an object, got {_kind(source)}")
        sr = _sample_rate(d.get("sample_rate"), sample_rate)
        given: dict[str, float] = {}
        bypass = set(TABLE.default_bypass)
        seen: set[str] = set()
        for i, obj in enumerate(d["chain"]):
            proc = _processor(i, obj, seen)
            _in_order(i, proc, seen)
            _switch(proc, obj, bypass)
            for name, value in obj.items():
                if name in ("processor", "enabled"):
                    continue
                if name in TABLE.bands(proc):
                    if not isinstance(value, dict):
                        raise TonematchError(f"'{proc}.{name}' must be an object of band values, got {_kind(value)}")
                    _switch(f"{proc}.{name}", value, bypass)
                    given.update({f"{proc}.{name}.{k}": v for k, v in value.items() if k != "enabled"})
                elif isinstance(value, (dict, list)) and TABLE.bands(proc):
                    raise TonematchError(f"unknown band '{proc}.{name}' (known: {', '.join(TABLE.bands(proc))})")
                else:
                    given[f"{proc}.{name}"] = value
        TABLE.validate(given)
        values = TABLE.defaults(sr)
        values.update({k: float(v) for k, v in given.items()})
        return cls(values, sr, frozenset(bypass), dict(source or {}))

    def to_json(self, path: str) -> None:
        """Atomic write (data.atomic): a temp file in the same folder, then rename."""
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        if Path(path).is_dir():
            raise TonematchError(f"cannot write '{path}': it is a folder")
        write_atomic(path, lambda tmp: Path(tmp).write_text(text))

    @classmethod
    def from_json(cls, path: str) -> "Settings":
        try:
            if os.path.getsize(path) > _MAX_BYTES:
                raise TonematchError(
                    f"{path} is {os.path.getsize(path) / 1e6:.0f} MB; a settings file is a few KB: it is not one"
                )
            with open(path, encoding="utf-8-sig") as f:  # JSON is UTF-8; Notepad may write a BOM
                d = json.load(f, object_pairs_hook=_unique_keys)
        except TonematchError as exc:
            raise TonematchError(f"settings '{path}': {exc}" if str(path) not in str(exc) else str(exc)) from None
        except FileNotFoundError:
            raise TonematchError(f"settings file not found: {path}") from None
        except IsADirectoryError:
            raise TonematchError(f"cannot read settings '{path}': it is a folder") from None
        except OSError as exc:
            raise TonematchError(f"cannot read settings '{path}': {exc.strerror or exc}") from None
        except RecursionError:  # e.g. 100000 nested '[': json's parser recurses per level
            raise TonematchError(f"{path} is not a settings file: JSON nested too deeply") from None
        except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, or an over-long integer
            raise TonematchError(f"{path} is not valid JSON: {' '.join(str(exc).split())}") from None
        try:
            return cls.from_dict(d)
        except TonematchError as exc:
            raise TonematchError(f"settings '{path}': {exc}") from None

    def summary(self) -> str:
        """Readable listing, e.g. for `tonematch analyze` or a report."""
        lines = []
        for proc in TABLE.processors:
            state = "" if proc not in self.bypass else "  (bypassed)"
            lines.append(f"{proc}{state}")
            for e in TABLE.entries:
                if e.processor == proc:
                    off = "  (off)" if e.band and f"{proc}.{e.band}" in self.bypass else ""
                    label = f"{e.band}.{e.spec.name}" if e.band else e.spec.name
                    lines.append(f"  {label:24s} {self.values[e.key]:10.4g} {e.spec.unit}{off}")
        return "\n".join(lines)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object whose names are unique: `{"gain_db": 0, "gain_db": 12}` is two answers to one
    question (json keeps the last silently, a reader may see the first), so it is refused."""
    d: dict = {}
    for key, value in pairs:
        if key in d:
            where = f" in '{d['processor']}'" if isinstance(d.get("processor"), str) else ""
            raise TonematchError(f"'{key}' appears twice in one object{where}: keep one")
        d[key] = value
    return d


def _sample_rate(value, fallback: int | None) -> int:
    """The file's `sample_rate`: whole Hz inside _RATE_RANGE (44100 when neither it nor the
    caller gives one). Bools are JSON's true/false, not numbers."""
    if value is None:
        return int(fallback or 44100)
    low, high = _RATE_RANGE
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole or not low <= value <= high:
        raise TonematchError(f"'sample_rate' must be a whole number of Hz from {low} to {high}, got {_kind(value)}")
    return int(value)


def _processor(index: int, obj, seen: set) -> str:
    """The name of chain[index], which must be an object naming a known processor once."""
    if not isinstance(obj, dict):
        raise TonematchError(f"chain[{index}] must be an object with a 'processor' name, got {_kind(obj)}")
    if "processor" not in obj:
        raise TonematchError(f"chain[{index}] has no 'processor' name (known: {', '.join(TABLE.processors)})")
    proc = obj["processor"]
    if not isinstance(proc, str) or proc not in TABLE.processors:
        raise TonematchError(f"chain[{index}]: unknown processor {_kind(proc)} (known: {', '.join(TABLE.processors)})")
    if proc in seen:
        raise TonematchError(f"processor '{proc}' appears twice in the chain")
    seen.add(proc)
    return proc


def _in_order(index: int, proc: str, seen: set) -> None:
    """The chain's order is fixed: a file listing a processor after one that follows it asks for
    an order the renderer does not have, and is refused rather than silently reordered."""
    later = [p for p in seen if TABLE.processors.index(p) > TABLE.processors.index(proc)]
    if later:
        raise TonematchError(
            f"chain[{index}]: '{proc}' is listed after '{later[0]}', but the chain's order is fixed "
            f"({' -> '.join(TABLE.processors)}): list the processors in that order"
        )


def _switch(where: str, obj: dict, bypass: set) -> None:
    """Named in the file: on, unless `"enabled": false`."""
    value = obj.get("enabled", True)
    if not isinstance(value, bool):
        raise TonematchError(f"'{where}.enabled' must be true or false, got {_kind(value)}")
    if value:
        bypass.discard(where)
    else:
        bypass.add(where)
