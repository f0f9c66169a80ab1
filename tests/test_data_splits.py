"""Track-level splits: deterministic, disjoint, complete, independent of order and machine."""

import os
import random

import pytest

from tonematch.data.errors import TonematchError
from tonematch.data.splits import list_audio_files, split_files


def names(root, n, per_folder=10):
    return [os.path.join(root, f"artist{i // per_folder}", f"song{i}.ogg") for i in range(n)]


def test_deterministic_disjoint_and_complete():
    files = names("/data/music", 200)
    a = split_files(files, 0.1, 0.1, seed=0)
    assert a == split_files(files, 0.1, 0.1, seed=0)
    sets = [set(a[k]) for k in ("train", "val", "test")]
    assert sets[0].isdisjoint(sets[1]) and sets[0].isdisjoint(sets[2]) and sets[1].isdisjoint(sets[2])
    assert set.union(*sets) == set(files) and sum(len(s) for s in sets) == len(files)
    assert all(a[k] == sorted(a[k]) for k in a)
    assert 8 <= len(a["val"]) <= 35 and 8 <= len(a["test"]) <= 35  # ~20 each
    assert split_files(files, 0.1, 0.1, seed=1) != a


def test_independent_of_order_and_location():
    files = names("/data/music", 100)
    shuffled = files[:]
    random.Random(3).shuffle(shuffled)
    assert split_files(shuffled) == split_files(files)
    moved = split_files(names("/mnt/other/place", 100))
    assert {k: [os.path.basename(p) for p in v] for k, v in moved.items()} == {
        k: [os.path.basename(p) for p in v] for k, v in split_files(files).items()
    }


def test_a_track_keeps_its_split_when_files_are_added():
    files = names("/data/music", 100)
    before = split_files(files, root="/data/music")
    after = split_files(files + names("/data/music", 150)[100:], root="/data/music")
    for split in before:
        assert set(before[split]) <= set(after[split])


def test_every_split_gets_a_file_when_there_are_three():
    for seed in range(20):
        s = split_files(["/m/a.wav", "/m/b.wav", "/m/c.wav"], seed=seed)
        assert [len(s[k]) for k in ("train", "val", "test")] == [1, 1, 1]
    s = split_files(names("/m", 5), 0.1, 0.0)
    assert s["test"] == [] and len(s["val"]) >= 1 and len(s["train"]) >= 1


def test_small_and_odd_inputs():
    assert split_files([]) == {"train": [], "val": [], "test": []}
    one = split_files(["/m/only.wav", "/m/only.wav"])
    assert sum(len(v) for v in one.values()) == 1  # duplicates counted once
    for bad in ((0.6, 0.5), (-0.1, 0.1)):
        with pytest.raises(TonematchError, match="invalid split fractions"):
            split_files(["/m/a.wav"], *bad)


def test_list_audio_files(tmp_path):
    for rel in (
        "b/2.FLAC",
        "a/1.wav",
        "a/sub/3.ogg",
        "c.mp3",
        "d.aiff",
        "e.opus",
        "notes.txt",
        ".hidden.wav",
        "a/.x.wav.tmp-ab12.wav",
        ".git/objects.wav",
    ):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    outside = tmp_path.parent / (tmp_path.name + "-linked")
    outside.mkdir()
    (outside / "linked.wav").write_bytes(b"")
    (tmp_path / "link").symlink_to(outside, target_is_directory=True)
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a", target_is_directory=True)  # must not hang

    found = [p.relative_to(tmp_path).as_posix() for p in list_audio_files(tmp_path)]
    assert found == ["a/1.wav", "a/sub/3.ogg", "b/2.FLAC", "c.mp3", "d.aiff", "e.opus", "link/linked.wav"]
    with pytest.raises(TonematchError, match="does not exist"):
        list_audio_files(tmp_path / "missing")
