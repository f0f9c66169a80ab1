"""Sample-by-sample recursions compiled with numba.

The same kernels run the exact (streaming) renderer and the forward pass of the differentiable
one, so both renderings share one implementation of every recursion. Arithmetic is float64
whatever the audio dtype: coefficient and state precision dominate accuracy.
`cache=True` keeps process start cheap (compiled once per machine, < 10 ms to load after).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from tonematch.data.concurrency import one_at_a_time
from tonematch.models.measure.loudness.meter import k_weight_step


@one_at_a_time
@njit(cache=True, parallel=True)
def biquad_forward(x, coefs, state):
    """Direct form II transposed biquad per row.

    x: [R, T]; coefs: [R, 5] float64 (b0, b1, b2, a1, a2), a0 normalised to 1;
    state: [R, 2] float64, read and updated in place (carry it across blocks).
    """
    rows, length = x.shape
    y = np.empty_like(x)
    for r in prange(rows):
        b0, b1, b2, a1, a2 = coefs[r, 0], coefs[r, 1], coefs[r, 2], coefs[r, 3], coefs[r, 4]
        s1 = state[r, 0]
        s2 = state[r, 1]
        for n in range(length):
            xn = np.float64(x[r, n])
            yn = b0 * xn + s1
            s1 = b1 * xn - a1 * yn + s2
            s2 = b2 * xn - a2 * yn
            y[r, n] = yn
        state[r, 0] = s1
        state[r, 1] = s2
    return y


@one_at_a_time
@njit(cache=True, parallel=True, nogil=True)
def sos_forward(x, sos, state):
    """A cascade of biquads per row, four sections per sweep over the block.

    x: [R, T]; sos: [R, S, 5] float64 with S a multiple of 4 (pad with identity sections
    (1, 0, 0, 0, 0)); state: [R, S, 2] float64, updated in place. Four sections in one sweep
    with their state in registers overlap four recursions, about 3x faster than one section
    per sweep or state kept in an array (measured on 2 cores, benchmarks/bench_render.py).
    """
    rows, length = x.shape
    sections = sos.shape[1]
    y = np.empty_like(x)
    for r in prange(rows):
        buf = np.empty(length)
        for n in range(length):
            buf[n] = x[r, n]
        for k in range(0, sections, 4):
            a0, a1, a2, a3, a4 = sos[r, k, 0], sos[r, k, 1], sos[r, k, 2], sos[r, k, 3], sos[r, k, 4]
            b0, b1, b2, b3, b4 = (
                sos[r, k + 1, 0],
                sos[r, k + 1, 1],
                sos[r, k + 1, 2],
                sos[r, k + 1, 3],
                sos[r, k + 1, 4],
            )
            c0, c1, c2, c3, c4 = (
                sos[r, k + 2, 0],
                sos[r, k + 2, 1],
                sos[r, k + 2, 2],
                sos[r, k + 2, 3],
                sos[r, k + 2, 4],
            )
            d0, d1, d2, d3, d4 = (
                sos[r, k + 3, 0],
                sos[r, k + 3, 1],
                sos[r, k + 3, 2],
                sos[r, k + 3, 3],
                sos[r, k + 3, 4],
            )
            sa1, sa2 = state[r, k, 0], state[r, k, 1]
            sb1, sb2 = state[r, k + 1, 0], state[r, k + 1, 1]
            sc1, sc2 = state[r, k + 2, 0], state[r, k + 2, 1]
            sd1, sd2 = state[r, k + 3, 0], state[r, k + 3, 1]
            for n in range(length):
                v = buf[n]
                ya = a0 * v + sa1
                sa1 = a1 * v - a3 * ya + sa2
                sa2 = a2 * v - a4 * ya
                yb = b0 * ya + sb1
                sb1 = b1 * ya - b3 * yb + sb2
                sb2 = b2 * ya - b4 * yb
                yc = c0 * yb + sc1
                sc1 = c1 * yb - c3 * yc + sc2
                sc2 = c2 * yb - c4 * yc
                yd = d0 * yc + sd1
                sd1 = d1 * yc - d3 * yd + sd2
                sd2 = d2 * yc - d4 * yd
                buf[n] = yd
            state[r, k, 0], state[r, k, 1] = sa1, sa2
            state[r, k + 1, 0], state[r, k + 1, 1] = sb1, sb2
            state[r, k + 2, 0], state[r, k + 2, 1] = sc1, sc2
            state[r, k + 3, 0], state[r, k + 3, 1] = sd1, sd2
        for n in range(length):
            y[r, n] = buf[n]
    return y


class Cascade:
    """A biquad cascade (rows [S, 5], the same on every channel) run block by block, its state
    carried across blocks: the streaming form of an EQ stage. No sections: blocks pass as they are."""

    latency = 0

    def __init__(self, sections: list, channels: int):
        sos = np.array([np.reshape(c, 5) for c in sections], dtype=np.float64).reshape(-1, 5)
        self.sos = pad_sections(np.broadcast_to(sos[None], (channels,) + sos.shape))
        self.state = np.zeros(self.sos.shape[:2] + (2,))

    def process(self, block: np.ndarray) -> np.ndarray:
        if self.sos.shape[1] == 0:
            return block
        return sos_forward(np.ascontiguousarray(block), self.sos, self.state)


def pad_sections(sos: np.ndarray) -> np.ndarray:
    """[..., S, 5] -> [..., S', 5] with S' a multiple of 4, padded with identity sections."""
    extra = (-sos.shape[-2]) % 4
    if not extra:
        return np.ascontiguousarray(sos)
    ident = np.zeros(sos.shape[:-2] + (extra, 5))
    ident[..., 0] = 1.0
    return np.ascontiguousarray(np.concatenate([sos, ident], axis=-2))


@njit(cache=True, nogil=True)
def compress_gain(level, threshold_db, ratio, knee_db, makeup_db, att, rel, state, out):
    """The compressor's recursion on one block: detector level (natural log of the linked peak,
    [n] float32) -> output gain as a natural log ([n] float32, written to `out`).

    Same arithmetic as `compressor.apply`, float64 inside: soft-knee gain computer, attack/release
    smoothing of the gain in dB, makeup. state: [1] smoothed gain (dB), carried across blocks.
    The logs and exps themselves run in numpy's float32 SIMD loops (compressor.Stream): about 15x
    cheaper than float64 libm calls here, and their 1e-7 relative error is float32's own.
    """
    slope = 1.0 / ratio - 1.0
    knee_safe = max(knee_db, 1e-6)
    prev = state[0]
    db_per_ln = 20.0 / np.log(10.0)
    for n in range(level.shape[0]):
        over = db_per_ln * np.float64(level[n]) - threshold_db
        if 2.0 * over < -knee_db:
            static = 0.0
        elif 2.0 * over > knee_db:
            static = slope * over
        else:
            static = slope * (over + knee_db / 2.0) ** 2 / (2.0 * knee_safe)
        a = att if static < prev else rel
        prev = a * prev + (1.0 - a) * static
        out[n] = (prev + makeup_db) / db_per_ln
    state[0] = prev


@njit(cache=True, nogil=True)
def smoothed_power(x, pole, state, out):
    """The compressor's RMS detector on one block: the mean over channels of x^2, smoothed by a
    one-pole of coefficient `pole` (ops.time_constant_to_pole of the window), float64 inside.
    x: [C, n]; state: [1] the smoothed power, carried across blocks; out: [n] float32."""
    channels, n = x.shape
    prev = state[0]
    for i in range(n):
        s = 0.0
        for c in range(channels):
            v = np.float64(x[c, i])
            s += v * v
        prev = pole * prev + (1.0 - pole) * (s / channels)
        out[i] = prev
    state[0] = prev


@one_at_a_time
@njit(cache=True, parallel=True)
def biquad_backward(grad_y, x, y, coefs):
    """Adjoint of `biquad_forward` from zero initial state.

    y = (1/A) v, v = B x.  u = dL/dv is grad_y run backwards through 1/A; then
    dL/dx[n] = sum_k b_k u[n+k], dL/db_k = sum_n u[n] x[n-k], dL/da_k = -sum_n u[n] y[n-k].
    Returns grad_x [R, T] and grad_coefs [R, 5] (float64).
    """
    rows, length = x.shape
    grad_x = np.empty_like(x)
    grad_c = np.zeros((rows, 5))
    for r in prange(rows):
        b0, b1, b2, a1, a2 = coefs[r, 0], coefs[r, 1], coefs[r, 2], coefs[r, 3], coefs[r, 4]
        u1 = 0.0  # u[n+1]
        u2 = 0.0  # u[n+2]
        gb0 = 0.0
        gb1 = 0.0
        gb2 = 0.0
        ga1 = 0.0
        ga2 = 0.0
        for n in range(length - 1, -1, -1):
            un = np.float64(grad_y[r, n]) - a1 * u1 - a2 * u2
            grad_x[r, n] = b0 * un + b1 * u1 + b2 * u2
            gb0 += un * x[r, n]
            if n >= 1:
                gb1 += un * x[r, n - 1]
                ga1 -= un * y[r, n - 1]
            if n >= 2:
                gb2 += un * x[r, n - 2]
                ga2 -= un * y[r, n - 2]
            u2 = u1
            u1 = un
        grad_c[r, 0] = gb0
        grad_c[r, 1] = gb1
        grad_c[r, 2] = gb2
        grad_c[r, 3] = ga1
        grad_c[r, 4] = ga2
    return grad_x, grad_c


@one_at_a_time
@njit(cache=True, parallel=True)
def ballistics_forward(x, att, rel, state):
    """One-pole smoother with separate attack and release coefficients, per row.

    Attack applies while the input is below the smoothed value (more gain reduction), release
    otherwise: y[n] = a y[n-1] + (1 - a) x[n].  att/rel: [R] float64 pole coefficients in [0, 1)
    (0 = instant).  state: [R] float64 previous output, updated in place.
    """
    rows, length = x.shape
    y = np.empty_like(x)
    for r in prange(rows):
        prev = state[r]
        a_att = att[r]
        a_rel = rel[r]
        for n in range(length):
            xn = np.float64(x[r, n])
            a = a_att if xn < prev else a_rel
            prev = a * prev + (1.0 - a) * xn
            y[r, n] = prev
        state[r] = prev
    return y


@one_at_a_time
@njit(cache=True, parallel=True)
def ballistics_backward(grad_y, x, y, att, rel, initial):
    """Adjoint of `ballistics_forward` (branch choices frozen as in the forward pass).

    Returns grad_x [R, T], grad_att [R], grad_rel [R].
    """
    rows, length = x.shape
    grad_x = np.empty_like(x)
    grad_att = np.zeros(rows)
    grad_rel = np.zeros(rows)
    for r in prange(rows):
        carry = 0.0
        g_att = 0.0
        g_rel = 0.0
        for n in range(length - 1, -1, -1):
            u = np.float64(grad_y[r, n]) + carry
            prev = y[r, n - 1] if n > 0 else initial[r]
            xn = np.float64(x[r, n])
            if xn < prev:
                a = att[r]
                g_att += u * (prev - xn)
            else:
                a = rel[r]
                g_rel += u * (prev - xn)
            grad_x[r, n] = (1.0 - a) * u
            carry = a * u
        grad_att[r] = g_att
        grad_rel[r] = g_rel
    return grad_x, grad_att, grad_rel


@njit(cache=True, nogil=True)
def weighted_power(x, sos, state, weights, out):
    """Per-sample K-weighted power summed over channels: out[i] = sum_c w_c (K x_c)[i]^2.

    x: [C, n]; sos: [C, 2, 5] (the two K-weighting biquads); state: [C, 2, 2] carried across
    blocks (updated in place); weights: [C] BS.1770 channel weights; out: [n] float32.
    """
    channels, n = x.shape
    for i in range(n):
        out[i] = 0.0
    for c in range(channels):
        a = (sos[c, 0, 0], sos[c, 0, 1], sos[c, 0, 2], sos[c, 0, 3], sos[c, 0, 4])
        b = (sos[c, 1, 0], sos[c, 1, 1], sos[c, 1, 2], sos[c, 1, 3], sos[c, 1, 4])
        s = (state[c, 0, 0], state[c, 0, 1], state[c, 1, 0], state[c, 1, 1])
        w = weights[c]
        for i in range(n):
            yb, s = k_weight_step(np.float64(x[c, i]), a, b, s)
            out[i] += w * yb * yb
        state[c, 0, 0], state[c, 0, 1], state[c, 1, 0], state[c, 1, 1] = s


@njit(cache=True, nogil=True)
def mid_side_width(x, w, out):
    """Stereo width in one sweep: side scaled by w, mid kept. x, out: [2, n] float32; w float32."""
    half = np.float32(0.5)
    for i in range(x.shape[1]):
        a, b = x[0, i], x[1, i]
        mid = half * (a + b)
        side = half * (a - b) * w
        out[0, i] = mid + side
        out[1, i] = mid - side
