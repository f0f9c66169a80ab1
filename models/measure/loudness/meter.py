"""The streaming BS.1770-4 / EBU R 128 meter, numpy + numba.

Feed [C, n] blocks; the K-weighted running energy is sampled at the gating-block boundaries, so
each block's energy is exact (no re-filtering, no framing) and memory is fixed except the
per-block loudness series (8 bytes per 100 ms for the momentary blocks and per 90 ms for the
short-term ones: 0.6 MB per hour of audio).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .gating import (
    CHANNEL_WEIGHTS,
    MAX_CHANNELS,
    MOMENTARY_OVERLAP,
    MOMENTARY_S,
    _k_weighting,
    block_bounds,
    block_end,
    block_lufs,
    block_start,
    integrated_from_powers,
)
from .lra import LRA_TAIL_SILENCE_S, SHORT_TERM_OVERLAP, SHORT_TERM_S, loudness_range


@njit(cache=True, nogil=True, inline="always")
def k_weight_step(v, a, b, s):
    """One sample v (float64) through the two K-weighting biquads, direct form II transposed:
    a, b the sections' (b0, b1, b2, a1, a2), s their state (a1, a2, b1, b2). Returns (y, new s).
    The meter and the renderer's kernels.weighted_power both filter with it. numba's cache does
    not see edits made in another file: after changing this, clear __pycache__'s *.nbi / *.nbc."""
    ya = a[0] * v + s[0]
    sa1 = a[1] * v - a[3] * ya + s[1]
    sa2 = a[2] * v - a[4] * ya
    yb = b[0] * ya + s[2]
    sb1 = b[1] * ya - b[3] * yb + s[3]
    sb2 = b[2] * ya - b[4] * yb
    return yb, (sa1, sa2, sb1, sb2)


@njit(cache=True, nogil=True)
def _weighted_energy_marks(x, sos, state, total, offsets, out):
    """K-weight x [C, n] (two biquads, float64, state [C, 2, 2] carried) and accumulate the
    running sum of squares total [C]; out[c, m] = running sum after the first offsets[m] samples
    of this block (offsets sorted, in [0, n])."""
    channels, n = x.shape
    marks = offsets.shape[0]
    a = (sos[0, 0], sos[0, 1], sos[0, 2], sos[0, 3], sos[0, 4])
    b = (sos[1, 0], sos[1, 1], sos[1, 2], sos[1, 3], sos[1, 4])
    for c in range(channels):
        s = (state[c, 0, 0], state[c, 0, 1], state[c, 1, 0], state[c, 1, 1])
        acc = total[c]
        m = 0
        while m < marks and offsets[m] == 0:
            out[c, m] = acc
            m += 1
        for i in range(n):
            yb, s = k_weight_step(np.float64(x[c, i]), a, b, s)
            acc += yb * yb
            while m < marks and offsets[m] == i + 1:
                out[c, m] = acc
                m += 1
        state[c, 0, 0], state[c, 0, 1], state[c, 1, 0], state[c, 1, 1] = s
        total[c] = acc


@njit(cache=True, nogil=True)
def _power_marks(power, sos, state, total, offsets, out):
    """`_weighted_energy_marks` for input that is already K-weighted power, summed over the
    channels with their weights (power [1, n]; sos and state unused)."""
    n = power.shape[1]
    marks = offsets.shape[0]
    acc = total[0]
    m = 0
    while m < marks and offsets[m] == 0:
        out[0, m] = acc
        m += 1
    for i in range(n):
        acc += np.float64(power[0, i])
        while m < marks and offsets[m] == i + 1:
            out[0, m] = acc
            m += 1
    total[0] = acc


class _Series:
    """Growable float64 array (amortised doubling): one value per loudness block."""

    def __init__(self):
        self.data = np.empty(64)
        self.size = 0

    def append(self, v: float) -> None:
        if self.size == self.data.shape[0]:
            self.data = np.concatenate([self.data, np.empty_like(self.data)])
        self.data[self.size] = v
        self.size += 1

    def values(self) -> np.ndarray:
        return self.data[: self.size]

    @property
    def nbytes(self) -> int:
        return 8 * self.size


class _Grid:
    """Block boundaries of one block grid, visited in order: lo_j = int(T (j s) fs),
    hi_j = int(T (j s + 1) fs). Holds the running energy at each open block's start."""

    def __init__(self, block_s: float, overlap: float, sample_rate: float, channels: int):
        self.block_s, self.step, self.fs = block_s, 1.0 - overlap, float(sample_rate)
        self.norm = 1.0 / (block_s * self.fs)
        # past BS.1770's five channels (5.1 and up) the extra ones count 1: no loudness is read
        # from them (integrated and LRA are None), but the meter must take the blocks
        extra = (1.0,) * max(0, channels - MAX_CHANNELS)
        self.weights = np.array(CHANNEL_WEIGHTS[:channels] + extra, dtype=np.float64)
        self.next_lo = 0  # next block whose start is still ahead
        self.next_hi = 0  # next block whose end is still ahead
        self.open: dict[int, np.ndarray] = {}  # block -> running energy at its start
        self.powers = _Series()  # channel-weighted mean square of each complete block

    def lo(self, j: int) -> int:
        return block_start(j, self.block_s, self.step, self.fs)

    def hi(self, j: int) -> int:
        return block_end(j, self.block_s, self.step, self.fs)

    def events(self, end: int) -> list[tuple[int, int, int]]:
        """(position, kind 0 start / 1 end, block) for every boundary at or before `end`."""
        ev = []
        while self.lo(self.next_lo) <= end:
            ev.append((self.lo(self.next_lo), 0, self.next_lo))
            self.next_lo += 1
        while self.next_hi < self.next_lo and self.hi(self.next_hi) <= end:
            ev.append((self.hi(self.next_hi), 1, self.next_hi))
            self.next_hi += 1
        return ev

    def record(self, kind: int, j: int, energy: np.ndarray) -> None:
        if kind == 0:
            self.open[j] = energy
        else:
            start = self.open.pop(j)
            self.powers.append(float(self.weights @ (energy - start)) * self.norm)

    def close(self, end_energy: np.ndarray, count: int) -> None:
        """Blocks [0, count) that run past the end are clipped there (as pyloudnorm slices)."""
        for j in sorted(self.open):
            if j < count:
                self.powers.append(float(self.weights @ (end_energy - self.open[j])) * self.norm)
        self.open.clear()


class LoudnessMeter:
    """Streaming BS.1770-4 / EBU R 128 meter: integrated loudness, momentary (400 ms) and
    short-term (3 s) series, loudness range. `add` [C, n] blocks, then read the results (reading
    finishes the stream: the short-term grid needs its 1.5 s of trailing silence).

    `power=True`: the meter is fed per-sample K-weighted power already summed over channels
    with their weights ([1, n] blocks, e.g. the renderer's `kernels.weighted_power`), so a
    stage that has filtered once does not filter again."""

    def __init__(self, sample_rate: float, channels: int, power: bool = False):
        self.sample_rate = float(sample_rate)
        self.channels = 1 if power else int(channels)
        self._marks = _power_marks if power else _weighted_energy_marks
        channels = self.channels
        self.sos = _k_weighting(self.sample_rate)
        self.state = np.zeros((channels, 2, 2))
        self.total = np.zeros(channels)
        self.count = 0
        self.momentary_grid = _Grid(MOMENTARY_S, MOMENTARY_OVERLAP, sample_rate, channels)
        self.short_grid = _Grid(SHORT_TERM_S, SHORT_TERM_OVERLAP, sample_rate, channels)
        self._end_energy = None
        self._frames = None

    def _feed(self, block: np.ndarray, momentary: bool = True) -> None:
        start, end = self.count, self.count + block.shape[1]
        use = (0, 1) if momentary else (1,)
        grids = (self.momentary_grid, self.short_grid)
        ev = sorted([(pos, kind, j, g) for g in use for pos, kind, j in grids[g].events(end)])
        offsets = np.array([pos - start for pos, _, _, _ in ev], dtype=np.int64)
        out = np.empty((self.channels, len(ev)))
        self._marks(block, self.sos, self.state, self.total, offsets, out)
        for m, (_, kind, j, g) in enumerate(ev):
            grids[g].record(kind, j, out[:, m].copy())
        self.count = end

    def add(self, block: np.ndarray) -> None:
        if self._frames is not None:
            raise RuntimeError("the meter was already read; start a new one")
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise ValueError(f"expected [{self.channels}, n] blocks, got {block.shape}")
        if block.shape[1]:
            # C-contiguous and writable: a read-only block would compile and load another kernel
            self._feed(np.require(block, requirements=["C", "W"]))

    def _finish(self) -> None:
        if self._frames is not None:
            return
        n, fs = self.count, self.sample_rate
        self._frames = n
        self._end_energy = self.total.copy()
        m_count = len(block_bounds(n, fs)[0]) if n >= MOMENTARY_S * fs else 0
        self.momentary_grid.close(self._end_energy, m_count)
        tail = int(LRA_TAIL_SILENCE_S * fs)
        if n + tail >= SHORT_TERM_S * fs and n >= MOMENTARY_S * fs:
            self._feed(np.zeros((self.channels, tail), dtype=np.float32), momentary=False)
            count = len(block_bounds(n + tail, fs, SHORT_TERM_S, SHORT_TERM_OVERLAP)[0])
            self.short_grid.close(self.total.copy(), count)
        else:
            self.short_grid.open.clear()
            self.short_grid.powers = _Series()
        self.momentary_grid.powers.size = min(self.momentary_grid.powers.size, m_count)

    def momentary_power(self) -> np.ndarray:
        self._finish()
        return self.momentary_grid.powers.values()

    def momentary(self) -> np.ndarray:
        """Momentary loudness (LUFS) of every 400 ms block, 100 ms apart (-inf for silence)."""
        return block_lufs(self.momentary_power())

    def short_term(self) -> np.ndarray:
        """Short-term loudness (LUFS) of every 3 s block, 90 ms apart, over the programme plus
        1.5 s of silence (the LRA grid); empty when the programme is too short."""
        self._finish()
        return block_lufs(self.short_grid.powers.values())

    def integrated(self) -> float | None:
        """Integrated loudness in LUFS; None when shorter than 400 ms, silent, or > 5 channels."""
        if self.channels > MAX_CHANNELS:
            return None
        return integrated_from_powers(self.momentary_power())

    def loudness_range(self) -> float | None:
        """EBU Tech 3342 loudness range (LU); None when shorter than 400 ms (or 1.5 s: the
        3 s grid includes the appended 1.5 s of silence), silent, or more than 5 channels."""
        if self.channels > MAX_CHANNELS:
            return None
        return loudness_range(self.short_term())

    @property
    def state_nbytes(self) -> tuple[int, int]:
        """(fixed state bytes, loudness-series bytes): only the second grows with the stream."""
        fixed = (
            self.state.nbytes
            + self.total.nbytes
            + sum(v.nbytes for g in (self.momentary_grid, self.short_grid) for v in g.open.values())
        )
        series = self.momentary_grid.powers.nbytes + self.short_grid.powers.nbytes
        return fixed, series


def integrated_loudness(audio: np.ndarray, sample_rate: float) -> float | None:
    """Integrated loudness (LUFS) of a whole [C, T] array; None where undefined."""
    audio = np.atleast_2d(audio)
    meter = LoudnessMeter(sample_rate, audio.shape[0])
    meter.add(audio)
    return meter.integrated()
