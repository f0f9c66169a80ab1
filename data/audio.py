"""Audio I/O. Every array is numpy float32 shaped [channels, frames].

Decoding is always to float32 (never int16): lossy decoders overshoot 0 dBFS and those samples
must keep their values above 1. Every bad input becomes a one-line TonematchError naming the file.
Writing lives in writer.py and is re-exported here so callers have one I/O module.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import soundfile as sf

from .errors import TonematchError
from .resample import StreamResampler, check_rate, resample_frames_first, resampled_frames
from .writer import AudioWriter, check_paths, parse_subtype, write  # noqa: F401  (re-exported)

__all__ = [
    "AudioInfo",
    "info",
    "load",
    "read_blocks",
    "read_segment",
    "to_channels",
    "AudioWriter",
    "write",
    "parse_subtype",
    "check_paths",
]


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    frames: int  # as the header says; a few lossy files decode slightly shorter
    duration_s: float
    format: str
    subtype: str


def _one_line(e: BaseException) -> str:
    text = getattr(e, "error_string", None) or str(e) or type(e).__name__
    return " ".join(text.split())


def _open(path) -> sf.SoundFile:
    """Open for reading, turning every failure into a TonematchError that names the file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise TonematchError(f"cannot read '{path}': no such file")
    if os.path.isdir(path):
        raise TonematchError(f"cannot read '{path}': it is a folder, not an audio file")
    if not os.access(path, os.R_OK):
        raise TonematchError(f"cannot read '{path}': permission denied")
    try:
        f = sf.SoundFile(path)
    except Exception as e:  # libsndfile reports unknown formats and corrupt headers alike
        raise TonematchError(f"cannot read '{path}': not a supported audio file ({_one_line(e)})") from None
    if f.frames <= 0:
        f.close()
        raise TonematchError(f"cannot read '{path}': the file contains no audio (0 frames)")
    return f


def _check_finite(x: np.ndarray, path: str, first_frame: int, sample_rate: int) -> None:
    """x is [frames, channels]. A float64 sum is finite iff every sample is, without a mask array."""
    if np.isfinite(x.sum(dtype=np.float64)):
        return
    bad = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0]) + first_frame
    raise TonematchError(
        f"cannot read '{path}': NaN or infinite samples (first at {bad / sample_rate:.3f} s); the file is corrupt"
    )


def _check_channels_arg(channels) -> None:
    if channels not in (None, 1, 2):
        raise TonematchError(f"invalid channel count {channels!r}: use 1 (mono) or 2 (stereo)")


def _channels_frames_first(x: np.ndarray, channels, path: str) -> np.ndarray:
    """[frames, C] -> [frames, channels]: mean for mono, duplication of mono for stereo."""
    have = x.shape[1]
    if channels is None or channels == have:
        return x
    if channels == 1:
        return x.mean(axis=1, keepdims=True, dtype=np.float32)
    if have == 1:
        return np.repeat(x, 2, axis=1)
    raise _too_many_channels(path, have)


def _too_many_channels(path: str, have: int) -> TonematchError:
    return TonematchError(
        f"cannot read '{path}' as stereo: it has {have} channels and only mono or stereo files can be used"
    )


def to_channels(audio: np.ndarray, channels, name: str = "audio") -> np.ndarray:
    """[C, n] -> [channels, n] with the same rules as `load` (None keeps the channels)."""
    _check_channels_arg(channels)
    return np.ascontiguousarray(_channels_frames_first(audio.T, channels, name).T)


def info(path) -> AudioInfo:
    """Header facts, without decoding (so NaN samples are only found by load/read_blocks)."""
    with _open(path) as f:
        return AudioInfo(
            sample_rate=int(f.samplerate),
            channels=int(f.channels),
            frames=int(f.frames),
            duration_s=f.frames / f.samplerate,
            format=f.format,
            subtype=f.subtype,
        )


def load(path, sample_rate: int | None = None, channels: int | None = None) -> tuple[np.ndarray, int]:
    """Decode a whole file -> ([channels, frames] float32, sample rate).

    sample_rate: resample to this rate (soxr HQ); channels: None keeps, 1 mixes down, 2 makes stereo.
    """
    path = os.fspath(path)
    target = None if sample_rate is None else check_rate(sample_rate)
    _check_channels_arg(channels)
    with _open(path) as f:
        sr = int(f.samplerate)
        try:
            x = f.read(dtype="float32", always_2d=True)
        except Exception as e:
            raise TonematchError(f"cannot read '{path}': decoding failed ({_one_line(e)})") from None
    if x.shape[0] == 0:
        raise TonematchError(f"cannot read '{path}': the file contains no audio (0 frames)")
    _check_finite(x, path, 0, sr)
    x = _channels_frames_first(x, channels, path)  # before resampling: fewer channels to convert
    if target is not None and target != sr:
        x, sr = resample_frames_first(x, sr, target), target
    return np.ascontiguousarray(x.T), sr


def read_blocks(
    path, block_frames: int = 65536, sample_rate: int | None = None, channels: int | None = None
) -> Iterator[np.ndarray]:
    """Stream a file as [C, n] float32 blocks with bounded memory (for hour-long files).

    Blocks hold `block_frames` frames (the last fewer) unless resampling, where sizes vary a little.
    The file is opened (and checked) now, not at the first `next()`, so errors show up at the call.
    """
    path = os.fspath(path)
    if int(block_frames) < 1:
        raise ValueError("block_frames must be >= 1")
    target = None if sample_rate is None else check_rate(sample_rate)
    _check_channels_arg(channels)
    f = _open(path)
    if channels == 2 and f.channels > 2:
        f.close()
        raise _too_many_channels(path, f.channels)
    return _blocks(f, path, int(block_frames), target, channels)


def _blocks(f: sf.SoundFile, path: str, block_frames: int, target, channels) -> Iterator[np.ndarray]:
    with f:
        sr = int(f.samplerate)
        out_channels = channels or f.channels
        stream = StreamResampler(sr, target, out_channels) if target not in (None, sr) else None
        position = 0
        while True:
            try:
                x = f.read(block_frames, dtype="float32", always_2d=True)
            except Exception as e:
                raise TonematchError(f"cannot read '{path}': decoding failed ({_one_line(e)})") from None
            if x.shape[0] == 0:
                break
            _check_finite(x, path, position, sr)
            position += x.shape[0]
            x = _channels_frames_first(x, channels, path)
            if stream is not None:
                x = stream.process(x)
                if x.shape[0] == 0:
                    continue
            yield np.ascontiguousarray(x.T)
        if stream is not None:
            tail = stream.flush(out_channels)
            if tail.shape[0]:
                yield np.ascontiguousarray(tail.T)


# Extra target-rate frames decoded on each side of a resampled segment, so soxr's filter edges
# fall outside the part we keep (its HQ filters are far shorter than this).
_RESAMPLE_MARGIN = 2048


def read_segment(
    path, start: int, frames: int, sample_rate: int | None = None, channels: int | None = None
) -> np.ndarray:
    """Decode only frames [start, start + frames) -> [C, frames] float32 (positions at `sample_rate`).

    Matches slicing `load(path, sample_rate, channels)` (to within soxr's filter ripple when
    resampling). Must lie inside the header's length; a file that decodes shorter than its header
    says (some Ogg files do) is zero-padded.
    """
    path = os.fspath(path)
    _check_channels_arg(channels)
    start, frames = int(start), int(frames)
    with _open(path) as f:
        sr = int(f.samplerate)
        target = sr if sample_rate is None else check_rate(sample_rate)
        total = resampled_frames(int(f.frames), sr, target)
        if start < 0 or frames < 0 or start + frames > total:
            raise ValueError(f"segment [{start}, {start + frames}) outside '{path}' ({total} frames)")
        if target == sr:
            src_start, src_stop, out_start = start, start + frames, start
        else:
            # Start decoding on a frame where both rates meet exactly (a multiple of in/g and out/g
            # frames), so the output grid is the same as when converting the whole file.
            g = math.gcd(sr, target)
            step_in, step_out = sr // g, target // g
            k = max(start - _RESAMPLE_MARGIN, 0) // step_out
            src_start, out_start = k * step_in, k * step_out
            src_stop = min(int(f.frames), -(-(start + frames + _RESAMPLE_MARGIN) * sr // target) + 1)
        try:
            f.seek(src_start)
            x = f.read(src_stop - src_start, dtype="float32", always_2d=True)
        except Exception as e:
            raise TonematchError(f"cannot read '{path}': decoding failed ({_one_line(e)})") from None
    _check_finite(x, path, src_start, sr)
    x = _channels_frames_first(x, channels, path)
    if target != sr:
        x = resample_frames_first(x, sr, target)
    x = x[start - out_start : start - out_start + frames]
    if x.shape[0] < frames:
        x = np.concatenate([x, np.zeros((frames - x.shape[0], x.shape[1]), np.float32)])
    return np.ascontiguousarray(x.T)
