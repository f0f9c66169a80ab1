"""Helpers shared by the datasets: per-item random generators, segment placement, silence test."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import Dataset

from .cache import DecodeCache
from .errors import TonematchError
from .tracks import TrackReader


def item_rng(seed: int, index: int, deterministic: bool) -> np.random.Generator:
    """Deterministic: a function of (seed, index) only, so validation items never change.

    Otherwise one draw from torch's global generator is mixed in: DataLoader seeds it differently
    in every worker and every epoch, and `torch.manual_seed` makes whole runs reproducible.
    """
    if deterministic:
        return np.random.default_rng([seed, index])
    entropy = int(torch.randint(0, 2**62, (1,)).item())
    return np.random.default_rng([seed, index, entropy])


def pick_two(rng: np.random.Generator, total: int, length: int) -> tuple[int, int]:
    """Starts of two non-overlapping `length`-frame segments in [0, total), in random order.

    The free frames (total - 2 * length) are split at two uniform points ("stars and bars"), which
    makes every valid placement equally likely, near the ends too.
    """
    free = total - 2 * length
    if free < 0:
        raise ValueError(f"{total} frames cannot hold two segments of {length}")
    g1, g2 = sorted(int(v) for v in rng.integers(0, free + 1, size=2))
    first, second = g1, g2 + length
    return (first, second) if rng.random() < 0.5 else (second, first)


def rms_db(x: np.ndarray) -> float:
    """RMS level over all channels in dBFS (-inf for digital silence)."""
    mean_square = float(np.mean(np.square(x, dtype=np.float64)))
    return 10.0 * math.log10(mean_square) if mean_square > 0 else -math.inf


def audible(draw, tries: int, silence_db: float):
    """Retry a placement landing in silence (intros, gaps): call `draw()` -> (level_db, value) up
    to `tries` times and return the first value louder than `silence_db`, else the loudest."""
    best = None
    for _ in range(max(1, tries)):
        level, value = draw()
        if best is None or level > best[0]:
            best = (level, value)
        if level > silence_db:
            break
    return best[1]


def to_tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


class SegmentDataset(Dataset):
    """What the training datasets share: a reader at the training rate, segments of
    `segment_frames`, an epoch of `examples_per_epoch` items drawn from (seed, index) (item_rng),
    and the silence retry's settings (audible)."""

    def __init__(
        self,
        sample_rate: int,
        segment_frames: int,
        examples_per_epoch: int,
        seed: int,
        deterministic: bool,
        cache: DecodeCache | None,
        silence_db: float,
        tries: int,
    ):
        self.reader = TrackReader(sample_rate, cache)
        self.sample_rate = self.reader.sample_rate
        self.segment_frames = int(segment_frames)
        if self.segment_frames < 1:
            raise TonematchError(f"segment length must be at least one frame, got {segment_frames}")
        self.examples_per_epoch = int(examples_per_epoch)
        self.seed, self.deterministic = int(seed), bool(deterministic)
        self.silence_db, self.tries = float(silence_db), max(1, int(tries))

    def __len__(self) -> int:
        return self.examples_per_epoch
