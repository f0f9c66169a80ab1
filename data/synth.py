"""Synthetic, music-like test signals, so tests and demos need no audio corpus.

Chords of decaying harmonic tones, a kick drum and noise hi-hats, panned across the stereo field:
broadband, with transients, dynamics and stereo content like real music, unlike a bare sine.
"""

from __future__ import annotations

import numpy as np


def music_like(seconds: float = 4.0, sample_rate: int = 44100, seed: int = 0, channels: int = 2) -> np.ndarray:
    """[channels, frames] float32 peaking at about -3 dBFS."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    left = np.zeros(n)
    right = np.zeros(n)
    beat = 0.5  # seconds per beat (120 bpm)

    ring = int(2.0 * sample_rate)  # notes and drums have died away after 2 s: stop computing them

    # Chords: three notes per beat, each with a few harmonics and an exponential decay.
    for start in np.arange(0.0, seconds, beat):
        i0 = int(start * sample_rate)
        seg = t[i0 : i0 + ring] - start
        i1 = i0 + seg.size
        for midi in rng.choice(np.arange(48, 76), size=3, replace=False):
            f0 = 440.0 * 2.0 ** ((midi - 69) / 12.0)
            tone = sum(np.sin(2 * np.pi * f0 * h * seg + rng.uniform(0, 2 * np.pi)) / h**1.5 for h in range(1, 6))
            voice = 0.12 * tone * np.exp(-seg / rng.uniform(0.2, 0.8))
            pan = rng.uniform(0.2, 0.8)
            left[i0:i1] += voice * np.sqrt(1 - pan)
            right[i0:i1] += voice * np.sqrt(pan)

    # Kick on every beat, a hi-hat on the off-beats.
    for start in np.arange(0.0, seconds, beat):
        i0 = int(start * sample_rate)
        seg = t[i0 : i0 + ring] - start
        # Pitch sweeping down from ~110 Hz to 50 Hz: the phase integrates 50 + 60 exp(-t/30 ms).
        kick = 0.5 * np.sin(2 * np.pi * (50.0 * seg + 60.0 * 0.03 * (1 - np.exp(-seg / 0.03)))) * np.exp(-seg / 0.15)
        left[i0 : i0 + seg.size] += kick
        right[i0 : i0 + seg.size] += kick
        h0 = int((start + beat / 2) * sample_rate)
        if h0 < n:
            m = min(n - h0, int(0.05 * sample_rate))
            hat = rng.standard_normal((2, m)) * 0.05 * np.exp(-np.arange(m) / (0.01 * sample_rate))
            hat = np.diff(hat, axis=1, prepend=0.0)  # high-pass: a hat, not a snare
            left[h0 : h0 + m] += hat[0]
            right[h0 : h0 + m] += hat[1]

    x = np.stack([left, right])
    x *= 0.7 / max(np.abs(x).max(), 1e-9)
    if channels == 1:
        x = x.mean(axis=0, keepdims=True)
    return x.astype(np.float32)
