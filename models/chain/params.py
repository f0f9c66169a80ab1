"""The parameter table: the one place where ranges live.

Every processor declares `ParamSpec`s in engineer's units. The chain-level `ParamTable` maps the
network's [0, 1] vector to physical values and back; processors only ever see physical values.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from tonematch.data.errors import TonematchError

from .lazy import is_tensor, torch


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
        """[0, 1] -> physical for this one spec (a float, an array or a tensor), by `unit_mapping`."""
        if is_tensor(u):
            return unit_mapping(self, sample_rate, torch)(u)
        value = unit_mapping(self, sample_rate)(u)
        return float(value) if np.ndim(value) == 0 else value

    def to_unit(self, value, sample_rate: float):
        low, high = self.bounds(sample_rate)
        if self.scale == "log":
            if is_tensor(value):
                return torch.log(value / low) / math.log(high / low)
            return math.log(value / low) / math.log(high / low)
        return (value - low) / (high - low)

    def default_value(self, sample_rate: float) -> float:
        low, high = self.bounds(sample_rate)
        return min(max(self.default, low), high)

    def at_rate(self, value: float, sample_rate: float) -> float:
        """`value` moved inside what `sample_rate` allows (only frequencies ever move)."""
        low, high = self.bounds(sample_rate)
        return min(max(value, low), high)


def unit_mapping(specs, sample_rate: float, xp=np):
    """The one [0, 1] -> physical mapping of the table, for a spec, a list of specs or a list of
    equal-length lists at once: a function from u of the same shape to physical values, in one
    array operation of `xp` (numpy, autograd.numpy: the optimisers' gradients go through it, or
    torch: the training renderer's)."""
    grid = np.array(specs, dtype=object)
    bounds = np.array([spec.bounds(sample_rate) for spec in grid.flat], dtype=np.float64).reshape(grid.shape + (2,))
    low, high = bounds[..., 0], bounds[..., 1]
    log = np.array([spec.scale == "log" for spec in grid.flat]).reshape(grid.shape)
    # the log branch gets harmless numbers on linear rows (low may be 0 there): `where` would
    # pass on that branch's NaN gradient
    log_low = np.where(log, low, 1.0)
    log_ratio = np.where(log, high / log_low, 1.0)
    span = high - low
    if xp is torch or getattr(xp, "__name__", "") == "torch":

        def physical(u):
            low_t, log_low_t, ratio_t, span_t = (
                torch.as_tensor(a, dtype=u.dtype, device=u.device) for a in (low, log_low, log_ratio, span)
            )
            return torch.where(torch.as_tensor(log, device=u.device), log_low_t * ratio_t**u, low_t + span_t * u)

        return physical
    return lambda u: xp.where(log, log_low * log_ratio**u, low + span * u)


@dataclass(frozen=True)
class Entry:
    """One row of the table: where a spec sits in the chain."""

    processor: str
    band: str | None
    spec: ParamSpec
    # False: the band (or processor) this row belongs to starts switched off, so the defaults stay
    # neutral; a settings file switches it on by naming it. Every row of a band must agree.
    default_enabled: bool = True

    @property
    def key(self) -> str:
        parts = [self.processor] + ([self.band] if self.band else []) + [self.spec.name]
        return ".".join(parts)

    @property
    def switch(self) -> str:
        """The name `"enabled": false` bypasses: 'eq.highpass' for a band, 'gain' for a processor."""
        return f"{self.processor}.{self.band}" if self.band else self.processor


class ParamTable:
    """Ordered rows of the whole chain. `learned` rows form the network's [0, 1] vector."""

    def __init__(self, entries: Iterable[Entry]):
        self.entries: list[Entry] = list(entries)
        self.by_key: dict[str, Entry] = {e.key: e for e in self.entries}
        if len(self.by_key) != len(self.entries):
            raise ValueError("duplicate parameter keys in the chain table")
        self.learned: list[Entry] = [e for e in self.entries if e.spec.learned]
        self.processors: list[str] = list(dict.fromkeys(e.processor for e in self.entries))
        states: dict[str, set] = {}
        for e in self.entries:
            states.setdefault(e.switch, set()).add(e.default_enabled)
        if any(len(v) > 1 for v in states.values()):
            raise ValueError("rows of one band disagree on whether it starts switched on")
        self.default_bypass: frozenset = frozenset(k for k, v in states.items() if v == {False})

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

    def from_unit(
        self, u: torch.Tensor, sample_rate: float, fixed: Mapping[str, float] | None = None
    ) -> dict[str, torch.Tensor]:
        """[B, P] in [0, 1] -> {key: [B] physical}. Non-learned rows take `fixed` or their default."""
        if u.shape[-1] != len(self.learned):
            raise ValueError(f"expected {len(self.learned)} unit values, got {u.shape[-1]}")
        out = {e.key: e.spec.from_unit(u[..., i], sample_rate) for i, e in enumerate(self.learned)}
        fixed = dict(fixed or {})
        for e in self.entries:
            if not e.spec.learned:
                value = fixed.get(e.key, e.spec.default_value(sample_rate))
                if is_tensor(u):
                    out[e.key] = torch.full(u.shape[:-1], float(value), dtype=u.dtype, device=u.device)
                else:
                    out[e.key] = np.full(u.shape[:-1], float(value))
        return out

    def to_unit(self, values: Mapping[str, torch.Tensor], sample_rate: float) -> torch.Tensor:
        cols = [torch.as_tensor(e.spec.to_unit(values[e.key], sample_rate)) for e in self.learned]
        return torch.stack(cols, dim=-1).clamp(0.0, 1.0)

    def validate(
        self, values: Mapping[str, float], sample_rate: float | None = None, bypass: Iterable[str] = ()
    ) -> None:
        """Names and numbers, then each value against its table range. Without a rate only the
        rate-independent range is checked (settings files hold the user's values whatever the
        rate they are rendered at); with one, enabled rows must also fit that rate."""
        bypass = frozenset(bypass)
        for key, value in values.items():
            if key not in self.by_key:
                raise TonematchError(f"unknown parameter '{key}'")
            entry = self.by_key[key]
            value = _finite(key, value)
            spec = entry.spec
            _check_range(key, value, spec, spec.low, spec.high, "")
            if sample_rate is not None and entry.switch not in bypass and entry.processor not in bypass:
                low, high = spec.bounds(sample_rate)
                _check_range(key, value, spec, low, high, f" at {sample_rate:g} Hz")

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


def _finite(key: str, value) -> float:
    """A JSON number as float; bools, strings, NaN and integers beyond float range are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TonematchError(f"parameter '{key}' must be a finite number, got {describe_value(value)}")
    try:
        number = float(value)  # a JSON integer like 10**400 overflows here
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise TonematchError(f"parameter '{key}' must be a finite number, got {describe_value(value)}")
    return number


def _check_range(key: str, value: float, spec: ParamSpec, low: float, high: float, where: str) -> None:
    # a hair of tolerance so values printed with rounding still load
    tol = 1e-9 * max(1.0, abs(high - low))
    if not (low - tol <= value <= high + tol):
        raise TonematchError(
            f"parameter '{key}' = {value:g}{' ' + spec.unit if spec.unit else ''} is outside its range "
            f"[{low:g}, {high:g}]{where}"
        )


def describe_value(value) -> str:
    """A JSON value as a message shows it: short, in JSON's spelling, never its whole text
    (a 400-digit integer or a long list should not fill the terminal)."""
    if isinstance(value, (dict, list)):
        return f"{'an object' if isinstance(value, dict) else 'a list'} of {len(value)} item(s)"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**20:
        return f"an integer of about {int(abs(value).bit_length() * 0.30103) + 1} digits"
    if isinstance(value, (str, bool)) or value is None:
        text = json.dumps(value)
    else:
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
