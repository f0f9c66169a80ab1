"""Gradients: exact adjoints (gradcheck) and finite gradients in the corners of the table."""

import numpy as np
import pytest
import torch

from tonematch.models.chain import TABLE, render_batch
from tonematch.models.chain.ops import ballistics, biquad

from signals import music_like

SR = 44100


def test_biquad_adjoint_gradcheck():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 64, dtype=torch.float64, generator=g, requires_grad=True)
    # stable poles: a1, a2 inside the stability triangle
    coefs = torch.tensor(
        [[0.5, 0.2, 0.1, -0.6, 0.3], [1.0, -0.5, 0.2, 0.1, -0.2], [0.3, 0.3, 0.3, -1.2, 0.5]],
        dtype=torch.float64,
        requires_grad=True,
    )
    assert torch.autograd.gradcheck(biquad, (x, coefs), eps=1e-6, atol=1e-6)


def test_ballistics_adjoint_gradcheck():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 50, dtype=torch.float64, generator=g, requires_grad=True)
    att = torch.tensor([0.5, 0.9], dtype=torch.float64, requires_grad=True)
    rel = torch.tensor([0.95, 0.7], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: ballistics(a, b, c, 0.0), (x, att, rel), eps=1e-7, atol=1e-5)


def _grads(x: np.ndarray, u: torch.Tensor):
    u = u.clone().requires_grad_(True)
    audio = torch.from_numpy(x)[None].repeat(u.shape[0], 1, 1).requires_grad_(True)
    y = render_batch(audio, TABLE.from_unit(u, SR), SR)
    y.pow(2).mean().backward()
    return y, u.grad, audio.grad


@pytest.mark.parametrize("case", ["silence", "zeros", "ones", "knee0", "random"])
def test_gradients_are_finite(case):
    x = music_like(1.0, SR, seed=0)
    u = torch.rand(2, len(TABLE), generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    if case == "silence":
        x = np.zeros_like(x)
    elif case == "zeros":
        u = torch.zeros_like(u)
    elif case == "ones":
        u = torch.ones_like(u)
    elif case == "knee0":
        u[:, TABLE.learned_keys.index("compressor.knee_db")] = 0.0
        u[:, TABLE.learned_keys.index("compressor.ratio")] = 1.0
    y, gu, gx = _grads(x, u)
    assert torch.isfinite(y).all() and torch.isfinite(gu).all() and torch.isfinite(gx).all()
    if case == "random":
        # every learned parameter moves the output (lookahead is the only fixed one)
        assert (gu.abs().sum(dim=0) > 0).all(), [k for k, g in zip(TABLE.learned_keys, gu.abs().sum(0)) if g == 0]


def test_gradient_matches_finite_difference_through_whole_chain():
    x = music_like(1.0, SR, seed=7)
    u = torch.rand(1, len(TABLE), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    target = torch.from_numpy(music_like(1.0, SR, seed=8))[None]

    def loss(uu):
        y = render_batch(torch.from_numpy(x)[None], TABLE.from_unit(uu, SR), SR)
        return (y.double() - target).pow(2).mean()

    uu = u.clone().requires_grad_(True)
    loss(uu).backward()
    for key in ("eq.peak2.gain_db", "compressor.threshold_db", "width.width"):
        i = TABLE.learned_keys.index(key)
        e = torch.zeros_like(u)
        e[0, i] = 1e-4
        fd = (loss(u + e) - loss(u - e)) / 2e-4
        assert float(uu.grad[0, i]) == pytest.approx(float(fd), rel=0.05, abs=1e-7), key
