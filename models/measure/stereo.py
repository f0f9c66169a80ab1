"""Stereo image: mid/side energies, width, L/R correlation (streaming), in one place.

M = (L + R) / 2, S = (L - R) / 2. width = E_S / E_M: 0 for mono (L = R), 1 for unrelated
channels of equal level, > 1 for more side than mid; undefined (None) without mid energy.
correlation = sum L R / sqrt(sum L^2 sum R^2): 1 identical, 0 unrelated, -1 opposite polarity.
Mono (one channel) reads width 0 and correlation 1; more than two channels are not measured.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .dynamics import db


@njit(cache=True)
def _stereo_sums(x, acc):
    """acc += [sum L^2, sum R^2, sum L R, sum M^2, sum S^2] over x [2, n] (float64)."""
    ll = 0.0
    rr = 0.0
    lr = 0.0
    mm = 0.0
    ss = 0.0
    for i in range(x.shape[1]):
        a = np.float64(x[0, i])
        b = np.float64(x[1, i])
        ll += a * a
        rr += b * b
        lr += a * b
        m = 0.5 * (a + b)  # directly, not from ll/rr/lr: L = -R must read exactly zero mid
        s = 0.5 * (a - b)
        mm += m * m
        ss += s * s
    acc[0] += ll
    acc[1] += rr
    acc[2] += lr
    acc[3] += mm
    acc[4] += ss


class StereoMeter:
    def __init__(self, channels: int):
        self.channels = int(channels)
        self.acc = np.zeros(5)  # LL, RR, LR, MM, SS

    def add(self, block: np.ndarray) -> None:
        if self.channels == 2 and block.shape[1]:
            _stereo_sums(np.ascontiguousarray(block), self.acc)

    def mid_side_energy(self) -> tuple[float, float]:
        return float(self.acc[3]), float(self.acc[4])

    def result(self) -> dict:
        """{"mono", "width", "side_mid_db", "correlation"} as `tonematch analyze` reports them."""
        if self.channels == 1:
            return {"mono": True, "width": 0.0, "side_mid_db": None, "correlation": 1.0}
        if self.channels != 2:
            return {"mono": False, "width": None, "side_mid_db": None, "correlation": None}
        ll, rr, lr, mid_e, side_e = (float(v) for v in self.acc)
        return {
            "mono": False,
            "width": side_e / mid_e if mid_e > 0 else None,
            "side_mid_db": db(side_e / mid_e, power=True) if mid_e > 0 else None,
            "correlation": lr / math.sqrt(ll * rr) if ll > 0 and rr > 0 else None,
        }


def stereo_image(x: np.ndarray) -> dict:
    """Width, side/mid in dB and correlation of a whole [C, T] array (see StereoMeter.result)."""
    x = np.atleast_2d(x)
    meter = StereoMeter(x.shape[0])
    meter.add(x)
    return meter.result()


def width(x: np.ndarray) -> float | None:
    return stereo_image(x)["width"]


def correlation(x: np.ndarray) -> float | None:
    return stereo_image(x)["correlation"]
