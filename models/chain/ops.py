"""Differentiable wrappers around the numba recursions (the Functions live in autograd.py), and
the one-pole time constant both renderers use.

The numba kernels run forwards and their hand-written adjoints backwards. Tensors on an
accelerator make a round trip through host memory: a batch of 16 x 2 x 131072 float32 is 16 MB,
milliseconds over PCIe, while the sequential recursions gain nothing from a GPU anyway.
"""

from __future__ import annotations

import numpy as np

from .lazy import is_tensor, torch


def biquad(x: torch.Tensor, coefs: torch.Tensor) -> torch.Tensor:
    """x: [R, T]; coefs: [R, 5] (b0, b1, b2, a1, a2), float64 recommended. Zero initial state."""
    from .autograd import Biquad

    if x.device.type == "cpu":
        return Biquad.apply(x, coefs)
    return Biquad.apply(x.cpu(), coefs.cpu()).to(x.device)


def cascade(x: torch.Tensor, sections) -> torch.Tensor:
    """x [B, C, T] through biquads in order, each [B, 5] (or [5]: the same for every item), the
    same on every channel. Zero initial state."""
    b, c, t = x.shape
    y = x.reshape(b * c, t)
    for coefs in sections:
        y = biquad(y, coefs.to(x.device).expand(b, 5).repeat_interleave(c, dim=0))
    return y.reshape(b, c, t)


def ballistics(x: torch.Tensor, att: torch.Tensor, rel: torch.Tensor, initial: float) -> torch.Tensor:
    """Attack/release smoother. x: [R, T]; att, rel: [R] pole coefficients; initial: start value."""
    from .autograd import Ballistics

    if x.device.type == "cpu":
        return Ballistics.apply(x, att, rel, initial)
    return Ballistics.apply(x.cpu(), att.cpu(), rel.cpu(), initial).to(x.device)


def time_constant_to_pole(ms, sample_rate: float, xp=None):
    """One-pole coefficient for a time constant: the step response reaches 1 - 1/e in `ms`.
    A tensor gives a tensor; with `xp` (autograd.numpy: the frame model) an array; else a float."""
    if is_tensor(ms):
        return torch.exp(-1000.0 / (ms.double().clamp_min(1e-6) * sample_rate))
    if xp is not None:
        return xp.exp(-1000.0 / (xp.maximum(ms, 1e-6) * sample_rate))
    return float(np.exp(-1000.0 / (max(ms, 1e-6) * sample_rate)))
