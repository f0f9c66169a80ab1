"""Writing audio files atomically, with TPDF dither before integer quantisation.

The target only ever appears complete: blocks go to a hidden temporary file in the same folder
(data.atomic's temporary names, so the final rename is atomic), which is fsynced and renamed on
success and deleted on any error; with `replace=False` an existing target is never replaced
(atomic.place). A temporary left by a process killed outright (SIGKILL, power loss) is removed by
the next write into that folder (atomic.sweep_stale_temps). Output is byte-for-byte
reproducible: the dither is seeded, and float WAVs get no PEAK chunk (libsndfile stamps it with
the time of writing).
"""

from __future__ import annotations

import os

import numpy as np
import soundfile as sf

from .atomic import (
    _remove,
    destination,
    failure,
    fsync_dir,
    fsync_path,
    place,
    reserve_temp,
    reserved,
    sweep_stale_temps,
)
from .errors import TonematchError
from .formats import DEFAULT_SUBTYPE, SUBTYPE_BITS, check_subtype, output_format, parse_subtype
from .output_paths import check_output_folder
from .resample import check_rate

# Frames quantised per chunk by `write`, so the float64 scratch stays small for long files.
_CHUNK = 1 << 18
# sndfile.h: SFC_SET_ADD_PEAK_CHUNK (soundfile does not declare it)
_SFC_SET_ADD_PEAK_CHUNK = 0x1050


class AudioWriter:
    """Streaming, atomic writer: `with AudioWriter(p, sr, 2) as w: w.write(block)` ([C, n] float32).

    Integer formats get TPDF dither (two uniform variables, +-1 LSB peak) from a generator seeded once
    and carried across blocks, so the output is the same however the audio is split into blocks.
    """

    def __init__(
        self,
        path,
        sample_rate: int,
        channels: int,
        subtype=None,
        dither: bool = True,
        seed: int = 0,
        replace: bool = True,
    ):
        self.path = os.fspath(path)
        self.replace = bool(replace)  # False: an existing file at `path` is never replaced (see atomic.place)
        fmt = output_format(self.path)
        self.subtype = parse_subtype(subtype) or DEFAULT_SUBTYPE
        check_subtype(self.path, self.subtype, destination(self.path))
        check_output_folder(self.path)
        self.sample_rate = check_rate(sample_rate)
        if int(channels) < 1:
            raise TonematchError(f"cannot write '{destination(self.path)}': {channels} channels")
        self.channels = int(channels)
        self._bits = SUBTYPE_BITS[self.subtype]
        self._dither = bool(dither) and self._bits is not None
        self._format = fmt
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self.frames_written = 0
        sweep_stale_temps(os.path.dirname(os.path.abspath(self.path)))
        # a Transaction's temporary name (atomic.Transaction.stage) is written in place: the
        # transaction renames it with the files that belong with it
        self._in_place = reserved(self.path)
        self._tmp = os.path.abspath(self.path) if self._in_place else reserve_temp(self.path)
        try:  # BaseException: a signal turned into an exception here must not leave the temp file
            self._file = self._open()
        except BaseException as e:
            if not self._in_place:
                _remove(self._tmp)
            if isinstance(e, Exception):
                raise failure(self.path, e) from None
            raise
        self._done = False

    def write(self, block) -> None:
        """Append [channels, n] samples (a 1-D array is accepted for mono)."""
        if self._done:
            raise ValueError("AudioWriter is closed")
        block = np.asarray(block, dtype=np.float32)
        if block.ndim == 1 and self.channels == 1:
            block = block[None]
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise ValueError(f"expected a [{self.channels}, n] block, got shape {block.shape}")
        if not np.isfinite(block.sum(dtype=np.float64)):
            raise TonematchError(f"refusing to write NaN or infinite samples to '{destination(self.path)}'")
        for i in range(0, block.shape[1], _CHUNK):
            part = block[:, i : i + _CHUNK].T  # soundfile wants [frames, channels]
            data = self._quantise(part) if self._bits else np.ascontiguousarray(part)
            try:
                self._file.write(data)
            except Exception as e:
                raise failure(self.path, e) from None
        self.frames_written += block.shape[1]

    def restart(self) -> None:
        """Drop everything written so far and start the file again, dither included: what is
        written next comes out as if it were the first write."""
        if self._done:
            raise ValueError("AudioWriter is closed")
        try:
            self._file.close()
            self._file = self._open()
        except Exception as e:
            raise failure(self.path, e) from None
        self._rng = np.random.default_rng(self._seed)
        self.frames_written = 0

    def _open(self) -> sf.SoundFile:
        f = sf.SoundFile(
            self._tmp,
            "w",
            samplerate=self.sample_rate,
            channels=self.channels,
            subtype=self.subtype,
            format=self._format,
        )
        if self._format == "WAV":
            _drop_peak_chunk(f)
        return f

    def _quantise(self, x: np.ndarray) -> np.ndarray:
        """Float [n, C] -> integers, quantised here (not by libsndfile) so the scale is exactly 2**(bits-1)
        like on reading, and clipping to [-1, 1) happens only at this step. The dither's numbers
        are drawn in [frame, channel] order, two a sample: the stream is independent of block sizes."""
        from .quantise import quantise  # numba: only once something is quantised

        return quantise(x, self._bits, self._rng if self._dither else None)

    def close(self) -> None:
        """Finish the file and move it onto the target."""
        if self._done:
            return
        self._done = True
        try:
            self._file.close()
            fsync_path(self._tmp)
            if self._in_place:
                return
            place(self._tmp, self.path, self.replace)
        except BaseException as e:
            if not self._in_place:
                _remove(self._tmp)
            if isinstance(e, TonematchError):
                raise
            if isinstance(e, Exception):
                raise failure(self.path, e) from None
            raise
        _remove(self._tmp)  # after a no-clobber link the temporary name is still there
        fsync_dir(os.path.dirname(os.path.abspath(self.path)))

    def abort(self) -> None:
        """Drop everything written so far; the target is left as it was."""
        if self._done:
            return
        self._done = True
        try:
            self._file.close()
        finally:
            if not self._in_place:  # a transaction's temporary is the transaction's to remove
                _remove(self._tmp)

    def __enter__(self) -> "AudioWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write(
    path, audio, sample_rate: int, subtype=None, dither: bool = True, seed: int = 0, replace: bool = True
) -> None:
    """Write a whole [channels, frames] array atomically (see AudioWriter)."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    with AudioWriter(
        path, sample_rate, audio.shape[0], subtype=subtype, dither=dither, seed=seed, replace=replace
    ) as w:
        w.write(audio)


def _drop_peak_chunk(f: sf.SoundFile) -> None:
    """Ask libsndfile not to write a PEAK chunk (float WAV), whose timestamp would make two
    renders of the same audio differ. soundfile has no API for it, so this goes through its
    cffi handle; if those internals change, files are still written, only with the chunk."""
    try:
        sf._snd.sf_command(f._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)  # 0: SF_FALSE
    except (AttributeError, TypeError):
        pass
