"""A style's loudness is its masters' loudness as they play: a mono mix mastered in a style of
stereo masters comes out 3 LU under them as a file (BS.1770 reads a mono file as one channel;
on two speakers it plays 3 LU louder, as loud as the masters), and a pair whose mono mix made it
read in mono teaches the masters' loudness, not 3 LU under it. As `match` does for a mono mix
against a stereo reference (inference/match.PLAYBACK_MONO_LU)."""

import numpy as np
import pytest
import soundfile as sf
from style_habit import SR, broadband_mix, make_habit_pairs

import tonematch
from tonematch.data.pairs import find_pairs
from tonematch.inference import style
from tonematch.inference.match import PLAYBACK_MONO_LU
from tonematch.models.measure.loudness import integrated_loudness


@pytest.fixture(scope="module")
def stereo_style(tmp_path_factory):
    root = tmp_path_factory.mktemp("stereo")
    make_habit_pairs(root, range(3), seconds=4.0)
    return style.fit_pairs(find_pairs(root), "s", check=False, progress=False)


def loudness_value(fitted) -> float:
    return float(fitted.settings["groups"]["loudness"]["value"])


def test_a_mono_mix_is_mastered_as_loud_on_two_speakers_as_the_masters(stereo_style):
    mix = broadband_mix(7, 4.0)
    stereo = tonematch.master(mix, stereo_style, sample_rate=SR)
    mono = tonematch.master(mix.mean(axis=0, keepdims=True), stereo_style, sample_rate=SR)
    target = loudness_value(stereo_style)
    assert integrated_loudness(stereo.audio, SR) == pytest.approx(target, abs=0.3)
    # the file reads 3 LU under the style's masters: played on both speakers it is as loud
    assert integrated_loudness(mono.audio, SR) == pytest.approx(target - PLAYBACK_MONO_LU, abs=0.3)
    assert mono.notes["mono_playback_lu"] == pytest.approx(-PLAYBACK_MONO_LU)
    assert "mono_playback_lu" not in stereo.notes
    # an explicit target is a file reading, as in match
    set_ = tonematch.master(mix.mean(axis=0, keepdims=True), stereo_style, sample_rate=SR, target_lufs=-14.0)
    assert integrated_loudness(set_.audio, SR) == pytest.approx(-14.0, abs=0.3)


def test_pairs_read_in_mono_teach_the_masters_loudness(stereo_style, tmp_path):
    make_habit_pairs(tmp_path, range(3), seconds=4.0)
    for path in (tmp_path / "mix").glob("*.wav"):  # the same masters, each beside a mono mix
        x, _ = sf.read(path, dtype="float32")
        sf.write(path, x.mean(axis=1), SR, subtype="FLOAT")
    fitted = style.fit_pairs(find_pairs(tmp_path), "s", check=False, progress=False)
    assert loudness_value(fitted) == pytest.approx(loudness_value(stereo_style), abs=0.5)
    # and a mono mix mastered with it is as loud, as a file, as the mono mixes' masters read in mono
    mix = broadband_mix(7, 4.0).mean(axis=0, keepdims=True)
    out = tonematch.master(mix, fitted, sample_rate=SR)
    assert integrated_loudness(out.audio, SR) == pytest.approx(loudness_value(fitted) - PLAYBACK_MONO_LU, abs=0.3)
    assert np.isfinite(out.audio).all()


def test_the_master_command_says_so(stereo_style, tmp_path, capsys):
    from tonematch.inference.cli import main
    from tonematch.inference.style import save_style

    save_style(stereo_style, tmp_path / "s.tmstyle")
    sf.write(tmp_path / "mono.wav", broadband_mix(7, 4.0).mean(axis=0), SR, subtype="FLOAT")
    args = ["master", str(tmp_path / "mono.wav"), "--style", str(tmp_path / "s.tmstyle"), "-o", str(tmp_path / "o.wav")]
    assert main(args) == 0
    said = capsys.readouterr().out
    assert "the mix is mono: its master sits 3.0 LU under the style's masters' loudness" in said, said
