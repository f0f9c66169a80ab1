"""Sample-rate conversion: one length rule for one-shot and streaming conversion."""

import numpy as np
import pytest

from tonematch.data.errors import TonematchError
from tonematch.data.resample import StreamResampler, check_rate, resample, resampled_frames
from tonematch.data.synth import music_like


def test_length_rule():
    assert resampled_frames(48000, 48000, 44100) == 44100
    assert resampled_frames(1000, 48000, 44100) == 919  # 918.75 rounds up
    assert resampled_frames(121680, 48000, 44100) == 111794  # exact half rounds up
    assert resampled_frames(7, 44100, 48000) == 8  # 7.62


@pytest.mark.parametrize("frames", [1, 999, 121680, 48000])
def test_one_shot_follows_the_rule(frames):
    x = np.zeros((2, frames), np.float32)
    assert resample(x, 48000, 44100).shape == (2, resampled_frames(frames, 48000, 44100))


def test_streaming_equals_one_shot():
    x = music_like(seconds=1.0, sample_rate=48000)
    whole = resample(x, 48000, 44100)
    stream = StreamResampler(48000, 44100, 2)
    parts = [stream.process(x[:, i : i + 3001].T) for i in range(0, x.shape[1], 3001)]
    parts.append(stream.flush(2))
    streamed = np.concatenate(parts).T
    assert streamed.shape == whole.shape
    np.testing.assert_allclose(streamed, whole, atol=1e-5)


def test_same_rate_is_untouched():
    x = music_like(seconds=0.1, sample_rate=8000)
    assert resample(x, 8000, 8000) is x


def test_check_rate():
    assert check_rate(44100.0) == 44100
    for bad in (0, -1, 44100.5, "fast", None):
        with pytest.raises(TonematchError, match="invalid sample rate"):
            check_rate(bad)
