"""Reading audio: load/info/read_blocks/read_segment, channel rules, resampling, error messages."""

import os

import numpy as np
import pytest
import soundfile as sf

from tonematch.data import audio
from tonematch.data.errors import TonematchError
from tonematch.data.synth import music_like


def sine(freq, sr, seconds, amp=0.5, channels=2):
    t = np.arange(int(sr * seconds)) / sr
    return np.tile(amp * np.sin(2 * np.pi * freq * t), (channels, 1)).astype(np.float32)


def write_float_wav(path, x, sr):
    sf.write(path, x.T, sr, subtype="FLOAT")
    return path


def assert_one_line_naming(err, path):
    message = str(err.value)
    assert "\n" not in message
    assert os.path.basename(path) in message


def test_load_returns_float32_channels_first(tmp_path):
    x = music_like(seconds=1.0, sample_rate=22050)
    p = write_float_wav(str(tmp_path / "a.wav"), x, 22050)
    y, sr = audio.load(p)
    assert sr == 22050 and y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_array_equal(y, x)


def test_values_above_full_scale_survive_decoding(tmp_path):
    x = sine(440, 8000, 0.5, amp=1.5)
    p = write_float_wav(str(tmp_path / "hot.wav"), x, 8000)
    y, _ = audio.load(p)
    assert y.max() == pytest.approx(1.5, abs=1e-3)


def test_channel_conversion(tmp_path):
    stereo = music_like(seconds=0.5, sample_rate=8000)
    p = write_float_wav(str(tmp_path / "s.wav"), stereo, 8000)
    mono, _ = audio.load(p, channels=1)
    np.testing.assert_allclose(mono[0], stereo.mean(axis=0), atol=1e-7)

    pm = write_float_wav(str(tmp_path / "m.wav"), stereo[:1], 8000)
    dup, _ = audio.load(pm, channels=2)
    assert dup.shape == (2, stereo.shape[1])
    np.testing.assert_array_equal(dup[0], dup[1])

    six = np.tile(stereo[:1], (6, 1))
    p6 = write_float_wav(str(tmp_path / "six.wav"), six, 8000)
    assert audio.load(p6, channels=1)[0].shape[0] == 1
    assert audio.load(p6)[0].shape[0] == 6
    with pytest.raises(TonematchError, match="6 channels") as err:
        audio.load(p6, channels=2)
    assert_one_line_naming(err, p6)
    with pytest.raises(TonematchError):
        audio.read_blocks(p6, channels=2)
    with pytest.raises(TonematchError):
        audio.load(p, channels=3)


def test_resample_48k_to_44k1_keeps_frequency_and_level(tmp_path):
    x = sine(1000.0, 48000, 2.0, amp=0.5)
    p = write_float_wav(str(tmp_path / "s48.wav"), x, 48000)
    y, sr = audio.load(p, sample_rate=44100)
    assert sr == 44100 and y.shape == (2, 88200)
    core = y[0, 4410:-4410].astype(np.float64)  # away from the filter's edges
    rms_db = 20 * np.log10(np.sqrt(np.mean(core**2)) / (0.5 / np.sqrt(2)))
    assert abs(rms_db) < 0.05
    # Frequency from a zero-padded, windowed spectrum peak.
    spectrum = np.abs(np.fft.rfft(core * np.hanning(core.size), 1 << 20))
    freq = np.argmax(spectrum) * 44100 / (1 << 20)
    assert abs(freq - 1000.0) < 0.1


def test_info(tmp_path):
    p = str(tmp_path / "i.flac")
    sf.write(p, np.zeros((12000, 2), np.float32), 24000, subtype="PCM_16")
    meta = audio.info(p)
    assert (meta.sample_rate, meta.channels, meta.frames) == (24000, 2, 12000)
    assert meta.duration_s == pytest.approx(0.5)
    assert (meta.format, meta.subtype) == ("FLAC", "PCM_16")


def test_missing_file(tmp_path):
    p = str(tmp_path / "nope.wav")
    for call in (audio.load, audio.info, audio.read_blocks):
        with pytest.raises(TonematchError, match="no such file") as err:
            call(p)
        assert_one_line_naming(err, p)


def test_text_file_named_wav(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("this is not audio\n")
    for call in (audio.load, audio.info, audio.read_blocks):
        with pytest.raises(TonematchError, match="not a supported audio file") as err:
            call(str(p))
        assert_one_line_naming(err, str(p))


def test_zero_frame_file(tmp_path):
    p = str(tmp_path / "empty.wav")
    sf.write(p, np.zeros((0, 2), np.float32), 44100)
    for call in (audio.load, audio.info, audio.read_blocks):
        with pytest.raises(TonematchError, match="0 frames") as err:
            call(p)
        assert_one_line_naming(err, p)


def test_folder_is_not_a_file(tmp_path):
    with pytest.raises(TonematchError, match="folder"):
        audio.load(str(tmp_path))


def test_nan_samples_are_refused_with_their_time(tmp_path):
    x = sine(440, 8000, 2.0)
    x[1, 12000] = np.nan
    p = write_float_wav(str(tmp_path / "nan.wav"), x, 8000)
    with pytest.raises(TonematchError, match=r"NaN or infinite samples \(first at 1\.500 s\)") as err:
        audio.load(p)
    assert_one_line_naming(err, p)
    blocks = audio.read_blocks(p, block_frames=4096)
    next(blocks)  # the first blocks are clean: errors come with the bad block
    with pytest.raises(TonematchError, match="1.500 s"):
        list(blocks)
    x[1, 12000] = np.inf
    write_float_wav(p, x, 8000)
    with pytest.raises(TonematchError, match="NaN or infinite"):
        audio.load(p)


def test_read_blocks_streams_the_same_audio(tmp_path):
    x = music_like(seconds=2.0, sample_rate=16000)
    p = write_float_wav(str(tmp_path / "b.wav"), x, 16000)
    blocks = list(audio.read_blocks(p, block_frames=5000))
    assert [b.shape[1] for b in blocks] == [5000] * 6 + [2000]
    assert all(b.dtype == np.float32 and b.shape[0] == 2 for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), x)

    mono_blocks = list(audio.read_blocks(p, block_frames=5000, channels=1))
    np.testing.assert_allclose(np.concatenate(mono_blocks, axis=1)[0], x.mean(axis=0), atol=1e-7)


def test_read_blocks_resampling_matches_load(tmp_path):
    x = music_like(seconds=1.5, sample_rate=48000)
    p = write_float_wav(str(tmp_path / "r.wav"), x, 48000)
    whole, _ = audio.load(p, sample_rate=44100)
    streamed = np.concatenate(list(audio.read_blocks(p, block_frames=7777, sample_rate=44100)), axis=1)
    assert streamed.shape == whole.shape
    np.testing.assert_allclose(streamed, whole, atol=1e-5)


def test_read_segment_matches_slicing(tmp_path):
    x = music_like(seconds=2.0, sample_rate=48000)
    p = write_float_wav(str(tmp_path / "seg.wav"), x, 48000)
    np.testing.assert_array_equal(audio.read_segment(p, 1234, 5000), x[:, 1234:6234])
    whole, _ = audio.load(p, sample_rate=44100)
    total = whole.shape[1]
    for start in (0, 20000, total - 3000):
        seg = audio.read_segment(p, start, 3000, sample_rate=44100)
        np.testing.assert_allclose(seg, whole[:, start : start + 3000], atol=1e-4)
    with pytest.raises(ValueError):
        audio.read_segment(p, total - 10, 11, sample_rate=44100)


def test_to_channels():
    x = music_like(seconds=0.2, sample_rate=8000)
    assert audio.to_channels(x[:1], 2).shape == (2, x.shape[1])
    np.testing.assert_allclose(audio.to_channels(x, 1)[0], x.mean(axis=0), atol=1e-7)
    np.testing.assert_array_equal(audio.to_channels(x, None), x)
