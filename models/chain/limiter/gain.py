"""Gain computer: from the peak envelope to the gain curve, without touching audio.

Per sample n, with the required gain q[n] = min(1, ceiling / (gain_in * envelope[n])):
  h[n] = min q over [n - GUARD, n + L + GUARD]    (look ahead L samples, plus a guard)
  r[n] = h[n] if h[n] < r[n-1] else rel r[n-1] + (1 - rel) h[n]   (instant attack, release)
  G[n] = mean of r over [n - L, n]                 (a ramp that is complete at the peak)
with q = 1 and r = 1 outside the signal. Every r[m] averaged into G[n] has n inside its min
window, so G[n] <= q[n]; the guard keeps G <= q[n] on the neighbours n +- GUARD too, i.e. over
most of the taps an inter-sample peak at n is built from.

`curve` (numba, rows in parallel) is the forward pass of the differentiable limiter and of the
loudness prediction (predict.py); `curve_backward` is its adjoint. The streaming kernel
(stream.py) runs the same recursion with carried state.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from tonematch.data.concurrency import one_at_a_time

GUARD = 8
# Detection aims this far below the ceiling. It covers what detection cannot see: the
# interpolator's passband error (< 0.015 dB to 18 kHz), the gain still moving across the
# 24 taps of a peak beyond the guard, and TPDF dither of 16-bit output (+-2 LSB, 0.0005 dB at
# -1 dBFS). Measured in tests/test_chain_limiter.py against 4x and 16x resample_poly meters.
MARGIN_DB = 0.1


def lookahead_samples(lookahead_ms: float, sample_rate: float) -> int:
    return max(1, int(round(lookahead_ms * 1e-3 * sample_rate)))


def ceiling_gain(ceiling_dbtp):
    """Linear detection threshold for a ceiling in dBTP (float or tensor)."""
    return 10.0 ** ((ceiling_dbtp - MARGIN_DB) / 20.0)


@njit(cache=True)
def _curve_row(q, rel, la, g_out, arg_out, r_out):
    """One row: q [T] -> G [T]; arg_out[n]: index of the minimum h[n] came from; r_out: r."""
    t = q.shape[0]
    dq = np.empty(t + la + GUARD + 1, dtype=np.int64)  # monotonic deque of indices into q
    head = 0
    tail = 0
    r_prev = 1.0
    inv = 1.0 / (la + 1)
    r_sum = float(la + 1)  # r = 1 before the start
    ahead = la + GUARD
    for m in range(min(ahead, t)):
        while tail > head and q[dq[tail - 1]] >= q[m]:
            tail -= 1
        dq[tail] = m
        tail += 1
    for n in range(t):
        m = n + ahead
        if m < t:
            while tail > head and q[dq[tail - 1]] >= q[m]:
                tail -= 1
            dq[tail] = m
            tail += 1
        while dq[head] < n - GUARD:
            head += 1
        i = dq[head]
        h = q[i]
        arg_out[n] = i
        r = h if h < r_prev else rel * r_prev + (1.0 - rel) * h
        r_out[n] = r
        r_sum += r - (r_out[n - la - 1] if n > la else 1.0)
        r_prev = r
        g_out[n] = r_sum * inv


@one_at_a_time
@njit(cache=True, parallel=True)
def curve(q, rel, la):
    """Gain curves G [R, T] for required gains q [R, T] (float64), release poles rel [R].
    Also returns the argmin indices and r for the backward pass."""
    rows, t = q.shape
    g = np.empty((rows, t))
    arg = np.empty((rows, t), dtype=np.int64)
    r = np.empty((rows, t))
    for row in prange(rows):
        _curve_row(q[row], rel[row], la, g[row], arg[row], r[row])
    return g, arg, r


@one_at_a_time
@njit(cache=True, parallel=True)
def curve_backward(grad_g, q, arg, r, rel, la):
    """Adjoint of `curve` (branches frozen as in the forward pass): grad_q [R, T], grad_rel [R]."""
    rows, t = grad_g.shape
    grad_q = np.zeros((rows, t))
    grad_rel = np.zeros(rows)
    inv = 1.0 / (la + 1)
    for row in prange(rows):
        gg = grad_g[row]
        rr = r[row]
        a = rel[row]
        window = 0.0  # sum of grad_g[m .. m + la]: every G that averaged r[m]
        carry = 0.0  # dL/dr[m] through r[m + 1]
        g_rel = 0.0
        for m in range(t - 1, -1, -1):
            window += gg[m]
            if m + la + 1 < t:
                window -= gg[m + la + 1]
            u = window * inv + carry
            i = arg[row, m]
            h = q[row, i]
            prev = rr[m - 1] if m > 0 else 1.0
            if h < prev:  # attack: r[m] = h
                grad_q[row, i] += u
                carry = 0.0
            else:  # release: r[m] = a prev + (1 - a) h
                grad_q[row, i] += (1.0 - a) * u
                carry = a * u
                g_rel += u * (prev - h)
        grad_rel[row] = g_rel
    return grad_q, grad_rel
