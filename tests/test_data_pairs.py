"""Real before/after pairs: discovery conventions and the aligned PairsDataset."""

import numpy as np
import pytest
import soundfile as sf
import torch

from tonematch.data.errors import TonematchError
from tonematch.data.pair_dataset import PairsDataset
from tonematch.data.pairs import Pair, find_pairs, load_pair, read_aligned
from tonematch.data.synth import music_like

SR, SEG = 22050, 8192


def touch_audio(path, seconds=0.1):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros((int(SR * seconds), 2), np.float32), SR)


def delayed(x, delay):
    n = x.shape[-1] + 8192
    spectrum = np.fft.rfft(x.astype(np.float64), n, axis=-1)
    phase = np.exp(-2j * np.pi * np.fft.rfftfreq(n) * delay)
    return np.fft.irfft(spectrum * phase, n, axis=-1)[:, : x.shape[-1]].astype(np.float32)


def test_subfolder_convention_matches_by_path(tmp_path):
    for rel in (
        "mix/a.wav",
        "master/a.flac",
        "mix/album/b.wav",
        "master/album/b.wav",
        "mix/lonely.wav",
        "master/orphan.wav",
    ):
        touch_audio(tmp_path / rel)
    with pytest.warns(UserWarning, match=r"2 file\(s\).*mix/lonely.*master/orphan"):
        pairs = find_pairs(tmp_path)
    assert [(p.name, p.mix.name, p.master.name) for p in pairs] == [
        ("a", "a.wav", "a.flac"),
        ("album/b", "b.wav", "b.wav"),
    ]


def test_pair_files_match_in_any_case(tmp_path):
    """A master exported as Song.flac is song.wav's (one name on macOS and Windows disks); two
    mixes that differ only in case are refused as ambiguous, not guessed."""
    for rel in ("mix/song.wav", "master/Song.flac", "mix/Live/B.wav", "master/live/b.wav"):
        touch_audio(tmp_path / rel)
    pairs = find_pairs(tmp_path)
    assert [(p.name, p.mix.name, p.master.name) for p in pairs] == [
        ("Live/B", "B.wav", "b.wav"),
        ("song", "song.wav", "Song.flac"),
    ]
    suffixed = tmp_path / "suffixed"
    for rel in ("Take1_mix.wav", "take1_Master.flac"):
        touch_audio(suffixed / rel)
    assert [(p.name, p.master.name) for p in find_pairs(suffixed)] == [("Take1", "take1_Master.flac")]
    touch_audio(tmp_path / "mix" / "SONG.wav")
    with pytest.raises(TonematchError, match="ambiguous pair files"):
        find_pairs(tmp_path)


def test_suffix_convention(tmp_path):
    for rel in ("song1_mix.wav", "song1_master.flac", "x/song2_MIX.wav", "x/song2_master.wav", "other.wav"):
        touch_audio(tmp_path / rel)
    with pytest.warns(UserWarning, match="other.wav"):
        pairs = find_pairs(str(tmp_path))
    assert [(p.name, p.mix.name, p.master.name) for p in pairs] == [
        ("song1", "song1_mix.wav", "song1_master.flac"),
        ("x/song2", "song2_MIX.wav", "song2_master.wav"),
    ]


def _manifest(tmp_path, mix: str, master: str, name: str, text: str):
    """The files `mix` and `master` (relative to tmp_path) and a CSV manifest `lists/NAME` holding `text`."""
    touch_audio(tmp_path / mix)
    touch_audio(tmp_path / master)
    manifest = tmp_path / "lists" / name
    manifest.parent.mkdir()
    manifest.write_text(text)
    return manifest


def test_csv_manifest_paths_are_relative_to_it(tmp_path):
    text = "Mix,Master,name\n../audio/m.wav,../audio/M.flac,first\n\n"
    manifest = _manifest(tmp_path, "audio/m.wav", "audio/M.flac", "pairs.csv", text)
    [pair] = find_pairs(manifest)
    assert pair.name == "first" and pair.mix == tmp_path / "lists" / ".." / "audio" / "m.wav"
    assert pair.master.is_file()

    manifest.write_text("mix,master\n../audio/m.wav,../audio/missing.wav\n")
    with pytest.raises(TonematchError, match="line 2: no such file '../audio/missing.wav'"):
        find_pairs(manifest)
    manifest.write_text("before,after\na.wav,b.wav\n")
    with pytest.raises(TonematchError, match="needs the columns mix,master"):
        find_pairs(manifest)


def test_csv_manifest_with_spaces_and_quotes(tmp_path):
    """Paths with spaces and commas, quoted the way people write CSV by hand: a space after the
    comma before a quote is not part of the path."""
    text = 'mix, master, name\n"../My Mixes/song 1.wav", "../Masters, final/song 1 (master).flac", one\n'
    manifest = _manifest(tmp_path, "My Mixes/song 1.wav", "Masters, final/song 1 (master).flac", "my pairs.csv", text)
    [pair] = find_pairs(manifest)
    assert (pair.name, pair.mix.name, pair.master.name) == ("one", "song 1.wav", "song 1 (master).flac")


def test_find_pairs_errors(tmp_path):
    with pytest.raises(TonematchError, match="does not exist"):
        find_pairs(tmp_path / "nowhere")
    touch_audio(tmp_path / "lonely_mix.wav")
    with pytest.warns(UserWarning), pytest.raises(TonematchError, match="no mix/master pairs"):
        find_pairs(tmp_path)
    touch_audio(tmp_path / "dup" / "mix" / "s.wav")
    touch_audio(tmp_path / "dup" / "mix" / "s.flac")
    touch_audio(tmp_path / "dup" / "master" / "s.wav")
    with pytest.raises(TonematchError, match="ambiguous"):
        find_pairs(tmp_path / "dup")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(TonematchError, match="neither a folder nor a .csv"):
        find_pairs(tmp_path / "notes.txt")


@pytest.fixture(scope="module")
def pair_folder(tmp_path_factory):
    """A mix and a master that is EQ'd, louder, and starts 1234.5 frames later."""
    root = tmp_path_factory.mktemp("pairs")
    (root / "mix").mkdir()
    (root / "master").mkdir()
    mix = music_like(seconds=3.0, sample_rate=SR, seed=5)
    master = delayed(mix, 1234.5) * 1.6  # gain only, so the aligned target can be checked exactly
    sf.write(root / "mix" / "song.wav", mix.T, SR, subtype="FLOAT")
    sf.write(root / "master" / "song.wav", master.T, SR, subtype="FLOAT")
    return root, mix


def test_dataset_serves_aligned_segments(pair_folder):
    root, mix = pair_folder
    ds = PairsDataset(find_pairs(root), sample_rate=SR, segment_frames=SEG, examples_per_epoch=6, max_offset_s=0.2)
    assert ds.alignments["song"].offset_frames == pytest.approx(1234.5, abs=0.1)
    for i in range(len(ds)):
        item = ds[i]
        s, r = item["start"], item["reference_start"]
        for key in ("input", "target", "reference"):
            assert item[key].shape == (2, SEG) and item[key].dtype == torch.float32
        np.testing.assert_array_equal(item["input"].numpy(), mix[:, s : s + SEG])
        # The target is the master at the mix's moments: 1.6 x the mix, up to interpolation error.
        err = item["target"].numpy() - 1.6 * mix[:, s : s + SEG]
        assert 10 * np.log10(np.mean(err**2) / np.mean((1.6 * mix[:, s : s + SEG]) ** 2)) < -30
        # The reference is other music from the master, clear of the target's master frames.
        assert abs(r - (s + 1234)) >= SEG
        master = sf.read(root / "master" / "song.wav", dtype="float32")[0].T
        np.testing.assert_array_equal(item["reference"].numpy(), master[:, r : r + SEG])
        assert item["track"] == "song"


def test_dataset_deterministic_mode(pair_folder):
    root, _ = pair_folder
    make = lambda: PairsDataset(  # noqa: E731
        find_pairs(root),
        sample_rate=SR,
        segment_frames=SEG,  # noqa: E731
        examples_per_epoch=4,
        max_offset_s=0.2,
        deterministic=True,
    )
    a, b = make(), make()
    assert [(a[i]["start"], a[i]["reference_start"]) for i in range(4)] == [
        (b[i]["start"], b[i]["reference_start"]) for i in range(4)
    ]
    assert torch.equal(a[2]["target"], b[2]["target"])


def test_dataset_refuses_unrelated_pairs_and_skips_short_ones(tmp_path):
    for name, seconds in (("song", 3.0), ("tiny", 0.5)):
        sf.write(tmp_path / f"{name}_mix.wav", music_like(seconds=seconds, sample_rate=SR, seed=1).T, SR)
    sf.write(tmp_path / "tiny_master.wav", music_like(seconds=0.5, sample_rate=SR, seed=1).T, SR)
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "song_master.wav", 0.1 * rng.standard_normal((3 * SR, 2)), SR)
    with pytest.raises(TonematchError, match="pair song does not correlate"):
        PairsDataset(find_pairs(tmp_path), sample_rate=SR, segment_frames=SEG, max_offset_s=0.2)
    sf.write(tmp_path / "song_master.wav", music_like(seconds=3.0, sample_rate=SR, seed=1).T, SR)
    with pytest.warns(UserWarning, match="skipping 1 pair.*tiny"):
        ds = PairsDataset(find_pairs(tmp_path), sample_rate=SR, segment_frames=SEG, max_offset_s=0.2)
    assert list(ds.alignments) == ["song"]
    assert ds.alignments["song"].offset_frames == pytest.approx(0.0, abs=0.05)


def test_a_master_with_its_polarity_flipped_is_read_the_right_way_up(pair_folder, tmp_path):
    """load_pair/read_aligned turn an inverted master back and say so (read_aligned's `inverted`);
    given the alignment found before, they read it the same way again."""
    root, mix = pair_folder
    master = sf.read(root / "master" / "song.wav", dtype="float32")[0].T
    sf.write(tmp_path / "inverted.wav", -master.T, SR, subtype="FLOAT")
    upright = Pair(root / "mix" / "song.wav", root / "master" / "song.wav", "song")
    inverted = Pair(root / "mix" / "song.wav", tmp_path / "inverted.wav", "song")

    m, aligned, sr, offset = load_pair(upright)
    assert not read_aligned(upright).inverted and offset in (1234, 1235)  # 1234.5 found to a tenth
    a = read_aligned(inverted)
    assert a.inverted and a.offset == offset and a.sample_rate == sr == SR
    np.testing.assert_array_equal(a.mix, m)
    np.testing.assert_array_equal(a.master, aligned)  # the flip is exact
    np.testing.assert_array_equal(load_pair(inverted)[1], aligned)
    # the alignment found before, not searched again
    again = read_aligned(inverted, offset, inverted=True)
    assert again.inverted and again.offset == offset
    np.testing.assert_array_equal(again.master, aligned)


def test_a_master_with_its_channels_swapped_is_read_swapped_back(pair_folder, tmp_path):
    """A master exported with left and right swapped is read swapped back and said so (read as it
    was, its side ran against the mix's and style fit read width 0: every master made mono);
    a mono master of a stereo mix, with no side, is not swapped."""
    root, mix = pair_folder
    master = sf.read(root / "master" / "song.wav", dtype="float32")[0].T
    sf.write(tmp_path / "swapped.wav", -master[::-1].T, SR, subtype="FLOAT")  # swapped and inverted
    upright = read_aligned(Pair(root / "mix" / "song.wav", root / "master" / "song.wav", "song"))
    assert not upright.swapped
    a = read_aligned(Pair(root / "mix" / "song.wav", tmp_path / "swapped.wav", "song"))
    assert a.swapped and a.inverted and a.offset == upright.offset
    np.testing.assert_array_equal(a.master, upright.master)
    sf.write(tmp_path / "dual_mono.wav", np.stack([master.mean(axis=0)] * 2).T, SR, subtype="FLOAT")
    assert not read_aligned(Pair(root / "mix" / "song.wav", tmp_path / "dual_mono.wav", "song")).swapped


def test_dataset_serves_an_inverted_master_the_right_way_up(pair_folder, tmp_path):
    """Training pairs read a master whose polarity is flipped as style fit does (read_aligned):
    the same recording, target and reference flipped back. Before, the pair was refused as 'does
    not correlate (peak -0.99 < 0.50)' and no training on the folder could start."""
    root, mix = pair_folder
    master = sf.read(root / "master" / "song.wav", dtype="float32")[0].T
    (tmp_path / "mix").mkdir()
    (tmp_path / "master").mkdir()
    sf.write(tmp_path / "mix" / "song.wav", mix.T, SR, subtype="FLOAT")
    sf.write(tmp_path / "master" / "song.wav", -master.T, SR, subtype="FLOAT")
    ds = PairsDataset(find_pairs(tmp_path), sample_rate=SR, segment_frames=SEG, examples_per_epoch=3, max_offset_s=0.2)
    assert ds.alignments["song"].offset_frames == pytest.approx(1234.5, abs=0.1)
    assert ds.alignments["song"].inverted
    for i in range(len(ds)):
        item = ds[i]
        s, r = item["start"], item["reference_start"]
        err = item["target"].numpy() - 1.6 * mix[:, s : s + SEG]  # upright: 1.6 x the mix
        assert 10 * np.log10(np.mean(err**2) / np.mean((1.6 * mix[:, s : s + SEG]) ** 2)) < -30
        np.testing.assert_array_equal(item["reference"].numpy(), master[:, r : r + SEG])


def test_dataset_serves_a_master_with_its_channels_swapped_back(pair_folder, tmp_path):
    """A master exported with left and right swapped (and inverted) is served swapped back and
    upright, as read_aligned reads it for style fit; before, its target's side ran against the
    mix's (correlation -1.00): a width no chain setting can make."""
    root, mix = pair_folder
    master = sf.read(root / "master" / "song.wav", dtype="float32")[0].T
    (tmp_path / "mix").mkdir()
    (tmp_path / "master").mkdir()
    sf.write(tmp_path / "mix" / "song.wav", mix.T, SR, subtype="FLOAT")
    sf.write(tmp_path / "master" / "song.wav", -master[::-1].T, SR, subtype="FLOAT")
    ds = PairsDataset(find_pairs(tmp_path), sample_rate=SR, segment_frames=SEG, examples_per_epoch=3, max_offset_s=0.2)
    for i in range(len(ds)):
        item = ds[i]
        s, r = item["start"], item["reference_start"]
        err = item["target"].numpy() - 1.6 * mix[:, s : s + SEG]
        assert 10 * np.log10(np.mean(err**2) / np.mean((1.6 * mix[:, s : s + SEG]) ** 2)) < -30
        np.testing.assert_array_equal(item["reference"].numpy(), master[:, r : r + SEG])


def test_dataset_aligns_a_master_that_stops_early(tmp_path):
    """The alignment excerpt comes from the middle of what both files hold, as align() takes it:
    from the middle of the mix, a master cut to its first third had nothing there to correlate."""
    mix = music_like(seconds=9.0, sample_rate=SR, seed=6)
    master = (delayed(mix, 1234.5) * 1.6)[:, : 3 * SR]
    (tmp_path / "mix").mkdir()
    (tmp_path / "master").mkdir()
    sf.write(tmp_path / "mix" / "song.wav", mix.T, SR, subtype="FLOAT")
    sf.write(tmp_path / "master" / "song.wav", master.T, SR, subtype="FLOAT")
    ds = PairsDataset(
        find_pairs(tmp_path), sample_rate=SR, segment_frames=SEG, examples_per_epoch=3, max_offset_s=0.2, excerpt_s=2.0
    )
    assert ds.alignments["song"].offset_frames == pytest.approx(1234.5, abs=0.1)
    for i in range(len(ds)):
        item = ds[i]
        s = item["start"]
        err = item["target"].numpy() - 1.6 * mix[:, s : s + SEG]
        assert 10 * np.log10(np.mean(err**2) / np.mean((1.6 * mix[:, s : s + SEG]) ** 2)) < -30
