"""A clipped mix is said to be clipped: a mastering engineer tells the client, because what the
clipper cut off no chain restores. The flat tops are read at any level (a clipped mix turned
down keeps them); music, the shipped example included, reads none."""

import numpy as np
import pytest
import soundfile as sf

import tonematch
from tonematch.inference.cli import main
from tonematch.models.measure.dynamics import clipped_fraction

from signals import music_like

SR = 44100


def clipped(x: np.ndarray, gain_db: float) -> np.ndarray:
    return np.clip(x * np.float32(10 ** (gain_db / 20)), -1.0, 1.0).astype(np.float32)


def test_flat_tops_are_counted_at_any_level_and_music_has_none(example_mix):
    x = music_like(6.0, SR, seed=3, level_db=-20.0)
    hot = clipped(x, 26.0)
    share = clipped_fraction(hot)
    assert 0.05 < share < 0.6  # the samples a 26 dB overdrive pins at full scale
    assert clipped_fraction(hot * np.float32(0.5)) == pytest.approx(share)  # turned down after: still flat
    assert clipped_fraction(x) == 0.0
    music, _ = sf.read(example_mix, dtype="float32", always_2d=True)
    assert clipped_fraction(music.T) == 0.0


def test_the_run_says_the_mix_is_clipped(tmp_path, capsys, example_reference):
    x = music_like(6.0, SR, seed=3, level_db=-20.0)
    sf.write(tmp_path / "hot.wav", clipped(x, 26.0).T, SR, subtype="PCM_16")
    sf.write(tmp_path / "clean.wav", x.T, SR, subtype="PCM_16")
    args = ["-r", str(example_reference), "--no-refine", "-f"]
    assert main(["match", str(tmp_path / "hot.wav"), "-o", str(tmp_path / "h.wav"), *args]) == 0
    said = capsys.readouterr().out
    line = [s for s in said.splitlines() if "the mix is clipped" in s]
    assert len(line) == 1 and "mastering cannot restore what the clipping cut off" in line[0], said
    share = float(line[0].split("clipped: ")[1].split(" %")[0])
    assert 5.0 < share < 60.0
    assert main(["match", str(tmp_path / "clean.wav"), "-o", str(tmp_path / "c.wav"), *args]) == 0
    assert "clipped" not in capsys.readouterr().out
    # the API's notes carry it too
    result = tonematch.match(clipped(x, 26.0), example_reference, sample_rate=SR, refine=False)
    assert result.notes["clipped_fraction"] == pytest.approx(share / 100, abs=0.01)
