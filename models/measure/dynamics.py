"""Level and dynamics: sample peak, RMS, crest factor (streaming).

0 dBFS is a full-scale sample: a full-scale sine peaks at 0 dBFS and has RMS -3.01 dBFS, crest
3.01 dB. RMS and peak are taken over all channels together.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


def db(value: float, power: bool = False) -> float | None:
    """dB of a positive amplitude (or power); None for zero or less (silence has no level)."""
    if not value > 0.0:
        return None
    return (10.0 if power else 20.0) * math.log10(value)


@njit(cache=True)
def _peak_sumsq(x, acc):
    """acc[0] = max |x|, acc[1] += sum x^2 (float64) over the block x [C, n]."""
    channels, n = x.shape
    peak = acc[0]
    s = 0.0
    for c in range(channels):
        for i in range(n):
            v = np.float64(x[c, i])
            a = abs(v)
            if a > peak:
                peak = a
            s += v * v
    acc[0] = peak
    acc[1] += s


class LevelMeter:
    """Streaming sample peak and mean square over all channels, and each channel's mean (DC)."""

    def __init__(self):
        self.acc = np.zeros(2)
        self.samples = 0
        self.sums: np.ndarray | None = None  # per channel, float64

    def add(self, block: np.ndarray) -> None:
        block = np.atleast_2d(block)
        if block.size:
            _peak_sumsq(np.ascontiguousarray(block), self.acc)
            self.samples += block.size
            sums = block.sum(axis=1, dtype=np.float64)
            self.sums = sums if self.sums is None else self.sums + sums

    @property
    def dc_offset(self) -> float:
        """The largest channel's mean (linear, unsigned): what a DC offset adds to every sample."""
        if self.sums is None:
            return 0.0
        return float(np.abs(self.sums).max() * len(self.sums) / self.samples)

    @property
    def peak(self) -> float:
        return float(self.acc[0])

    @property
    def rms(self) -> float:
        return math.sqrt(self.acc[1] / self.samples) if self.samples else 0.0

    def crest_factor_db(self) -> float | None:
        rms = self.rms
        return db(self.peak / rms) if rms > 0 else None


def sample_peak(x: np.ndarray) -> float:
    x = np.asarray(x)
    return float(np.max(np.abs(x))) if x.size else 0.0


def rms(x: np.ndarray) -> float:
    x = np.asarray(x)
    return math.sqrt(float(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def dc_offset(x: np.ndarray) -> float:
    """The largest channel's mean (linear, unsigned) of [..., C, n] audio, over everything else."""
    x = np.asarray(x)
    if not x.size:
        return 0.0
    axes = tuple(i for i in range(x.ndim) if i != x.ndim - 2) if x.ndim > 1 else (0,)
    return float(np.abs(np.mean(x, axis=axes, dtype=np.float64)).max())


CLIP_TOLERANCE = 1e-4  # a top within a 16-bit step of the peak: +32767 and -32768 are both tops


def clipped_fraction(x: np.ndarray) -> float:
    """The share of the samples of [..., n] audio that sit flat at its own peak magnitude, in runs
    of three or more of one sign along the last axis: the flat tops a clipper, or a mix exported
    over full scale, leaves (at any level: a clipped mix turned down keeps them). Music reads 0,
    and so does a waveform swinging from +peak to -peak (a tone at a quarter of the rate)."""
    x = np.asarray(x)
    peak = float(np.abs(x).max(initial=0.0))
    if not peak > 0.0 or x.shape[-1] < 3:
        return 0.0
    level = np.float32(peak) * np.float32(1.0 - CLIP_TOLERANCE)
    flat = np.zeros(x.shape, dtype=bool)
    for top in (x >= level, x <= -level):  # a run stays on one side
        run = top[..., :-2] & top[..., 1:-1] & top[..., 2:]
        for k in range(3):  # every sample of each run of three
            flat[..., k : k + run.shape[-1]] |= run
    return float(flat.mean())


class ClipMeter:
    """clipped_fraction streamed over [C, n] blocks: the samples in runs of three or more flat at
    the running peak (within CLIP_TOLERANCE), runs followed across blocks. Tops counted under an
    earlier, lower peak are dropped when the peak rises past them, so a whole file reads as
    clipped_fraction reads it in one piece (exactly where its flat tops sit at its final peak)."""

    def __init__(self):
        self.peak = 0.0
        self.counted = 0  # samples in flat runs at the running peak
        self.samples = 0
        self.carry: np.ndarray | None = None  # per channel and side (+, -): the run of tops the last block ended in

    def add(self, block: np.ndarray) -> None:
        block = np.atleast_2d(np.asarray(block))
        if not block.size:
            return
        self.samples += block.size
        if self.carry is None:
            self.carry = np.zeros((block.shape[0], 2), dtype=np.int64)
        peak = max(self.peak, float(np.abs(block).max()))
        if peak > self.peak:  # the earlier tops sit under the new peak's band: none of them counts
            self.peak, self.counted = peak, 0
            self.carry[:] = 0
        if not self.peak > 0.0:
            return
        level = np.float32(self.peak) * np.float32(1.0 - CLIP_TOLERANCE)
        for side, top in enumerate((block >= level, block <= -level)):  # a run stays on one side
            for c, row in enumerate(top):
                self.counted += self._runs(row, c, side)

    def _runs(self, row: np.ndarray, c: int, side: int) -> int:
        """Samples of one channel's block newly counted on one side; updates that carry."""
        edges = np.flatnonzero(np.diff(np.concatenate(([False], row, [False])).astype(np.int8)))
        if not edges.size:
            self.carry[c, side] = 0
            return 0
        starts, lengths = edges[::2], edges[1::2] - edges[::2]
        before = int(self.carry[c, side]) if starts[0] == 0 else 0  # the run the last block ended in goes on
        counted = int(lengths[1:][lengths[1:] >= 3].sum())
        if before + lengths[0] >= 3:  # a run's first samples count once it reaches three
            counted += int(lengths[0]) + (before if before < 3 else 0)
        ends_at_edge = starts[-1] + lengths[-1] == row.size
        self.carry[c, side] = (int(lengths[-1]) + (before if len(starts) == 1 else 0)) if ends_at_edge else 0
        return counted

    @property
    def fraction(self) -> float:
        return self.counted / self.samples if self.samples else 0.0


def crest_factor_db(x: np.ndarray) -> float | None:
    r = rms(x)
    return db(sample_peak(x) / r) if r > 0 else None
