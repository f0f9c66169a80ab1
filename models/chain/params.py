"""The parameter table: the one place where ranges live.

Every processor declares `ParamSpec`s in engineer's units. The chain-level `ParamTable` maps the
network's [0, 1] vector to physical values and back; processors only ever see physical values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping

import torch

from tonematch.data.errors import TonematchError


@dataclass(frozen=True)
class ParamSpec:
    name: str  # e.g. "threshold_db"
    unit: str  # "dB", "Hz", "ms", "ratio", "LUFS", "dBTP", "" ...
    low: float
    high: float
    scale: str  # "lin" or "log"
    default: float
    learned: bool = True  # False: fixed by the user/config, not predicted by the network
    # Frequencies: the upper bound is capped at this fraction of the sample rate, so ranges
    # follow the rate (a 16 kHz shelf makes no sense at 22.05 kHz).
    max_fraction_of_rate: float | None = None
    doc: str = ""

    def bounds(self, sample_rate: float) -> tuple[float, float]:
        high = self.high
        if self.max_fraction_of_rate is not None:
            high = min(high, self.max_fraction_of_rate * sample_rate)
        low = min(self.low, high * 0.5) if self.scale == "log" else min(self.low, high)
        return low, high

    def from_unit(self, u, sample_rate: float):
        low, high = self.bounds(sample_rate)
        if self.scale == "log":
            return low * (high / low) ** u
        return low + (high - low) * u

    def to_unit(self, value, sample_rate: float):
        low, high = self.bounds(sample_rate)
        if self.scale == "log":
            if isinstance(value, torch.Tensor):
                return torch.log(value / low) / math.log(high / low)
            return math.log(value / low) / math.log(high / low)
        return (value - low) / (high - low)

    def default_value(self, sample_rate: float) -> float:
        low, high = self.bounds(sample_rate)
        return min(max(self.default, low), high)


@dataclass(frozen=True)
class Entry:
    """One row of the table: where a spec sits in the chain."""

    processor: str
    band: str | None
    spec: ParamSpec

    @property
    def key(self) -> str:
        parts = [self.processor] + ([self.band] if self.band else []) + [self.spec.name]
        return ".".join(parts)


class ParamTable:
    """Ordered rows of the whole chain. `learned` rows form the network's [0, 1] vector."""

    def __init__(self, entries: Iterable[Entry]):
        self.entries: list[Entry] = list(entries)
        self.by_key: dict[str, Entry] = {e.key: e for e in self.entries}
        if len(self.by_key) != len(self.entries):
            raise ValueError("duplicate parameter keys in the chain table")
        self.learned: list[Entry] = [e for e in self.entries if e.spec.learned]
        self.processors: list[str] = list(dict.fromkeys(e.processor for e in self.entries))

    def __len__(self) -> int:
        return len(self.learned)

    @property
    def keys(self) -> list[str]:
        return [e.key for e in self.entries]

    @property
    def learned_keys(self) -> list[str]:
        return [e.key for e in self.learned]

    def bands(self, processor: str) -> list[str]:
        return list(dict.fromkeys(e.band for e in self.entries if e.processor == processor and e.band))

    def defaults(self, sample_rate: float) -> dict[str, float]:
        return {e.key: e.spec.default_value(sample_rate) for e in self.entries}

    def from_unit(self, u: torch.Tensor, sample_rate: float, fixed: Mapping[str, float] | None = None) -> dict[str, torch.Tensor]:
        """[B, P] in [0, 1] -> {key: [B] physical}. Non-learned rows take `fixed` or their default."""
        if u.shape[-1] != len(self.learned):
            raise ValueError(f"expected {len(self.learned)} unit values, got {u.shape[-1]}")
        out = {e.key: e.spec.from_unit(u[..., i], sample_rate) for i, e in enumerate(self.learned)}
        fixed = dict(fixed or {})
        for e in self.entries:
            if not e.spec.learned:
                value = fixed.get(e.key, e.spec.default_value(sample_rate))
                out[e.key] = torch.full(u.shape[:-1], float(value), dtype=u.dtype, device=u.device)
        return out

    def to_unit(self, values: Mapping[str, torch.Tensor], sample_rate: float) -> torch.Tensor:
        cols = [torch.as_tensor(e.spec.to_unit(values[e.key], sample_rate)) for e in self.learned]
        return torch.stack(cols, dim=-1).clamp(0.0, 1.0)

    def validate(self, values: Mapping[str, float], sample_rate: float) -> None:
        for key, value in values.items():
            if key not in self.by_key:
                raise TonematchError(f"unknown parameter '{key}'")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise TonematchError(f"parameter '{key}' must be a finite number, got {value!r}")
            spec = self.by_key[key].spec
            low, high = spec.bounds(sample_rate)
            # a hair of tolerance so values printed with rounding still load
            tol = 1e-9 * max(1.0, abs(high - low))
            if not (low - tol <= value <= high + tol):
                raise TonematchError(
                    f"parameter '{key}' = {value:g} {spec.unit} is outside its range "
                    f"[{low:g}, {high:g}] at {sample_rate:g} Hz"
                )

    def describe(self, sample_rate: float = 44100) -> str:
        """A readable table of every parameter (used by `tonematch render --list-params`)."""
        lines = [f"{'parameter':32s} {'unit':6s} {'min':>9s} {'max':>9s} {'scale':5s} {'default':>9s}  learned"]
        for e in self.entries:
            low, high = e.spec.bounds(sample_rate)
            lines.append(
                f"{e.key:32s} {e.spec.unit:6s} {low:9.4g} {high:9.4g} {e.spec.scale:5s} "
                f"{e.spec.default_value(sample_rate):9.4g}  {'yes' if e.spec.learned else 'no'}"
            )
        return "\n".join(lines)
