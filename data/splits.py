"""Train/val/test split by track, never by segment, so no song leaks across splits.

Each file's split comes from a hash of (seed, its path relative to the dataset root with '/'
separators): the same on every machine, independent of listing order, and a track keeps its split
when other files are added or removed. Only with very few files can the guarantee "every split
with a non-zero fraction has at least one file" move a track (the one whose hash is closest).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .errors import TonematchError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".opus")


def list_audio_files(folder) -> list[Path]:
    """Audio files under `folder` (recursive, following symlinks), sorted. Hidden files are
    skipped: they are temporary files (ours included) or macOS '._' metadata, not music."""
    root = Path(folder)
    if not root.is_dir():
        raise TonematchError(f"audio folder '{folder}' does not exist or is not a folder")
    found: list[Path] = []
    seen: set[str] = set()  # real paths of visited folders: symlink loops would recurse forever
    for current, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(current)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith(".") and name.lower().endswith(AUDIO_EXTENSIONS):
                found.append(Path(current) / name)
    return sorted(found)


def _unit_hash(name: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}\0{name}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _relative_name(path: str, root: str) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")


def split_files(files, val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0, root=None) -> dict:
    """-> {"train": [...], "val": [...], "test": [...]}, each sorted, items as given.

    root: the dataset folder names are taken relative to (default: the files' common folder).
    """
    if not (0.0 <= val_fraction and 0.0 <= test_fraction and val_fraction + test_fraction < 1.0):
        raise TonematchError(
            f"invalid split fractions val={val_fraction}, test={test_fraction}: need >= 0 and a sum below 1"
        )
    unique = {os.path.abspath(os.fspath(f)): f for f in files}
    if not unique:
        return {"train": [], "val": [], "test": []}
    if root is None:
        root = os.path.commonpath([os.path.dirname(p) for p in unique])
    root = os.path.abspath(os.fspath(root))
    score = {p: _unit_hash(_relative_name(p, root), seed) for p in unique}

    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for p, u in score.items():
        if u < test_fraction:
            splits["test"].append(p)
        elif u < test_fraction + val_fraction:
            splits["val"].append(p)
        else:
            splits["train"].append(p)

    if len(unique) >= 3:
        # Small sets: an empty split takes, from the largest split, the file whose hash lies
        # nearest its range, so the fix-up is as deterministic as the hash itself.
        ranges = {
            "test": (0.0, test_fraction),
            "val": (test_fraction, test_fraction + val_fraction),
            "train": (test_fraction + val_fraction, 1.0),
        }
        for name, (lo, hi) in ranges.items():
            if hi > lo and not splits[name]:
                donor = max((s for s in splits if s != name), key=lambda s: (len(splits[s]), s))
                if len(splits[donor]) > 1:
                    moved = min(splits[donor], key=lambda p: (max(lo - score[p], score[p] - hi, 0.0), p))
                    splits[donor].remove(moved)
                    splits[name].append(moved)
    return {name: [unique[p] for p in sorted(paths)] for name, paths in splits.items()}
