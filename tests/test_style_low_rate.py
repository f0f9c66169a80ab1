"""A style whose fixed EQ reaches above what a low-rate mix holds: the engineer's curve is
refitted below the rate's top and the run says so. Before, the band above moved to the top at its
full gain (a shelf at 6 kHz at +4 dB became +4 dB at 3.6 kHz for an 8 kHz mix), without a word."""

import numpy as np
import pytest
import soundfile as sf
import soxr
from style_habit import SR, broadband_mix, habit_settings

import tonematch
from tonematch.data.pairs import find_pairs
from tonematch.inference import style
from tonematch.inference.style.bands import eq_response_db
from tonematch.inference.style.transfer import grid_hz
from tonematch.models.chain.exact import render_array

LOW = 8000


@pytest.fixture(scope="module")
def bright_style(tmp_path_factory):
    root = tmp_path_factory.mktemp("bright")
    (root / "mix").mkdir()
    (root / "master").mkdir()
    habit = habit_settings()
    habit.values.update({"eq.high_shelf.gain_db": 4.0, "eq.high_shelf.freq_hz": 6000.0})
    for seed in range(3):
        mix = broadband_mix(seed, 4.0)
        sf.write(root / "mix" / f"song{seed}.wav", mix.T, SR, subtype="FLOAT")
        sf.write(root / "master" / f"song{seed}.wav", render_array(mix, habit, SR).T, SR, subtype="FLOAT")
    return style.fit_pairs(find_pairs(root), "bright", check=False, progress=False)


def test_a_band_above_a_low_rate_is_refitted_below_its_top(bright_style, tmp_path, capsys):
    eq = bright_style.settings["groups"]["eq"]
    assert eq["mode"] == "fixed" and max(v for k, v in eq["values"].items() if k.endswith("freq_hz")) > 0.45 * LOW
    mix = soxr.resample(broadband_mix(7, 4.0).T, SR, LOW).T.astype(np.float32)
    result = tonematch.master(mix, bright_style, sample_rate=LOW)
    grid = grid_hz()
    below = (grid >= 60.0) & (grid <= 0.45 * LOW)
    heard = eq_response_db(result.settings.values, grid[below], LOW)
    # what the engineer's EQ does below the top, at 44.1 kHz where it was read
    meant = eq_response_db(eq["values"], grid[below], SR)
    gap = heard - meant
    # the shape (a level offset is the loudness stage's to set)
    assert np.abs(gap - gap.mean()).max() < 0.6, np.abs(gap - gap.mean()).max()
    assert result.notes["style_eq_refitted_below_hz"] == pytest.approx(0.45 * LOW)
    # and the command line says it
    from tonematch.inference.cli import main
    from tonematch.inference.style import save_style

    save_style(bright_style, tmp_path / "b.tmstyle")
    sf.write(tmp_path / "low.wav", mix.T, LOW, subtype="FLOAT")
    args = ["master", str(tmp_path / "low.wav"), "--style", str(tmp_path / "b.tmstyle"), "-o", str(tmp_path / "o.wav")]
    assert main(args) == 0
    assert "the style's EQ has a band above what this mix's rate allows: its curve is refitted below 3.6 kHz" in (
        capsys.readouterr().out
    )
