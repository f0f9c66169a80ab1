"""MasteringDataModule: splits by track, deterministic validation, training order that is a
function of (seed, epoch, position), resumable and sharded over ranks; real pairs."""

import numpy as np
import pytest
import soundfile as sf
import torch

from tonematch.data.synth import music_like
from tonematch.training.datamodule import MasteringDataModule, write_synthetic_tracks
from tonematch.training.sampling import EpochSampler, ResumableLoader

SR, SEG = 16000, 4096


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("music")
    write_synthetic_tracks(root, 6, 1.5, SR)
    return root


def module(folder, **kw):
    args = dict(
        kind="selfsup",
        root=str(folder),
        sample_rate=SR,
        segment_frames=SEG,
        batch_size=2,
        num_workers=0,
        examples_per_epoch=8,
        val_examples=4,
        test_examples=4,
        val_fraction=0.2,
        test_fraction=0.2,
    )
    args.update(kw)
    dm = MasteringDataModule(**args)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def batches(loader):
    return [b for b in loader]


def test_split_by_track_and_deterministic_validation(folder):
    a, b = module(folder, seed=0), module(folder, seed=5)  # other training seed, same split
    tracks = {name: set(map(str, files)) for name, files in a.split.items()}
    assert all(tracks.values()) and sum(len(t) for t in tracks.values()) == 6
    assert not (tracks["train"] & tracks["val"]) and not (tracks["train"] & tracks["test"])
    assert not (tracks["val"] & tracks["test"])
    assert {name: set(map(str, files)) for name, files in b.split.items()} == tracks
    v1, v2, v3 = batches(a.val_dataloader()), batches(a.val_dataloader()), batches(b.val_dataloader())
    for x, y in zip(v1, v2):
        assert torch.equal(x["input"], y["input"]) and torch.equal(x["index"], y["index"])
    assert any(not torch.equal(x["input"], y["input"]) for x, y in zip(v1, v3))
    assert {t for batch in v1 for t in batch["track"]} <= tracks["val"]


def test_training_order_is_a_function_of_seed_and_epoch(folder):
    dm = module(folder)
    loader = dm.train_dataloader()
    assert isinstance(loader, ResumableLoader) and len(loader) == 4
    epoch0 = batches(loader)
    again = batches(loader)
    assert all(torch.equal(x["input"], y["input"]) for x, y in zip(epoch0, again))
    loader.sampler.set_epoch(1)
    epoch1 = batches(loader)
    ids0 = torch.cat([b["index"] for b in epoch0])
    ids1 = torch.cat([b["index"] for b in epoch1])
    assert sorted(ids0.tolist()) == list(range(8)) and sorted(ids1.tolist()) == list(range(8, 16))
    assert {t for b in epoch0 for t in b["track"]} <= set(map(str, dm.split["train"]))
    # the same items from a loader with worker processes
    workers = module(folder, num_workers=1).train_dataloader()
    assert all(torch.equal(x["input"], y["input"]) for x, y in zip(epoch0, batches(workers)))


def test_resume_continues_mid_epoch(folder):
    dm = module(folder)
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(3)
    full = batches(loader)
    fresh = module(folder).train_dataloader()
    fresh.load_state_dict({"epoch": 3, "batches_done": 2})
    resumed = batches(fresh)
    assert len(resumed) == 2
    assert all(
        torch.equal(x["index"], y["index"]) and torch.equal(x["input"], y["input"]) for x, y in zip(full[2:], resumed)
    )
    # only the first pass after a resume is shortened
    assert len(batches(fresh)) == 4
    fresh.load_state_dict({})  # outside fit (no position): nothing changes
    assert len(batches(fresh)) == 4


def test_ranks_get_disjoint_shards():
    shards = [list(EpochSampler(10, 2, seed=1, rank=r, world_size=2)) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 5
    assert not set(shards[0]) & set(shards[1]) and set(shards[0]) | set(shards[1]) == set(range(10))
    with pytest.raises(ValueError, match="less than one batch"):
        EpochSampler(3, 2, world_size=2)


def test_synthetic_fallback_without_root(tmp_path):
    dm = MasteringDataModule(
        root=None,
        synthetic_dir=str(tmp_path / "synth"),
        synthetic_tracks=4,
        synthetic_seconds=1.0,
        sample_rate=SR,
        segment_frames=SEG,
        batch_size=2,
        num_workers=0,
        examples_per_epoch=4,
        val_fraction=0.25,
        test_fraction=0.25,
    )
    dm.prepare_data()
    dm.setup("fit")
    assert len(list((tmp_path / "synth").glob("*.wav"))) == 4
    batch = next(iter(dm.train_dataloader()))
    assert batch["input"].shape == (2, 2, SEG) and set(batch) >= {"target_source", "reference_source", "degradation"}


def test_pairs(tmp_path):
    for i in range(4):
        mix = music_like(seconds=2.0, sample_rate=SR, seed=10 + i)
        sf.write(tmp_path / f"song{i}_mix.wav", mix.T, SR, subtype="FLOAT")
        sf.write(tmp_path / f"song{i}_master.wav", (np.tanh(3 * mix) / 3).T, SR, subtype="FLOAT")
    dm = MasteringDataModule(
        kind="pairs",
        root=str(tmp_path),
        sample_rate=SR,
        segment_frames=SEG,
        batch_size=2,
        num_workers=0,
        examples_per_epoch=4,
        val_examples=2,
        val_fraction=0.25,
        test_fraction=0.25,
    )
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) >= {"input", "target", "reference", "index"} and "target_source" not in batch
    assert batch["target"].shape == (2, 2, SEG)
    names = {split: {p.name for p in pairs} for split, pairs in dm.split.items()}
    assert all(names.values()) and set().union(*names.values()) == {f"song{i}" for i in range(4)}
    assert sum(len(n) for n in names.values()) == 4  # each pair in exactly one split
