"""Biquad coefficient design (RBJ Audio-EQ-Cookbook formulas), in float64.

One design function serves both renderers: the differentiable one gets torch (the autograd
graph back to gain/frequency/Q), the exact one numpy (`xp=np`: no torch in a render).
Returns [..., 5] = (b0, b1, b2, a1, a2) with a0 normalised to 1.
"""

from __future__ import annotations

import math

import numpy as np

from .lazy import torch

KINDS = ("highpass", "low_shelf", "peak", "high_shelf")


def design(kind: str, freq_hz, q, gain_db, sample_rate: float, xp=None) -> torch.Tensor:
    """[..., 5] coefficients; `xp` is torch (the default) or numpy."""
    xp = torch if xp is None else xp
    as_array = (
        (lambda v: torch.as_tensor(v, dtype=torch.float64)) if xp is torch else (lambda v: np.asarray(v, np.float64))
    )
    freq_hz, q, gain_db = as_array(freq_hz), as_array(q), as_array(gain_db)
    w0 = 2.0 * math.pi * freq_hz / sample_rate
    cos_w, sin_w = xp.cos(w0), xp.sin(w0)
    alpha = sin_w / (2.0 * q)
    big_a = 10.0 ** (gain_db / 40.0)
    if kind == "highpass":
        b0 = (1.0 + cos_w) / 2.0
        b1 = -(1.0 + cos_w)
        b2 = b0
        a0, a1, a2 = 1.0 + alpha, -2.0 * cos_w, 1.0 - alpha
    elif kind == "peak":
        b0, b1, b2 = 1.0 + alpha * big_a, -2.0 * cos_w, 1.0 - alpha * big_a
        a0, a1, a2 = 1.0 + alpha / big_a, -2.0 * cos_w, 1.0 - alpha / big_a
    elif kind in ("low_shelf", "high_shelf"):
        s = 1.0 if kind == "low_shelf" else -1.0  # the high shelf mirrors the signs of cos terms
        ap, am = big_a + 1.0, big_a - 1.0
        k = 2.0 * xp.sqrt(big_a) * alpha
        b0 = big_a * (ap - s * am * cos_w + k)
        b1 = s * 2.0 * big_a * (am - s * ap * cos_w)
        b2 = big_a * (ap - s * am * cos_w - k)
        a0 = ap + s * am * cos_w + k
        a1 = -s * 2.0 * (am + s * ap * cos_w)
        a2 = ap + s * am * cos_w - k
    else:
        raise ValueError(f"unknown biquad kind {kind!r}")
    if xp is torch:
        b0, b1, b2, a1, a2 = torch.broadcast_tensors(*(torch.as_tensor(c) for c in (b0, b1, b2, a1, a2)))
        return torch.stack([b0, b1, b2, a1, a2], dim=-1) / torch.as_tensor(a0).unsqueeze(-1)
    b0, b1, b2, a1, a2 = np.broadcast_arrays(b0, b1, b2, a1, a2)
    return np.stack([b0, b1, b2, a1, a2], axis=-1) / np.asarray(a0)[..., None]


def response(coefs: torch.Tensor, freqs_hz, sample_rate: float) -> torch.Tensor:
    """Complex frequency response H(e^jw) of biquads [..., 5] at `freqs_hz` -> [..., F]."""
    z = torch.exp(-1j * 2.0 * math.pi * torch.as_tensor(freqs_hz, dtype=torch.float64) / sample_rate)
    c = coefs.to(torch.float64).unsqueeze(-2)
    num = c[..., 0] + c[..., 1] * z + c[..., 2] * z * z
    den = 1.0 + c[..., 3] * z + c[..., 4] * z * z
    return num / den
