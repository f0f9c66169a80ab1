"""Sample-rate conversion with soxr (HQ), with one fixed rule for the output length.

soxr's own output length differs by one frame between its one-shot and streaming APIs and on exact
halves, so every path here trims or pads to `resampled_frames`: the cache, the segment reader and
the block reader then agree on how long a track is at the new rate.
"""

from __future__ import annotations

import numpy as np
import soxr

from .errors import TonematchError

QUALITY = "HQ"


def check_rate(sample_rate, what: str = "sample rate") -> int:
    """An integer rate > 0 (float rates like 44100.0 are accepted when they are whole)."""
    try:
        rate = int(sample_rate)
        whole = rate == sample_rate
    except (TypeError, ValueError):
        whole = False
    if not whole or rate <= 0:
        raise TonematchError(f"invalid {what} {sample_rate!r}: expected a positive whole number of Hz")
    return rate


def resampled_frames(frames: int, sr_in: int, sr_out: int) -> int:
    """Length of `frames` frames at sr_in once converted to sr_out: round(frames * sr_out / sr_in), halves up."""
    return (frames * sr_out * 2 + sr_in) // (2 * sr_in)


def _fit_length(x: np.ndarray, frames: int) -> np.ndarray:
    """Trim or zero-pad frames-first `x` to exactly `frames` rows (soxr is off by at most one)."""
    if x.shape[0] >= frames:
        return x[:frames]
    pad = np.zeros((frames - x.shape[0],) + x.shape[1:], dtype=x.dtype)
    return np.concatenate([x, pad], axis=0)


def resample_frames_first(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """[frames, channels] float32 -> [frames', channels] float32 (soxr's native layout, no transposes)."""
    if sr_in == sr_out:
        return x
    y = soxr.resample(np.ascontiguousarray(x, dtype=np.float32), sr_in, sr_out, quality=QUALITY)
    return _fit_length(y, resampled_frames(x.shape[0], sr_in, sr_out))


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """[channels, frames] float32 -> [channels, frames'] float32."""
    if sr_in == sr_out:
        return audio
    return np.ascontiguousarray(resample_frames_first(audio.T, sr_in, sr_out).T)


class StreamResampler:
    """Block-by-block conversion whose concatenated output has `resampled_frames(total_in)` frames."""

    def __init__(self, sr_in: int, sr_out: int, channels: int):
        self.sr_in, self.sr_out = sr_in, sr_out
        self._stream = soxr.ResampleStream(sr_in, sr_out, channels, dtype="float32", quality=QUALITY)
        self._frames_in = 0
        self._frames_out = 0

    def process(self, x: np.ndarray) -> np.ndarray:
        """[frames, channels] float32 in, whatever soxr has ready out (may be empty)."""
        self._frames_in += x.shape[0]
        y = self._stream.resample_chunk(np.ascontiguousarray(x, dtype=np.float32), last=False)
        self._frames_out += y.shape[0]
        return y

    def flush(self, channels: int) -> np.ndarray:
        """The remaining output, trimmed or padded so the total is exactly right."""
        tail = self._stream.resample_chunk(np.zeros((0, channels), dtype=np.float32), last=True)
        wanted = resampled_frames(self._frames_in, self.sr_in, self.sr_out) - self._frames_out
        return _fit_length(tail, max(wanted, 0))
