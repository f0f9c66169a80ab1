"""Real before/after pairs: a mix and the master made from it.

Where pairs come from (`find_pairs`), checked in this order:
  * a .csv manifest with columns `mix,master` (optional `name`), paths relative to the CSV;
  * a folder with `mix/` and `master/` subfolders, matched by path without extension
    (mix/a/song.wav <-> master/a/song.flac);
  * any other folder: files named `<name>_mix.<ext>` and `<name>_master.<ext>` side by side.

Serving them for training is pair_dataset.PairsDataset's job (torch); finding them, and reading
one with its master aligned to the mix (`read_aligned`, `load_pair`; a master with its polarity
flipped is turned back), is this module's, so `tonematch style fit` reads pairs without importing
torch.
"""

from __future__ import annotations

import csv
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import TonematchError
from .splits import list_audio_files

__all__ = ["AlignedPair", "Pair", "aligned_master", "find_pairs", "load_pair", "read_aligned"]


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


def _index(files: list[Path], root: Path, strip: str = "") -> dict[str, tuple[str, Path]]:
    """key in any case -> (key as spelled, file): a master exported as Song.flac is the master of
    song.wav (one name on macOS and Windows disks); two files with one key (song.wav and
    song.flac, or Song.wav and song.wav) would be a silent guess."""
    out: dict[str, tuple[str, Path]] = {}
    for f in files:
        key = _key(f, root)
        key = key[: len(key) - len(strip)] if strip else key
        if key.casefold() in out:
            raise TonematchError(f"ambiguous pair files: '{out[key.casefold()][1]}' and '{f}' have the same name")
        out[key.casefold()] = (key, f)
    return out


def _from_subfolders(folder: Path) -> list[Pair]:
    mixes = _index(list_audio_files(folder / "mix"), folder / "mix")
    masters = _index(list_audio_files(folder / "master"), folder / "master")
    _warn_unmatched(
        [f"mix/{mixes[k][0]}" for k in sorted(mixes.keys() - masters.keys())]
        + [f"master/{masters[k][0]}" for k in sorted(masters.keys() - mixes.keys())],
        folder,
    )
    return [Pair(mixes[k][1], masters[k][1], mixes[k][0]) for k in sorted(mixes.keys() & masters.keys())]


def _from_suffixes(folder: Path) -> list[Pair]:
    files = list_audio_files(folder)
    mix_files = [f for f in files if f.stem.lower().endswith("_mix")]
    master_files = [f for f in files if f.stem.lower().endswith("_master")]
    mixes = _index(mix_files, folder, "_mix")
    masters = _index(master_files, folder, "_master")
    paired = set(mix_files) | set(master_files)
    others = [f for f in files if f not in paired]
    _warn_unmatched(
        [mixes[k][1].name for k in sorted(mixes.keys() - masters.keys())]
        + [masters[k][1].name for k in sorted(masters.keys() - mixes.keys())]
        + [f.name for f in others],
        folder,
    )
    return [Pair(mixes[k][1], masters[k][1], mixes[k][0]) for k in sorted(mixes.keys() & masters.keys())]


def _from_csv(manifest: Path) -> list[Pair]:
    """The manifest's pairs. A line naming a file that is not there is one warning and left out,
    as style fit leaves out an unreadable pair; if that leaves none, the first such line is the error."""
    rows = _manifest_rows(manifest)
    pairs, missing = [], []
    for line, row in rows:
        paths = [_manifest_path(manifest, line, row, column) for column in ("mix", "master")]
        absent = next((cell for cell, p in paths if not p.is_file()), None)
        if absent is not None:
            missing.append(f"manifest '{manifest}' line {line}: no such file '{absent}'")
            continue
        pairs.append(Pair(paths[0][1], paths[1][1], row.get("name") or paths[0][1].stem))
    if missing and not pairs:
        raise TonematchError(
            missing[0] + (f" (and {len(missing) - 1} more line(s) like it)" if len(missing) > 1 else "")
        )
    for text in missing:
        warnings.warn(f"{text} (pair left out)", stacklevel=3)
    return pairs


def _manifest_rows(manifest: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, {mix, master, name} stripped) per non-blank line; an unreadable manifest or
    one without the mix and master columns is an error."""
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f, skipinitialspace=True))  # "a.wav", "b.wav": a quote after a space
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise TonematchError(f"cannot read manifest '{manifest}': {e}") from None
    columns = {c.strip().lower(): c for c in (rows[0].keys() if rows else []) if c}
    if not {"mix", "master"} <= columns.keys():
        found = ", ".join(columns) or "none"
        raise TonematchError(f"manifest '{manifest}' needs the columns mix,master (found: {found})")
    out = []
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        cells = {k: (row.get(columns[k]) or "").strip() for k in ("mix", "master", "name") if k in columns}
        if cells["mix"] or cells["master"]:  # both empty: a blank line
            out.append((line, cells))
    return out


def _manifest_path(manifest: Path, line: int, row: dict[str, str], column: str) -> tuple[str, Path]:
    """(cell, path relative to the manifest); an empty cell is a malformed line, not a missing file."""
    cell = row[column]
    if not cell:
        raise TonematchError(f"manifest '{manifest}' line {line}: no {column} file given")
    return cell, Path(cell) if os.path.isabs(cell) else manifest.parent / cell


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


def aligned_master(master: np.ndarray, offset: int, frames: int) -> np.ndarray:
    """master[t + offset] for t in [0, frames), zeros outside."""
    out = np.zeros((master.shape[0], frames), dtype=np.float32)
    lo, hi = max(0, offset), min(master.shape[1], offset + frames)
    if hi > lo:
        out[:, lo - offset : hi - offset] = master[:, lo:hi]
    return out


@dataclass
class AlignedPair:
    """A pair read with its master aligned to the mix (`read_aligned`)."""

    mix: np.ndarray  # [C, T]
    master: np.ndarray  # [C, T]: master[t + offset] at the mix's rate and channel count, the right way up
    sample_rate: int
    offset: int
    inverted: bool  # the master's polarity was flipped against the mix's, and is flipped back here
    swapped: bool = False  # the master's left and right were swapped against the mix's, and are swapped back here


SWAPPED_SIDE = -0.5  # a master's side (L - R) correlating with its mix's under this: its channels are swapped


def channels_swapped(mix: np.ndarray, master: np.ndarray, block: int = 1 << 20) -> bool:
    """The aligned stereo master's side is its mix's upside down: left and right were swapped on
    export (read as they are, the side transfer is negative and a style fits width 0). Mastering
    keeps the side's sign (width >= 0); a mono mix or master has no side to say anything.
    Summed a block at a time (no full copy)."""
    if mix.shape[0] != 2:
        return False
    dot = mix_energy = master_energy = 0.0
    for s in range(0, mix.shape[1], block):
        a = mix[0, s : s + block].astype(np.float64) - mix[1, s : s + block]
        b = master[0, s : s + block].astype(np.float64) - master[1, s : s + block]
        dot, mix_energy, master_energy = dot + float(a @ b), mix_energy + float(a @ a), master_energy + float(b @ b)
    return dot < SWAPPED_SIDE * np.sqrt(mix_energy * master_energy)


def read_aligned(pair, offset: int | None = None, inverted: bool = False) -> AlignedPair:
    """The mix and its master aligned to it. A master whose polarity is flipped against the mix
    (it correlates with the mix upside down) is the same recording: it is turned back and said so
    (`inverted`). `offset`, `inverted`: the alignment found before (not searched again). A stereo
    master whose left and right are swapped against the mix is read swapped back (`swapped`;
    found again on every read: the same files give the same answer)."""
    from . import audio
    from .align import align

    mix, sr = audio.load(pair.mix)
    if mix.shape[0] > 2:
        raise TonematchError(f"pair {pair.name}: the mix has {mix.shape[0]} channels, only mono or stereo")
    master, _ = audio.load(pair.master, sample_rate=sr, channels=mix.shape[0])
    if offset is None:
        found = align(mix, master, sr, name=pair.name, either_polarity=True)
        offset, inverted = int(round(found.offset_frames)), found.inverted
    aligned = aligned_master(master, offset, mix.shape[1])
    del master
    if inverted:
        np.negative(aligned, out=aligned)
    swapped = channels_swapped(mix, aligned)
    if swapped:
        aligned = np.ascontiguousarray(aligned[::-1])
    return AlignedPair(mix, aligned, sr, offset, bool(inverted), swapped)


def load_pair(pair, offset: int | None = None, inverted: bool = False) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(mix, master aligned to it, rate, offset): master at the mix's rate and channel count, the
    right way up (read_aligned); `offset`, `inverted`: the alignment found before (not searched again)."""
    a = read_aligned(pair, offset, inverted)
    return a.mix, a.master, a.sample_rate, a.offset
