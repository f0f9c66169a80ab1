"""Reading an engineer's compressor from an aligned mix/master pair (inference/gain_trace.py).

The masters are exact chain renders of synthetic mixes (with louder and quieter passages, as
songs have) by the style tests' engineer (EQ toward their tilt, width, -10 LUFS into a -1 dBTP
limiter), with a compressor about 8 dB under the mix's loudness at 4:1 that is either fast
(1 ms / 40 ms) or slow (80 ms / 1000 ms)."""

import numpy as np
import pytest
from style_engineer import FAST, SLOW, SR, engineer_settings, make_mix

from tonematch.inference import match
from tonematch.inference.gain_trace import read_compressor
from tonematch.models.chain.exact import render_array

SEEDS = (0, 1, 2)


def _reading(seed: int, compressor: dict) -> dict:
    mix = make_mix(seed, 8.0, sections=True)
    a = match.analyse_array(mix, SR)
    master = render_array(mix, engineer_settings(mix, seed, compressor), SR)
    found = read_compressor(a.clips, match.analyse_array(master, SR).clips, SR)
    assert found is not None
    return found


@pytest.fixture(scope="module")
def fast():
    return [_reading(seed, FAST) for seed in SEEDS]


@pytest.fixture(scope="module")
def slow():
    return [_reading(seed, SLOW) for seed in SEEDS]


def test_a_fast_compressor_reads_fast_on_every_pair(fast):
    for r in fast:
        assert r["attack_ms"] < 5.0 and r["release_ms"] < 100.0, r
        assert r["reduction_db"] > 3.0 and 2.0 < r["ratio"] < 8.0, r


def test_a_slow_compressor_reads_slow_on_every_pair(slow, fast):
    for r in slow:
        assert r["attack_ms"] > 15.0 and r["release_ms"] > 100.0, r
        assert r["reduction_db"] > 1.0 and 2.0 < r["ratio"] < 8.0, r  # read high: a slow one reads less
    # the style takes the median over pairs: well apart from the fast engineer's
    assert np.median([r["attack_ms"] for r in slow]) > 5 * np.median([r["attack_ms"] for r in fast])
    assert np.median([r["release_ms"] for r in slow]) > 2.5 * np.median([r["release_ms"] for r in fast])


def test_a_master_that_is_only_turned_up_has_no_compression_to_time():
    mix = make_mix(3, 8.0)
    clips = match.analyse_array(mix, SR).clips
    found = read_compressor(clips, clips * 2.0, SR)
    assert found is not None and found["reduction_db"] < 0.5
    assert "attack_ms" not in found and "release_ms" not in found


def test_silence_reads_nothing():
    clips = np.zeros((2, 2, SR * 6), np.float32)
    assert read_compressor(clips, clips, SR) is None


@pytest.fixture(scope="module")
def styles(tmp_path_factory):
    from style_engineer import make_pairs

    from tonematch.data.pairs import find_pairs
    from tonematch.inference import style

    out = {}
    for name, habit in (("fast", FAST), ("slow", SLOW)):
        root = tmp_path_factory.mktemp(name)
        make_pairs(root, SEEDS, seconds=8.0, compressor=habit, sections=True)
        out[name] = style.fit_pairs(find_pairs(root), name, steps=10, check=False, progress=False, say=lambda _: None)
    return out


def test_a_style_learns_fast_or_slow_and_masters_with_it(styles):
    from tonematch.inference import style

    fast, slow = styles["fast"].habit, styles["slow"].habit
    assert fast["timing_pairs"] == slow["timing_pairs"] == len(SEEDS)
    assert fast["attack_ms"] < 5.0 and fast["release_ms"] < 100.0
    assert slow["attack_ms"] > 15.0 and slow["release_ms"] > 100.0
    assert "compression: fast" in "\n".join(style.describe(styles["fast"]))
    assert "compression: slow" in "\n".join(style.describe(styles["slow"]))
    # a new mix is mastered with the timing as read: refinement does not move what it cannot see
    mix = make_mix(7, 8.0, sections=True)
    for habit_of in (styles["fast"], styles["slow"]):
        _, settings, notes = style.master_array(mix, SR, habit_of, match.Options(steps=5))
        assert settings.values["compressor.attack_ms"] == pytest.approx(habit_of.habit["attack_ms"])
        assert settings.values["compressor.release_ms"] == pytest.approx(habit_of.habit["release_ms"])


@pytest.mark.parametrize("rate, channels", [(48000, 2), (44100, 1)])
def test_other_rates_and_mono_read_a_fast_compressor(rate, channels):
    # -14 LUFS: at -10 this peaky mono music sits within 1 dB of its ceiling almost everywhere
    # and nothing is read (checked below)
    from tonematch.models.chain.settings import Settings

    from signals import music_like

    mix = music_like(8.0, rate, seed=5)[:channels]
    mix = (mix * 0.1 / np.sqrt(np.mean(np.square(mix)))).astype(np.float32)
    a = match.analyse_array(mix, rate)
    s = Settings.defaults(rate)
    s.values.update(
        {
            "compressor.threshold_db": a.lufs - 8.0,
            "compressor.ratio": 4.0,
            "compressor.attack_ms": FAST["attack_ms"],
            "compressor.release_ms": FAST["release_ms"],
            "loudness.target_lufs": -14.0,
            "limiter.ceiling_dbtp": -1.0,
        }
    )
    master = render_array(mix, s, rate)
    found = read_compressor(a.clips, match.analyse_array(master, rate).clips, rate)
    assert found is not None and found["attack_ms"] < 5.0 and found["release_ms"] < 100.0, found
    # the same music limited 4 LU harder leaves no frame clear of the limiter: nothing is read
    if channels == 1:
        s.values["loudness.target_lufs"] = -10.0
        master = render_array(mix, s, rate)
        assert read_compressor(a.clips, match.analyse_array(master, rate).clips, rate) is None
