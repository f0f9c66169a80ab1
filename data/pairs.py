"""Real before/after pairs: a mix and the master made from it.

Where pairs come from (`find_pairs`), checked in this order:
  * a .csv manifest with columns `mix,master` (optional `name`), paths relative to the CSV;
  * a folder with `mix/` and `master/` subfolders, matched by path without extension
    (mix/a/song.wav <-> master/a/song.flac);
  * any other folder: files named `<name>_mix.<ext>` and `<name>_master.<ext>` side by side.

`PairsDataset` aligns every pair once at construction and serves
input = mix segment, target = the time-aligned master segment (sub-frame, by band-limited
interpolation), reference = another, non-overlapping master segment of the same track.
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from torch.utils.data import Dataset

from .align import Alignment, align, align_excerpts, mono, read_fractional  # noqa: F401  (align re-exported)
from .cache import DecodeCache
from .errors import TonematchError
from .segments import item_rng, rms_db, to_tensor
from .splits import list_audio_files
from .tracks import TrackReader

__all__ = ["Pair", "find_pairs", "Alignment", "align", "PairsDataset"]


@dataclass(frozen=True)
class Pair:
    mix: Path
    master: Path
    name: str


def _key(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    return rel.as_posix()


def _warn_unmatched(unmatched: list[str], where) -> None:
    if unmatched:
        shown = ", ".join(unmatched[:8]) + (" ..." if len(unmatched) > 8 else "")
        warnings.warn(f"{len(unmatched)} file(s) in '{where}' have no partner and are ignored: {shown}", stacklevel=3)


def _index(files: list[Path], root: Path, strip: str = "") -> dict[str, Path]:
    """key -> file; two files with one key (song.wav and song.flac) would be a silent guess."""
    out: dict[str, Path] = {}
    for f in files:
        key = _key(f, root)
        key = key[: len(key) - len(strip)] if strip else key
        if key in out:
            raise TonematchError(f"ambiguous pair files: '{out[key]}' and '{f}' have the same name")
        out[key] = f
    return out


def _from_subfolders(folder: Path) -> list[Pair]:
    mixes = _index(list_audio_files(folder / "mix"), folder / "mix")
    masters = _index(list_audio_files(folder / "master"), folder / "master")
    _warn_unmatched(
        [f"mix/{k}" for k in sorted(mixes.keys() - masters.keys())]
        + [f"master/{k}" for k in sorted(masters.keys() - mixes.keys())],
        folder,
    )
    return [Pair(mixes[k], masters[k], k) for k in sorted(mixes.keys() & masters.keys())]


def _from_suffixes(folder: Path) -> list[Pair]:
    files = list_audio_files(folder)
    mix_files = [f for f in files if f.stem.lower().endswith("_mix")]
    master_files = [f for f in files if f.stem.lower().endswith("_master")]
    mixes = _index(mix_files, folder, "_mix")
    masters = _index(master_files, folder, "_master")
    paired = set(mix_files) | set(master_files)
    others = [f for f in files if f not in paired]
    _warn_unmatched(
        [mixes[k].name for k in sorted(mixes.keys() - masters.keys())]
        + [masters[k].name for k in sorted(masters.keys() - mixes.keys())]
        + [f.name for f in others],
        folder,
    )
    return [Pair(mixes[k], masters[k], k) for k in sorted(mixes.keys() & masters.keys())]


def _from_csv(manifest: Path) -> list[Pair]:
    base = manifest.parent
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise TonematchError(f"cannot read manifest '{manifest}': {e}") from None
    columns = {c.strip().lower(): c for c in (rows[0].keys() if rows else []) if c}
    if not {"mix", "master"} <= columns.keys():
        found = ", ".join(columns) or "none"
        raise TonematchError(f"manifest '{manifest}' needs the columns mix,master (found: {found})")
    pairs = []
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        mix_cell = (row[columns["mix"]] or "").strip()
        master_cell = (row[columns["master"]] or "").strip()
        if not mix_cell and not master_cell:
            continue  # blank line
        paths = []
        for cell in (mix_cell, master_cell):
            p = Path(cell) if os.path.isabs(cell) else base / cell
            if not cell or not p.is_file():
                raise TonematchError(f"manifest '{manifest}' line {line}: no such file '{cell}'")
            paths.append(p)
        name = (row.get(columns["name"]) or "").strip() if "name" in columns else ""
        pairs.append(Pair(paths[0], paths[1], name or paths[0].stem))
    return pairs


def find_pairs(folder_or_csv) -> list[Pair]:
    """Pairs from a manifest or a folder (see the module docstring for the conventions)."""
    source = Path(folder_or_csv)
    if source.is_file() and source.suffix.lower() == ".csv":
        pairs = _from_csv(source)
    elif source.is_dir():
        if (source / "mix").is_dir() and (source / "master").is_dir():
            pairs = _from_subfolders(source)
        else:
            pairs = _from_suffixes(source)
    elif source.exists():
        raise TonematchError(f"'{source}' is neither a folder nor a .csv manifest of mix/master pairs")
    else:
        raise TonematchError(f"pairs source '{source}' does not exist")
    if not pairs:
        raise TonematchError(
            f"no mix/master pairs in '{source}': use mix/ and master/ subfolders, "
            "<name>_mix/<name>_master files, or a CSV with mix,master columns"
        )
    return pairs


@dataclass(frozen=True)
class _Aligned:
    pair: Pair
    alignment: Alignment
    whole: int  # floor of the offset: master frame = mix frame + whole (+ fraction)
    fraction: float
    first: int  # range of valid mix segment starts, inclusive
    last: int
    master_frames: int


class PairsDataset(Dataset):
    """Items: input, target, reference ([2, T] float32 tensors), track (name), start (mix frame),
    reference_start (master frame), offset_frames and correlation (the pair's alignment)."""

    _HALF = 16  # margin each side for the fractional-delay filter

    def __init__(
        self,
        pairs,
        sample_rate: int = 44100,
        segment_frames: int = 131072,
        examples_per_epoch: int = 1024,
        seed: int = 0,
        deterministic: bool = False,
        cache: DecodeCache | None = None,
        max_offset_s: float = 2.0,
        min_correlation: float = 0.5,
        excerpt_s: float = 30.0,
        silence_db: float = -50.0,
        tries: int = 8,
    ):
        self.reader = TrackReader(sample_rate, cache)
        self.sample_rate = self.reader.sample_rate
        self.segment_frames = int(segment_frames)
        if self.segment_frames < 1:
            raise TonematchError(f"segment length must be at least one frame, got {segment_frames}")
        self.examples_per_epoch = int(examples_per_epoch)
        self.seed, self.deterministic = int(seed), bool(deterministic)
        self.silence_db, self.tries = float(silence_db), max(1, int(tries))

        pairs = list(pairs)
        if not pairs:
            raise TonematchError("no mix/master pairs given")
        self.items: list[_Aligned] = []
        skipped = []
        for pair in pairs:
            item = self._prepare(pair, max_offset_s, min_correlation, excerpt_s)
            if item is None:
                skipped.append(pair.name)
            else:
                self.items.append(item)
        seconds = 2 * self.segment_frames / self.sample_rate
        if not self.items:
            raise TonematchError(f"no pair is long enough: each needs about {seconds:.1f} s of overlapping audio")
        if skipped:
            shown = ", ".join(skipped[:8]) + (" ..." if len(skipped) > 8 else "")
            warnings.warn(f"skipping {len(skipped)} pair(s) shorter than {seconds:.1f} s: {shown}", stacklevel=2)
        self.alignments = {it.pair.name: it.alignment for it in self.items}

    def _prepare(self, pair: Pair, max_offset_s: float, min_correlation: float, excerpt_s: float):
        """Align once (reading only an excerpt of each file) and work out where segments may start."""
        S, H = self.segment_frames, self._HALF
        mix_frames = self.reader.frames(pair.mix)
        master_frames = self.reader.frames(pair.master)
        max_lag = int(round(max_offset_s * self.sample_rate))
        length = min(mix_frames, int(excerpt_s * self.sample_rate))
        start = (mix_frames - length) // 2
        alignment = align_excerpts(
            mono(self.reader.read(pair.mix, start, length)),
            mono(self.reader.read(pair.master, start - max_lag, length + 2 * max_lag)),
            max_lag,
            min_correlation,
            pair.name,
            self.sample_rate,
        )
        whole = math.floor(alignment.offset_frames)
        # Mix start s needs mix[s, s+S) and master[s+whole-H, s+whole+S+H) inside the files.
        first = max(0, H - whole)
        last = min(mix_frames - S, master_frames - S - whole - H)
        # The reference needs S master frames clear of the target: possible at one end if at all.
        if last < first or not (last + whole >= S or first + whole + 2 * S <= master_frames):
            return None
        return _Aligned(pair, alignment, whole, alignment.offset_frames - whole, first, last, master_frames)

    def __len__(self) -> int:
        return self.examples_per_epoch

    def _place(self, rng, it: _Aligned) -> tuple[int, int] | None:
        """A mix start and a reference start clear of the target, or None if this draw has no room."""
        S = self.segment_frames
        s = int(rng.integers(it.first, it.last + 1))
        m = s + it.whole
        left = max(m - S + 1, 0)  # reference starts 0 .. m-S
        right = max(it.master_frames - S - (m + S) + 1, 0)  # m+S .. master_frames-S
        if left + right == 0:
            return None
        j = int(rng.integers(left + right))
        return s, (j if j < left else m + S + (j - left))

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(index)
        rng = item_rng(self.seed, index, self.deterministic)
        if self.deterministic:
            it = self.items[index % len(self.items)]
        else:
            it = self.items[int(rng.integers(len(self.items)))]
        S, H = self.segment_frames, self._HALF

        # Retry positions landing in silence; some draws leave no room for the reference at all.
        best, placed_count = None, 0
        for _ in range(4 * self.tries):
            placed = self._place(rng, it)
            if placed is None:
                continue
            s, r = placed
            mix = self.reader.read(it.pair.mix, s, S)
            reference = self.reader.read(it.pair.master, r, S)
            level = min(rms_db(mix), rms_db(reference))
            if best is None or level > best[0]:
                best = (level, s, r, mix, reference)
            placed_count += 1
            if level > self.silence_db or placed_count >= self.tries:
                break
        if best is None:  # only when the track barely fits; _prepare guarantees one end works
            s = it.last if it.last + it.whole >= S else it.first
            m = s + it.whole
            r = 0 if m >= S else m + S
            best = (None, s, r, self.reader.read(it.pair.mix, s, S), self.reader.read(it.pair.master, r, S))
        _, s, r, mix, reference = best

        # Target: master frames s + offset ... read with margins, then shifted by the fraction.
        padded = self.reader.read(it.pair.master, s + it.whole - H, S + 2 * H)
        target = read_fractional(padded, it.fraction, H)
        return {
            "input": to_tensor(mix),
            "target": to_tensor(target),
            "reference": to_tensor(reference),
            "track": it.pair.name,
            "start": int(s),
            "reference_start": int(r),
            "offset_frames": float(it.alignment.offset_frames),
            "correlation": float(it.alignment.correlation),
        }
