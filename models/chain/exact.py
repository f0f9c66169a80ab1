"""The exact renderer: block by block, filter and envelope state carried across blocks.

Memory is bounded by the block size, not the file length. Passes (same recipe as
`chain.render_batch`): 1) pre-limiter stages + loudness meter; 2) limiter at the normalisation
gain, metering its output; 3) only while the limiter cost more than the tolerance, the limiter
again at a corrected gain (at most loudness.MAX_CORRECTIONS times). Pre-limiter blocks (and their true-peak envelope and one pass of output, about 2.5x their
size in all) are kept in memory between passes when they fit in `cache_bytes` (96 MB: a
4.5-minute stereo track at 44.1 kHz in float32); otherwise they are recomputed from the source, so an
hour-long file renders in bounded memory.
"""
from __future__ import annotations

from typing import Callable, Iterable, Iterator

import numpy as np

from . import limiter, loudness
from .chain import PRE_LIMITER, PROCESSORS
from .settings import Settings

Source = Callable[[], Iterable[np.ndarray]]  # returns a fresh iterator of [C, n] float32 blocks


class ExactRenderer:
    def __init__(self, settings: Settings, sample_rate: int, channels: int, cache_bytes: int = 96 << 20):
        settings.validate(sample_rate)
        self.settings = settings
        self.sample_rate = sample_rate
        self.channels = channels
        self.cache_bytes = cache_bytes
        self.report: dict = {}

    def _pre(self, source: Source) -> Iterator[np.ndarray]:
        s = self.settings
        stages = [
            PROCESSORS[name].Stream(s.values, self.sample_rate, self.channels, s.bypass)
            for name in PRE_LIMITER
            if s.enabled(name)
        ]
        for block in source():
            y = np.asarray(block, dtype=np.float32)
            for stage in stages:
                y = stage.process(y)
            yield y.astype(np.float32, copy=False)

    def _limited(self, blocks: Iterable[np.ndarray], gain_db: float, peaks=None) -> Iterator[np.ndarray]:
        """Limiter at a gain. `peaks`: true-peak envelopes of the blocks at unity gain, so
        repeated passes at other gains skip the interpolation (the envelope scales with gain)."""
        g = np.float32(10.0 ** (gain_db / 20.0))
        if not self.settings.enabled("limiter"):
            for b in blocks:
                yield b * g
            return
        lim = limiter.Stream(self.settings.values, self.sample_rate, self.channels)
        skip = lim.latency
        for k, b in enumerate(blocks):
            y = lim.process(b * g, None if peaks is None else peaks[k] * float(g))
            if skip:
                cut = min(skip, y.shape[1])
                y, skip = y[:, cut:], skip - cut
            if y.shape[1]:
                yield y
        tail = lim.process(np.zeros((self.channels, lim.latency), dtype=np.float32))
        yield tail[:, skip:]

    def blocks(self, source: Source) -> Iterator[np.ndarray]:
        """Yield the rendered output, block by block, same length as the source."""
        s = self.settings
        meter = loudness.StreamingMeter(self.sample_rate, self.channels)
        cache: list[np.ndarray] | None = []
        size = 0
        for y in self._pre(source):
            meter.add(y)
            if cache is not None:
                size += y.nbytes
                cache.append(y)
                if size > self.cache_bytes:
                    cache = None  # too long to keep: later passes recompute from the source
        pre = (lambda: iter(cache)) if cache is not None else (lambda: self._pre(source))
        if not s.enabled("loudness"):
            yield from self._limited(pre(), 0.0)
            return
        target = s.values["loudness.target_lufs"]
        measured = meter.integrated()
        gain = loudness.normalisation_gain_db(measured, target)
        self.report.update(pre_limiter_lufs=measured, gain_db=gain)
        if not s.enabled("limiter"):
            yield from self._limited(pre(), gain)
            return
        peaks = None
        if cache is not None:
            tracker = limiter.Stream(s.values, self.sample_rate, self.channels)
            peaks = [tracker.peaks(b).astype(np.float32) for b in cache]
        prev_gain = prev_miss = None
        for attempt in range(loudness.MAX_CORRECTIONS + 1):
            out_meter = loudness.StreamingMeter(self.sample_rate, self.channels)
            kept: list[np.ndarray] | None = [] if cache is not None else None
            for y in self._limited(pre(), gain, peaks):
                out_meter.add(y)
                if kept is not None:
                    kept.append(y)
            miss = target - out_meter.integrated()
            self.report.update(gain_db=gain, passes=attempt + 1, miss_lu=miss)
            if abs(miss) <= loudness.CORRECTION_TOLERANCE_LU or attempt == loudness.MAX_CORRECTIONS:
                break
            gain, prev_gain, prev_miss = loudness.next_gain_db(gain, miss, prev_gain, prev_miss), gain, miss
        if kept is not None:
            yield from kept
        else:
            yield from self._limited(pre(), gain)


def render_array(audio: np.ndarray, settings: Settings, sample_rate: int, block: int = 65536) -> np.ndarray:
    """Exact render of an in-memory [C, T] array (blocks of `block` frames)."""
    audio = np.asarray(audio, dtype=np.float32)
    source = lambda: (audio[:, i : i + block] for i in range(0, audio.shape[1], block))  # noqa: E731
    out = list(ExactRenderer(settings, sample_rate, audio.shape[0]).blocks(source))
    return np.concatenate(out, axis=1) if out else audio.copy()
