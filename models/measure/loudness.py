"""Loudness: K-weighting, BS.1770-4 integrated loudness, momentary / short-term series, LRA.

One definition, two runtimes:
* `LoudnessMeter`: streaming, numpy + numba. Feed [C, n] blocks; the K-weighted running energy
  is sampled at the gating-block boundaries, so each block's energy is exact (no re-filtering,
  no framing) and memory is fixed except the per-block loudness series (8 bytes per 100 ms for
  the momentary blocks and per 90 ms for the short-term ones: 0.6 MB per hour of audio).
* `loudness_lufs`: differentiable torch (the chain and the training loss), same filters and
  block grid. torch is imported only when it is called.

Conventions follow pyloudnorm (the project's reference; tests agree to 1e-6 LU): K-weighting =
RBJ-cookbook high shelf (+4 dB, Q 1/sqrt 2, 1500 Hz) then RBJ high-pass (Q 0.5, 38 Hz) designed
at the file's rate; gating blocks 400 ms every 100 ms with bounds int(0.4 (j/4) fs) and
int(0.4 (j/4 + 1) fs), energy divided by 0.4 fs; absolute gate -70 LUFS (>=), relative gate
-10 LU (>). Loudness range (EBU Tech 3342): short-term 3 s blocks on pyloudnorm's grid (hop
3 s x (1 - 0.97) = 90 ms, with 1.5 s of silence appended after the programme), absolute gate
-70 LUFS, relative gate -20 LU below the power mean, LRA = 95th - 10th percentile (numpy's
linear interpolation).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit

CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # BS.1770: L, R, C, Ls, Rs
MAX_CHANNELS = len(CHANNEL_WEIGHTS)
ABS_GATE_LUFS = -70.0
REL_GATE_LU = -10.0
LRA_REL_GATE_LU = -20.0
LRA_PERCENTILES = (10.0, 95.0)
MOMENTARY_S, MOMENTARY_OVERLAP = 0.4, 0.75  # gating blocks = momentary loudness
SHORT_TERM_S, SHORT_TERM_OVERLAP = 3.0, 0.97  # pyloudnorm's LRA grid (90 ms hop)
LRA_TAIL_SILENCE_S = 1.5
FLOOR_LUFS = -120.0  # what the differentiable meter reports for silence (finite gradients)


def _rbj(kind: str, gain_db: float, q: float, fc: float, fs: float) -> list[float]:
    """RBJ Audio EQ Cookbook biquad, normalised: [b0, b1, b2, a1, a2]."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * fc / fs
    cw, alpha = math.cos(w0), math.sin(w0) / (2.0 * q)
    if kind == "high_shelf":
        sa = 2.0 * math.sqrt(a) * alpha
        b = [a * ((a + 1) + (a - 1) * cw + sa), -2 * a * ((a - 1) + (a + 1) * cw), a * ((a + 1) + (a - 1) * cw - sa)]
        den = [(a + 1) - (a - 1) * cw + sa, 2 * ((a - 1) - (a + 1) * cw), (a + 1) - (a - 1) * cw - sa]
    elif kind == "high_pass":
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
        den = [1 + alpha, -2 * cw, 1 - alpha]
    else:
        raise ValueError(kind)
    return [b[0] / den[0], b[1] / den[0], b[2] / den[0], den[1] / den[0], den[2] / den[0]]


@functools.lru_cache(maxsize=16)
def _k_weighting(sample_rate: float) -> np.ndarray:
    return np.array(
        [
            _rbj("high_shelf", 4.0, 1.0 / math.sqrt(2.0), 1500.0, sample_rate),
            _rbj("high_pass", 0.0, 0.5, 38.0, sample_rate),
        ],
        dtype=np.float64,
    )


def k_weighting(sample_rate: float) -> np.ndarray:
    """[2, 5] K-weighting biquads (b0, b1, b2, a1, a2) at this rate (a copy)."""
    return _k_weighting(float(sample_rate)).copy()


def block_bounds(
    num_samples: int, sample_rate: float, block_s: float = MOMENTARY_S, overlap: float = MOMENTARY_OVERLAP
) -> tuple[np.ndarray, np.ndarray]:
    """Start / end sample of each gating block over num_samples (ends clipped to the signal)."""
    step = 1.0 - overlap
    count = max(int(np.round((num_samples / sample_rate - block_s) / (block_s * step))) + 1, 0)
    lo = np.array([int(block_s * (j * step) * sample_rate) for j in range(count)], dtype=np.int64)
    hi = np.array([int(block_s * (j * step + 1) * sample_rate) for j in range(count)], dtype=np.int64)
    return lo, np.minimum(hi, num_samples)


def _lufs(power):
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(power)


def gate(power: np.ndarray, relative_lu: float = REL_GATE_LU, reference_lufs: float | None = None) -> np.ndarray:
    """Two-stage gate over channel-weighted block powers: which blocks count. Blocks at or above
    the absolute gate, then above `reference_lufs` + `relative_lu`; the reference defaults to the
    loudness of the blocks past the absolute gate (BS.1770-4's gate, at its -10 LU by default)."""
    power = np.asarray(power, dtype=np.float64)
    lufs = _lufs(power)
    keep = lufs >= ABS_GATE_LUFS
    if keep.any():
        reference = _lufs(power[keep].mean()) if reference_lufs is None else reference_lufs
        keep &= lufs > reference + relative_lu
    return keep


def loudness_spread(power, relative_lu: float, reference_lufs: float | None = None, eps: float = 0.0, xp=np) -> float:
    """How much the level moves: the std (LU) of the loudness of the blocks `gate` keeps (all
    blocks when it keeps none; 0 for fewer than two), from channel-weighted block powers. `eps`
    floors the powers in dB; `xp` autograd.numpy keeps it differentiable in the powers (the gate
    reads their plain values)."""
    plain = power
    if xp is not np:
        from autograd.tracer import getval

        plain, reference_lufs = getval(power), getval(reference_lufs)
    keep = gate(plain, relative_lu, reference_lufs)
    block_lufs = -0.691 + 10.0 * xp.log10((power[keep] if keep.any() else power) + eps)
    return xp.std(block_lufs) if len(block_lufs) > 1 else 0.0


def gated_mean_power(power: np.ndarray) -> float:
    """BS.1770-4 two-stage gated mean of channel-weighted block powers (0.0 if nothing passes)."""
    power = np.asarray(power, dtype=np.float64)
    keep = gate(power)
    return float(power[keep].mean()) if keep.any() else 0.0


def integrated_from_powers(power: np.ndarray) -> float | None:
    """Integrated loudness (LUFS) from block powers; None where undefined (no block, silence)."""
    if len(power) == 0:
        return None
    mean = gated_mean_power(power)
    return float(_lufs(mean)) if mean > 0.0 else None


def loudness_range(short_term_lufs: np.ndarray, relative_lu: float | None = LRA_REL_GATE_LU) -> float | None:
    """EBU Tech 3342 loudness range (LU) from short-term loudness values; None if undefined.
    `relative_lu=None`: the same percentile range over every block past the absolute gate."""
    st = np.asarray(short_term_lufs, dtype=np.float64)
    st = st[st >= ABS_GATE_LUFS]
    if st.size and relative_lu is not None:
        integrated = 10.0 * np.log10(np.mean(10.0 ** (st / 10.0)))
        st = st[st >= integrated + relative_lu]
    if st.size == 0:
        return None
    lo, hi = np.percentile(st, LRA_PERCENTILES)
    return float(hi - lo)


@njit(cache=True, nogil=True)
def _weighted_energy_marks(x, sos, state, total, offsets, out):
    """K-weight x [C, n] (two biquads, float64, state [C, 2, 2] carried) and accumulate the
    running sum of squares total [C]; out[c, m] = running sum after the first offsets[m] samples
    of this block (offsets sorted, in [0, n])."""
    channels, n = x.shape
    marks = offsets.shape[0]
    for c in range(channels):
        a0, a1, a2, a3, a4 = sos[0, 0], sos[0, 1], sos[0, 2], sos[0, 3], sos[0, 4]
        b0, b1, b2, b3, b4 = sos[1, 0], sos[1, 1], sos[1, 2], sos[1, 3], sos[1, 4]
        sa1, sa2, sb1, sb2 = state[c, 0, 0], state[c, 0, 1], state[c, 1, 0], state[c, 1, 1]
        acc = total[c]
        m = 0
        while m < marks and offsets[m] == 0:
            out[c, m] = acc
            m += 1
        for i in range(n):
            v = np.float64(x[c, i])
            ya = a0 * v + sa1
            sa1 = a1 * v - a3 * ya + sa2
            sa2 = a2 * v - a4 * ya
            yb = b0 * ya + sb1
            sb1 = b1 * ya - b3 * yb + sb2
            sb2 = b2 * ya - b4 * yb
            acc += yb * yb
            while m < marks and offsets[m] == i + 1:
                out[c, m] = acc
                m += 1
        state[c, 0, 0], state[c, 0, 1], state[c, 1, 0], state[c, 1, 1] = sa1, sa2, sb1, sb2
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
        self.weights = np.array(CHANNEL_WEIGHTS[:channels], dtype=np.float64)
        self.next_lo = 0  # next block whose start is still ahead
        self.next_hi = 0  # next block whose end is still ahead
        self.open: dict[int, np.ndarray] = {}  # block -> running energy at its start
        self.powers = _Series()  # channel-weighted mean square of each complete block

    def lo(self, j: int) -> int:
        return int(self.block_s * (j * self.step) * self.fs)

    def hi(self, j: int) -> int:
        return int(self.block_s * (j * self.step + 1) * self.fs)

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
            self._feed(np.ascontiguousarray(block))

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
        return _lufs(self.momentary_power())

    def short_term(self) -> np.ndarray:
        """Short-term loudness (LUFS) of every 3 s block, 90 ms apart, over the programme plus
        1.5 s of silence (the LRA grid); empty when the programme is too short."""
        self._finish()
        return _lufs(self.short_grid.powers.values())

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


# ---- differentiable (torch), for the chain and the training loss -------------------------------


def gated_loudness(z):
    """torch: integrated loudness from block mean squares z [..., C, J] (BS.1770-4 gating),
    floored at FLOOR_LUFS."""
    import torch

    channels = z.shape[-2]
    weights = torch.tensor(CHANNEL_WEIGHTS[:channels], dtype=z.dtype, device=z.device)[:, None]
    power = (weights * z).sum(dim=-2)  # [..., J]
    block_lufs = -0.691 + 10.0 * torch.log10(power.clamp_min(1e-30))
    gate = block_lufs >= ABS_GATE_LUFS
    rel = -0.691 + 10.0 * torch.log10(_masked_mean(power, gate).clamp_min(1e-30)) + REL_GATE_LU
    gate = gate & (block_lufs > rel[..., None])
    lufs = -0.691 + 10.0 * torch.log10(_masked_mean(power, gate).clamp_min(1e-30))
    return lufs.clamp_min(FLOOR_LUFS)


def _masked_mean(v, mask):
    m = mask.to(v.dtype)
    return (v * m).sum(dim=-1) / m.sum(dim=-1).clamp_min(1.0)


def loudness_lufs(x, sample_rate: float):
    """Differentiable integrated loudness of x [B, C, T] (torch) -> [B] (LUFS, floored)."""
    import torch

    from tonematch.models.chain import ops  # the chain's differentiable biquad (numba forward/backward)

    b, c, t = x.shape
    y = x.reshape(b * c, t)
    for coefs in _k_weighting(float(sample_rate)):
        y = ops.biquad(y, torch.as_tensor(coefs).expand(b * c, 5).to(x.device))
    energy = torch.cumsum(y.double() ** 2, dim=-1)
    energy = torch.nn.functional.pad(energy, (1, 0)).reshape(b, c, t + 1)
    lo, hi = block_bounds(t, sample_rate)
    if len(lo) == 0:
        raise ValueError(f"{t} samples is shorter than one {MOMENTARY_S * 1000:.0f} ms loudness block")
    lo_t, hi_t = torch.as_tensor(lo, device=x.device), torch.as_tensor(hi, device=x.device)
    z = (energy[..., hi_t] - energy[..., lo_t]) / (MOMENTARY_S * sample_rate)
    return gated_loudness(z)
