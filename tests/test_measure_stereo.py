"""measure.stereo: width and correlation of known stereo images, streaming."""

import numpy as np
import pytest

from tonematch.models.measure import stereo

from signals import music_like


def test_known_images():
    rng = np.random.default_rng(0)
    mono = np.repeat(rng.standard_normal((1, 44100)), 2, axis=0).astype(np.float32)
    r = stereo.stereo_image(mono)
    assert r["width"] == 0.0 and r["correlation"] == pytest.approx(1.0, abs=1e-12) and r["side_mid_db"] is None
    anti = mono.copy()
    anti[1] *= -1
    r = stereo.stereo_image(anti)
    assert r["width"] is None and r["correlation"] == pytest.approx(-1.0, abs=1e-12)  # no mid at all
    wide = (0.1 * rng.standard_normal((2, 200000))).astype(np.float32)
    assert stereo.width(wide) == pytest.approx(1.0, abs=0.02)
    assert stereo.correlation(wide) == pytest.approx(0.0, abs=0.01)
    # side at half the mid's amplitude: width 1/4, -6.02 dB
    m, s = rng.standard_normal(100000), rng.standard_normal(100000)
    x = np.stack([m + 0.5 * s, m - 0.5 * s]).astype(np.float32)
    assert stereo.stereo_image(x)["side_mid_db"] == pytest.approx(-6.02, abs=0.1)


def test_mono_and_multichannel():
    assert stereo.stereo_image(np.ones((1, 10), np.float32)) == {
        "mono": True,
        "width": 0.0,
        "side_mid_db": None,
        "correlation": 1.0,
    }
    assert stereo.stereo_image(np.ones((3, 10), np.float32))["width"] is None


def test_streaming_equals_whole():
    x = music_like(1.0, 22050, seed=2)
    m = stereo.StereoMeter(2)
    for i in range(0, x.shape[1], 999):
        m.add(x[:, i : i + 999])
    assert m.result() == pytest.approx(stereo.stereo_image(x), rel=1e-12)
