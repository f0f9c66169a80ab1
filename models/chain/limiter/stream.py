"""The exact, streaming limiter: `gain.py`'s recursion sample by sample with carried state.

Latency TAPS_RIGHT + L + GUARD samples: the envelope at n needs x[n + 12], and the minimum
window looks L + GUARD samples past it. The caller drops the first `latency` outputs and
flushes `latency` zeros at the end (exact.py does).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import ops
from .detect import TAPS, TAPS_RIGHT, detect_block
from .gain import GUARD, ceiling_gain, lookahead_samples


@njit(cache=True, nogil=True)
def _gain_block(x, peak, level, y, xr, dq_idx, dq_val, dq, rr, st, ceiling, rel, la, counter):
    """The block enters at gain `level` (the loudness stage's, folded in here to save two passes
    over the audio); peak[j]: its envelope at unity gain, at input index counter + j - TAPS_RIGHT.
    xr: delay ring [C, size]; dq_*: monotonic deque of (index, q) for the sliding minimum,
    dq = [head, tail]; rr: ring of
    the last la + 1 values of r; st = [r_prev, r_sum, slot]. Output j is input index
    counter + j - latency (negative: warm-up)."""
    channels, n = x.shape
    mask = xr.shape[1] - 1
    qmask = dq_idx.shape[0] - 1  # power-of-two rings: & instead of % on the hot path
    latency = TAPS_RIGHT + la + GUARD
    slot = int(st[2])
    inv_len = 1.0 / (la + 1)
    for j in range(n):
        i = counter + j
        for ch in range(channels):
            xr[ch, i & mask] = level * x[ch, j]
        n1 = i - TAPS_RIGHT
        q = 1.0
        p = level * peak[j]
        if p > 1e-12:
            q = min(1.0, ceiling / p)
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
        self.la = lookahead_samples(values["limiter.lookahead_ms"], sample_rate)
        self.latency = TAPS_RIGHT + self.la + GUARD
        size = 1 << int(np.ceil(np.log2(self.latency + 2)))
        self.xr = np.zeros((channels, size))
        self.context = np.zeros((channels, TAPS - 1), dtype=np.float32)  # the envelope's 23 samples of context
        cap = 1 << int(np.ceil(np.log2(self.la + 2 * GUARD + 2)))
        self.dq_idx = np.zeros(cap, dtype=np.int64)
        self.dq_val = np.ones(cap)
        self.dq = np.zeros(2, dtype=np.int64)
        self.rr = np.ones(self.la + 1)
        self.st = np.array([1.0, float(self.la + 1), 0.0])  # r_prev, running sum, ring slot
        self.ceiling = float(ceiling_gain(values["limiter.ceiling_dbtp"]))
        self.rel = float(ops.time_constant_to_pole(values["limiter.release_ms"], sample_rate))
        self.counter = 0

    def _advance_context(self, block: np.ndarray) -> np.ndarray:
        """The block with the context before it; keeps the last TAPS - 1 samples for next time."""
        xa = np.concatenate([self.context, block.astype(np.float32, copy=False)], axis=1)
        self.context = xa[:, xa.shape[1] - (TAPS - 1) :].copy()
        return xa

    def peaks(self, block: np.ndarray) -> np.ndarray:
        """Envelope (detect.py) of the next block, float32: entry j is the envelope at index
        counter + j - TAPS_RIGHT of the stream. Linear in the block: scale it by any later gain."""
        peak = np.empty(block.shape[1], dtype=np.float32)
        detect_block(self._advance_context(block), peak)
        return peak

    def process(self, block: np.ndarray, peak: np.ndarray | None = None, level: float = 1.0) -> np.ndarray:
        """Returns as many samples as it takes, of `block` at gain `level` (linear). `peak`: the
        block's envelope at unity gain when the caller already has it (from `peaks`)."""
        if peak is None:
            peak = self.peaks(block)
        elif block.shape[1] >= TAPS - 1:  # keep the context current without copying the block
            self.context = np.ascontiguousarray(block[:, block.shape[1] - (TAPS - 1) :], dtype=np.float32)
        else:
            self._advance_context(block)
        y = np.empty(block.shape, dtype=np.float32)
        _gain_block(
            np.ascontiguousarray(block),
            peak,
            float(level),
            y,
            self.xr,
            self.dq_idx,
            self.dq_val,
            self.dq,
            self.rr,
            self.st,
            self.ceiling,
            self.rel,
            self.la,
            self.counter,
        )
        self.counter += block.shape[1]
        return y
