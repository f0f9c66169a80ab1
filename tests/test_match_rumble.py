"""A mix carrying sub-sonic rumble is said to, with where to cut it: the limiter would otherwise
spend itself on energy nobody hears (a 25 Hz hum at -14 dBFS under the example took the
limiter 34 dB deep and missed the loudness target). Music, the shipped example and reference
included, reads far under the limit."""

import numpy as np
import pytest
import soundfile as sf

import tonematch
from tonematch.inference.cli import main
from tonematch.inference.pipeline import RUMBLE_HZ, RUMBLE_LIMIT
from tonematch.models.measure.spectrum import share_below


def with_rumble(x: np.ndarray, sr: int, hz: float, amplitude: float) -> np.ndarray:
    t = np.arange(x.shape[1]) / sr
    return (x + amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_the_share_below_30_hz_reads_rumble_not_music(example_mix, example_reference):
    for path in (example_mix, example_reference):
        music, sr = sf.read(path, dtype="float32", always_2d=True)
        assert share_below(music.T, sr, RUMBLE_HZ) < 0.05
    music, sr = sf.read(example_mix, dtype="float32", always_2d=True)
    assert share_below(with_rumble(music.T, sr, 25.0, 0.2), sr, RUMBLE_HZ) > 0.8
    # a bass at 45 Hz is not rumble: its window's leakage stays above 30 Hz
    t = np.arange(sr * 4) / sr
    bass = np.stack([0.3 * np.sin(2 * np.pi * 45.0 * t)] * 2).astype(np.float32)
    assert share_below(bass, sr, RUMBLE_HZ) < 0.01


def test_the_run_says_where_the_rumble_is_and_what_cuts_it(tmp_path, capsys, example_mix, example_reference):
    music, sr = sf.read(example_mix, dtype="float32", always_2d=True)
    sf.write(tmp_path / "rumble.wav", with_rumble(music.T, sr, 25.0, 0.2).T, sr, subtype="FLOAT")
    args = ["-r", str(example_reference), "--no-refine", "-f"]
    assert main(["match", str(tmp_path / "rumble.wav"), "-o", str(tmp_path / "r.wav"), *args]) == 0
    said = capsys.readouterr().out
    line = [s for s in said.splitlines() if "the mix carries rumble" in s]
    assert len(line) == 1 and "below 30 Hz" in line[0] and str(tmp_path / "r.json") in line[0], said
    share = float(line[0].split("rumble: ")[1].split(" %")[0]) / 100
    assert share >= RUMBLE_LIMIT
    assert main(["match", str(example_mix), "-o", str(tmp_path / "c.wav"), *args]) == 0
    assert "rumble" not in capsys.readouterr().out
    # the API's notes carry it too
    result = tonematch.match(with_rumble(music.T, sr, 25.0, 0.2), example_reference, sample_rate=sr, refine=False)
    assert result.notes["rumble_fraction"] == pytest.approx(share, abs=0.01)
