"""A style meets a mix of another format than its pairs'.

Mono: a style's loudness is its masters' as they play. A mono mix mastered in a style of stereo
masters comes out 3 LU under them as a file (BS.1770 reads a mono file as one channel; on two
speakers it plays 3 LU louder, as loud as the masters), and a pair whose mono mix made it read in
mono teaches the masters' loudness, not the downmix's. As `match` does for a mono mix against a
stereo reference (inference/match.PLAYBACK_MONO_LU).

Low rate: a fixed EQ band above what the mix's rate holds is refitted below the rate's top and
the run says so. Before, the band moved to the top at its full gain (a shelf at 6 kHz at +4 dB
became +4 dB at 3.6 kHz for an 8 kHz mix), without a word."""

import numpy as np
import pytest
import soundfile as sf
import soxr
from style_habit import SR, broadband_mix, habit_settings

import tonematch
from tonematch.data.pairs import find_pairs
from tonematch.inference import style
from tonematch.inference.cli import main
from tonematch.inference.match import PLAYBACK_MONO_LU
from tonematch.inference.style import save_style
from tonematch.inference.style.bands import eq_response_db
from tonematch.inference.style.transfer import grid_hz
from tonematch.models.chain.exact import render_array
from tonematch.models.measure.loudness import integrated_loudness

LOW = 8000


def write_pairs(root, mono_mixes: bool = False) -> None:
    """Three stereo masters of issue 17's fixed habit with a +4 dB shelf at 6 kHz on top."""
    (root / "mix").mkdir()
    (root / "master").mkdir()
    habit = habit_settings()
    habit.values.update({"eq.high_shelf.gain_db": 4.0, "eq.high_shelf.freq_hz": 6000.0})
    for seed in range(3):
        mix = broadband_mix(seed, 4.0)
        sf.write(root / "master" / f"song{seed}.wav", render_array(mix, habit, SR).T, SR, subtype="FLOAT")
        sf.write(root / "mix" / f"song{seed}.wav", mix.mean(axis=0) if mono_mixes else mix.T, SR, subtype="FLOAT")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    write_pairs(root)
    return style.fit_pairs(find_pairs(root), "bright", check=False, progress=False)


def loudness_value(s) -> float:
    return float(s.settings["groups"]["loudness"]["value"])


def run_master(mix, sample_rate, s, tmp_path, capsys) -> str:
    """`tonematch master` on the mix: what it prints."""
    save_style(s, tmp_path / "s.tmstyle")
    sf.write(tmp_path / "mix.wav", mix.T, sample_rate, subtype="FLOAT")
    assert (
        main(
            ["master", str(tmp_path / "mix.wav"), "--style", str(tmp_path / "s.tmstyle"), "-o", str(tmp_path / "o.wav")]
        )
        == 0
    )
    return capsys.readouterr().out


def test_a_mono_mix_is_mastered_as_loud_on_two_speakers_as_the_masters(fitted, tmp_path, capsys):
    mix = broadband_mix(7, 4.0)
    stereo = tonematch.master(mix, fitted, sample_rate=SR)
    mono = tonematch.master(mix.mean(axis=0, keepdims=True), fitted, sample_rate=SR)
    target = loudness_value(fitted)
    assert integrated_loudness(stereo.audio, SR) == pytest.approx(target, abs=0.3)
    # the file reads 3 LU under the style's masters: played on both speakers it is as loud
    assert integrated_loudness(mono.audio, SR) == pytest.approx(target - PLAYBACK_MONO_LU, abs=0.3)
    assert mono.notes["mono_playback_lu"] == pytest.approx(-PLAYBACK_MONO_LU)
    assert "mono_playback_lu" not in stereo.notes
    # an explicit target is a file reading, as in match
    set_ = tonematch.master(mix.mean(axis=0, keepdims=True), fitted, sample_rate=SR, target_lufs=-14.0)
    assert integrated_loudness(set_.audio, SR) == pytest.approx(-14.0, abs=0.3)
    said = run_master(mix.mean(axis=0, keepdims=True), SR, fitted, tmp_path, capsys)
    assert "the mix is mono: its master sits 3.0 LU under the style's masters' loudness" in said, said


def test_pairs_read_in_mono_teach_the_masters_loudness(fitted, tmp_path):
    write_pairs(tmp_path, mono_mixes=True)  # the same masters, each beside a mono mix
    from_mono = style.fit_pairs(find_pairs(tmp_path), "s", check=False, progress=False)
    assert loudness_value(from_mono) == pytest.approx(loudness_value(fitted), abs=0.5)


def test_a_band_above_a_low_rate_is_refitted_below_its_top(fitted, tmp_path, capsys):
    eq = fitted.settings["groups"]["eq"]
    assert eq["mode"] == "fixed" and max(v for k, v in eq["values"].items() if k.endswith("freq_hz")) > 0.45 * LOW
    mix = soxr.resample(broadband_mix(7, 4.0).T, SR, LOW).T.astype(np.float32)
    result = tonematch.master(mix, fitted, sample_rate=LOW)
    grid = grid_hz()
    below = (grid >= 60.0) & (grid <= 0.45 * LOW)
    heard = eq_response_db(result.settings.values, grid[below], LOW)
    meant = eq_response_db(eq["values"], grid[below], SR)  # the engineer's EQ, where it was read
    gap = heard - meant
    # the shape (a level offset is the loudness stage's to set); it was 1.59 dB off before
    assert np.abs(gap - gap.mean()).max() < 0.6, np.abs(gap - gap.mean()).max()
    assert result.notes["style_eq_refitted_below_hz"] == pytest.approx(0.45 * LOW)
    said = run_master(mix, LOW, fitted, tmp_path, capsys)
    assert "the style's EQ has a band above what this mix's rate allows: its curve is refitted below 3.6 kHz" in said
