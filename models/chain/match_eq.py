"""Match EQ: a third-octave graphic EQ (28 bells, each a third of an octave wide at the base-2
third-octave centres, 31.5 Hz to 16 kHz, named by ISO 266's nominal frequencies) after the
parametric EQ.

It carries the finer balance a reference is copied with (`match --literal` above 0.5) where
seven parametric bands cannot follow it; a person may set it by hand like any graphic EQ. It is
never predicted by the network (its settings are not learned) and is flat by default. A flat band
is left out of the render (a 0 dB bell is the identity), so a flat match EQ costs nothing; bands
at or above 0.45 x the sample rate are not rendered.
"""

from __future__ import annotations

import math

import numpy as np

from tonematch.models.measure.spectrum import third_octave_centres

from . import kernels, ops
from .biquads import cascade_power, design
from .lazy import is_tensor, torch
from .params import Entry, ParamSpec

NAME = "match"
_CAP = 0.45  # as the parametric EQ's: no band at or above 0.9 x Nyquist
# nominal ISO 266 names (the band keys) of the base-2 centres 1000 * 2^(k/3), 31.25 Hz .. 16 kHz
LABELS = (
    "31hz 40hz 50hz 63hz 80hz 100hz 125hz 160hz 200hz 250hz 315hz 400hz 500hz 630hz 800hz 1khz "
    "1k25hz 1k6hz 2khz 2k5hz 3k15hz 4khz 5khz 6k3hz 8khz 10khz 12k5hz 16khz"
).split()
CENTRES_HZ = third_octave_centres(25.0, 16000.0)  # the project's third-octave grid (measure.spectrum)
NOMINAL_HZ = tuple(
    float(f)
    for f in "31.5 40 50 63 80 100 125 160 200 250 315 400 500 630 800 1000 1250 1600 2000 2500 "
    "3150 4000 5000 6300 8000 10000 12500 16000".split()
)  # the bands' nominal frequencies


def band_name(nominal_hz: float) -> str:
    """A band as an engineer says it: '63 Hz', '1.25 kHz'."""
    return f"{nominal_hz:g} Hz" if nominal_hz < 1000 else f"{nominal_hz / 1000:g} kHz"


BAND_NAMES = dict(zip(LABELS, map(band_name, NOMINAL_HZ)))  # band key -> its name in words
OCTAVES = 1.0 / 3.0  # each bell's width, between its half-gain (dB) points, at every rate


def band_q(centre_hz: float, sample_rate: float) -> float:
    """The Q that keeps a bell OCTAVES wide at this rate: the bilinear transform narrows a
    fixed-Q bell toward Nyquist (a third of its width at 16 kHz and 44.1 kHz). The RBJ cookbook's
    bandwidth form, sinh(ln 2 / 2 * BW * w0 / sin w0); Q far below Nyquist."""
    w0 = 2.0 * math.pi * centre_hz / sample_rate
    return 1.0 / (2.0 * math.sinh(0.5 * math.log(2.0) * OCTAVES * w0 / math.sin(w0)))


GAIN_DB = 12.0  # each band's range, +/-
ENTRIES = [
    Entry(NAME, label, ParamSpec("gain_db", "dB", -GAIN_DB, GAIN_DB, "lin", 0.0, learned=False)) for label in LABELS
]


def _sounding(p: dict, bypass) -> list[tuple[str, float, object]]:
    """(band key, centre Hz, gain dB) of the bands that change the sound at a rate that holds them:
    switched on and not flat (for a batch of torch settings, not flat in any item)."""
    if NAME in bypass:
        return []
    out = []
    for label, centre in zip(LABELS, CENTRES_HZ):
        gain = p.get(f"{NAME}.{label}.gain_db", 0.0)
        flat = not bool((gain != 0).any()) if is_tensor(gain) else not np.any(np.asarray(gain) != 0.0)
        if not flat and f"{NAME}.{label}" not in bypass:
            out.append((label, float(centre), gain))
    return out


def _active(p: dict, sample_rate: float, bypass) -> list[tuple[float, object]]:
    """(centre Hz, gain dB) of the sounding bands below the cap: what a render at this rate holds."""
    return [(centre, gain) for _, centre, gain in _sounding(p, bypass) if centre < _CAP * sample_rate]


def out_of_reach(p: dict, sample_rate: float, bypass=frozenset()) -> list[str]:
    """The band keys that would change the sound but lie at or above what `sample_rate` allows
    (the cap): they are left out of a render at that rate."""
    return [label for label, centre, _ in _sounding(p, bypass) if centre >= _CAP * sample_rate]


def coefficients(p: dict, sample_rate: float, bypass=frozenset(), xp=None) -> list:
    """[B, 5] float64 per band that is not flat, low to high (torch, or numpy with `xp=np`)."""
    return [
        design("peak", centre, band_q(centre, sample_rate), gain, sample_rate, xp)
        for centre, gain in _active(p, sample_rate, bypass)
    ]


def power_at(p: dict, freqs_hz, sample_rate: float, bypass=frozenset(), xp=None):
    """|H|^2 of the bands at `freqs_hz` -> [..., F] (1 where flat)."""
    return cascade_power(coefficients(p, sample_rate, bypass, xp), freqs_hz, sample_rate)


def apply(x: torch.Tensor, p: dict, sample_rate: float, bypass=frozenset()) -> torch.Tensor:
    return ops.cascade(x, coefficients(p, sample_rate, bypass))


class Stream(kernels.Cascade):
    def __init__(self, values: dict, sample_rate: float, channels: int, bypass=frozenset()):
        super().__init__(coefficients(values, sample_rate, bypass, np), channels)
