"""The differentiable (batched, torch) limiter: the same definition as the streaming one.

x [B, C, T] is padded on both sides so the output needs no warm-up: the envelope is taken of
the padded signal (linear in x, so one envelope serves every gain), the gain curve comes from
gain.curve (numba forward, hand-written adjoint), and y = gain_in * x * G.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .. import ops
from .detect import TAPS_RIGHT, envelope
from .gain import GUARD, ceiling_gain, curve, curve_backward, lookahead_samples


def pads(p: dict, sample_rate: float) -> tuple[int, int, int]:
    """(lookahead L, left pad, right pad) of the padded timeline."""
    la = lookahead_samples(float(p["limiter.lookahead_ms"].reshape(-1)[0]), sample_rate)
    return la, la + GUARD + TAPS_RIGHT + 1, la + GUARD + TAPS_RIGHT


def padded_peak(x: torch.Tensor, p: dict, sample_rate: float) -> torch.Tensor:
    """Envelope of x [B, C, T] over the padded timeline, [B, T'] in x's dtype.
    Linear in x: envelope(g x) = g envelope(x)."""
    _, left, right = pads(p, sample_rate)
    return envelope(F.pad(x, (left, right)))


class _Curve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, rel, la: int):
        qn = q.detach().contiguous().numpy()
        reln = rel.detach().double().contiguous().numpy()
        g, arg, r = curve(qn, reln, la)
        ctx.saved = (qn, arg, r, reln, la)
        return torch.from_numpy(g)

    @staticmethod
    def backward(ctx, grad_g):
        qn, arg, r, reln, la = ctx.saved
        gq, grel = curve_backward(np.ascontiguousarray(grad_g.double().numpy()), qn, arg, r, reln, la)
        return torch.from_numpy(gq), torch.from_numpy(grel), None


def gain_curve(q: torch.Tensor, rel: torch.Tensor, la: int) -> torch.Tensor:
    """G [B, T] (float64) for required gains q [B, T] (float64) and release poles rel [B]."""
    if q.device.type == "cpu":
        return _Curve.apply(q, rel, la)
    return _Curve.apply(q.cpu(), rel.cpu(), la).to(q.device)


def required_gain(peak: torch.Tensor, gain: torch.Tensor, ceiling_dbtp: torch.Tensor) -> torch.Tensor:
    """q = min(1, ceiling / (gain * peak)), float64 [B, T']."""
    ceiling = ceiling_gain(ceiling_dbtp.double())[:, None]
    return torch.clamp(ceiling / (peak.double() * gain.double()[:, None]).clamp_min(1e-12), max=1.0)


def apply(x: torch.Tensor, p: dict, sample_rate: float, bypass=frozenset(), gain=None, peak=None) -> torch.Tensor:
    """Limit `gain * x` (gain: [B] linear, default 1); `peak`: padded_peak(x) if known."""
    b, c, t = x.shape
    la, pad_left, pad_right = pads(p, sample_rate)
    if peak is None:
        peak = padded_peak(x, p, sample_rate)
    gain = torch.ones(b, dtype=torch.float64, device=x.device) if gain is None else gain.double()
    q = required_gain(peak, gain, p["limiter.ceiling_dbtp"])
    rel = ops.time_constant_to_pole(p["limiter.release_ms"], sample_rate)
    g = gain_curve(q, rel, la)[:, pad_left : pad_left + t]
    return x * (g * gain[:, None]).to(x.dtype)[:, None, :]
