"""Compressor: static curve on steady levels, attack/release timing on a level step."""

import numpy as np
import pytest
import torch

from tonematch.models.chain import compressor
from tonematch.models.chain.settings import Settings

SR = 44100


def _settings(**kw):
    s = Settings.defaults(SR)
    s.values.update({f"compressor.{k}": float(v) for k, v in kw.items()})
    return s


def _run(x, s, exact=True):
    if exact:
        return compressor.Stream(s.values, SR, x.shape[0]).process(x)
    return compressor.apply(torch.from_numpy(x)[None], s.tensors(), SR)[0].numpy()


def _expected_gain_db(level, t, r, w):
    over = level - t
    if 2 * over <= -w:
        return 0.0
    if 2 * over > w:
        return (1 / r - 1) * over
    return (1 / r - 1) * (over + w / 2) ** 2 / (2 * w)


@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize("knee", [0.0, 6.0, 12.0])
def test_static_curve(knee, exact):
    s = _settings(threshold_db=-20, ratio=4, knee_db=knee, attack_ms=1, release_ms=50, makeup_db=0)
    for level in (-40.0, -26.0, -22.0, -20.0, -17.0, -10.0, -3.0):
        a = 10 ** (level / 20)
        # a square wave has a constant magnitude, so the peak detector reads exactly `level`
        sq = a * np.sign(np.sin(2 * np.pi * 100 * np.arange(SR // 2) / SR + 0.1)).astype(np.float32)
        y = _run(np.stack([sq, -sq]), s, exact)
        gain_db = 20 * np.log10(np.abs(y[0, -100:]).mean() / a)
        assert gain_db == pytest.approx(_expected_gain_db(level, -20, 4, knee), abs=0.01)


def test_makeup_gain():
    s = _settings(threshold_db=0, ratio=1, makeup_db=6)
    x = np.full((1, 1000), 0.1, dtype=np.float32)
    assert 20 * np.log10(_run(x, s)[0, -1] / 0.1) == pytest.approx(6.0, abs=1e-4)


@pytest.mark.parametrize("exact", [True, False])
def test_attack_and_release_times(exact):
    attack_ms, release_ms = 5.0, 200.0
    s = _settings(threshold_db=-30, ratio=10, knee_db=0, attack_ms=attack_ms, release_ms=release_ms)
    n = SR
    level = np.full(n, 10 ** (-40 / 20))
    level[n // 4 : n // 2] = 10 ** (-10 / 20)  # a 20 dB step up, then back down
    x = np.stack([level, level]).astype(np.float32)
    gain_db = 20 * np.log10(_run(x, s, exact)[0] / x[0])
    final = (1 / 10 - 1) * 20.0  # -18 dB of gain reduction at -10 dBFS
    # one time constant after the step, the gain has moved 1 - 1/e of the way
    after_attack = gain_db[n // 4 + int(attack_ms * SR / 1000)]
    assert after_attack / final == pytest.approx(1 - np.exp(-1), abs=0.01)
    assert gain_db[n // 2 - 1] == pytest.approx(final, abs=0.01)
    after_release = gain_db[n // 2 + int(release_ms * SR / 1000)]
    assert after_release / final == pytest.approx(np.exp(-1), abs=0.01)


def test_release_really_changes_the_output():
    x = np.random.default_rng(0).standard_normal((2, SR)).astype(np.float32) * 0.3
    short = _run(x, _settings(threshold_db=-20, ratio=4, release_ms=20))
    long = _run(x, _settings(threshold_db=-20, ratio=4, release_ms=1000))
    assert np.abs(short - long).max() > 0.01


def test_detector_is_stereo_linked():
    s = _settings(threshold_db=-20, ratio=8, knee_db=0, attack_ms=0.1)
    x = np.zeros((2, SR // 4), dtype=np.float32)
    x[0] = 0.5  # loud left, silent-ish right
    x[1] = 0.01
    y = _run(x, s)
    # both channels get the same gain, driven by the loud one
    np.testing.assert_allclose(y[0, -10:] / x[0, -10:], y[1, -10:] / x[1, -10:], rtol=1e-5)
    assert y[1, -1] / x[1, -1] < 0.5


@pytest.mark.parametrize("exact", [True, False])
def test_rms_detector_reads_a_sine_by_its_rms_where_peak_reads_its_peak(exact):
    # a steady sine at -10 dBFS peak has an RMS of -13 dB
    a = 10 ** (-10 / 20)
    sine = (a * np.sin(2 * np.pi * 1000 * np.arange(SR // 2) / SR)).astype(np.float32)
    x = np.stack([sine, sine])
    peak = _settings(threshold_db=-30, ratio=4, knee_db=0, attack_ms=1, release_ms=50)
    rms = _settings(threshold_db=-30, ratio=4, knee_db=0, attack_ms=1, release_ms=50, rms_ms=20)

    def settled_gain_db(s):
        y = _run(x, s, exact)
        return 20 * np.log10(np.abs(y[0, -SR // 10 :]).max() / a)

    rms_level = -10.0 - 10 * np.log10(2.0)
    assert settled_gain_db(rms) == pytest.approx(_expected_gain_db(rms_level, -30, 4, 0), abs=0.1)
    # the peak detector answers the waveform's peaks: more reduction than by RMS
    assert settled_gain_db(peak) < settled_gain_db(rms) - 1.0


def test_rms_detector_exact_and_differentiable_renders_agree_on_music_like_audio():
    rng = np.random.default_rng(3)
    burst = np.repeat(rng.uniform(0.05, 0.6, 40), SR // 40)[: SR // 2]
    x = (rng.standard_normal((2, burst.size)) * burst).astype(np.float32)
    s = _settings(threshold_db=-24, ratio=3, knee_db=6, attack_ms=10, release_ms=150, rms_ms=30)
    exact, smooth = _run(x, s, True), _run(x, s, False)
    assert np.abs(exact - smooth).max() < 1e-4
    # and the window matters: a peak detector compresses the same bursts differently
    assert (
        np.abs(exact - _run(x, _settings(threshold_db=-24, ratio=3, knee_db=6, attack_ms=10, release_ms=150))).max()
        > 0.01
    )


def test_rms_detector_carries_its_state_across_blocks():
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((2, SR // 2)) * 0.3).astype(np.float32)
    s = _settings(threshold_db=-24, ratio=3, attack_ms=5, release_ms=100, rms_ms=50)
    whole = compressor.Stream(s.values, SR, 2).process(x)
    stream = compressor.Stream(s.values, SR, 2)
    parts = np.concatenate([stream.process(x[:, i : i + 1000]) for i in range(0, x.shape[1], 1000)], axis=1)
    np.testing.assert_array_equal(whole, parts)
