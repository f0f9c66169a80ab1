"""Sample-by-sample recursions compiled with numba.

The same kernels run the exact (streaming) renderer and the forward pass of the differentiable
one, so both renderings share one implementation of every recursion. Arithmetic is float64
whatever the audio dtype (DSP_NOTES: coefficient and state precision dominate accuracy).
`cache=True` keeps process start cheap (compiled once per machine, < 10 ms to load after).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


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


@njit(cache=True, parallel=True)
def sos_forward(x, sos, state):
    """A cascade of biquads per row, all sections in one sweep (cache friendly).

    x: [R, T]; sos: [R, S, 5] float64; state: [R, S, 2] float64, updated in place.
    """
    rows, length = x.shape
    sections = sos.shape[1]
    y = np.empty_like(x)
    for r in prange(rows):
        s = state[r].copy()
        for n in range(length):
            v = np.float64(x[r, n])
            for k in range(sections):
                yn = sos[r, k, 0] * v + s[k, 0]
                s[k, 0] = sos[r, k, 1] * v - sos[r, k, 3] * yn + s[k, 1]
                s[k, 1] = sos[r, k, 2] * v - sos[r, k, 4] * yn
                v = yn
            y[r, n] = v
        state[r] = s
    return y


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
