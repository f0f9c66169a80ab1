"""Parametric EQ: high-pass, low shelf, four peaking bands, high shelf (a biquad cascade).

Frequency ranges are capped at a fraction of the sample rate so they follow the rate.
"""

from __future__ import annotations

import numpy as np

from . import kernels, ops
from .biquads import cascade_power, design
from .lazy import torch
from .params import Entry, ParamSpec

NAME = "eq"
_CAP = 0.45  # highest corner frequency as a fraction of the sample rate (0.9 x Nyquist)


def _band(band, kind, f_lo, f_hi, f_def, q_lo, q_hi, q_def, gain=True, enabled=True):
    specs = []
    if gain:
        specs.append(ParamSpec("gain_db", "dB", -12.0, 12.0, "lin", 0.0))
    specs.append(ParamSpec("freq_hz", "Hz", f_lo, f_hi, "log", f_def, max_fraction_of_rate=_CAP))
    specs.append(ParamSpec("q", "", q_lo, q_hi, "log", q_def))
    return kind, [Entry(NAME, band, s, default_enabled=enabled) for s in specs]


BANDS = {
    # Off unless a settings file names it: even at 10 Hz a high-pass turns the phase of the bass,
    # and the defaults must pass audio through unchanged.
    "highpass": _band("highpass", "highpass", 10.0, 300.0, 10.0, 0.5, 1.0, 0.707, gain=False, enabled=False),
    "low_shelf": _band("low_shelf", "low_shelf", 30.0, 500.0, 100.0, 0.4, 1.5, 0.707),
    "peak1": _band("peak1", "peak", 40.0, 500.0, 120.0, 0.3, 6.0, 1.0),
    "peak2": _band("peak2", "peak", 150.0, 2000.0, 500.0, 0.3, 6.0, 1.0),
    "peak3": _band("peak3", "peak", 600.0, 8000.0, 2500.0, 0.3, 6.0, 1.0),
    "peak4": _band("peak4", "peak", 2000.0, 18000.0, 8000.0, 0.3, 6.0, 1.0),
    "high_shelf": _band("high_shelf", "high_shelf", 1500.0, 18000.0, 8000.0, 0.4, 1.5, 0.707),
}
ENTRIES = [e for _, entries in BANDS.values() for e in entries]


def coefficients(p: dict, sample_rate: float, bypass=frozenset(), xp=None) -> list[torch.Tensor]:
    """[B, 5] float64 per active band, in cascade order (torch, or numpy with `xp=np`)."""
    out = []
    for band, (kind, _) in BANDS.items():
        if f"{NAME}.{band}" in bypass:
            continue
        gain = p.get(f"{NAME}.{band}.gain_db", 0.0)
        out.append(design(kind, p[f"{NAME}.{band}.freq_hz"], p[f"{NAME}.{band}.q"], gain, sample_rate, xp))
    return out


def power_at(p: dict, freqs_hz, sample_rate: float, bypass=frozenset(), xp=None):
    """|H|^2 of the cascade at `freqs_hz` -> [..., F] (1 where the EQ is off): the EQ curve of the
    report, the frame model and the training step's tonal loss (torch settings give a tensor)."""
    sections = coefficients(p, sample_rate, bypass, xp) if NAME not in bypass else []
    return cascade_power(sections, freqs_hz, sample_rate)


def apply(x: torch.Tensor, p: dict, sample_rate: float, bypass=frozenset()) -> torch.Tensor:
    return ops.cascade(x, coefficients(p, sample_rate, bypass))


class Stream(kernels.Cascade):
    def __init__(self, values: dict, sample_rate: float, channels: int, bypass=frozenset()):
        p = {k: np.array([v], dtype=np.float64) for k, v in values.items()}
        super().__init__(coefficients(p, sample_rate, bypass, np), channels)
