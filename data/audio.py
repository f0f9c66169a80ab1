"""Audio I/O. Every array is numpy float32 shaped [channels, frames].

Decoding is always to float32 (never int16): lossy decoders overshoot 0 dBFS and those samples
must keep their values above 1. Every bad input becomes a one-line TonematchError naming the file.
Writing lives in writer.py and is re-exported here so callers have one I/O module.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import soundfile as sf

from .errors import TonematchError
from .formats import parse_subtype  # noqa: F401  (re-exported)
from .output_paths import check_paths  # noqa: F401  (re-exported)
from .resample import StreamResampler, check_rate, resample_frames_first, resampled_frames
from .writer import AudioWriter, write  # noqa: F401  (re-exported)

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
    "check_sample_rate",
    "check_array",
    "MIN_RATE",
    "MAX_RATE",
]

# Rates tonematch masters and takes from Python arrays (files outside them are refused with one line).
MIN_RATE, MAX_RATE = 8000, 384000
# libsndfile's log of a WAV/AIFF whose data chunk promises more bytes than the file holds:
# "data : 176400 (should be 88178)". A streamed WAV (length unknown when its header was written)
# says 0 or 0xFFFFFFFF and is read as far as it goes, like every player does.
_SHORT_CHUNK = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_STREAMED_SIZES = (0, 0xFFFFFFFF, 0xFFFFFFFF - 1)


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
    truncated = _truncated(f)
    if truncated is not None:
        f.close()
        promised, held = truncated
        raise TonematchError(
            f"cannot read '{path}': the file is truncated (its header promises {promised} bytes of audio, "
            f"it holds {held}); copy or export it again"
        )
    return f


def _truncated(f: sf.SoundFile) -> tuple[int, int] | None:
    """(bytes promised, bytes held) of a WAV/AIFF file cut short, else None."""
    if f.format not in ("WAV", "WAVEX", "AIFF", "W64", "RF64"):
        return None
    m = _SHORT_CHUNK.search(f.extra_info or "")
    if m is None:
        return None
    promised, held = int(m.group(1)), int(m.group(2))
    # less than one frame missing: a pad byte or a rounding writer, not a cut file
    if promised in _STREAMED_SIZES or promised - held < 8 * f.channels:
        return None
    return promised, held


def check_sample_rate(sample_rate, what: str = "sample rate") -> int:
    """A whole number of Hz from MIN_RATE to MAX_RATE (44100.0 is accepted; 0, negative, NaN,
    44100.5, strings and booleans are not): what tonematch masters."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float, np.integer, np.floating)):
        raise TonematchError(f"invalid {what} {sample_rate!r}: expected a whole number of Hz")
    rate = check_rate(sample_rate, what)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise TonematchError(f"unsupported {what} {rate} Hz: tonematch works from {MIN_RATE} to {MAX_RATE} Hz")
    return rate


def format_problem(sample_rate: int, channels: int) -> str | None:
    """Why a file's format is not one tonematch masters (a rate outside MIN_RATE..MAX_RATE, more
    than two channels), in words to follow its name; None when it is."""
    if not MIN_RATE <= sample_rate <= MAX_RATE:
        return f"its sample rate {sample_rate} Hz is outside what tonematch works at ({MIN_RATE} to {MAX_RATE} Hz)"
    if channels not in (1, 2):
        return f"{channels} channels, only mono or stereo"
    return None


def check_array(x, what: str = "audio", max_peak: float | None = 16.0) -> np.ndarray:
    """A Python caller's audio -> [channels, frames] float32, or one TonematchError line.

    Float samples only (any float dtype; full scale is 1.0), shaped [frames] (mono) or
    [channels, frames] with 1 or 2 channels, at least one frame, every sample finite and, unless
    `max_peak` is None, none above it (16: +24 dBFS, the render's limit for a believable float
    file). Integer arrays are refused rather than guessed at (int16 PCM would otherwise be +90 dBFS)."""
    if isinstance(x, (str, bytes, os.PathLike)) or x is None:
        raise TonematchError(f"{what} must be an array of samples, got {type(x).__name__}")
    arr = np.asarray(x)
    if arr.dtype.kind in "iub":
        raise TonematchError(
            f"{what} has {arr.dtype} samples; give float samples with full scale at 1.0 (e.g. x / 32768 for 16-bit PCM)"
        )
    if arr.dtype.kind != "f":
        raise TonematchError(f"{what} must hold float samples, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2:
        raise TonematchError(f"{what} must be [channels, frames] (or [frames] for mono), got shape {arr.shape}")
    if arr.shape[0] not in (1, 2):
        hint = ""
        if arr.shape[1] in (1, 2):
            hint = f": it looks like [frames, channels]; pass its transpose (x.T, shape {arr.shape[::-1]})"
        raise TonematchError(f"{what} must be [channels, frames] with 1 or 2 channels, got shape {arr.shape}{hint}")
    if arr.shape[1] == 0:
        raise TonematchError(f"{what} holds no samples (shape {arr.shape})")
    if not np.isfinite(arr.sum(dtype=np.float64)):
        bad = int(np.flatnonzero(~np.isfinite(arr).all(axis=0))[0])
        raise TonematchError(f"{what} holds NaN or infinite samples (first at frame {bad})")
    peak = float(np.abs(arr).max())
    if max_peak is not None and peak > max_peak:
        raise TonematchError(
            f"{what} peaks at {20 * math.log10(peak):+.1f} dBFS: float samples are expected with full "
            f"scale at 1.0 (scale it down first, e.g. x / 32768 for values taken from 16-bit PCM)"
        )
    return np.ascontiguousarray(arr, dtype=np.float32)


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
