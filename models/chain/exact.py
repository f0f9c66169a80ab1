"""The exact renderer: block by block, filter and envelope state carried across blocks.

Memory is bounded by the block size, not the file length. Passes (the same recipe as
`chain.render_batch`):
  1) pre-limiter stages, metering the loudness and keeping, per sample, the K-weighted power
     and the limiter's detection envelope (limiter/predict.py);
  2) the gain into the limiter is *predicted* from those (the limiter's gain computer run on
     the envelope alone, a sweep per secant step, no audio), then the limiter runs once at that
     gain, metering its output;
  3) only if the output still misses the target by more than loudness.CORRECTION_TOLERANCE_LU,
     the prediction is shifted by the measured error and the limiter runs again (at most
     MAX_PASSES in all).
The measurements that ride along a pass (meters, the limiter's envelope, the prediction's
statistics) run on a second thread, a block behind the main one (data.concurrency): the numba kernels
release the GIL, so a pass uses two cores and the output is the same as a serial run.
Pre-limiter blocks are kept between passes when they fit in `cache_bytes` (96 MB: a 4.5-minute
stereo track at 44.1 kHz in float32) and freed as the limiter pass reads them (a correction pass,
or a file over the cache, recomputes them from the source). A consumer that can start again (a
file writer) takes the limiter pass's output as it is made (`provisional`), so no pass's output
is held in memory. The prediction's statistics (8 bytes a sample) are summed over segments of
`STATS_DECIMATION` samples once the file is longer than the cache, so an hour-long file renders
in bounded memory.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import numpy as np

from tonematch.data.concurrency import Lane

from . import kernels, limiter, loudness, ops
from .chain import PRE_LIMITER, PROCESSORS
from .limiter.predict import MAX_PASSES, Predictor, solve_gain_db
from .settings import Settings

Source = Callable[[], Iterable[np.ndarray]]  # returns a fresh iterator of [C, n] float32 blocks
STATS_DECIMATION = 16  # segment length of the prediction's statistics for files beyond the cache
# A missed target is called a leap when the predicted loudness moves more than JUMP_LU over
# +/- JUMP_PROBE_DB of gain (blocks crossing BS.1770's relative gate), not a limiter at its end
JUMP_PROBE_DB, JUMP_LU = 0.25, 1.0
# short of the target with the loudness this flat over the last PLATEAU_PROBE_DB of gain: the
# limiter's ceiling stops it, whatever bound the gain met (the run's warning names the limiter)
PLATEAU_PROBE_DB, PLATEAU_LU = 6.0, 0.6


class _Restart:
    def __repr__(self) -> str:
        return "RESTART"


# Yielded by ExactRenderer.blocks(provisional=True) before a correction pass: drop what came before
RESTART = _Restart()


class _Stats:
    """Per-sample (or per-segment of `d` samples) K-weighted power (sum) and envelope (max)."""

    def __init__(self, d: int = 1):
        self.d = d
        self.e: list[np.ndarray] = []
        self.env: list[np.ndarray] = []
        self._rest_e = np.zeros(0, np.float32)
        self._rest_env = np.zeros(0, np.float32)
        self.nbytes = 0

    def add(self, e: np.ndarray, env: np.ndarray) -> None:
        if self.d == 1:
            self.e.append(e)
            self.env.append(env)
            self.nbytes += e.nbytes + env.nbytes
            return
        e = np.concatenate([self._rest_e, e])
        env = np.concatenate([self._rest_env, env])
        whole = (len(e) // self.d) * self.d
        self._rest_e, self._rest_env = e[whole:], env[whole:]
        if whole:
            self.e.append(e[:whole].reshape(-1, self.d).sum(axis=1, dtype=np.float64).astype(np.float32))
            self.env.append(env[:whole].reshape(-1, self.d).max(axis=1))
            self.nbytes += 8 * (whole // self.d)

    def coarsened(self, d: int) -> "_Stats":
        out = _Stats(d)
        for e, env in zip(self.e, self.env):
            out.add(e, env)
        return out

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        e, env = list(self.e), list(self.env)
        if len(self._rest_e):
            e.append(np.array([self._rest_e.sum(dtype=np.float64)], np.float32))
            env.append(np.array([self._rest_env.max()], np.float32))
        cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, np.float32)  # noqa: E731
        return cat(e), cat(env)


def _joined(blocks: list[np.ndarray], *more: np.ndarray) -> np.ndarray:
    """The blocks (then `more`) as one float32 array; the list is emptied as it is copied, so
    each block is freed once copied (when nothing else holds it) and the peak is the joined
    array, not twice it."""
    out = np.empty(sum(len(b) for b in blocks) + sum(len(b) for b in more), np.float32)
    pos = 0
    blocks.reverse()
    while blocks:
        b = blocks.pop()
        out[pos : pos + len(b)] = b
        pos += len(b)
    for b in more:
        out[pos : pos + len(b)] = b
        pos += len(b)
    return out


class _PassOne:
    """What the first pass measures of the pre-limiter signal, one block at a time."""

    def __init__(self, r: "ExactRenderer"):
        s = r.settings
        self.use_limiter, self.use_loudness = s.enabled("limiter"), s.enabled("loudness")
        self.predict = self.use_limiter and self.use_loudness
        # with the prediction's per-sample K-weighted power at hand the meter reads that
        self.meter = loudness.StreamingMeter(r.sample_rate, r.channels, power=self.predict)
        self.peaks: list[np.ndarray] | None = [] if self.use_limiter else None
        self.peak = 0.0  # the loudest pre-limiter peak, linear: what the limiter will take off most
        self.stats = _Stats()
        self.tracker = limiter.Stream(s.values, r.sample_rate, r.channels) if self.use_limiter else None
        self.ksos = np.ascontiguousarray(np.broadcast_to(loudness.k_weighting(r.sample_rate)[None], (r.channels, 2, 5)))
        self.kstate = np.zeros((r.channels, 2, 2))
        self.weights = np.array(loudness.CHANNEL_WEIGHTS[: r.channels], dtype=np.float64)

    def add(self, y: np.ndarray) -> None:
        env = None
        if self.tracker is not None:
            env = self.tracker.peaks(y)
            self.peak = max(self.peak, float(env.max(initial=0.0)))
            if self.peaks is not None:
                self.peaks.append(env)
        if self.predict:
            e = np.empty(y.shape[1], np.float32)
            kernels.weighted_power(np.ascontiguousarray(y), self.ksos, self.kstate, self.weights, e)
            self.stats.add(e, env)
            self.meter.add(e[None])
        elif self.use_loudness:
            self.meter.add(y)


class ExactRenderer:
    def __init__(self, settings: Settings, sample_rate: int, channels: int, cache_bytes: int = 96 << 20):
        settings.validate(sample_rate)
        self.settings = settings
        self.sample_rate = sample_rate
        self.channels = channels
        self.cache_bytes = cache_bytes
        self.report: dict = {}

    def _pre(self, source: Source) -> Iterator[np.ndarray]:
        return _through(source(), self.settings, self.sample_rate, self.channels, PRE_LIMITER)

    def _limited(self, blocks: Iterable[np.ndarray], gain_db: float, peaks=None) -> Iterator[np.ndarray]:
        """Limiter at a gain. `peaks`: the blocks' envelopes at unity gain (limiter.Stream.peaks),
        so a pass skips the interpolation (the envelope scales with the gain)."""
        g = np.float32(10.0 ** (gain_db / 20.0))
        if not self.settings.enabled("limiter"):
            for b in blocks:
                yield b * g
            return
        lim = limiter.Stream(self.settings.values, self.sample_rate, self.channels)
        skip = lim.latency
        for k, b in enumerate(blocks):
            y = lim.process(b, None if peaks is None else peaks[k], g)
            if skip:
                cut = min(skip, y.shape[1])
                y, skip = y[:, cut:], skip - cut
            if y.shape[1]:
                yield y
        # the flush at the same level: the carried context is at unity gain
        tail = lim.process(np.zeros((self.channels, lim.latency), dtype=np.float32), None, g)
        yield tail[:, skip:]

    def _predictor(self, one: _PassOne) -> Predictor:
        """The loudness predictor from the first pass's statistics. Per sample (a cached file),
        the envelope is joined into one array and `one.peaks` becomes views into it, so the
        limiter pass and the predictor share it and the per-block copies are freed as they are
        joined."""
        v, stats = self.settings.values, one.stats
        la = limiter.lookahead_samples(v["limiter.lookahead_ms"], self.sample_rate)
        rel = ops.time_constant_to_pole(v["limiter.release_ms"], self.sample_rate)
        ceiling = float(limiter.ceiling_gain(v["limiter.ceiling_dbtp"]))
        if stats.d != 1:
            e, env = stats.arrays()
            return Predictor(env, 0, e, self.sample_rate, ceiling, rel, la, decimation=stats.d)
        # the envelope of the last TAPS_RIGHT samples comes out with the flush
        tail = one.tracker.peaks(np.zeros((self.channels, limiter.TAPS_RIGHT), np.float32))
        bounds = np.cumsum([0] + [len(b) for b in stats.env])
        e = _joined(stats.e)
        per_block = one.peaks is not None
        one.peaks = None  # the same blocks as stats.env: dropped, so each is freed once copied
        env = _joined(stats.env, tail)
        if per_block:
            one.peaks = [env[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]
        # envelope entry j was sample j - TAPS_RIGHT
        return Predictor(env[limiter.TAPS_RIGHT :], 0, e, self.sample_rate, ceiling, rel, la)

    def blocks(self, source: Source, provisional: bool = False) -> Iterator[np.ndarray]:
        """Yield the rendered output, block by block, same length as the source.

        provisional=True: the limiter pass's output comes out as it is made, and RESTART before
        each correction pass (rare): everything before it is to be dropped (a file writer starts
        again). Otherwise a pass's output is held until the pass has measured it."""
        with Lane() as lane:
            yield from self._blocks(source, lane, provisional)

    def _blocks(self, source: Source, lane: Lane, provisional: bool) -> Iterator[np.ndarray]:
        s = self.settings
        one = _PassOne(self)
        cache: list[np.ndarray] | None = []
        size = 0
        for y in self._pre(source):
            lane.submit(one.add, y)
            if cache is not None:
                size += y.nbytes
                cache.append(y)
                if size > self.cache_bytes:  # too long to keep: later passes recompute from the source
                    lane.drain()
                    cache = one.peaks = None
                    if one.predict:
                        one.stats = one.stats.coarsened(STATS_DECIMATION)
        lane.drain()
        kept_blocks = cache is not None

        def pre() -> Iterator[np.ndarray]:
            """The pre-limiter blocks: the first pass's, handed over and freed as they are read
            (a cached file then holds its pre-limiter audio or its output, not both), or
            recomputed from the source, block for block the same."""
            nonlocal cache
            if cache is None:
                return self._pre(source)
            blocks, cache = cache, None
            blocks.reverse()
            return (blocks.pop() for _ in range(len(blocks)))

        if not one.use_loudness:
            yield from self._limited(pre(), 0.0, one.peaks)
            return
        target = s.values["loudness.target_lufs"]
        measured = one.meter.integrated()
        gain = loudness.normalisation_gain_db(measured, target)
        self.report.update(pre_limiter_lufs=measured, gain_db=gain)
        if not one.use_limiter:
            yield from self._limited(pre(), gain)
            return
        predictor = self._predictor(one)
        peaks, loudest = one.peaks, one.peak
        del one
        offset = 0.0  # measured minus predicted loudness, learnt from a pass
        for attempt in range(MAX_PASSES):
            if attempt and provisional:
                yield RESTART
            gain, expected = solve_gain_db(predictor.lufs, target, gain, offset)
            out_meter = loudness.StreamingMeter(self.sample_rate, self.channels)
            kept: list[np.ndarray] | None = [] if kept_blocks and not provisional else None
            for y in self._limited(pre(), gain, peaks):
                lane.submit(out_meter.add, y)
                if provisional:
                    yield y
                elif kept is not None:
                    kept.append(y)
            lane.drain()
            out = out_meter.integrated()
            miss = target - out
            self.report.update(gain_db=gain, passes=attempt + 1, miss_lu=miss, predictions=predictor.evaluations)
            # the most the limiter takes off a peak: the loudest one, brought up by the gain, to where
            # the limiter aims (MARGIN_DB under the ceiling)
            aim = s.values["limiter.ceiling_dbtp"] - limiter.MARGIN_DB
            over = gain + 20.0 * np.log10(max(loudest, 1e-10)) - aim
            self.report["peak_limiting_db"] = max(0.0, float(over))
            tol = loudness.CORRECTION_TOLERANCE_LU
            # another pass only when the prediction was wrong (an unreachable target stays missed)
            if abs(miss) <= tol or abs(out - expected) <= tol or attempt == MAX_PASSES - 1:
                break
            offset += out - expected
        if abs(miss) > tol:  # a leap in loudness at this gain: no gain lands on the target (predict.solve_gain_db)
            leap = predictor.lufs(gain + JUMP_PROBE_DB) - predictor.lufs(gain - JUMP_PROBE_DB)
            self.report["loudness_jump"] = leap > JUMP_LU
            if miss > 0:
                rise = predictor.lufs(gain) - predictor.lufs(gain - PLATEAU_PROBE_DB)
                self.report["limiter_plateau"] = rise < PLATEAU_LU
        if provisional:
            return
        if kept is not None:
            yield from kept
        else:
            yield from self._limited(pre(), gain)


def _through(blocks: Iterable[np.ndarray], settings: Settings, sample_rate: int, channels: int, names):
    """The pre-limiter stages `names` that `settings` enables, run over float32 blocks in order."""
    stages = [
        PROCESSORS[name].Stream(settings.values, sample_rate, channels, settings.bypass)
        for name in names
        if settings.enabled(name)
    ]
    for block in blocks:
        y = np.asarray(block, dtype=np.float32)
        for stage in stages:
            y = stage.process(y)
        yield y.astype(np.float32, copy=False)


def _array_source(audio: np.ndarray, block: int) -> Source:
    return lambda: (audio[:, i : i + block] for i in range(0, audio.shape[1], block))


def render_array(audio: np.ndarray, settings: Settings, sample_rate: int, block: int = 65536) -> np.ndarray:
    """Exact render of an in-memory [C, T] array (blocks of `block` frames)."""
    audio = np.asarray(audio, dtype=np.float32)
    out = list(ExactRenderer(settings, sample_rate, audio.shape[0]).blocks(_array_source(audio, block)))
    return np.concatenate(out, axis=1) if out else audio.copy()


def first_stages(audio: np.ndarray, settings: Settings, sample_rate: int, count: int, block: int = 65536):
    """The first `count` pre-limiter stages (PRE_LIMITER[:count]) of `settings` run on an
    in-memory [C, T] array, block by block as render_array runs them: rendering the result with
    those stages bypassed gives render_array's output sample for sample. A search that varies
    only later stages (a compressor, a limiter) pays for the first ones once."""
    audio = np.asarray(audio, dtype=np.float32)
    blocks = _through(_array_source(audio, block)(), settings, sample_rate, audio.shape[0], PRE_LIMITER[:count])
    return np.concatenate(list(blocks), axis=1) if audio.shape[1] else audio.copy()
