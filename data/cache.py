"""Decode-once cache: each (file, sample rate) is decoded to a float32 .npy and then memory-mapped.

A training epoch reads thousands of short segments; decoding Ogg/MP3 for each would dominate the
step time, while a memory-mapped .npy slice costs a page fault. The key hashes the file's real path,
size, mtime and the sample rate, so an edited or replaced file is decoded again.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

import numpy as np

from .audio import info, load
from .errors import TonematchError
from .resample import check_rate, resampled_frames

_VERSION = "1"  # bump when the decoded content changes (e.g. another resampler)


class DecodeCache:
    def __init__(self, root):
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise TonematchError(f"cannot create cache folder '{self.root}': {e.strerror or e}") from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise TonematchError(f"cache folder '{self.root}' is not writable")
        self._mapped: dict[Path, np.ndarray] = {}

    def path_for(self, path, sample_rate: int) -> Path:
        """Where the decoded copy of `path` at `sample_rate` lives (whether or not it exists yet)."""
        source = os.path.realpath(os.fspath(path))
        try:
            st = os.stat(source)
        except OSError:
            raise TonematchError(f"cannot read '{os.fspath(path)}': no such file") from None
        key = "\0".join([_VERSION, source, str(st.st_size), str(st.st_mtime_ns), str(check_rate(sample_rate))])
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:24]
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(source).stem)[:40]  # readable, filesystem-safe
        return self.root / f"{stem}-{digest}.npy"

    def get(self, path, sample_rate: int) -> np.ndarray:
        """[C, T] float32, read-only and memory-mapped; decoded (and stored) on first use."""
        npy = self.path_for(path, sample_rate)
        mapped = self._mapped.get(npy)
        if mapped is not None:
            return mapped
        if not npy.exists():
            audio, _ = load(path, sample_rate=sample_rate)
            self._store(npy, audio)
        try:
            mapped = np.load(npy, mmap_mode="r")
            if mapped.dtype != np.float32 or mapped.ndim != 2:
                raise ValueError("unexpected array")
        except (ValueError, OSError, EOFError):
            # A damaged entry (disk full, foreign file): decode again rather than fail training.
            npy.unlink(missing_ok=True)
            audio, _ = load(path, sample_rate=sample_rate)
            self._store(npy, audio)
            mapped = np.load(npy, mmap_mode="r")
        self._mapped[npy] = mapped
        return mapped

    def frames(self, path, sample_rate: int) -> int:
        """Length at `sample_rate` without decoding: exact once cached, else from the file header
        (a few Ogg files decode a little shorter than their header says)."""
        npy = self.path_for(path, sample_rate)
        mapped = self._mapped.get(npy)
        if mapped is not None:
            return int(mapped.shape[1])
        if npy.exists():
            try:
                return int(np.load(npy, mmap_mode="r").shape[1])
            except (ValueError, OSError, EOFError):
                pass
        meta = info(path)
        return resampled_frames(meta.frames, meta.sample_rate, check_rate(sample_rate))

    def _store(self, npy: Path, audio: np.ndarray) -> None:
        """Write to a temporary name then rename: concurrent workers never see half a file."""
        tmp = npy.with_name(f".{npy.name}.tmp-{secrets.token_hex(4)}")
        try:
            with open(tmp, "wb") as f:
                np.save(f, np.ascontiguousarray(audio, dtype=np.float32))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, npy)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise TonematchError(f"cannot write cache file '{npy}': {e.strerror or e}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def __getstate__(self):
        # Pickling memory maps would copy whole tracks into every spawned DataLoader worker.
        state = self.__dict__.copy()
        state["_mapped"] = {}
        return state
