"""SelfSupervisedDataset: two clean segments of one track, one degraded; reproducible when asked."""

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

from tonematch.data.cache import DecodeCache
from tonematch.data.degrade import NEUTRAL, apply_degradation
from tonematch.data.errors import TonematchError
from tonematch.data.segments import pick_two
from tonematch.data.selfsup import SelfSupervisedDataset
from tonematch.data.synth import music_like

SR, SEG = 16000, 4096


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tracks")
    paths = []
    for i, seconds in enumerate((2.0, 1.5, 3.0)):
        p = folder / f"t{i}.wav"
        sf.write(p, music_like(seconds=seconds, sample_rate=SR, seed=i).T, SR, subtype="FLOAT")
        paths.append(str(p))
    return paths


def check_item(item, tracks):
    for key in ("input", "target_source", "reference_source"):
        assert item[key].dtype == torch.float32 and item[key].shape == (2, SEG)
    a, b = item["start_a"], item["start_b"]
    assert abs(a - b) >= SEG  # A and B never overlap
    audio = sf.read(item["track"], dtype="float32")[0].T
    assert item["track"] in tracks and 0 <= min(a, b) and max(a, b) + SEG <= audio.shape[1]
    np.testing.assert_array_equal(item["target_source"].numpy(), audio[:, a : a + SEG])
    np.testing.assert_array_equal(item["reference_source"].numpy(), audio[:, b : b + SEG])
    degraded = apply_degradation(item["target_source"].numpy(), SR, item["degradation"])
    np.testing.assert_allclose(item["input"].numpy(), degraded, atol=1e-6)


def test_items(tracks):
    ds = SelfSupervisedDataset(tracks, sample_rate=SR, segment_frames=SEG, examples_per_epoch=12)
    assert len(ds) == 12
    for i in range(len(ds)):
        check_item(ds[i], tracks)
    with pytest.raises(IndexError):
        ds[12]


def test_deterministic_mode_reproduces_items(tracks):
    make = lambda: SelfSupervisedDataset(  # noqa: E731
        tracks, sample_rate=SR, segment_frames=SEG, examples_per_epoch=6, deterministic=True, seed=4
    )
    a, b = make(), make()
    for i in range(6):
        x, y = a[i], b[i]
        keys = ("track", "start_a", "start_b", "degradation")
        assert [x[k] for k in keys] == [y[k] for k in keys]
        assert torch.equal(x["input"], y["input"]) and torch.equal(a[i]["input"], x["input"])
    assert [a[i]["track"] for i in range(3)] == tracks  # validation visits every track in turn
    assert a[0]["start_a"] != a[3]["start_a"] or a[0]["degradation"] != a[3]["degradation"]


def test_random_mode_draws_anew_but_follows_torch_seed(tracks):
    ds = SelfSupervisedDataset(tracks, sample_rate=SR, segment_frames=SEG, examples_per_epoch=4)
    torch.manual_seed(0)
    first = [(ds[0]["start_a"], ds[0]["degradation"]["level_db"]) for _ in range(5)]
    assert len(set(first)) > 1
    torch.manual_seed(0)
    assert [(ds[0]["start_a"], ds[0]["degradation"]["level_db"]) for _ in range(5)] == first


def test_without_degradation_input_is_the_clean_target(tracks):
    ds = SelfSupervisedDataset(tracks, sample_rate=SR, segment_frames=SEG, examples_per_epoch=2, degrade=False)
    item = ds[0]
    assert torch.equal(item["input"], item["target_source"]) and item["degradation"] == NEUTRAL


def test_short_tracks_are_skipped_or_refused(tmp_path, tracks):
    short = tmp_path / "short.wav"
    sf.write(short, music_like(seconds=0.4, sample_rate=SR).T, SR)  # 6400 frames < 2 * 4096
    with pytest.warns(UserWarning, match="skipping 1 track.*short.wav"):
        ds = SelfSupervisedDataset([str(short)] + tracks, sample_rate=SR, segment_frames=SEG)
    assert [t for t, _ in ds.tracks] == tracks
    with pytest.raises(TonematchError, match="no track is long enough"):
        SelfSupervisedDataset([str(short)], sample_rate=SR, segment_frames=SEG)
    with pytest.raises(TonematchError, match="no audio files"):
        SelfSupervisedDataset([], sample_rate=SR, segment_frames=SEG)


def test_mono_tracks_become_stereo_and_rates_are_converted(tmp_path):
    p = tmp_path / "mono48k.flac"
    sf.write(p, music_like(seconds=1.0, sample_rate=48000, channels=1).T, 48000)
    ds = SelfSupervisedDataset([str(p)], sample_rate=SR, segment_frames=SEG, examples_per_epoch=1, degrade=False)
    item = ds[0]
    assert item["target_source"].shape == (2, SEG)
    assert torch.equal(item["target_source"][0], item["target_source"][1])


def test_silent_segments_are_avoided(tmp_path):
    x = music_like(seconds=4.0, sample_rate=SR)
    music_from = 2 * SR
    x[:, :music_from] = 0.0  # a silent first half
    p = tmp_path / "intro.wav"
    sf.write(p, x.T, SR, subtype="FLOAT")

    def silent_items(tries):
        ds = SelfSupervisedDataset(
            [str(p)], sample_rate=SR, segment_frames=SEG, examples_per_epoch=20, deterministic=True, tries=tries
        )
        items = [ds[i] for i in range(20)]
        return sum(min(it["start_a"], it["start_b"]) + SEG <= music_from for it in items)

    assert silent_items(tries=1) > 5  # a single random draw often lands in the silence
    assert silent_items(tries=30) == 0


def test_cache_gives_the_same_items(tmp_path, tracks):
    kwargs = dict(sample_rate=SR, segment_frames=SEG, examples_per_epoch=4, deterministic=True)
    plain = SelfSupervisedDataset(tracks, **kwargs)
    cached = SelfSupervisedDataset(tracks, cache=DecodeCache(tmp_path / "cache"), **kwargs)
    for i in range(4):
        assert torch.equal(plain[i]["input"], cached[i]["input"])


def test_dataloader_with_workers(tracks):
    ds = SelfSupervisedDataset(tracks, sample_rate=SR, segment_frames=SEG, examples_per_epoch=8)
    torch.manual_seed(1)
    batches = list(DataLoader(ds, batch_size=4, num_workers=2))
    assert batches[0]["input"].shape == (4, 2, SEG)
    assert batches[0]["degradation"]["level_db"].shape == (4,)
    starts = [(t, a) for b in batches for t, a in zip(b["track"], b["start_a"].tolist())]
    assert len(set(starts)) == 8  # workers do not repeat each other's draws

    val = SelfSupervisedDataset(tracks, sample_rate=SR, segment_frames=SEG, examples_per_epoch=8, deterministic=True)
    loaded = torch.cat([b["input"] for b in DataLoader(val, batch_size=4, num_workers=2)])
    assert torch.equal(loaded, torch.stack([val[i]["input"] for i in range(8)]))


def test_pick_two_covers_all_placements():
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(2000):
        a, b = pick_two(rng, 10, 3)
        assert abs(a - b) >= 3 and 0 <= min(a, b) and max(a, b) <= 7
        seen.add((a, b))
    # All ordered non-overlapping placements of two 3-frame segments in 10 frames: 2 * C(6, 2) = 30.
    assert len(seen) == 30
    with pytest.raises(ValueError):
        pick_two(rng, 5, 3)


def test_other_track_references(tracks):
    """other_reference=1: the reference segment always comes from another track (the target's
    own segment A still from its own), read where the item says; 0 keeps every reference home."""
    ds = SelfSupervisedDataset(
        tracks, sample_rate=SR, segment_frames=SEG, examples_per_epoch=12, deterministic=True, other_reference=1.0
    )
    for i in range(12):
        item = ds[i]
        assert item["reference_track"] != item["track"] and item["reference_track"] in tracks
        audio = sf.read(item["reference_track"], dtype="float32")[0].T
        b = item["start_b"]
        np.testing.assert_array_equal(item["reference_source"].numpy(), audio[:, b : b + SEG])
    home = SelfSupervisedDataset(tracks, sample_rate=SR, segment_frames=SEG, examples_per_epoch=6, deterministic=True)
    assert all(home[i]["reference_track"] == home[i]["track"] for i in range(6))
    with pytest.raises(TonematchError, match="probability"):
        SelfSupervisedDataset(tracks, sample_rate=SR, segment_frames=SEG, other_reference=1.5)
