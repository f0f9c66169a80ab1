"""True-peak lookahead limiter.

Detection runs on a 4x oversampled view (the three in-between phases of a windowed-sinc
interpolator plus the samples themselves), so the ceiling holds for inter-sample peaks, not only
for sample peaks (DSP_NOTES: a sample-peak lookahead limiter still let +0.9 dBTP through).

Per sample n, with required gain q[n] = min(1, ceiling / true_peak[n]):
  h[n] = min q over [n - GUARD, n + L + GUARD]   (look ahead L samples, plus a guard)
  r[n] = instant attack, exponential release of h
  G[n] = mean of r over [n - L, n]               (a smooth ramp that is complete at the peak)
  y[n] = x[n] G[n]
Every r[m] averaged into G[n] has n inside its min window, so G[n] <= q[n]: the gain never
exceeds what the peak at n allows. The guard keeps that true for the neighbours an inter-sample
peak is built from. The same definition runs offline in torch (differentiable) and sample by
sample in numba with carried state (exact, streaming, latency `TAPS_RIGHT + L + GUARD`).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numba import njit

from tonematch.models.measure.truepeak import FIR, TAPS_LEFT, TAPS_RIGHT, _interpolator, _true_peak_block, true_peak_envelope  # noqa: F401

from . import ops
from .params import Entry, ParamSpec

NAME = "limiter"
ENTRIES = [
    Entry(NAME, None, ParamSpec("ceiling_dbtp", "dBTP", -6.0, 0.0, "lin", -1.0)),
    Entry(NAME, None, ParamSpec("release_ms", "ms", 1.0, 1000.0, "log", 60.0)),
    Entry(NAME, None, ParamSpec("lookahead_ms", "ms", 0.5, 10.0, "log", 2.0, learned=False)),
]

GUARD = 8
# Detection aims this far below the ceiling: covers the interpolator's own error and the gain
# ramp's slope across the taps of an inter-sample peak (measured in tests/test_chain_limiter.py).
MARGIN_DB = 0.1


def lookahead_samples(lookahead_ms: float, sample_rate: float) -> int:
    return max(1, int(round(lookahead_ms * 1e-3 * sample_rate)))


def ceiling_gain(ceiling_dbtp):
    return 10.0 ** ((ceiling_dbtp - MARGIN_DB) / 20.0)


def _pads(p: dict, sample_rate: float) -> tuple[int, int, int]:
    la = lookahead_samples(float(p[f"{NAME}.lookahead_ms"].reshape(-1)[0]), sample_rate)
    return la, la + GUARD + TAPS_RIGHT + 1, la + GUARD + TAPS_RIGHT


def padded_peak(x: torch.Tensor, p: dict, sample_rate: float) -> torch.Tensor:
    """True-peak envelope of x [B, C, T] over the limiter's padded timeline, float64 [B, T'].
    Linear in x, so passes at different gains reuse it: envelope(g x) = g envelope(x)."""
    _, left, right = _pads(p, sample_rate)
    return true_peak_envelope(F.pad(x, (left, right))).double()


def apply(x: torch.Tensor, p: dict, sample_rate: float, bypass=frozenset(), gain=None, peak=None) -> torch.Tensor:
    """Limit `gain * x` (gain: [B] linear, default 1); `peak`: padded_peak(x) if known."""
    b, c, t = x.shape
    la, pad_left, pad_right = _pads(p, sample_rate)
    if peak is None:
        peak = padded_peak(x, p, sample_rate)
    gain = torch.ones(b, dtype=torch.float64, device=x.device) if gain is None else gain.double()
    xp = F.pad(x, (pad_left, pad_right)) * gain.to(x.dtype)[:, None, None]
    ceiling = ceiling_gain(p[f"{NAME}.ceiling_dbtp"].double())[:, None]
    q = torch.clamp(ceiling / (peak * gain[:, None]).clamp_min(1e-12), max=1.0)
    h = -F.max_pool1d(-F.pad(q, (GUARD, la + GUARD), value=1.0)[:, None], la + 2 * GUARD + 1, stride=1)[:, 0]
    rel = ops.time_constant_to_pole(p[f"{NAME}.release_ms"], sample_rate)
    r = ops.ballistics(h, torch.zeros_like(rel), rel, 1.0)
    g = F.avg_pool1d(F.pad(r, (la, 0), value=1.0)[:, None], la + 1, stride=1)[:, 0]
    return (xp * g.to(x.dtype)[:, None, :])[..., pad_left : pad_left + t]


@njit(cache=True)
def _gain_block(x, peak, y, xr, dq_idx, dq_val, dq, rr, st, ceiling, rel, la, counter):
    """Sequential part, sample by sample. peak[j] is the true peak at input index
    counter + j - TAPS_RIGHT. xr: delay ring [C, size]; dq_*: monotonic deque of (index, q)
    for the sliding minimum, dq = [head, tail]; rr: ring of the last la + 1 smoothed gains;
    st = [r_prev, r_sum, slot]. Output j is input index counter + j - latency (negative: warm-up)."""
    channels, n = x.shape
    mask = xr.shape[1] - 1
    qmask = dq_idx.shape[0] - 1  # power-of-two rings: & instead of % on the hot path
    latency = TAPS_RIGHT + la + GUARD
    slot = int(st[2])
    inv_len = 1.0 / (la + 1)
    for j in range(n):
        i = counter + j
        for ch in range(channels):
            xr[ch, i & mask] = x[ch, j]
        n1 = i - TAPS_RIGHT
        q = 1.0
        if peak[j] > 1e-12:
            q = min(1.0, ceiling / peak[j])
        # sliding minimum of q over [n2 - GUARD, n2 + la + GUARD], n2 = n1 - la - GUARD
        head, tail = dq[0], dq[1]
        while tail > head and dq_val[(tail - 1) & qmask] >= q:
            tail -= 1
        dq_idx[tail & qmask] = n1
        dq_val[tail & qmask] = q
        tail += 1
        n2 = n1 - la - GUARD
        while dq_idx[head & qmask] < n2 - GUARD:
            head += 1
        dq[0], dq[1] = head, tail
        h = dq_val[head & qmask]
        r_prev = st[0]
        r = h if h < r_prev else rel * r_prev + (1.0 - rel) * h
        st[0] = r
        st[1] += r - rr[slot]
        rr[slot] = r
        slot = slot + 1 if slot < la else 0
        gain = st[1] * inv_len
        for ch in range(channels):
            y[ch, j] = xr[ch, (i - latency) & mask] * gain
    st[2] = slot


class Stream:
    def __init__(self, values: dict, sample_rate: float, channels: int, bypass=frozenset()):
        self.la = lookahead_samples(values[f"{NAME}.lookahead_ms"], sample_rate)
        self.latency = TAPS_RIGHT + self.la + GUARD
        size = 1 << int(np.ceil(np.log2(self.latency + 2)))
        self.xr = np.zeros((channels, size))
        self.context = np.zeros((channels, TAPS_LEFT + TAPS_RIGHT), dtype=np.float32)
        cap = 1 << int(np.ceil(np.log2(self.la + 2 * GUARD + 2)))
        self.dq_idx = np.zeros(cap, dtype=np.int64)
        self.dq_val = np.ones(cap)
        self.dq = np.zeros(2, dtype=np.int64)
        self.rr = np.ones(self.la + 1)
        self.st = np.array([1.0, float(self.la + 1), 0.0])  # r_prev, running sum, ring slot
        self.ceiling = float(ceiling_gain(values[f"{NAME}.ceiling_dbtp"]))
        self.rel = float(ops.time_constant_to_pole(values[f"{NAME}.release_ms"], sample_rate))
        self.counter = 0

    def peaks(self, block: np.ndarray) -> np.ndarray:
        """True-peak envelope of the next block (carries the interpolator's context). It is
        linear in the block, so it can be scaled by any later gain."""
        xa = np.concatenate([self.context, block.astype(np.float32, copy=False)], axis=1)
        self.context = xa[:, xa.shape[1] - self.context.shape[1]:]
        peak = np.empty(block.shape[1])
        _true_peak_block(xa, peak)
        return peak

    def process(self, block: np.ndarray, peak: np.ndarray | None = None) -> np.ndarray:
        """Returns as many samples as it takes; the first `latency` outputs of a stream are
        warm-up (the renderer drops them and flushes with zeros at the end). `peak`: the
        block's true-peak envelope when the caller already has it (see `peaks`)."""
        if peak is None:
            peak = self.peaks(block)
        else:  # keep the interpolator's context current for the blocks that follow
            keep = self.context.shape[1]
            self.context = np.concatenate([self.context, block.astype(np.float32, copy=False)], axis=1)[:, -keep:]
        y = np.empty(block.shape, dtype=np.float32)
        _gain_block(np.ascontiguousarray(block), peak, y, self.xr, self.dq_idx, self.dq_val, self.dq,
                    self.rr, self.st, self.ceiling, self.rel, self.la, self.counter)
        self.counter += block.shape[1]
        return y
