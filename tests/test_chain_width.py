"""Width: 1 is identity, 0 is mono, 2 doubles the side; mono input passes untouched."""

import numpy as np
import torch

from tonematch.models.chain import width

SR = 44100


def _run(x, w, exact=True):
    values = {"width.width": w}
    if exact:
        return width.Stream(values, SR, x.shape[0]).process(x)
    return width.apply(torch.from_numpy(x)[None], {"width.width": torch.tensor([w])}, SR)[0].numpy()


def test_width_cases():
    x = np.random.default_rng(0).standard_normal((2, 1000)).astype(np.float32)
    for exact in (True, False):
        np.testing.assert_allclose(_run(x, 1.0, exact), x, atol=1e-6)
        mono = _run(x, 0.0, exact)
        np.testing.assert_allclose(mono[0], mono[1], atol=1e-7)
        np.testing.assert_allclose(mono[0], x.mean(axis=0), atol=1e-6)
        wide = _run(x, 2.0, exact)
        np.testing.assert_allclose(wide[0] - wide[1], 2 * (x[0] - x[1]), atol=1e-5)
        np.testing.assert_allclose(wide[0] + wide[1], x[0] + x[1], atol=1e-5)


def test_mono_passes():
    x = np.random.default_rng(1).standard_normal((1, 100)).astype(np.float32)
    np.testing.assert_array_equal(_run(x, 0.3), x)
