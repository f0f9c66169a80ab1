"""The streaming analyser: every measurement of `tonematch analyze` in one pass over [C, n]
float32 blocks, in bounded memory (fixed state plus the loudness series, 8 bytes per 100 ms /
90 ms block: about 0.6 MB per hour).
"""

from __future__ import annotations

import numpy as np

from tonematch.data.concurrency import Lane

from .dynamics import ClipMeter, LevelMeter, db
from .loudness import LoudnessMeter
from .spectrum import SpectrumMeter
from .stereo import StereoMeter
from .truepeak import TruePeakMeter

BLOCK_FRAMES = 65536  # what `analyze` cuts whole arrays into (bounded scratch memory)


class Analyzer:
    def __init__(self, sample_rate: int, channels: int):
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.frames = 0
        self._lane: Lane | None = None  # the spectrum's FFTs run here, beside the other meters
        self.loudness = LoudnessMeter(sample_rate, channels)
        self.level = LevelMeter()
        self.clip = ClipMeter()
        self.true_peak = TruePeakMeter(channels)
        self.stereo = StereoMeter(channels)
        self.spectrum = SpectrumMeter(sample_rate, channels)

    def add(self, block: np.ndarray) -> None:
        given = block
        block = np.ascontiguousarray(block, dtype=np.float32)
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise ValueError(f"expected [{self.channels}, n] blocks, got {block.shape}")
        if not block.shape[1]:
            return
        self.frames += block.shape[1]
        self.loudness.add(block)
        self.level.add(block)
        self.clip.add(block)
        self.true_peak.add(block)
        self.stereo.add(block)
        if self._lane is None:
            self._lane = Lane(name="tonematch-spectrum")
        # the caller's own memory (its array or a view of it) may change before the lane reads it
        shared = block is given or not block.flags.owndata
        self._lane.submit(self.spectrum.add, block.copy() if shared else block)

    def result(self) -> dict:
        """The flat, JSON-ready dict `tonematch analyze` prints (None where undefined)."""
        if self._lane is not None:
            try:
                self._lane.drain()
            finally:
                self._lane.close()
                self._lane = None
        rms = self.level.rms
        out = {
            "duration_s": self.frames / self.sample_rate,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "integrated_lufs": self.loudness.integrated(),
            "loudness_range_lu": self.loudness.loudness_range(),
            "sample_peak_dbfs": db(self.level.peak),
            "true_peak_dbtp": db(self.true_peak.peak()) if self.frames else None,
            "rms_dbfs": db(rms),
            "crest_factor_db": db(self.level.peak / rms) if rms > 0 else None,
            "dc_offset_dbfs": db(self.level.dc_offset),
            "clipped_fraction": self.clip.fraction,
        }
        out.update(self.stereo.result())
        out["spectral_balance_db"] = self.spectrum.band_shares_db()
        return out

    def state_nbytes(self) -> tuple[int, int]:
        """(fixed bytes, loudness-series bytes) of the state; only the series grow."""
        if self._lane is not None:
            self._lane.drain()
        fixed, series = self.loudness.state_nbytes
        fixed += (
            self.level.acc.nbytes
            + (self.clip.carry.nbytes if self.clip.carry is not None else 0)
            + self.true_peak.context.nbytes
            + self.stereo.acc.nbytes
            + self.spectrum.power.nbytes
            + self.spectrum.carry.nbytes
            + self.spectrum.window.nbytes
        )
        return fixed, series


def analyze_blocks(blocks, sample_rate: int, channels: int) -> dict:
    a = Analyzer(sample_rate, channels)
    for block in blocks:
        a.add(block)
    return a.result()


def analyze_array(audio: np.ndarray, sample_rate: int) -> dict:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    return analyze_blocks(
        (audio[:, i : i + BLOCK_FRAMES] for i in range(0, audio.shape[1], BLOCK_FRAMES)), sample_rate, audio.shape[0]
    )
