"""Differentiable wrappers (torch.autograd.Function) around the numba recursions.

The numba kernels run forwards and their hand-written adjoints backwards. Tensors on an
accelerator make a round trip through host memory: a batch of 16 x 2 x 131072 float32 is 16 MB,
milliseconds over PCIe, while the sequential recursions gain nothing from a GPU anyway.
"""

from __future__ import annotations

import numpy as np
import torch

from . import kernels


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


class _Biquad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coefs):
        state = np.zeros((x.shape[0], 2))
        y = torch.from_numpy(kernels.biquad_forward(_np(x), _np(coefs.double()), state))
        ctx.save_for_backward(x, y, coefs)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, y, coefs = ctx.saved_tensors
        gx, gc = kernels.biquad_backward(_np(grad_y.to(x.dtype)), _np(x), _np(y), _np(coefs.double()))
        return torch.from_numpy(gx), torch.from_numpy(gc).to(coefs.dtype)


def biquad(x: torch.Tensor, coefs: torch.Tensor) -> torch.Tensor:
    """x: [R, T]; coefs: [R, 5] (b0, b1, b2, a1, a2), float64 recommended. Zero initial state."""
    if x.device.type == "cpu":
        return _Biquad.apply(x, coefs)
    return _Biquad.apply(x.cpu(), coefs.cpu()).to(x.device)


class _Ballistics(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, att, rel, initial: float):
        init = np.full(x.shape[0], float(initial))
        y = torch.from_numpy(kernels.ballistics_forward(_np(x), _np(att.double()), _np(rel.double()), init.copy()))
        ctx.save_for_backward(x, y, att, rel)
        ctx.initial = init
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, y, att, rel = ctx.saved_tensors
        gx, ga, gr = kernels.ballistics_backward(
            _np(grad_y.to(x.dtype)), _np(x), _np(y), _np(att.double()), _np(rel.double()), ctx.initial
        )
        return torch.from_numpy(gx), torch.from_numpy(ga).to(att.dtype), torch.from_numpy(gr).to(rel.dtype), None


def ballistics(x: torch.Tensor, att: torch.Tensor, rel: torch.Tensor, initial: float) -> torch.Tensor:
    """Attack/release smoother. x: [R, T]; att, rel: [R] pole coefficients; initial: start value."""
    if x.device.type == "cpu":
        return _Ballistics.apply(x, att, rel, initial)
    return _Ballistics.apply(x.cpu(), att.cpu(), rel.cpu(), initial).to(x.device)


def time_constant_to_pole(ms, sample_rate: float):
    """One-pole coefficient for a time constant: the step response reaches 1 - 1/e in `ms`."""
    if isinstance(ms, torch.Tensor):
        return torch.exp(-1000.0 / (ms.double().clamp_min(1e-6) * sample_rate))
    return float(np.exp(-1000.0 / (max(ms, 1e-6) * sample_rate)))
