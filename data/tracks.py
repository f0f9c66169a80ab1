"""Stereo segments of tracks at one sample rate, through a DecodeCache when one is given.

Both datasets read many short segments from long files; this is the one place that knows whether
they come from a memory-mapped decoded copy or straight from the file (seek + partial decode).
"""

from __future__ import annotations

import os

import numpy as np

from .audio import info, read_segment
from .cache import DecodeCache
from .errors import TonematchError
from .resample import check_rate, resampled_frames


class TrackReader:
    def __init__(self, sample_rate: int, cache: DecodeCache | None = None):
        self.sample_rate = check_rate(sample_rate)
        self.cache = cache
        self._frames: dict[str, int] = {}  # header lookups are file opens: do each once

    def frames(self, path) -> int:
        """Track length at the reader's rate (from the header unless already cached); refuses
        files with more than two channels, which cannot become stereo."""
        key = os.fspath(path)
        if key not in self._frames:
            meta = info(path)
            if meta.channels > 2:
                raise TonematchError(f"cannot use '{key}': it has {meta.channels} channels, only mono or stereo work")
            if self.cache is not None:
                self._frames[key] = self.cache.frames(path, self.sample_rate)
            else:
                self._frames[key] = resampled_frames(meta.frames, meta.sample_rate, self.sample_rate)
        return self._frames[key]

    def read(self, path, start: int, frames: int) -> np.ndarray:
        """[2, frames] float32 of frames [start, start + frames); parts outside the track are zeros
        (callers pick positions inside it; the zeros cover headers that overstate the length)."""
        out = np.zeros((2, frames), dtype=np.float32)
        if self.cache is not None:
            track = self.cache.get(path, self.sample_rate)
            total = track.shape[1]
        else:
            track = None
            total = self.frames(path)
        lo, hi = max(start, 0), min(start + frames, total)
        if hi <= lo:
            return out
        if track is not None:
            part = np.asarray(track[:, lo:hi], dtype=np.float32)
        else:
            part = read_segment(path, lo, hi - lo, sample_rate=self.sample_rate)
        out[:, lo - start : hi - start] = part  # a mono [1, n] part broadcasts to both channels
        return out
