"""Synthetic test signals: deterministic, music-like, no corpus needed (CI has none)."""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt


def music_like(seconds: float = 4.0, sample_rate: int = 44100, seed: int = 0, level_db: float = -18.0) -> np.ndarray:
    """Stereo [2, T] float32: a bass line, chords with decaying notes, band-limited noise drums
    (kick and hats), panned differently, so EQ, dynamics and width all have work to do."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    out = np.zeros((2, n))
    beat = 0.5
    for k in range(int(seconds / beat) + 1):
        start = int(k * beat * sample_rate)
        if start >= n:
            break
        seg = slice(start, n)
        tt = t[seg] - t[start]
        env = np.exp(-tt * 6.0)
        f0 = 55.0 * 2 ** (rng.integers(0, 12) / 12)
        bass = 0.5 * np.sin(2 * np.pi * f0 * tt) * env
        partials = (0.15 * np.sin(2 * np.pi * f0 * 4 * r * tt + rng.uniform(0, 6)) for r in (1.0, 1.26, 1.5))
        chord = sum(partials) * np.exp(-tt * 2.0)
        kick = 0.8 * np.sin(2 * np.pi * 60 * tt * np.exp(-tt * 10)) * np.exp(-tt * 25)
        out[0, seg] += bass + 0.8 * chord + kick
        out[1, seg] += bass + 0.5 * chord + kick
    hats = sosfilt(butter(4, 6000, "highpass", fs=sample_rate, output="sos"), rng.standard_normal((2, n)))
    gate = (np.sin(2 * np.pi * t / (beat / 2)) > 0.7).astype(float)
    out += 0.15 * hats * gate
    out += 0.01 * rng.standard_normal((2, n))
    rms = np.sqrt(np.mean(out**2))
    return (out * (10 ** (level_db / 20) / rms)).astype(np.float32)


def residual_db(a: np.ndarray, b: np.ndarray) -> float:
    """Energy of a - b relative to the energy of a, in dB."""
    return float(10 * np.log10(np.sum((a.astype(np.float64) - b) ** 2) / np.sum(a.astype(np.float64) ** 2) + 1e-300))


def true_peak_db(x: np.ndarray, oversample: int = 4) -> float:
    from scipy.signal import resample_poly

    return float(20 * np.log10(np.abs(resample_poly(x, oversample, 1, axis=-1)).max() + 1e-20))
