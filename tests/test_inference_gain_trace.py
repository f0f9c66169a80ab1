"""Reading an engineer's compressor from an aligned mix/master pair (inference/style/gain_trace.py).

The masters are exact chain renders of synthetic mixes (with louder and quieter passages, as
songs have) by the style tests' engineer (EQ toward their tilt, width, -10 LUFS into a -1 dBTP
limiter that works on most frames), with a compressor about 8 dB under the mix's loudness at
4:1 that is either fast (1 ms / 40 ms) or slow (80 ms / 1000 ms).

Nothing here asks which grid point won: readings are checked within a band around the truth,
and the timing profile is checked by its margins (timings well away from the truth cost
clearly more than those near it). The reading is float64 throughout, so it holds on any x86
CPU and BLAS kernel (OPENBLAS_CORETYPE set or not); the perturbation test checks that rounding
noise does not move it."""

import numpy as np
import pytest
from style_engineer import FAST, SLOW, SR, engineer_settings, make_mix

from tonematch.inference import match
from tonematch.inference.inputs import analyse_array
from tonematch.inference.style.gain_trace import read_compressor
from tonematch.models.chain.exact import render_array

SEEDS = (0, 1, 2)
NEAR, FAR = 1.6, 6.0  # profile points within NEAR x of the truth, and FAR x or further from it


def _pair(seed: int, compressor: dict, sections: bool = True) -> tuple[np.ndarray, np.ndarray]:
    mix = make_mix(seed, 8.0, sections=sections)
    master = render_array(mix, engineer_settings(mix, seed, compressor), SR)
    return analyse_array(mix, SR).clips, analyse_array(master, SR).clips


def _reading(seed: int, compressor: dict) -> dict:
    found = read_compressor(*_pair(seed, compressor), SR, profile=True)
    assert found is not None
    return found


@pytest.fixture(scope="module")
def fast():
    return [_reading(seed, FAST) for seed in SEEDS]


@pytest.fixture(scope="module")
def slow():
    return [_reading(seed, SLOW) for seed in SEEDS]


def _within(value: float, truth: float, factor: float) -> bool:
    return truth / factor <= value <= truth * factor


def _margin(found: dict, axis: str, truth_ms: float) -> float:
    """How much more (relative) the cheapest timing FAR x or further from the truth costs than
    the cheapest within NEAR x of it, on the reading's profile."""
    grid, cost = found["profile"][f"{axis}_ms"], found["profile"][f"{axis}_cost"]
    distance = np.abs(np.log(grid / truth_ms))
    near, far = cost[distance <= np.log(NEAR)], cost[distance >= np.log(FAR)]
    assert near.size and far.size
    return float(far.min() / near.min() - 1.0)


def test_a_fast_compressor_reads_fast_on_every_pair(fast):
    for r in fast:
        assert r["timing"] == "read", r
        assert _within(r["attack_ms"], FAST["attack_ms"], 2.0) and _within(r["release_ms"], FAST["release_ms"], 1.5), r
        assert _within(r["ratio"], FAST["ratio"], 1.4) and r["reduction_db"] > 3.0, r
        # the profile: timings far from the truth cost far more than those near it
        assert _margin(r, "attack", FAST["attack_ms"]) > 0.15, r
        assert _margin(r, "release", FAST["release_ms"]) > 0.15, r


def test_a_slow_compressor_reads_slow_on_every_pair(slow, fast):
    for r in slow:
        assert r["timing"] == "read", r
        assert _within(r["attack_ms"], SLOW["attack_ms"], 2.0) and _within(r["release_ms"], SLOW["release_ms"], 2.0), r
        # a slow compressor's ratio trades against its threshold in 8 s of music: read low, not high
        assert 1.3 < r["ratio"] < 6.0 and r["reduction_db"] > 3.0, r
        assert _margin(r, "attack", SLOW["attack_ms"]) > 0.03, r
        assert _margin(r, "release", SLOW["release_ms"]) > 0.03, r
    # the style takes the median over pairs: far from the fast engineer's
    assert np.median([r["attack_ms"] for r in slow]) > 20 * np.median([r["attack_ms"] for r in fast])
    assert np.median([r["release_ms"] for r in slow]) > 10 * np.median([r["release_ms"] for r in fast])


def test_rounding_noise_does_not_move_the_reading(slow):
    # a reading is an optimum, not a near-tie settled by the last bit: noise of 1e-7 relative
    # (float32 rounding) on both signals moves it by well under a percent
    rng = np.random.default_rng(7)
    mix, master = (x.astype(np.float64) for x in _pair(SEEDS[0], SLOW))
    noisy = read_compressor(
        mix * (1.0 + 1e-7 * rng.standard_normal(mix.shape)),
        master * (1.0 + 1e-7 * rng.standard_normal(master.shape)),
        SR,
    )
    assert noisy["timing"] == "read"
    for key in ("attack_ms", "release_ms", "ratio"):
        assert noisy[key] == pytest.approx(slow[0][key], rel=0.01), key
    assert noisy["threshold_db"] == pytest.approx(slow[0]["threshold_db"], abs=0.2)


def test_steady_music_leaves_a_slow_compressor_unreadable():
    # without louder and quieter passages a slow compressor is a constant gain: the profile is
    # flat and no timing is given (the compression itself still is)
    found = read_compressor(*_pair(0, SLOW, sections=False), SR)
    assert found is not None and found["timing"] == "not readable", found
    assert "attack_ms" not in found and "release_ms" not in found
    assert found["reduction_db"] > 3.0


def test_a_master_that_is_only_turned_up_has_no_compression_to_time():
    mix = make_mix(3, 8.0)
    clips = analyse_array(mix, SR).clips
    found = read_compressor(clips, clips * 2.0, SR)
    assert found is not None and found["reduction_db"] < 0.5 and found["timing"] == "no compression"
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
        out[name] = style.fit_pairs(find_pairs(root), name, check=False, progress=False, say=lambda _: None)
    return out


def test_a_style_learns_fast_or_slow_and_masters_with_it(styles):
    from tonematch.inference import style
    from tonematch.inference.formatting import ms as _ms

    read = {name: s.settings["groups"]["compressor"] for name, s in styles.items()}
    for name, truth in (("fast", FAST), ("slow", SLOW)):
        comp = read[name]
        assert comp["on"] and comp["timing_pairs"] == len(SEEDS)
        assert _within(comp["attack_ms"], truth["attack_ms"], 2.0), (name, comp["attack_ms"])
        assert _within(comp["release_ms"], truth["release_ms"], 2.0), (name, comp["release_ms"])
        # style show says the timing it read, in ms
        words = "\n".join(style.describe(styles[name]))
        assert f"attack {_ms(comp['attack_ms'])} ms" in words and f"release {_ms(comp['release_ms'])} ms" in words
    # a new mix is mastered with the timing as read: nothing refines what the pairs fixed
    mix = make_mix(7, 8.0, sections=True)
    for name, s in styles.items():
        _, settings, _ = style.master_array(mix, SR, s, match.Options(steps=5))
        assert settings.values["compressor.attack_ms"] == pytest.approx(read[name]["attack_ms"])
        assert settings.values["compressor.release_ms"] == pytest.approx(read[name]["release_ms"])


@pytest.mark.parametrize("rate, channels", [(48000, 2), (44100, 1)])
def test_other_rates_and_mono_read_a_fast_compressor(rate, channels):
    # at -14 LUFS and, through a limiter that works on nearly every frame, at -10 LUFS
    from tonematch.models.chain.settings import Settings

    from signals import music_like

    mix = music_like(8.0, rate, seed=5)[:channels]
    mix = (mix * 0.1 / np.sqrt(np.mean(np.square(mix)))).astype(np.float32)
    a = analyse_array(mix, rate)
    s = Settings.defaults(rate)
    s.values.update(
        {
            "compressor.threshold_db": a.lufs - 8.0,
            "compressor.ratio": 4.0,
            "compressor.attack_ms": FAST["attack_ms"],
            "compressor.release_ms": FAST["release_ms"],
            "limiter.ceiling_dbtp": -1.0,
        }
    )
    for lufs in (-14.0, -10.0):
        s.values["loudness.target_lufs"] = lufs
        master = render_array(mix, s, rate)
        found = read_compressor(a.clips, analyse_array(master, rate).clips, rate)
        assert found is not None and found["timing"] == "read", found
        assert _within(found["attack_ms"], FAST["attack_ms"], 2.0), found
        assert _within(found["release_ms"], FAST["release_ms"], 1.5), found


def test_the_eq_estimate_made_once_reads_as_one_made_for_each():
    """style fit makes one EQ estimate per pair (pair.read_pair) for the compressor's reading and
    identify's transfer alike: handing it over changes neither what is read nor the EQ curve."""
    from tonematch.inference.style.transfer import estimate, mids, transfer

    mix, master = _pair(0, SLOW)
    eq = estimate(mids(mix), mids(master), SR)
    assert read_compressor(mix, master, SR, eq=eq) == read_compressor(mix, master, SR)
    own, given = transfer(mix, master, SR), transfer(mix, master, SR, eq)
    assert np.array_equal(own.curve_db, given.curve_db) and own.width == given.width
