"""BS.1770-4's K-weighting, block grid and two-stage gate: one implementation for numpy,
autograd.numpy and torch (`xp=`, the pattern of chain.biquads.design).

Conventions follow pyloudnorm (the project's reference; tests agree to 1e-6 LU): K-weighting =
RBJ-cookbook high shelf (+4 dB, Q 1/sqrt 2, 1500 Hz) then RBJ high-pass (Q 0.5, 38 Hz) designed
at the file's rate; gating blocks 400 ms every 100 ms with bounds int(0.4 (j/4) fs) and
int(0.4 (j/4 + 1) fs), energy divided by 0.4 fs; absolute gate -70 LUFS (>=), relative gate
-10 LU (>).
"""

from __future__ import annotations

import functools
import math

import numpy as np

CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # BS.1770: L, R, C, Ls, Rs
MAX_CHANNELS = len(CHANNEL_WEIGHTS)
ABS_GATE_LUFS = -70.0
REL_GATE_LU = -10.0
MOMENTARY_S, MOMENTARY_OVERLAP = 0.4, 0.75  # gating blocks = momentary loudness
MOMENTARY_STEP_S = MOMENTARY_S * (1.0 - MOMENTARY_OVERLAP)  # 100 ms
FLOOR_LUFS = -120.0  # what the gated loudness reports for silence (finite gradients)
_POWER_FLOOR = 1e-30  # torch: the log of a silent block stays finite


@functools.lru_cache(maxsize=16)
def _k_weighting(sample_rate: float) -> np.ndarray:
    # imported here: the chain package imports this one
    from tonematch.models.chain.biquads import design

    shelf = design("high_shelf", 1500.0, 1.0 / math.sqrt(2.0), 4.0, sample_rate, np)
    return np.stack([shelf, design("highpass", 38.0, 0.5, 0.0, sample_rate, np)])


def k_weighting(sample_rate: float) -> np.ndarray:
    """[2, 5] K-weighting biquads (b0, b1, b2, a1, a2) at this rate (a copy)."""
    return _k_weighting(float(sample_rate)).copy()


def block_start(j: int, block_s: float, step: float, sample_rate: float) -> int:
    """First sample of block j of a grid of `block_s` blocks, `step` of a block apart."""
    return int(block_s * (j * step) * sample_rate)


def block_end(j: int, block_s: float, step: float, sample_rate: float) -> int:
    """One past the last sample of block j (before clipping to the signal)."""
    return int(block_s * (j * step + 1) * sample_rate)


def block_bounds(
    num_samples: int, sample_rate: float, block_s: float = MOMENTARY_S, overlap: float = MOMENTARY_OVERLAP
) -> tuple[np.ndarray, np.ndarray]:
    """Start / end sample of each gating block over num_samples (ends clipped to the signal)."""
    step = 1.0 - overlap
    count = max(int(np.round((num_samples / sample_rate - block_s) / (block_s * step))) + 1, 0)
    lo = np.array([block_start(j, block_s, step, sample_rate) for j in range(count)], dtype=np.int64)
    hi = np.array([block_end(j, block_s, step, sample_rate) for j in range(count)], dtype=np.int64)
    return lo, np.minimum(hi, num_samples)


def _is_torch(xp) -> bool:
    return getattr(xp, "__name__", "") == "torch"


def block_lufs(power, xp=np):
    """Loudness (LUFS) of channel-weighted mean squares: -inf for silence, except in torch, which
    floors the power at 1e-30 (finite gradients)."""
    if _is_torch(xp):
        return -0.691 + 10.0 * xp.log10(power.clamp_min(_POWER_FLOOR))
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * xp.log10(power)


def _mean_where(power, keep, xp):
    """Mean over the last axis of the powers `keep` marks (0 where it marks none)."""
    if _is_torch(xp):
        m = keep.to(power.dtype)
        return (power * m).sum(dim=-1) / m.sum(dim=-1).clamp_min(1.0)
    return xp.mean(power[keep]) if keep.any() else 0.0


def gate(power, relative_lu: float = REL_GATE_LU, reference_lufs=None, xp=np):
    """Which blocks count, from channel-weighted block powers: those at or above the absolute
    gate, then above `reference_lufs` + `relative_lu`; the reference defaults to the loudness of
    the blocks past the absolute gate (BS.1770-4's gate, at its -10 LU by default). numpy reads
    plain values ([J]: autograd callers pass theirs through getval); torch gates [..., J] batches."""
    if not _is_torch(xp):
        power = np.asarray(power, dtype=np.float64)
    lufs = block_lufs(power, xp)
    keep = lufs >= ABS_GATE_LUFS
    if reference_lufs is None:
        reference_lufs = block_lufs(_mean_where(power, keep, xp), xp)
        if _is_torch(xp):
            reference_lufs = reference_lufs[..., None]
    return keep & (lufs > reference_lufs + relative_lu)


def gated_lufs(power, xp=np):
    """Integrated loudness (LUFS) of channel-weighted block powers: the mean power of the blocks
    `gate` keeps, at least FLOOR_LUFS (the floor where none pass). numpy and autograd.numpy take
    [J] (autograd differentiates through the kept powers; the gate reads plain values); torch
    takes [..., J]."""
    if _is_torch(xp):
        return block_lufs(_mean_where(power, gate(power, xp=xp), xp), xp).clamp_min(FLOOR_LUFS)
    keep = gate(_plain(power, xp))
    if not keep.any():
        return FLOOR_LUFS
    return xp.maximum(block_lufs(_mean_where(power, keep, xp), xp), FLOOR_LUFS)


def integrated_from_powers(power: np.ndarray) -> float | None:
    """Integrated loudness (LUFS) from block powers; None where undefined (no block, silence)."""
    if len(power) == 0:
        return None
    power = np.asarray(power, dtype=np.float64)
    mean = float(_mean_where(power, gate(power), np))
    return float(block_lufs(mean)) if mean > 0.0 else None


def loudness_spread(power, relative_lu: float, reference_lufs=None, eps: float = 0.0, xp=np):
    """How much the level moves: the std (LU) of the loudness of the blocks `gate` keeps (all
    blocks when it keeps none; 0 for fewer than two), from channel-weighted block powers. `eps`
    floors the powers in dB; `xp` autograd.numpy keeps it differentiable in the powers (the gate
    reads their plain values)."""
    keep = gate(_plain(power, xp), relative_lu, _plain(reference_lufs, xp))
    spread_lufs = block_lufs((power[keep] if keep.any() else power) + eps, xp)
    return xp.std(spread_lufs) if len(spread_lufs) > 1 else 0.0


def _plain(value, xp):
    """`value` without autograd's boxes (autograd.numpy), as it is otherwise."""
    if xp is np:
        return value
    from autograd.tracer import getval

    return getval(value)
