"""The mastering chain: order, parameter table and the differentiable (batched) renderer.

gain -> eq -> match EQ -> compressor -> width -> limiter -> loudness. The loudness stage sets the gain
*into* the limiter, so the true-peak ceiling is the last word on level. That gain is predicted
from the pre-limiter signal (limiter/predict.py) so that one limiter pass lands on the target;
the exact renderer (exact.py) follows the same recipe.
"""

from __future__ import annotations

from . import compressor, eq, gain, limiter, loudness, match_eq, width
from .lazy import torch
from .params import ParamTable

PROCESSORS = {m.NAME: m for m in (gain, eq, match_eq, compressor, width, limiter, loudness)}
TABLE = ParamTable(e for m in PROCESSORS.values() for e in m.ENTRIES)
# Stages before the limiter, in order; the limiter and loudness stages are driven together.
PRE_LIMITER = ("gain", "eq", "match", "compressor", "width")


def _pre_limiter(x, p, sample_rate, bypass):
    for name in PRE_LIMITER:
        if name not in bypass:
            x = PROCESSORS[name].apply(x, p, sample_rate, bypass)
    return x


def render_batch(x: torch.Tensor, p: dict, sample_rate: float, bypass=frozenset()) -> torch.Tensor:
    """Differentiable render of x [B, C, T] with physical parameters p {key: [B]}.

    Gradients reach the audio and every learned parameter. Zero initial filter/envelope state.
    The gain into the limiter is the normalisation gain (differentiable) plus the predicted
    extra gain that makes up for what the limiter takes (a constant for the gradient).
    """
    from .limiter.predict import MAX_PASSES, batch_gain_db

    bypass = frozenset(bypass)
    y = _pre_limiter(x, p, sample_rate, bypass)
    use_limiter = "limiter" not in bypass
    if "loudness" in bypass:
        return limiter.apply(y, p, sample_rate) if use_limiter else y
    target = p["loudness.target_lufs"].double()
    g_db = loudness.normalisation_gain_db(loudness.loudness_lufs(y, sample_rate), target)
    if not use_limiter:
        return y * _db_to_gain(g_db, y)
    peak = limiter.padded_peak(y, p, sample_rate)  # linear in y: shared by every pass
    offset = limiter.pads(p, sample_rate)[1]
    with torch.no_grad():
        predicted, expected, predictors = batch_gain_db(y, peak, offset, g_db, p, sample_rate)
    g_pass = g_db + (predicted - g_db.detach())
    out = limiter.apply(y, p, sample_rate, gain=_lin(g_pass), peak=peak)
    for _ in range(MAX_PASSES - 1):  # same rule as the exact renderer: measure, and rarely redo
        with torch.no_grad():
            measured = loudness.loudness_lufs(out.detach(), sample_rate)
            # redo only where the prediction was wrong: an unreachable target stays missed
            tol = loudness.CORRECTION_TOLERANCE_LU
            redo = ((target - measured).abs() > tol) & ((measured - expected).abs() > tol)
            if not bool(redo.any()):
                break
            again, expected_again, _ = batch_gain_db(
                y, peak, offset, predicted, p, sample_rate, (measured - expected).numpy()
            )
            predicted = torch.where(redo, again, predicted)
            expected = torch.where(redo, expected_again, expected)
        g_pass = g_db + (predicted - g_db.detach())
        out = torch.where(redo[:, None, None], limiter.apply(y, p, sample_rate, gain=_lin(g_pass), peak=peak), out)
    return out


def _lin(g_db: torch.Tensor) -> torch.Tensor:
    return 10.0 ** (g_db / 20.0)


def _db_to_gain(g_db: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return _lin(g_db).to(like.dtype)[:, None, None]
