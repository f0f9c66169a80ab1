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

import json
import os
import tempfile
from dataclasses import dataclass, field
from importlib import metadata

import torch

from tonematch.data.errors import TonematchError

from .chain import TABLE


def _version() -> str:
    try:
        return metadata.version("tonematch")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


@dataclass
class Settings:
    values: dict[str, float]
    sample_rate: int
    bypass: frozenset = frozenset()
    source: dict = field(default_factory=dict)

    @classmethod
    def defaults(cls, sample_rate: int = 44100) -> "Settings":
        """A neutral chain: flat EQ (high-pass off: even at 10 Hz it turns the phase of the
        bass), ratio 1, width 1, limiter at -1 dBTP, loudness target -14 LUFS."""
        return cls(TABLE.defaults(sample_rate), int(sample_rate), frozenset({"eq.highpass"}))

    @classmethod
    def from_unit(cls, u, sample_rate: int, source: dict | None = None) -> "Settings":
        """From the network's [P] vector in [0, 1]."""
        u = torch.as_tensor(u, dtype=torch.float64).reshape(1, -1)
        phys = TABLE.from_unit(u, sample_rate)
        return cls({k: float(v[0]) for k, v in phys.items()}, int(sample_rate), source=dict(source or {}))

    def to_unit(self) -> torch.Tensor:
        return TABLE.to_unit(self.tensors(), self.sample_rate)[0]

    def tensors(self, batch: int = 1) -> dict[str, torch.Tensor]:
        return {k: torch.full((batch,), v, dtype=torch.float64) for k, v in self.values.items()}

    def validate(self, sample_rate: int | None = None) -> None:
        TABLE.validate(self.values, sample_rate or self.sample_rate)

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
                if e.band is None:
                    obj[e.spec.name] = self.values[e.key]
                else:
                    band = obj.setdefault(e.band, {})
                    if f"{proc}.{e.band}" in self.bypass:
                        band["enabled"] = False
                    band[e.spec.name] = self.values[e.key]
            chain.append(obj)
        out = {"tonematch_version": _version(), "sample_rate": self.sample_rate, "chain": chain}
        if self.source:
            out["source"] = self.source
        return out

    @classmethod
    def from_dict(cls, d: dict, sample_rate: int | None = None) -> "Settings":
        if not isinstance(d, dict) or not isinstance(d.get("chain"), list):
            raise TonematchError("settings must be a JSON object with a 'chain' list")
        sr = int(d.get("sample_rate") or sample_rate or 44100)
        values = TABLE.defaults(sr)
        given: dict[str, float] = {}
        bypass = set()
        seen = set()
        for obj in d["chain"]:
            proc = obj.get("processor") if isinstance(obj, dict) else None
            if proc not in TABLE.processors:
                raise TonematchError(f"unknown processor {proc!r} (known: {', '.join(TABLE.processors)})")
            if proc in seen:
                raise TonematchError(f"processor '{proc}' appears twice in the chain")
            seen.add(proc)
            for name, value in obj.items():
                if name == "processor":
                    continue
                if name == "enabled":
                    _check_bool(proc, value) or bypass.add(proc)
                elif isinstance(value, dict):
                    if name not in TABLE.bands(proc):
                        raise TonematchError(f"unknown band '{proc}.{name}' (known: {', '.join(TABLE.bands(proc))})")
                    for pname, pvalue in value.items():
                        if pname == "enabled":
                            _check_bool(f"{proc}.{name}", pvalue) or bypass.add(f"{proc}.{name}")
                        else:
                            given[f"{proc}.{name}.{pname}"] = pvalue
                else:
                    given[f"{proc}.{name}"] = value
        TABLE.validate(given, sr)
        values.update({k: float(v) for k, v in given.items()})
        return cls(values, sr, frozenset(bypass), dict(d.get("source") or {}))

    def to_json(self, path: str) -> None:
        """Atomic write: a temp file in the same folder, then rename."""
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=folder)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(self.to_dict(), f, indent=2)
                f.write("\n")
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a settings file is for sharing
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def from_json(cls, path: str) -> "Settings":
        try:
            with open(path) as f:
                d = json.load(f)
        except FileNotFoundError:
            raise TonematchError(f"settings file not found: {path}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TonematchError(f"{path} is not valid JSON: {exc}") from None
        return cls.from_dict(d)

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


def _check_bool(where: str, value) -> bool:
    if not isinstance(value, bool):
        raise TonematchError(f"'{where}.enabled' must be true or false, got {value!r}")
    return value
