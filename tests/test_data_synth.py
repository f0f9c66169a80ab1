"""The synthetic music used by tests is broadband, stereo, dynamic and reproducible."""

import numpy as np

from tonematch.data.synth import music_like


def test_music_like():
    x = music_like(seconds=2.0, sample_rate=16000, seed=3)
    assert x.shape == (2, 32000) and x.dtype == np.float32
    assert np.abs(x).max() == np.float32(0.7)
    np.testing.assert_array_equal(x, music_like(seconds=2.0, sample_rate=16000, seed=3))
    assert not np.array_equal(x, music_like(seconds=2.0, sample_rate=16000, seed=4))
    assert not np.allclose(x[0], x[1])  # panned voices: real stereo content
    spectrum = np.abs(np.fft.rfft(x[0])) ** 2
    freqs = np.fft.rfftfreq(x.shape[1], 1 / 16000)
    for lo, hi in ((30, 200), (200, 2000), (2000, 8000)):  # energy in bass, mids and highs
        assert spectrum[(freqs >= lo) & (freqs < hi)].sum() > 1e-4 * spectrum.sum()
    frames = np.sqrt(np.mean(x[0].reshape(-1, 400) ** 2, axis=1))
    assert frames.max() / frames.min() > 2  # beats: the level moves
    mono = music_like(seconds=2.0, sample_rate=16000, seed=3, channels=1)
    np.testing.assert_allclose(mono[0], x.mean(axis=0), atol=1e-6)
