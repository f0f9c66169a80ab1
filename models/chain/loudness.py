"""Loudness normalisation to a LUFS target, and the BS.1770 meter both renderers use.

The K-weighting filters and the gating follow pyloudnorm exactly (its filter coefficients are
taken from `pyloudnorm.Meter`; block bounds and gates mirror `Meter.integrated_loudness`), and
tests check the result against pyloudnorm to 1e-6 LU. The meter here exists because pyloudnorm
needs the whole signal in memory (an hour of stereo is 1.3 GB of float64) and is not
differentiable; this one streams (block energies from running sums) and runs in torch.

Normalisation: the gain that brings the pre-limiter signal to the target is applied before the
limiter; if the limiter then takes loudness away, correction passes (secant steps on gain -> loudness) add it
back until the output lands on the target. Both renderers follow exactly this recipe.
"""
from __future__ import annotations

import numpy as np
import pyloudnorm
import torch

from . import kernels, ops
from .params import Entry, ParamSpec

NAME = "loudness"
ENTRIES = [Entry(NAME, None, ParamSpec("target_lufs", "LUFS", -30.0, -6.0, "lin", -14.0))]

BLOCK_S, STEP_S = 0.4, 0.1  # BS.1770 gating blocks: 400 ms, 75 % overlap
FLOOR_LUFS = -120.0  # what silence measures as (pyloudnorm says -inf); keeps gradients finite
MAX_GAIN_DB = 40.0  # normalisation never boosts more than this (a near-silent file stays quiet)
CORRECTION_TOLERANCE_LU = 0.05  # another pass after the limiter only when it missed by more
MAX_CORRECTIONS = 6  # heavy limiting towards a loud target may need a few secant steps
_CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)


def k_weighting(sample_rate: float) -> np.ndarray:
    """[2, 5] biquads (b0, b1, b2, a1, a2) of pyloudnorm's K-weighting at this rate."""
    meter = pyloudnorm.Meter(int(sample_rate))
    rows = []
    for stage in meter._filters.values():
        b, a = stage.b * stage.passband_gain, stage.a
        rows.append([b[0] / a[0], b[1] / a[0], b[2] / a[0], a[1] / a[0], a[2] / a[0]])
    return np.array(rows, dtype=np.float64)


def block_bounds(num_samples: int, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Start/end sample of each gating block, computed the way pyloudnorm computes them."""
    duration = num_samples / sample_rate
    step = 1.0 - 0.75
    count = int(np.round((duration - BLOCK_S) / (BLOCK_S * step))) + 1
    j = np.arange(max(count, 0))
    lo = np.array([int(BLOCK_S * (k * step) * sample_rate) for k in j], dtype=np.int64)
    hi = np.array([int(BLOCK_S * (k * step + 1) * sample_rate) for k in j], dtype=np.int64)
    return lo, np.minimum(hi, num_samples)


def gated_loudness(z: torch.Tensor) -> torch.Tensor:
    """Integrated loudness from block mean squares z [..., C, J] (BS.1770-4 gating)."""
    channels = z.shape[-2]
    weights = torch.tensor(_CHANNEL_WEIGHTS[:channels], dtype=z.dtype, device=z.device)[:, None]
    power = (weights * z).sum(dim=-2)  # [..., J]
    block_lufs = -0.691 + 10.0 * torch.log10(power.clamp_min(1e-30))
    gate = block_lufs >= -70.0
    rel = -0.691 + 10.0 * torch.log10(_masked_mean(power, gate).clamp_min(1e-30)) - 10.0
    gate = gate & (block_lufs > rel[..., None])
    lufs = -0.691 + 10.0 * torch.log10(_masked_mean(power, gate).clamp_min(1e-30))
    return lufs.clamp_min(FLOOR_LUFS)


def _masked_mean(v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.to(v.dtype)
    return (v * m).sum(dim=-1) / m.sum(dim=-1).clamp_min(1.0)


def loudness_lufs(x: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """Differentiable integrated loudness of x [B, C, T] -> [B] (LUFS)."""
    b, c, t = x.shape
    y = x.reshape(b * c, t)
    for coefs in k_weighting(sample_rate):
        y = ops.biquad(y, torch.as_tensor(coefs).expand(b * c, 5).to(x.device))
    energy = torch.cumsum(y.double() ** 2, dim=-1)
    energy = torch.nn.functional.pad(energy, (1, 0)).reshape(b, c, t + 1)
    lo, hi = block_bounds(t, sample_rate)
    if len(lo) == 0:
        raise ValueError(f"{t} samples is shorter than one {BLOCK_S * 1000:.0f} ms loudness block")
    lo_t, hi_t = torch.as_tensor(lo, device=x.device), torch.as_tensor(hi, device=x.device)
    z = (energy[..., hi_t] - energy[..., lo_t]) / (BLOCK_S * sample_rate)
    return gated_loudness(z)


class StreamingMeter:
    """Integrated loudness of a stream of [C, n] blocks in bounded memory."""

    def __init__(self, sample_rate: float, channels: int):
        self.sample_rate = sample_rate
        self.sos = np.ascontiguousarray(np.broadcast_to(k_weighting(sample_rate)[None], (channels, 2, 5)))
        self.state = np.zeros((channels, 2, 2))
        self.total = np.zeros(channels)  # running sum of squares up to self.count
        self.count = 0
        self.marks: dict[int, np.ndarray] = {0: np.zeros(channels)}  # sample -> cumulative energy
        self._next_block = 0
        self._pending: list[int] = []

    def _boundaries_upto(self, end: int):
        step = 0.25
        while True:
            k = self._next_block
            lo = int(BLOCK_S * (k * step) * self.sample_rate)
            hi = int(BLOCK_S * (k * step + 1) * self.sample_rate)
            if lo > end:
                return
            yield lo
            yield hi
            self._next_block += 1

    def add(self, block: np.ndarray) -> None:
        n = block.shape[1]
        start, end = self.count, self.count + n
        pending = self._pending + list(self._boundaries_upto(end))
        for pos in pending:
            if pos <= start:
                self.marks.setdefault(pos, self.total.copy())
        inside = sorted({pos for pos in pending if start < pos <= end})
        self._pending = [pos for pos in pending if pos > end]
        offsets = np.array([pos - start for pos in inside], dtype=np.int64)
        out = np.empty((block.shape[0], len(inside)))
        kernels.weighted_energy(np.ascontiguousarray(block), self.sos, self.state, self.total, offsets, out)
        for k, pos in enumerate(inside):
            self.marks[pos] = out[:, k].copy()
        self.count = end

    def integrated(self) -> float:
        lo, hi = block_bounds(self.count, self.sample_rate)
        if len(lo) == 0:
            return FLOOR_LUFS
        end_mark = self.total
        e_lo = np.array([self.marks.get(int(p), end_mark) for p in lo]).T
        e_hi = np.array([self.marks.get(int(p), end_mark) for p in hi]).T
        z = torch.from_numpy((e_hi - e_lo) / (BLOCK_S * self.sample_rate))
        return float(gated_loudness(z))


def bounded_gain_db(g_db):
    """Normalisation gain limited to +-MAX_GAIN_DB (torch or float)."""
    if isinstance(g_db, torch.Tensor):
        return g_db.clamp(-MAX_GAIN_DB, MAX_GAIN_DB)
    return float(np.clip(g_db, -MAX_GAIN_DB, MAX_GAIN_DB))


def normalisation_gain_db(measured_lufs, target_lufs):
    """Gain that moves `measured` to `target`, bounded (torch or float)."""
    return bounded_gain_db(target_lufs - measured_lufs)


def next_gain_db(gain_db, miss_lu, prev_gain_db=None, prev_miss_lu=None):
    """Gain for the next pass from the last two (gain, target - measured) pairs: a secant step
    on the loudness-vs-gain curve, whose slope under a limiter lies in (0, 1]. torch or float."""
    if prev_gain_db is None:
        return bounded_gain_db(gain_db + miss_lu)
    lib = torch if isinstance(gain_db, torch.Tensor) else np
    dg = gain_db - prev_gain_db
    dl = prev_miss_lu - miss_lu  # loudness gained by the last gain step
    safe = lib.where(lib.abs(dg) > 1e-9, dg, lib.ones_like(dg) if lib is torch else 1.0)
    slope = lib.clip(lib.where(lib.abs(dg) > 1e-9, dl / safe, lib.ones_like(dl) if lib is torch else 1.0), 0.05, 1.0)
    return bounded_gain_db(gain_db + miss_lu / slope)
