"""Soft clipper, 4x oversampled (evaluation only).

Below `level - knee` the curve is the identity; above it, |y| = t + (level - t) tanh((|x| - t) /
(level - t)) with t = level - knee (in linear terms): slope 1 where it departs, and it never
reaches `level`. The curve runs on the 4x upsampled signal (scipy's polyphase resampler) and only
its distortion, the difference it makes, is taken back down and added: samples of a clip that
never reaches the knee come out exactly as they went in.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import resample_poly

OVERSAMPLE = 4


def curve(a: np.ndarray, level: float, knee: float) -> np.ndarray:
    """The clipping curve on magnitudes a >= 0 (linear level and knee start t = level - knee)."""
    t = max(level - knee, 0.0)
    span = level - t
    return np.where(a > t, t + span * np.tanh((a - t) / span), a)


def soft_clip(x: np.ndarray, level_db: float, knee_db: float = 3.0) -> np.ndarray:
    """x [C, T] float32 soft-clipped at level_db dBFS (the knee starts knee_db below it)."""
    x = np.asarray(x, dtype=np.float32)
    level = 10.0 ** (level_db / 20.0)
    knee = level - 10.0 ** ((level_db - knee_db) / 20.0)
    up = resample_poly(x.astype(np.float64), OVERSAMPLE, 1, axis=-1)
    magnitude = np.abs(up)
    if magnitude.max() <= level - knee:
        return x.copy()
    distortion = np.sign(up) * curve(magnitude, level, knee) - up
    back = resample_poly(distortion, 1, OVERSAMPLE, axis=-1)[..., : x.shape[-1]]
    return (x + back).astype(np.float32)
