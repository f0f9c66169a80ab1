"""A mix or reference, read and measured before anything is decided, and refused when it cannot
be mastered or matched (too short, silent, an unsupported rate) with a message about the audio.

An Analysis sees the audio through a few excerpts (bounded memory at any length) plus the whole
file's loudness and true peak from one streaming pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from tonematch.data import audio
from tonematch.data.concurrency import Lane
from tonematch.data.errors import TonematchError
from tonematch.models import excerpts
from tonematch.models.measure.loudness import LoudnessMeter
from tonematch.models.measure.loudness.gating import MOMENTARY_S
from tonematch.models.measure.truepeak import TruePeakMeter

EXCERPT_S, MAX_EXCERPTS = 6.0, 6
LEVEL_BLOCK = 1 << 16  # frames the meters take at a time from an in-memory array
# BS.1770 measures loudness on 400 ms blocks: a shorter file has no loudness to match or set.
MIN_SECONDS = MOMENTARY_S
SILENT_DBTP = -190.0  # db() floors at -200 dB: a true peak this low is digital silence


@dataclass
class Analysis:
    """A file or array seen through excerpts: enough to predict and refine, bounded in memory."""

    clips: np.ndarray  # [N, C, L] at sample_rate
    sample_rate: int
    channels: int
    lufs: float | None
    true_peak_dbtp: float
    true_peak_ratio: float


# BS.1770 counts a mono file as one channel; played on two speakers (dual mono) it reads this
# much louder, so loudness readings of different channel counts are compared as played.
PLAYBACK_MONO_LU = 10.0 * math.log10(2.0)


def played_lufs(a: Analysis) -> float | None:
    """The loudness of `a` as it plays on two speakers: its BS.1770 reading, a mono one raised."""
    return None if a.lufs is None else a.lufs + (PLAYBACK_MONO_LU if a.channels == 1 else 0.0)


def db(v: float) -> float:
    return 20.0 * math.log10(max(v, 1e-10))


def as_audio(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[0] not in (1, 2) or x.shape[1] == 0:
        raise TonematchError(f"audio must be [channels, frames] with 1 or 2 channels, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise TonematchError("audio contains NaN or infinite samples")
    return x


def stream_levels(blocks, sample_rate: int, channels: int) -> tuple[float | None, float, float]:
    """(integrated loudness, true peak, sample peak) in one streaming pass; the true peak's
    oversampling runs on a second lane beside the loudness meter."""
    meter, tp, peak = LoudnessMeter(sample_rate, channels), TruePeakMeter(channels), 0.0
    with Lane(name="tonematch-truepeak") as lane:
        for b in blocks:
            lane.submit(tp.add, b)
            meter.add(b)
            peak = max(peak, float(np.abs(b).max()) if b.size else 0.0)
        lane.drain()
    return meter.integrated(), tp.peak(), peak


def _analysis(clips, sample_rate: int, channels: int, levels) -> Analysis:
    lufs, tp, peak = levels
    return Analysis(clips, int(sample_rate), channels, lufs, db(tp), max(1.0, tp / peak) if peak > 0 else 1.0)


def analyse_array(x: np.ndarray, sample_rate: int) -> Analysis:
    """The analysis of an in-memory mix; its levels metered a block at a time: the meters give the
    whole array's result for any blocking, without their copies of the whole array."""
    x = as_audio(x)
    clips = excerpts.excerpts(x, sample_rate, EXCERPT_S, MAX_EXCERPTS)
    blocks = (x[:, i : i + LEVEL_BLOCK] for i in range(0, x.shape[1], LEVEL_BLOCK))
    return _analysis(clips, sample_rate, x.shape[0], stream_levels(blocks, sample_rate, x.shape[0]))


def analyse_file(path, scale: float = 1.0) -> Analysis:
    """Excerpts read from the file, and its loudness and true peak in one streaming pass; the
    audio times `scale` (a power of two: exact in float; see analyse_input)."""
    src = audio.info(path)
    if src.channels not in (1, 2):
        raise TonematchError(f"cannot master '{path}': {src.channels} channels, only mono or stereo")
    blocks = audio.read_blocks(path)
    if scale != 1.0:
        blocks = (b * np.float32(scale) for b in blocks)
    levels = stream_levels(blocks, src.sample_rate, src.channels)
    length = int(EXCERPT_S * src.sample_rate)
    starts = excerpts.excerpt_starts(src.frames, length, MAX_EXCERPTS)
    n = min(length, src.frames)
    clips = np.stack([audio.read_segment(path, s, n) for s in starts])
    if scale != 1.0:
        clips = clips * np.float32(scale)
    return _analysis(clips, src.sample_rate, src.channels, levels)


# -- refusals -----------------------------------------------------------------------------------


def label(path, what: str) -> str:
    """How a refusal starts: "cannot master 'x.wav'", "cannot use 'r.wav' as the reference", or
    for the API's arrays (named "the mix array") "cannot master the mix array"."""
    if str(path).startswith("the "):
        return f"cannot {'master' if what == 'mix' else 'use'} {path}"
    return f"cannot master '{path}'" if what == "mix" else f"cannot use '{path}' as the {what}"


def check_format(sample_rate: int, channels: int, name, what: str = "mix") -> None:
    """A rate tonematch works at, mono or stereo."""
    problem = audio.format_problem(sample_rate, channels)
    if problem is not None:
        raise TonematchError(f"{label(name, what)}: {problem}")


def check_length(frames: int, sample_rate: int, name, what: str = "mix") -> None:
    """At least one loudness block (MIN_SECONDS): a shorter file has no loudness to measure."""
    if frames < MIN_SECONDS * sample_rate:
        length = f"{frames / sample_rate:.2f} s" if frames >= 0.01 * sample_rate else f"{frames} sample(s)"
        raise TonematchError(
            f"{label(name, what)}: it lasts {length}; at least {MIN_SECONDS:g} s is needed to measure its loudness"
        )


def check_measured(a: Analysis, name, what: str = "mix") -> None:
    """Refuse audio whose measurements cannot drive the chain: digital silence, loudness below the
    BS.1770 gate, or non-finite levels (the settings would be guesses or NaN)."""
    if not math.isfinite(a.true_peak_dbtp) or (a.lufs is not None and not math.isfinite(a.lufs)):
        raise TonematchError(f"{label(name, what)}: its levels cannot be measured (is the file corrupt?)")
    if a.true_peak_dbtp <= SILENT_DBTP:
        raise TonematchError(f"{label(name, what)}: it is digitally silent")
    if a.lufs is None:
        raise TonematchError(
            f"{label(name, what)}: it is too quiet to measure its loudness (below the -70 LUFS gate of BS.1770)"
        )
    if not np.isfinite(a.clips.sum(dtype=np.float64)):
        raise TonematchError(f"{label(name, what)}: its samples overflow the analysis (is the file corrupt?)")


def analyse_input(path, what: str = "mix", warn: Callable[[str], None] | None = None) -> Analysis:
    """A mix or reference file, analysed after the checks that keep its settings meaningful: a
    supported rate, mono or stereo, at least MIN_SECONDS, not silent. A float file peaking above
    +24 dBFS is analysed turned down by the same power of two the render applies
    (render.input_scale), so its settings fit what the chain will receive."""
    from .render import BLOCK_FRAMES, input_scale

    src = audio.info(path)
    check_format(src.sample_rate, src.channels, path, what)
    check_length(src.frames, src.sample_rate, path, what)
    scale = input_scale(path, src.subtype, BLOCK_FRAMES, warn or (lambda message: None))
    a = analyse_file(path, scale)
    check_measured(a, path, what)
    return a
