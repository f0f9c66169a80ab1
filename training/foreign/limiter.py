"""Lookahead peak limiter, true-peak-ish via 4x oversampling (evaluation only).

  1. detection: the 4x polyphase upsampled signal (scipy's Kaiser-windowed resampler), the peak
     of every channel over (n - 1, n + 1), so a peak between samples counts on both neighbours
  2. need[n] = min(1, ceiling / peak[n])
  3. a centred minimum over n +- h, then a Hann-weighted mean over n +- h: a raised-cosine
     gain ramp that starts 2h samples before a peak and is complete at it (every minimum in the
     mean covers n, so the gain never exceeds need[n])
  4. program-dependent release in the dB domain: a fast reduction follows the ramp down at once
     and releases with a tenth of the release time; a slow one follows the fast one both ways with
     the release time; the deeper of the two applies (an isolated peak recovers fast, sustained
     limiting slowly, and the gain is always at or below the ramp)
  5. the output's true peak is read on the shared meter (tonematch.models.measure.truepeak); where
     it still exceeds the ceiling, the pass is repeated aiming lower by the excess

No latency is left: the ramp looks ahead in the array itself.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy.ndimage import maximum_filter1d, minimum_filter1d
from scipy.signal import oaconvolve, resample_poly

from tonematch.models.measure.truepeak import true_peak_dbtp

OVERSAMPLE = 4
PASSES = 4
MARGIN_DB = 0.05  # the first pass aims this far below the ceiling (the gain's own modulation)


def peak_envelope(x: np.ndarray) -> np.ndarray:
    """[T]: max over channels of the 4x upsampled |x| over (n - 1, n + 1), and of |x[n]|."""
    up = np.abs(resample_poly(x.astype(np.float64), OVERSAMPLE, 1, axis=-1)).max(axis=0)
    up = maximum_filter1d(up, 2 * OVERSAMPLE - 1, mode="constant", cval=0.0)
    return np.maximum(up[::OVERSAMPLE][: x.shape[-1]], np.abs(x).max(axis=0))


FAST_RELEASE = 0.1  # the fast release time, as a fraction of release_ms


@njit(cache=True)
def _release_db(ramp_db, fast_coefficient, slow_coefficient):
    out = np.empty_like(ramp_db)
    fast = 0.0
    slow = 0.0
    for i in range(ramp_db.shape[0]):
        r = ramp_db[i]
        fast = r if r < fast else fast + fast_coefficient * (r - fast)
        slow += slow_coefficient * (fast - slow)
        out[i] = min(fast, slow)
    return out


def gain_curve(envelope: np.ndarray, ceiling: float, half_ms: float, release_ms: float, sample_rate: int):
    """Linear gain [T] that holds `envelope` * gain <= ceiling."""
    need = np.minimum(1.0, ceiling / np.maximum(envelope, 1e-12))
    if need.min() >= 1.0:
        return np.ones_like(need)  # nothing to do: exactly transparent
    h = max(1, int(round(half_ms * 1e-3 * sample_rate)))
    floor = minimum_filter1d(need, 2 * h + 1, mode="constant", cval=1.0)
    window = np.hanning(2 * h + 3)[1:-1]  # 2h + 1 positive weights
    padded = np.pad(floor, h, constant_values=1.0)
    ramp = oaconvolve(padded, window / window.sum(), mode="valid")
    ramp = np.minimum(ramp, floor)  # rounding of the mean must not lift it over its own minima

    def coefficient(ms):
        return 1.0 - math.exp(-1.0 / max(ms * 1e-3 * sample_rate, 1e-9))

    ramp_db = 20.0 * np.log10(np.maximum(ramp, 1e-12))
    return 10.0 ** (_release_db(ramp_db, coefficient(FAST_RELEASE * release_ms), coefficient(release_ms)) / 20.0)


def limit(
    x: np.ndarray,
    sample_rate: int,
    ceiling_dbtp: float = -1.0,
    release_ms: float = 80.0,
    lookahead_ms: float = 3.0,
    envelope: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(x [C, T] limited to ceiling_dbtp, the linear gain [T] applied). `envelope`: x's
    peak_envelope when the caller has it (it scales with x)."""
    x = np.asarray(x, dtype=np.float32)
    envelope = peak_envelope(x) if envelope is None else envelope
    aim = ceiling_dbtp - MARGIN_DB
    for _ in range(PASSES):
        gain = gain_curve(envelope, 10.0 ** (aim / 20.0), 0.5 * lookahead_ms, release_ms, sample_rate)
        y = (x * gain).astype(np.float32)
        excess = true_peak_dbtp(y) - ceiling_dbtp
        if excess <= 0.0:
            break
        aim -= excess + 0.01
    return y, gain
