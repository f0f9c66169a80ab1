"""Feedback RMS compressor with program-dependent release (evaluation only).

Feedback: the detector hears the compressor's OUTPUT (each sample's gain comes from the level of
what already left), as in classic opto / vari-mu designs, not the input as the project's chain.
Per sample n (channels linked by their mean power):

  p[n]    = p[n-1] + a_rms (mean_c y[c, n-1]^2 - p[n-1])        RMS detector on the output
  over    = soft-knee(10 log10 p[n] - threshold)                 dB above threshold (output side)
  target  = (ratio - 1) * over                                   dB of reduction: at rest an
            input over I gives an output over I / ratio, so reduction = I (1 - 1 / ratio)
  fast    -> target with the attack time rising, the release time falling
  slow    -> fast with `auto_release` times the release time falling, twice that rising
  gr      = max(fast, slow)                                      dB of gain reduction

A short burst barely charges `slow`, so it recovers at the fast release; a long loud passage
charges it, and the gain comes back at the slow one: program-dependent release.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


def _coefficient(ms: float, sample_rate: float) -> float:
    return 1.0 - math.exp(-1.0 / max(ms * 1e-3 * sample_rate, 1e-9))


@njit(cache=True)
def _kernel(x, threshold_db, ratio, knee_db, a_rms, a_attack, a_release, a_charge, a_slow, initial_power):
    channels, n = x.shape
    y = np.empty_like(x)
    reduction = np.empty(n)
    p = initial_power
    fast = 0.0
    slow = 0.0
    half = 0.5 * knee_db
    for i in range(n):
        gr = max(fast, slow)
        g = 10.0 ** (-gr / 20.0)
        s = 0.0
        for c in range(channels):
            v = np.float64(x[c, i]) * g
            y[c, i] = v
            s += v * v
        reduction[i] = gr
        p += a_rms * (s / channels - p)
        over = 10.0 * math.log10(p + 1e-20) - threshold_db
        if over <= -half:
            knee_over = 0.0
        elif over < half:
            knee_over = (over + half) * (over + half) / (2.0 * knee_db)
        else:
            knee_over = over
        target = (ratio - 1.0) * knee_over
        fast += (a_attack if target > fast else a_release) * (target - fast)
        slow += (a_charge if fast > slow else a_slow) * (fast - slow)
    return y, reduction


def compress(
    x: np.ndarray,
    sample_rate: int,
    threshold_db: float,
    ratio: float,
    attack_ms: float = 10.0,
    release_ms: float = 150.0,
    rms_ms: float = 10.0,
    knee_db: float = 6.0,
    auto_release: float = 5.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(output [C, T] float32, gain reduction in dB per sample [T]). ratio 1 returns x unchanged;
    auto_release <= 1 switches the slow release off (one release time).
    The detector starts at the power of the first rms_ms of x (a clip does not start released
    from silence)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if ratio <= 1.0:
        return x.copy(), np.zeros(x.shape[1])
    head = x[:, : max(1, int(rms_ms * 1e-3 * sample_rate))].astype(np.float64)
    y, reduction = _kernel(
        x,
        float(threshold_db),
        float(ratio),
        max(float(knee_db), 1e-6),
        _coefficient(rms_ms, sample_rate),
        _coefficient(attack_ms, sample_rate),
        _coefficient(release_ms, sample_rate),
        _coefficient(2.0 * release_ms * auto_release, sample_rate) if auto_release > 1.0 else 0.0,
        _coefficient(release_ms * auto_release, sample_rate) if auto_release > 1.0 else 0.0,
        float(np.mean(head**2)),
    )
    return y.astype(np.float32), reduction
