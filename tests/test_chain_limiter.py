"""Limiter: true-peak ceiling on hard transients and inter-sample peaks; transparent below it."""
import numpy as np
import pytest
import torch

from tonematch.models.chain import limiter
from tonematch.models.chain.settings import Settings

from signals import music_like, true_peak_db

SR = 44100


def _limit(x, ceiling=-1.0, release_ms=50.0, exact=True):
    s = Settings.defaults(SR)
    s.values.update({"limiter.ceiling_dbtp": ceiling, "limiter.release_ms": release_ms})
    if not exact:
        return limiter.apply(torch.from_numpy(x)[None], s.tensors(), SR)[0].numpy()
    lim = limiter.Stream(s.values, SR, x.shape[0])
    y = lim.process(np.concatenate([x, np.zeros((x.shape[0], lim.latency), np.float32)], axis=1))
    return y[:, lim.latency :]


def _intersample_sine(n=SR):
    # fs/4 at 45 degrees: every sample sits at 0.707 of the waveform's true peak (+3 dB between)
    t = np.arange(n)
    return (1.4 * np.sin(np.pi / 2 * t + np.pi / 4)).astype(np.float32)


@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize("ceiling", [-0.3, -1.0, -3.0])
def test_true_peak_holds_on_transients_and_intersample_peaks(ceiling, exact):
    rng = np.random.default_rng(int(-ceiling * 10))
    n = SR
    clicks = np.zeros((2, n), np.float32)
    clicks[:, rng.integers(100, n - 100, 40)] = rng.choice([-4.0, 4.0], (2, 40))  # +12 dBFS spikes
    noise = (0.3 * rng.standard_normal((2, n))).astype(np.float32) + clicks
    sine = np.stack([_intersample_sine(n)] * 2)
    loud_music = music_like(1.0, SR, seed=3, level_db=-6)
    for x in (noise, sine, loud_music):
        y = _limit(x, ceiling, exact=exact)
        assert true_peak_db(y, 4) <= ceiling + 1e-3
        assert 20 * np.log10(np.abs(y).max()) <= ceiling


def test_intersample_detection_is_needed():
    # the sine's samples are 3 dB below its peak: a sample-peak limiter would let it through
    x = np.stack([_intersample_sine()] * 2) / 1.4 * 10 ** (1 / 20)  # true peak +1 dBTP, samples -2 dBFS
    assert 20 * np.log10(np.abs(x).max()) < -1.0 < true_peak_db(x)
    y = _limit(x, -1.0)
    assert true_peak_db(y) <= -1.0 + 1e-3


def test_transparent_below_the_ceiling():
    x = music_like(1.0, SR, seed=1, level_db=-30)
    assert true_peak_db(x) < -10
    np.testing.assert_array_equal(_limit(x, -1.0), x)


def test_release_recovers_gain():
    x = np.full((1, SR), 0.1, np.float32)
    x[0, 1000:1010] = 1.0  # a short burst forces about -12 dB, then the gain must come back
    fast = _limit(x, -12.0, release_ms=10)
    slow = _limit(x, -12.0, release_ms=500)
    after = 1010 + int(0.15 * SR)  # 15 time constants of the fast release
    assert fast[0, after] == pytest.approx(0.1, rel=1e-3)
    assert slow[0, after] < 0.09


def test_loud_render_holds_ceiling_to_the_last_sample():
    from tonematch.models.chain.exact import render_array

    x = music_like(2.0, SR, seed=9, level_db=-14)
    x[:, -5:] = 0.9  # a peak right at the end must be limited too
    s = Settings.defaults(SR)
    s.values.update({"loudness.target_lufs": -8.0, "limiter.ceiling_dbtp": -1.0})
    y = render_array(x, s, SR)
    assert true_peak_db(y) <= -1.0 + 1e-3
