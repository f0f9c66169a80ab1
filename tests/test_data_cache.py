"""DecodeCache: decode once, memory-map afterwards, decode again when the source changes."""

import os
import pickle

import numpy as np
import pytest
import soundfile as sf

from tonematch.data import audio, cache as cache_module
from tonematch.data.cache import DecodeCache
from tonematch.data.errors import TonematchError
from tonematch.data.synth import music_like


@pytest.fixture
def track(tmp_path):
    p = tmp_path / "music" / "song.flac"
    p.parent.mkdir()
    sf.write(p, music_like(seconds=1.0, sample_rate=48000).T, 48000, subtype="PCM_24")
    return str(p)


def count_decodes(monkeypatch):
    calls = []
    real = cache_module.load

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(cache_module, "load", counting)
    return calls


def test_get_decodes_once_and_memory_maps(tmp_path, track, monkeypatch):
    calls = count_decodes(monkeypatch)
    c = DecodeCache(tmp_path / "cache")
    a = c.get(track, 44100)
    expected, _ = audio.load(track, sample_rate=44100)
    assert isinstance(a, np.memmap) and a.dtype == np.float32
    np.testing.assert_array_equal(a, expected)
    assert c.get(track, 44100) is a
    # A fresh cache object (another process, the next epoch) finds the stored copy.
    b = DecodeCache(tmp_path / "cache").get(track, 44100)
    np.testing.assert_array_equal(b, expected)
    assert len(calls) == 1
    assert not a.flags.writeable  # training code cannot corrupt the cache through a view
    assert [n for n in os.listdir(tmp_path / "cache") if ".tmp-" in n] == []


def test_each_rate_is_its_own_entry(tmp_path, track):
    c = DecodeCache(tmp_path / "cache")
    assert c.get(track, 48000).shape == (2, 48000)
    assert c.get(track, 22050).shape == (2, 22050)
    assert len(os.listdir(tmp_path / "cache")) == 2


def test_changed_source_is_decoded_again(tmp_path, track):
    c = DecodeCache(tmp_path / "cache")
    first = np.array(c.get(track, 48000))
    sf.write(track, music_like(seconds=0.5, sample_rate=48000, seed=7).T, 48000, subtype="PCM_24")
    st = os.stat(track)
    os.utime(track, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # coarse mtime clocks
    second = DecodeCache(tmp_path / "cache").get(track, 48000)
    assert second.shape == (2, 24000) and first.shape == (2, 48000)


def test_frames_is_cheap_and_exact(tmp_path, track, monkeypatch):
    calls = count_decodes(monkeypatch)
    c = DecodeCache(tmp_path / "cache")
    assert c.frames(track, 44100) == 44100
    assert calls == []  # from the header, no decoding
    assert c.frames(track, 44100) == c.get(track, 44100).shape[1]
    assert DecodeCache(tmp_path / "cache").frames(track, 44100) == 44100


def test_damaged_entry_is_rebuilt(tmp_path, track):
    c = DecodeCache(tmp_path / "cache")
    path = c.path_for(track, 48000)
    path.write_bytes(b"not an npy file")
    np.testing.assert_array_equal(c.get(track, 48000), audio.load(track)[0])


def test_pickling_drops_memory_maps(tmp_path, track):
    c = DecodeCache(tmp_path / "cache")
    c.get(track, 48000)
    clone = pickle.loads(pickle.dumps(c))
    assert len(pickle.dumps(c)) < 10_000  # not a copy of the audio
    np.testing.assert_array_equal(clone.get(track, 48000), c.get(track, 48000))


def test_errors(tmp_path):
    c = DecodeCache(tmp_path / "cache")
    with pytest.raises(TonematchError, match="no such file"):
        c.get(str(tmp_path / "missing.ogg"), 44100)
    (tmp_path / "file").write_text("x")
    with pytest.raises(TonematchError, match="cannot create cache folder"):
        DecodeCache(tmp_path / "file" / "cache")
