"""Biquad coefficient design (RBJ Audio-EQ-Cookbook formulas), in float64.

One design function serves every user: the differentiable renderer gets torch (the autograd
graph back to gain/frequency/Q), the exact one numpy (`xp=np`: no torch in a render) and the
refinement's frame model autograd's numpy (`xp=autograd.numpy`).
Returns [..., 5] = (b0, b1, b2, a1, a2) with a0 normalised to 1.
"""

from __future__ import annotations

import math

import numpy as np

from .lazy import is_tensor, torch

KINDS = ("highpass", "low_shelf", "peak", "high_shelf")


def design(kind: str, freq_hz, q, gain_db, sample_rate: float, xp=None) -> torch.Tensor:
    """[..., 5] coefficients; `xp` is torch (the default), numpy or autograd.numpy."""
    xp = torch if xp is None else xp
    if xp is torch:
        freq_hz, q, gain_db = (torch.as_tensor(v, dtype=torch.float64) for v in (freq_hz, q, gain_db))
    elif xp is np:
        freq_hz, q, gain_db = (np.asarray(v, dtype=np.float64) for v in (freq_hz, q, gain_db))
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
    shape = np.broadcast_shapes(*(np.shape(c) for c in (b0, b1, b2, a0, a1, a2)))
    cols = [c if np.shape(c) == shape else xp.broadcast_to(c, shape) for c in (b0, b1, b2, a1, a2)]
    a0 = a0 if np.shape(a0) == shape else xp.broadcast_to(a0, shape)
    return xp.stack(cols, axis=-1) / xp.expand_dims(a0, -1)


def cascade_power(sections, freqs_hz, sample_rate: float):
    """|H|^2 of biquads in cascade (each [..., 5]) at `freqs_hz` -> [..., F]: the product of each
    one's power_response, 1 where there are none (torch sections give a tensor)."""
    power = None
    for coefs in sections:
        band = power_response(coefs, freqs_hz, sample_rate)
        power = band if power is None else power * band
    return np.ones(len(freqs_hz)) if power is None else power


def power_response(coefs, freqs_hz, sample_rate: float):
    """|H(e^jw)|^2 of biquads [..., 5] at `freqs_hz` -> [..., F], in real arithmetic (torch or
    numpy arrays alike). The cookbook's form in phi = sin^2(w/2), with a0 = 1:
    ((b0+b1+b2)^2 - 4 (b0 b1 + 4 b0 b2 + b1 b2) phi + 16 b0 b2 phi^2) / (the same in 1, a1, a2),
    which stays accurate at low frequencies where expanding in cos w cancels to ~1e-8."""
    phi = np.sin(math.pi * np.asarray(freqs_hz, dtype=np.float64) / sample_rate) ** 2
    if is_tensor(coefs):
        phi = torch.as_tensor(phi)
    b0, b1, b2, a1, a2 = (coefs[..., i][..., None] for i in range(5))
    num = (b0 + b1 + b2) ** 2 - 4.0 * (b0 * b1 + 4.0 * b0 * b2 + b1 * b2) * phi + 16.0 * b0 * b2 * phi * phi
    den = (1.0 + a1 + a2) ** 2 - 4.0 * (a1 + 4.0 * a2 + a1 * a2) * phi + 16.0 * a2 * phi * phi
    return num / den
