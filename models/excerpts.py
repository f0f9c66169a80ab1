"""Excerpts: how a track of any length is seen in bounded memory (numpy only, no torch).

Analysis, prediction and refinement read a few evenly spaced excerpts of a mix or a reference
rather than the whole file, so their memory and time do not grow with its length. The network
(model.py, numpy_runtime.py) places its own excerpts with the same `excerpt_starts`.
"""

from __future__ import annotations

import math

import numpy as np


def excerpt_starts(frames: int, excerpt: int, count: int) -> list[int]:
    """Up to `count` evenly spaced excerpt starts covering the whole track (one if it is short)."""
    if frames <= excerpt:
        return [0]
    n = min(count, math.ceil(frames / excerpt))
    return [int(round(s)) for s in np.linspace(0, frames - excerpt, n)]


def excerpts(audio: np.ndarray, sample_rate: int, excerpt_s: float = 6.0, max_excerpts: int = 6) -> np.ndarray:
    """[C, T] -> [N, C, L]: up to `max_excerpts` evenly spaced excerpts of `excerpt_s` seconds
    covering the whole track (the track itself when it is shorter than one)."""
    audio = np.asarray(audio, dtype=np.float32)
    length = int(excerpt_s * sample_rate)
    starts = excerpt_starts(audio.shape[1], length, max_excerpts)
    clips = [audio[:, s : s + length] for s in starts]
    n = min(c.shape[1] for c in clips)
    return np.stack([c[:, :n] for c in clips])


def joined(clips: np.ndarray) -> np.ndarray:
    """[N, C, L] -> [C, N * L]: excerpts end to end (what the exact check renders)."""
    return np.concatenate(list(clips), axis=1)


def split(audio: np.ndarray, count: int) -> np.ndarray:
    """Inverse of `joined`: [C, N * L] -> [N, C, L]."""
    return np.stack(np.split(audio[:, : audio.shape[1] // count * count], count, axis=1))
