"""torch.autograd.Function wrappers around the numba recursions (forward kernels and their
hand-written adjoints). Imported by ops.py on first use, so the exact renderer never loads torch.
"""

from __future__ import annotations

import numpy as np
import torch

from . import kernels


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


class Biquad(torch.autograd.Function):
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


class Ballistics(torch.autograd.Function):
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
