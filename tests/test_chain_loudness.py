"""The chain's BS.1770 meter agrees with pyloudnorm (streaming and differentiable)."""

import numpy as np
import pyloudnorm
import pytest
import torch

from tonematch.models.chain.loudness import StreamingMeter, loudness_lufs

from signals import music_like


@pytest.mark.parametrize("sr", [44100, 48000, 22050])
@pytest.mark.parametrize("channels", [1, 2])
def test_matches_pyloudnorm(sr, channels):
    x = music_like(5.3, sr, seed=sr % 7, level_db=-25)[:channels]
    x[:, :sr] *= 0.01  # a quiet first second exercises the relative gate
    ref = pyloudnorm.Meter(sr).integrated_loudness(x.T.astype(np.float64))
    meter = StreamingMeter(sr, channels)
    for i in range(0, x.shape[1], 10007):
        meter.add(x[:, i : i + 10007])
    assert meter.integrated() == pytest.approx(ref, abs=1e-6)
    assert float(loudness_lufs(torch.from_numpy(x)[None], sr)[0]) == pytest.approx(ref, abs=1e-4)


def test_silence_is_finite_floor():
    x = torch.zeros(1, 2, 44100, requires_grad=True)
    lufs = loudness_lufs(x, 44100)
    lufs.sum().backward()
    assert float(lufs.detach()) == -120.0 and torch.isfinite(x.grad).all()
