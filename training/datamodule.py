"""LightningDataModule for both training kinds.

selfsup: `root` is a folder of mastered music; items are (degraded A, clean A, clean B) and the
  training step draws the chain that makes targets of them (chain_draw.py).
pairs:   `root` is a folder or CSV of real mix/master pairs (tonematch.data.pairs.find_pairs).

Splits are by track (tonematch.data.splits.split_files, seeded by `split_seed`, so a track keeps
its split whatever the training seed). Validation and test sets are deterministic. Training items
are a function of (seed, epoch, position), and the training loader records in checkpoints where in
the epoch training stood, so a resumed run sees exactly the data it would have seen (sampling.py).
With `root` unset, a few synthetic tracks are written to `synthetic_dir` (smoke runs, CI).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytorch_lightning as pl
import soundfile as sf
from torch.utils.data import DataLoader, Dataset

from tonematch.data.cache import DecodeCache
from tonematch.data.errors import TonematchError
from tonematch.data.pair_dataset import PairsDataset
from tonematch.data.pairs import find_pairs
from tonematch.data.selfsup import SelfSupervisedDataset
from tonematch.data.splits import list_audio_files, split_files
from tonematch.data.synth import music_like

from .sampling import MAX_EPOCHS, EpochSampler, ResumableLoader

KINDS = ("selfsup", "pairs")
STREAMS = {"train": 0, "val": 1, "test": 2}  # keeps the three sets' random streams apart


class Indexed(Dataset):
    """Adds the item id to every item: the chain draw for the item is seeded by it."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        item = self.dataset[index]
        item["index"] = int(index)
        return item


def write_synthetic_tracks(folder, count: int, seconds: float, sample_rate: int) -> list[Path]:
    """Music-like stereo tracks (tonematch.data.synth) as float WAV; existing ones are kept."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"synthetic_{i:02d}.wav"
        if not path.exists():
            tmp = folder / f".synthetic_{i:02d}.tmp.wav"
            sf.write(tmp, music_like(seconds=seconds, sample_rate=sample_rate, seed=i).T, sample_rate, subtype="FLOAT")
            os.replace(tmp, path)
        paths.append(path)
    return paths


class MasteringDataModule(pl.LightningDataModule):
    def __init__(
        self,
        kind: str = "selfsup",
        root: str | None = None,
        sample_rate: int = 44100,
        segment_frames: int = 131072,
        batch_size: int = 16,
        num_workers: int = 2,
        examples_per_epoch: int = 4096,
        val_examples: int = 256,
        test_examples: int = 256,
        val_fraction: float = 0.05,
        test_fraction: float = 0.1,
        seed: int = 0,
        split_seed: int = 0,
        cache_dir: str | None = None,
        synthetic_dir: str | None = None,
        synthetic_tracks: int = 6,
        synthetic_seconds: float = 8.0,
        pin_memory: bool = False,
        other_reference: float = 0.0,
    ):
        super().__init__()
        if kind not in KINDS:
            raise TonematchError(f"data kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if root is None and (kind != "selfsup" or synthetic_dir is None):
            raise TonematchError("set data.root to a folder of music (or of mix/master pairs, or their CSV)")
        if root is not None and not str(root).strip():  # data.root=$UNSET: not the current folder's audio
            raise TonematchError("data.root is empty: give a folder of music (or of mix/master pairs, or their CSV)")
        if int(batch_size) < 1 or int(num_workers) < 0:
            raise TonematchError(
                f"data.batch_size must be >= 1 and data.num_workers >= 0, got {batch_size}, {num_workers}"
            )
        self.kind, self.root = kind, root
        self.sample_rate, self.segment_frames = int(sample_rate), int(segment_frames)
        self.batch_size, self.num_workers = int(batch_size), int(num_workers)
        self.examples_per_epoch = int(examples_per_epoch)
        self.val_examples, self.test_examples = int(val_examples), int(test_examples)
        self.val_fraction, self.test_fraction = float(val_fraction), float(test_fraction)
        self.seed, self.split_seed = int(seed), int(split_seed)
        self.cache_dir, self.synthetic_dir = cache_dir, synthetic_dir
        self.synthetic_tracks, self.synthetic_seconds = int(synthetic_tracks), float(synthetic_seconds)
        self.pin_memory = bool(pin_memory)
        self.other_reference = float(other_reference)
        self.datasets: dict[str, Dataset] = {}
        self.split: dict[str, list] = {}
        self.what = "track"

    # -- data preparation ------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Runs once per node (before `setup` on every rank): only the synthetic fallback writes."""
        if self.root is None:
            write_synthetic_tracks(self.synthetic_dir, self.synthetic_tracks, self.synthetic_seconds, self.sample_rate)

    def _sources(self) -> tuple[dict[str, list], str]:
        """Split of the sources by track -> ({split: [file or Pair]}, what they are)."""
        if self.kind == "selfsup":
            root = self.root if self.root is not None else self.synthetic_dir
            files = list_audio_files(root)
            if not files:
                raise TonematchError(f"no audio files in '{root}'")
            return split_files(files, self.val_fraction, self.test_fraction, self.split_seed, root=root), "track"
        pairs = find_pairs(self.root)
        by_mix = {os.path.abspath(p.mix): p for p in pairs}
        base = Path(self.root).parent if Path(self.root).is_file() else Path(self.root)
        split = split_files(list(by_mix), self.val_fraction, self.test_fraction, self.split_seed, root=base)
        return {name: [by_mix[os.path.abspath(f)] for f in files] for name, files in split.items()}, "pair"

    def sources(self) -> tuple[dict[str, list], str]:
        """The split (by track) and what the sources are ("track" or "pair"), listed once; an empty
        training split is refused. tonematch-train asks before it builds anything; setup() reuses it."""
        if not self.split:
            split, self.what = self._sources()
            if not split["train"]:
                raise TonematchError(
                    f"the training split is empty: {self.root or self.synthetic_dir} has too few {self.what}s"
                )
            self.split = split
        return self.split, self.what

    def _dataset(self, sources: list, stage: str, examples: int) -> Dataset:
        cache = DecodeCache(self.cache_dir) if self.cache_dir else None
        common = dict(
            sample_rate=self.sample_rate,
            segment_frames=self.segment_frames,
            seed=self.seed + STREAMS[stage],
            deterministic=True,
            cache=cache,
        )
        if self.kind == "selfsup":
            return Indexed(
                SelfSupervisedDataset(
                    sources, examples_per_epoch=examples, other_reference=self.other_reference, **common
                )
            )
        return Indexed(PairsDataset(sources, examples_per_epoch=examples, **common))

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        self.sources()
        # deterministic in the item id, and the ids run on over all epochs (sampling.EpochSampler)
        self.datasets["train"] = self._dataset(self.split["train"], "train", self.examples_per_epoch * MAX_EPOCHS)
        for name, examples in (("val", self.val_examples), ("test", self.test_examples)):
            if self.split[name] and examples > 0:
                self.datasets[name] = self._dataset(self.split[name], name, examples)

    # -- loaders -----------------------------------------------------------------------------
    def _loader(self, dataset, cls=DataLoader, **kwargs) -> DataLoader:
        return cls(
            dataset,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            **kwargs,
        )

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        sampler = EpochSampler(self.examples_per_epoch, self.batch_size, self.seed, rank, world)
        return self._loader(
            self.datasets["train"], cls=ResumableLoader, sampler=sampler, drop_last=True, position=self.position
        )

    def val_dataloader(self):
        return self._loader(self.datasets["val"], shuffle=False) if "val" in self.datasets else []

    def test_dataloader(self):
        return self._loader(self.datasets["test"], shuffle=False) if "test" in self.datasets else []

    def position(self) -> dict:
        """Where training stands: (epoch, batches of it trained on); empty outside fit."""
        trainer = self.trainer
        if trainer is None or trainer.state.fn != "fit":
            return {}
        epoch = trainer.current_epoch
        # processed, not ready: a checkpoint saved inside a step (SLURM's hpc_ckpt) has not trained on it
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        per_epoch = trainer.num_training_batches
        if per_epoch != float("inf") and done >= per_epoch:
            epoch, done = epoch + 1, 0
        return {"epoch": int(epoch), "batches_done": int(done)}
