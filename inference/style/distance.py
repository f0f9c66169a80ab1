"""How far a render is from an engineer's master: 1/3-octave levels frame by frame, and MR-STFT."""

from __future__ import annotations

import math

import numpy as np

THIRD_OCTAVE = 1.0 / 3.0
DISTANCE_FRAME_S = 0.046  # frames of the spectral distance (2048 samples at 44.1 kHz), hop a quarter
DISTANCE_RANGE_DB = 60.0  # band levels are floored this far under the loudest frame's loudest band


def _third_octave_matrix(n: int, sample_rate: int) -> np.ndarray:
    """[bins, bands] 1/3-octave bands from 31.5 Hz to min(16 kHz, 0.45 x rate)."""
    bins = np.arange(n // 2 + 1) * sample_rate / n
    top = min(16000.0, 0.45 * sample_rate)
    centres = 31.5 * 2.0 ** (np.arange(int(math.log2(top / 31.5) / THIRD_OCTAVE) + 1) * THIRD_OCTAVE)
    lo, hi = centres * 2 ** (-THIRD_OCTAVE / 2), centres * 2 ** (THIRD_OCTAVE / 2)
    m = ((bins[:, None] >= lo[None]) & (bins[:, None] < hi[None])).astype(np.float64)
    for b in np.flatnonzero(m.sum(0) == 0):  # a band narrower than a bin: the nearest bin
        m[np.argmin(np.abs(bins - centres[b])), b] = 1.0
    return m


def band_levels(clips: np.ndarray, sample_rate: int) -> np.ndarray:
    """[N, 2, T, B] mid and side 1/3-octave levels (dB) per frame of excerpts [N, C, L] (a mono
    file: its side is silence). float32: a distance in tenths of a dB needs no more."""
    import scipy.fft

    from tonematch.models.measure.spectrum import centred_frames, hann

    n = 1 << int(round(math.log2(DISTANCE_FRAME_S * sample_rate)))
    x = np.asarray(clips, np.float32)
    mid = 0.5 * (x[:, 0] + x[:, 1]) if x.shape[1] == 2 else x[:, 0]
    side = 0.5 * (x[:, 0] - x[:, 1]) if x.shape[1] == 2 else np.zeros_like(mid)
    m = _third_octave_matrix(n, sample_rate).astype(np.float32)
    window = hann(n).astype(np.float32)
    frames = centred_frames(np.stack([mid, side], axis=1), n, n // 4) * window
    spec = scipy.fft.rfft(frames, axis=-1)
    power = (spec.real**2 + spec.imag**2) @ m
    return 10.0 * np.log10(np.maximum(power, 1e-20))


class Distance:
    """spectral_distance to one master's excerpts, its levels measured once."""

    def __init__(self, master: np.ndarray, sample_rate: int):
        self.sample_rate = sample_rate
        self.levels = band_levels(master, sample_rate)
        self.floor = float(self.levels.max()) - DISTANCE_RANGE_DB
        self.use = self.levels > self.floor

    def __call__(self, out: np.ndarray) -> float:
        if not self.use.any():
            return 0.0
        a = np.maximum(band_levels(out, self.sample_rate), self.floor)
        return float(np.abs(a - self.levels)[self.use].mean())


def spectral_distance(out: np.ndarray, master: np.ndarray, sample_rate: int) -> float:
    """How far a render is from the master, excerpts [N, C, L] at the same places: the mean
    absolute difference of their mid and side 1/3-octave levels frame by frame (dB), over the
    master's audible frames and bands (within DISTANCE_RANGE_DB of its loudest)."""
    return Distance(master, sample_rate)(out)


def excerpt_mrstft(out: np.ndarray, master: np.ndarray, sample_rate: int) -> float:
    """MR-STFT (inference/quality.py) of a render against the master [C, T], on the excerpts the
    masters are analysed on, one excerpt at a time (the mean: a sixth of the memory of the joined
    excerpts, 150 MB rather than 0.9 GB)."""
    from tonematch.models import excerpts

    from .. import quality
    from ..inputs import EXCERPT_S, MAX_EXCERPTS

    a = excerpts.excerpts(out, sample_rate, EXCERPT_S, MAX_EXCERPTS)
    b = excerpts.excerpts(master, sample_rate, EXCERPT_S, MAX_EXCERPTS)
    return float(np.mean([quality.mrstft(x, y) for x, y in zip(a, b)]))
