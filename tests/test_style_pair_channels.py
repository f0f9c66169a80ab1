"""A stereo mix with a mono master (a wrong export) is left out of a fit in one line: upmixed, it
read as a width of 0, and with few pairs the style narrowed every new mix to near mono."""

import soundfile as sf
from style_habit import make_habit_pairs

from tonematch.data.pairs import find_pairs
from tonematch.inference import style


def test_a_mono_master_of_a_stereo_mix_is_left_out(tmp_path):
    make_habit_pairs(tmp_path, range(3), seconds=4.0)
    master = tmp_path / "master" / "song2.wav"
    x, sr = sf.read(master, dtype="float32")
    sf.write(master, x.mean(axis=1), sr, subtype="FLOAT")
    said = []
    fitted = style.fit_pairs(find_pairs(tmp_path), "s", check=False, error=said.append, progress=False)
    assert said == ["pair song2 left out: the master is mono and its mix stereo: export the master in stereo"]
    assert fitted.meta["pairs"] == 2 and "song2" not in fitted.meta["pair_names"]
    assert fitted.settings["groups"]["width"]["value"] > -3.0  # the habit's width 1 (0 dB of side), not collapsed


def test_a_master_that_is_its_mix_is_left_out_and_a_gain_only_master_is_kept(tmp_path):
    """A master copied from its mix (a wrong file) would teach 'do nothing' in silence; a master
    that only changes the level is a real master and stays."""
    import numpy as np

    make_habit_pairs(tmp_path, range(4), seconds=4.0)
    mix, sr = sf.read(tmp_path / "mix" / "song1.wav", dtype="float32")
    sf.write(tmp_path / "master" / "song1.wav", mix, sr, subtype="FLOAT")
    mix, sr = sf.read(tmp_path / "mix" / "song3.wav", dtype="float32")
    sf.write(tmp_path / "master" / "song3.wav", mix * np.float32(0.5), sr, subtype="FLOAT")
    said = []
    fitted = style.fit_pairs(find_pairs(tmp_path), "s", check=False, error=said.append, progress=False)
    assert said == ["pair song1 left out: the master is the mix itself (a copy): there is no mastering to read"]
    assert fitted.meta["pairs"] == 3 and "song3" in fitted.meta["pair_names"]


def test_a_left_out_line_names_its_pair_once():
    from tonematch.data.errors import TonematchError
    from tonematch.inference.style.fit import left_out

    for text in ("pair a b does not correlate (peak 0.00 < 0.50)", "pair a b: does not correlate (peak 0.00 < 0.50)"):
        assert left_out("a b", TonematchError(text)) == "pair a b left out: does not correlate (peak 0.00 < 0.50)"
    assert left_out("x", ValueError("bad")) == "pair x left out: ValueError: bad"


def test_a_mono_mix_with_a_stereo_master_is_read_in_mono_and_said(tmp_path):
    """The master is read as its mix is (mono): no width is learnt from the pair, and one line
    says so rather than a silent width of 1."""
    make_habit_pairs(tmp_path, range(1), seconds=4.0)
    mix = tmp_path / "mix" / "song0.wav"
    x, sr = sf.read(mix, dtype="float32")
    sf.write(mix, x.mean(axis=1), sr, subtype="FLOAT")
    [pair] = find_pairs(tmp_path)
    p = style.read_pair(pair)
    assert p.notes == ["pair song0: its mix is mono and its master stereo: read in mono (no width is learnt from it)"]
