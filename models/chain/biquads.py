"""Biquad coefficient design (RBJ Audio-EQ-Cookbook formulas), in float64 torch.

One design function serves both renderers: the exact renderer converts its coefficients to
numpy, the differentiable one keeps the autograd graph back to gain/frequency/Q.
Returns [..., 5] = (b0, b1, b2, a1, a2) with a0 normalised to 1.
"""

from __future__ import annotations

import math

import torch

KINDS = ("highpass", "low_shelf", "peak", "high_shelf")


def design(kind: str, freq_hz, q, gain_db, sample_rate: float) -> torch.Tensor:
    freq_hz = torch.as_tensor(freq_hz, dtype=torch.float64)
    q = torch.as_tensor(q, dtype=torch.float64)
    gain_db = torch.as_tensor(gain_db, dtype=torch.float64)
    w0 = 2.0 * math.pi * freq_hz / sample_rate
    cos_w, sin_w = torch.cos(w0), torch.sin(w0)
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
        k = 2.0 * torch.sqrt(big_a) * alpha
        b0 = big_a * (ap - s * am * cos_w + k)
        b1 = s * 2.0 * big_a * (am - s * ap * cos_w)
        b2 = big_a * (ap - s * am * cos_w - k)
        a0 = ap + s * am * cos_w + k
        a1 = -s * 2.0 * (am + s * ap * cos_w)
        a2 = ap + s * am * cos_w - k
    else:
        raise ValueError(f"unknown biquad kind {kind!r}")
    b0, b1, b2, a1, a2 = torch.broadcast_tensors(
        b0, torch.as_tensor(b1), torch.as_tensor(b2), torch.as_tensor(a1), torch.as_tensor(a2)
    )
    return torch.stack([b0, b1, b2, a1, a2], dim=-1) / torch.as_tensor(a0).unsqueeze(-1)


def response(coefs: torch.Tensor, freqs_hz, sample_rate: float) -> torch.Tensor:
    """Complex frequency response H(e^jw) of biquads [..., 5] at `freqs_hz` -> [..., F]."""
    z = torch.exp(-1j * 2.0 * math.pi * torch.as_tensor(freqs_hz, dtype=torch.float64) / sample_rate)
    c = coefs.to(torch.float64).unsqueeze(-2)
    num = c[..., 0] + c[..., 1] * z + c[..., 2] * z * z
    den = 1.0 + c[..., 3] * z + c[..., 4] * z * z
    return num / den
