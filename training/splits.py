"""The tracks a training run held out, as tonematch-eval and the typical balance read them.

Its own module, apart from evaluate.py: the typical balance is a step of the training recipe and
must not import the evaluation, which reaches the evaluation-only foreign family.
"""

from __future__ import annotations

from tonematch.data.errors import TonematchError
from tonematch.data.splits import list_audio_files, split_files


def add_split_options(p) -> None:
    """--val-fraction and --test-fraction, the data config's defaults: which tracks a run held out."""
    p.add_argument("--val-fraction", type=float, default=0.05, help="as data.val_fraction in training (default 0.05)")
    p.add_argument("--test-fraction", type=float, default=0.1, help="as data.test_fraction in training (default 0.1)")


def held_out(folder, split: str, val_fraction: float, test_fraction: float, split_seed: int = 0) -> list:
    """The files of one split of FOLDER, as the training datamodule splits it (by track, seeded)."""
    files = list_audio_files(folder)
    if not files:
        raise TonematchError(f"no audio files in '{folder}'")
    if split == "all":
        return files
    chosen = split_files(files, val_fraction, test_fraction, split_seed, root=folder)[split]
    if not chosen:
        raise TonematchError(f"the {split} split of '{folder}' is empty")
    return chosen
