"""The mastering chain: order, parameter table and the differentiable (batched) renderer.

gain -> eq -> compressor -> width -> limiter -> loudness. The loudness stage sets the gain
*into* the limiter (see loudness.py), so the true-peak ceiling is the last word on level.
"""
from __future__ import annotations

import torch

from . import compressor, eq, gain, limiter, loudness, width
from .params import ParamTable

PROCESSORS = {m.NAME: m for m in (gain, eq, compressor, width, limiter, loudness)}
TABLE = ParamTable(e for m in PROCESSORS.values() for e in m.ENTRIES)
# Stages before the limiter, in order; the limiter and loudness stages are driven together.
PRE_LIMITER = ("gain", "eq", "compressor", "width")


def _pre_limiter(x, p, sample_rate, bypass):
    for name in PRE_LIMITER:
        if name not in bypass:
            x = PROCESSORS[name].apply(x, p, sample_rate, bypass)
    return x


def render_batch(x: torch.Tensor, p: dict, sample_rate: float, bypass=frozenset()) -> torch.Tensor:
    """Differentiable render of x [B, C, T] with physical parameters p {key: [B]}.

    Gradients reach the audio and every learned parameter. Zero initial filter/envelope state.
    """
    bypass = frozenset(bypass)
    y = _pre_limiter(x, p, sample_rate, bypass)
    use_limiter = "limiter" not in bypass
    if "loudness" in bypass:
        return limiter.apply(y, p, sample_rate) if use_limiter else y
    target = p["loudness.target_lufs"].double()
    g_db = loudness.normalisation_gain_db(loudness.loudness_lufs(y, sample_rate), target)
    if not use_limiter:
        return y * _db_to_gain(g_db, y)
    peak = limiter.padded_peak(y, p, sample_rate)  # shared by every pass below
    out = limiter.apply(y, p, sample_rate, gain=_lin(g_db), peak=peak)
    # correction passes for the loudness the limiter took away (same rule as the exact renderer)
    miss = target - loudness.loudness_lufs(out, sample_rate)
    prev_g, prev_miss = None, None
    for _ in range(loudness.MAX_CORRECTIONS):
        redo = miss.abs() > loudness.CORRECTION_TOLERANCE_LU
        if not bool(redo.any()):
            break
        g_new = torch.where(redo, loudness.next_gain_db(g_db, miss, prev_g, prev_miss), g_db)
        again = limiter.apply(y, p, sample_rate, gain=_lin(g_new), peak=peak)
        out = torch.where(redo[:, None, None], again, out)
        prev_g, prev_miss = g_db, miss
        g_db = g_new
        miss = torch.where(redo, target - loudness.loudness_lufs(out, sample_rate), miss)
    return out


def _lin(g_db: torch.Tensor) -> torch.Tensor:
    return 10.0 ** (g_db / 20.0)


def _db_to_gain(g_db: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return _lin(g_db).to(like.dtype)[:, None, None]
