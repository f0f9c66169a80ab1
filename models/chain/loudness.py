"""Loudness normalisation to a LUFS target, with the BS.1770 meter both renderers use.

The meter (K-weighting, block grid, gating; streaming and differentiable) lives in
tonematch.models.measure.loudness and agrees with pyloudnorm to 1e-6 LU; its names are
re-exported here. `StreamingMeter` reports FLOOR_LUFS for silence, as `loudness_lufs` does.

Normalisation: the gain into the limiter is the one whose predicted limited loudness is the target
(limiter/predict.py); another limiter pass follows only when that prediction missed. Both renderers
follow exactly this recipe.
"""

from __future__ import annotations

import numpy as np

# the meter itself lives in tonematch.models.measure.loudness; these names stay importable here
from tonematch.models.measure import loudness as _measure
from tonematch.models.measure.loudness import (  # noqa: F401  (re-exported)
    CHANNEL_WEIGHTS,
    FLOOR_LUFS,
    MOMENTARY_S as BLOCK_S,
    block_bounds,
    gated_loudness,
    integrated_from_powers,
    k_weighting,
    loudness_lufs,
)

from . import ops  # noqa: F401
from .lazy import is_tensor, torch
from .params import Entry, ParamSpec

NAME = "loudness"
ENTRIES = [Entry(NAME, None, ParamSpec("target_lufs", "LUFS", -30.0, -6.0, "lin", -14.0))]

MAX_GAIN_DB = 40.0  # normalisation never boosts more than this (a near-silent file stays quiet)
CORRECTION_TOLERANCE_LU = 0.05  # another pass after the limiter only when it missed by more


class StreamingMeter(_measure.LoudnessMeter):
    """The measure package's streaming meter, reporting FLOOR_LUFS (not None) for silence or
    a stream shorter than one block, as the differentiable meter does."""

    def integrated(self) -> float:
        value = super().integrated()
        return FLOOR_LUFS if value is None else max(value, FLOOR_LUFS)


def bounded_gain_db(g_db):
    """Normalisation gain limited to +-MAX_GAIN_DB (torch or float)."""
    if is_tensor(g_db):
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
    lib = torch if is_tensor(gain_db) else np
    dg = gain_db - prev_gain_db
    dl = prev_miss_lu - miss_lu  # loudness gained by the last gain step
    safe = lib.where(lib.abs(dg) > 1e-9, dg, lib.ones_like(dg) if lib is torch else 1.0)
    slope = lib.clip(lib.where(lib.abs(dg) > 1e-9, dl / safe, lib.ones_like(dl) if lib is torch else 1.0), 0.05, 1.0)
    return bounded_gain_db(gain_db + miss_lu / slope)
