"""Loudness: K-weighting, BS.1770-4 integrated loudness, momentary / short-term series, LRA.

One definition (gating: K-weighting, the 400 ms / 100 ms block grid, the two-stage gate, for
numpy, autograd.numpy and torch), two runtimes:
* `LoudnessMeter` (meter): streaming, numpy + numba, with the loudness range (lra);
* `loudness_lufs` (torch_meter): differentiable torch (the chain and the training loss).
"""

from .gating import (
    ABS_GATE_LUFS,
    CHANNEL_WEIGHTS,
    FLOOR_LUFS,
    MAX_CHANNELS,
    MOMENTARY_OVERLAP,
    MOMENTARY_S,
    MOMENTARY_STEP_S,
    REL_GATE_LU,
    block_bounds,
    block_lufs,
    gate,
    gated_lufs,
    integrated_from_powers,
    k_weighting,
    loudness_spread,
)
from .lra import LRA_PERCENTILES, LRA_REL_GATE_LU, SHORT_TERM_OVERLAP, SHORT_TERM_S, loudness_range
from .meter import LoudnessMeter, integrated_loudness
from .torch_meter import gated_loudness, loudness_lufs

__all__ = [
    "ABS_GATE_LUFS",
    "CHANNEL_WEIGHTS",
    "FLOOR_LUFS",
    "MAX_CHANNELS",
    "MOMENTARY_OVERLAP",
    "MOMENTARY_S",
    "MOMENTARY_STEP_S",
    "REL_GATE_LU",
    "LRA_PERCENTILES",
    "LRA_REL_GATE_LU",
    "SHORT_TERM_OVERLAP",
    "SHORT_TERM_S",
    "LoudnessMeter",
    "block_bounds",
    "block_lufs",
    "gate",
    "gated_loudness",
    "gated_lufs",
    "integrated_from_powers",
    "integrated_loudness",
    "k_weighting",
    "loudness_lufs",
    "loudness_range",
    "loudness_spread",
]
