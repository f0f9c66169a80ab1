"""measure.truepeak: inter-sample peaks against 16x / 4x resample_poly references, streaming."""

import numpy as np
import pytest
from scipy.signal import resample_poly

from tonematch.models.measure import truepeak as tp

from signals import music_like


def ref_dbtp(x, up):
    return 20 * np.log10(np.abs(resample_poly(x.astype(np.float64), up, 1, axis=1)).max())


def quarter_rate_sine(sr=48000, seconds=1.0):
    n = np.arange(int(seconds * sr))
    # fs/4 at 45 degrees, amplitude sqrt 2: every sample at +-1.0 (0 dBFS), the crests between them
    x = np.sqrt(2.0) * np.sin(2 * np.pi * n / 4 + np.pi / 4)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, 512))
    x[:512] *= ramp
    x[-512:] *= ramp[::-1]
    return np.repeat(x[None], 2, axis=0).astype(np.float32)


def test_quarter_rate_sine_reads_plus_3_dbtp():
    x = quarter_rate_sine()
    assert 20 * np.log10(np.abs(x).max()) == pytest.approx(0.0, abs=0.01)
    ours = tp.true_peak_dbtp(x)
    assert ours == pytest.approx(3.01, abs=0.1)
    assert ours == pytest.approx(ref_dbtp(x, 16), abs=0.1)
    assert ours == pytest.approx(ref_dbtp(x, 4), abs=0.1)


@pytest.mark.parametrize("seed", range(4))
def test_music_like_agrees_with_16x_reference(seed):
    x = music_like(2.0, 44100, seed=seed, level_db=-12)
    assert tp.true_peak_dbtp(x) == pytest.approx(ref_dbtp(x, 16), abs=0.2)


@pytest.mark.parametrize("block", [1, 5, 23, 24, 1000, 65536])
def test_streaming_equals_whole(block):
    x = music_like(1.0, 22050, seed=7)
    m = tp.TruePeakMeter(2)
    for i in range(0, x.shape[1], block):
        m.add(x[:, i : i + block])
    assert m.peak() == tp.true_peak(x)


def test_numba_and_torch_envelopes_agree():
    torch = pytest.importorskip("torch")
    x = music_like(0.5, 44100, seed=3)
    env = tp.true_peak_envelope(torch.from_numpy(x)[None].double())[0].numpy()
    assert env.max() == pytest.approx(tp.true_peak(x), rel=1e-6)


def test_silence_and_floor():
    assert tp.true_peak(np.zeros((2, 100), np.float32)) == 0.0
    assert tp.true_peak_dbtp(np.zeros((1, 100), np.float32)) == pytest.approx(-200.0)
