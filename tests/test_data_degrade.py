"""Degradations do what their parameters say."""

import numpy as np
import pytest

from tonematch.data.degrade import NEUTRAL, apply_degradation, sample_degradation
from tonematch.data.synth import music_like

SR = 44100


def db(x):
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)))


def tone(freq, seconds=1.0, amp=0.3):
    t = np.arange(int(SR * seconds)) / SR
    return np.tile(amp * np.sin(2 * np.pi * freq * t), (2, 1)).astype(np.float32)


def gain_at(freq, params):
    x = tone(freq)
    y = apply_degradation(x, SR, params)
    return db(y[:, SR // 2 :]) - db(x[:, SR // 2 :])  # after the filters settle


def test_neutral_is_identity():
    x = music_like(seconds=0.5, sample_rate=SR)
    y = apply_degradation(x, SR, {})
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(apply_degradation(x, SR, NEUTRAL), x)


@pytest.mark.parametrize("level_db", [-12.0, -3.5, 2.0])
def test_level_changes_rms_by_that_many_db(level_db):
    x = music_like(seconds=1.0, sample_rate=SR)
    y = apply_degradation(x, SR, {"level_db": level_db})
    assert db(y) - db(x) == pytest.approx(level_db, abs=0.01)


def test_width_zero_makes_mono_and_two_doubles_the_side():
    x = music_like(seconds=0.5, sample_rate=SR)
    y = apply_degradation(x, SR, {"width": 0.0})
    np.testing.assert_array_equal(y[0], y[1])
    np.testing.assert_allclose(y[0], x.mean(axis=0), atol=1e-6)
    wide = apply_degradation(x, SR, {"width": 2.0})
    np.testing.assert_allclose(wide[0] - wide[1], 2 * (x[0] - x[1]), atol=1e-6)
    np.testing.assert_allclose(wide[0] + wide[1], x[0] + x[1], atol=1e-6)


def test_width_is_ignored_for_mono():
    x = music_like(seconds=0.5, sample_rate=SR, channels=1)
    np.testing.assert_array_equal(apply_degradation(x, SR, {"width": 0.0}), x)


def test_tilt_pivots_around_1khz():
    p = {"tilt_db": 6.0}
    assert gain_at(30, p) == pytest.approx(-3.0, abs=0.3)
    assert gain_at(1000, p) == pytest.approx(0.0, abs=0.3)
    assert gain_at(18000, p) == pytest.approx(3.0, abs=0.3)


def test_shelves():
    assert gain_at(20, {"bass_db": -5.0}) == pytest.approx(-5.0, abs=0.3)
    assert gain_at(5000, {"bass_db": -5.0}) == pytest.approx(0.0, abs=0.1)
    assert gain_at(19000, {"treble_db": 4.0}) == pytest.approx(4.0, abs=0.3)
    assert gain_at(100, {"treble_db": 4.0}) == pytest.approx(0.0, abs=0.1)


def test_downward_expansion_lowers_quiet_parts_only():
    loud, quiet = tone(440, 1.0, amp=0.5), tone(440, 1.0, amp=0.5 * 10 ** (-30 / 20))
    x = np.concatenate([loud, quiet], axis=1)
    y = apply_degradation(x, SR, {"expansion_ratio": 2.0, "expansion_threshold_db": -6.0})
    # Overall RMS is ~3 dB below the loud half, so the threshold sits ~9 dB below it; the quiet half is
    # 21 dB under the threshold and a 1:2 expander takes another 21 dB off.
    threshold = db(x) - 6.0
    expected = (2.0 - 1.0) * (db(quiet) - threshold)
    loud_change = db(y[:, SR // 2 : SR]) - db(x[:, SR // 2 : SR])
    quiet_change = db(y[:, -SR // 2 :]) - db(x[:, -SR // 2 :])
    assert loud_change == pytest.approx(0.0, abs=0.1)
    np.testing.assert_allclose(y[:, :441], x[:, :441], atol=1e-6)  # a loud start is not pulled down
    assert quiet_change == pytest.approx(expected, abs=0.5)
    assert expected < -18


def test_sampled_parameters_are_reproducible_and_in_range():
    draws = [sample_degradation(np.random.default_rng(s)) for s in range(300)]
    assert sample_degradation(np.random.default_rng(5)) == draws[5]
    for d in draws:
        assert set(d) == set(NEUTRAL) and all(type(v) is float for v in d.values())
        assert -6 <= d["tilt_db"] <= 6 and 0.5 <= d["width"] <= 1.5
        assert 1.0 <= d["expansion_ratio"] <= 2.5 and -15 <= d["level_db"] <= 3
    # Each group is sometimes left neutral and usually not.
    neutral_level = np.mean([d["level_db"] == 0.0 for d in draws])
    assert 0.1 < neutral_level < 0.35


def test_unknown_parameter_is_refused():
    with pytest.raises(ValueError, match="tlit_db"):
        apply_degradation(music_like(seconds=0.1, sample_rate=SR), SR, {"tlit_db": 3.0})
