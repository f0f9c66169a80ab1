"""TrackReader: stereo segments at one rate, from the file or the cache, zeros outside the track."""

import numpy as np
import pytest
import soundfile as sf

from tonematch.data import audio
from tonematch.data.cache import DecodeCache
from tonematch.data.errors import TonematchError
from tonematch.data.synth import music_like
from tonematch.data.tracks import TrackReader


@pytest.mark.parametrize("use_cache", [False, True])
def test_reads_resampled_stereo_segments_with_zero_padding(tmp_path, use_cache):
    p = str(tmp_path / "m.flac")
    sf.write(p, music_like(seconds=1.0, sample_rate=48000, channels=1).T, 48000, subtype="PCM_24")
    whole, _ = audio.load(p, sample_rate=44100, channels=2)
    reader = TrackReader(44100, DecodeCache(tmp_path / "cache") if use_cache else None)
    assert reader.frames(p) == 44100
    seg = reader.read(p, 1000, 2000)
    assert seg.shape == (2, 2000) and seg.dtype == np.float32
    np.testing.assert_allclose(seg, whole[:, 1000:3000], atol=1e-4)
    edge = reader.read(p, -100, 300)
    assert not edge[:, :100].any()
    np.testing.assert_allclose(edge[:, 100:], whole[:, :200], atol=1e-4)
    tail = reader.read(p, 44000, 300)
    assert not tail[:, 100:].any()
    np.testing.assert_allclose(tail[:, :100], whole[:, 44000:], atol=1e-4)
    assert not reader.read(p, 50000, 10).any()


def test_refuses_more_than_two_channels(tmp_path):
    p = str(tmp_path / "surround.wav")
    sf.write(p, np.zeros((1000, 6), np.float32), 8000)
    with pytest.raises(TonematchError, match="6 channels"):
        TrackReader(8000).frames(p)
