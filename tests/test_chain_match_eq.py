"""The match EQ (models/chain/match_eq.py): a third-octave graphic EQ after the parametric one.
Its three renderers agree with its designed response, a flat one costs nothing, and `match
--literal 1` uses it to copy a reference's balance finer than seven parametric bands follow."""

import numpy as np
import pytest
import torch
from scipy.signal import firwin2, lfilter, welch

from tonematch.inference import character, explain, match, refine
from tonematch.inference.inputs import analyse_array
from tonematch.models.chain import match_eq, render_batch
from tonematch.models.chain.exact import render_array
from tonematch.models.chain.settings import Settings

from signals import music_like

SR = 44100
MOVES = {"63hz": 6.0, "125hz": -4.0, "1khz": 3.0, "1k25hz": -3.0, "6k3hz": 5.0, "16khz": -6.0}


def _settings(moves: dict, bypass=()) -> Settings:
    s = Settings.defaults(SR)
    values = dict(s.values)
    values.update({f"match.{band}.gain_db": g for band, g in moves.items()})
    return Settings(values, SR, frozenset(s.bypass | set(bypass)))


def _measured_gain_db(settings: Settings, freqs: np.ndarray) -> np.ndarray:
    """Output over input power of white noise through the exact renderer (loudness and limiter
    off), by Welch's method on 0.7 Hz bins (the 31 Hz bell is 7 Hz wide), at `freqs`."""
    x = np.random.default_rng(4).standard_normal((1, 20 * SR)).astype(np.float32) * 0.01
    y = render_array(x, Settings(settings.values, SR, settings.bypass | {"loudness", "limiter"}), SR)
    f, pxx = welch(x[0], SR, nperseg=65536)
    _, pyy = welch(y[0], SR, nperseg=65536)
    return np.interp(freqs, f, 10.0 * np.log10(pyy / pxx))


def test_the_exact_render_has_the_designed_response_and_torch_renders_the_same():
    s = _settings(MOVES)
    centres = match_eq.CENTRES_HZ
    designed = 10.0 * np.log10(match_eq.power_at(s.values, centres, SR, s.bypass, xp=np))
    measured = _measured_gain_db(s, centres)
    assert np.abs(measured - designed).max() < 0.15
    for band, gain in MOVES.items():  # each move lands near its own centre (the bells overlap)
        i = match_eq.LABELS.index(band)
        assert designed[i] == pytest.approx(gain, abs=2.0)

    x = music_like(2.0, SR, seed=2)
    exact = render_array(x, s, SR)
    p = {k: torch.tensor([v], dtype=torch.float64) for k, v in s.values.items()}
    differentiable = render_batch(torch.tensor(x[None], dtype=torch.float64), p, SR, s.bypass)[0].numpy()
    assert np.abs(exact - differentiable).max() < 1e-5


def test_a_flat_match_eq_is_not_rendered_and_changes_nothing():
    flat = match_eq.Stream(_settings({}).values, SR, 2)
    assert flat.sos.shape[1] == 0  # no section to run
    x = music_like(3.0, SR, seed=1)
    np.testing.assert_array_equal(render_array(x, _settings({}), SR), render_array(x, _settings({}, ["match"]), SR))
    # above 0.45 x the rate a band is not rendered: at 32 kHz the 16 kHz band does nothing
    high = _settings({"16khz": 6.0})
    assert match_eq.Stream(high.values, 32000, 2).sos.shape[1] == 0
    assert match_eq.Stream(high.values, 44100, 2).sos.shape[1] == 4  # one band, padded to a sweep of four


def test_the_settings_file_keeps_the_match_eq():
    s = _settings(MOVES)
    back = Settings.from_dict(s.to_dict())
    assert {k: v for k, v in back.values.items() if k.startswith("match.")} == {
        k: v for k, v in s.values.items() if k.startswith("match.")
    }
    # a settings file from before the match EQ loads flat
    d = s.to_dict()
    d["chain"] = [p for p in d["chain"] if p["processor"] != "match"]
    assert all(v == 0.0 for k, v in Settings.from_dict(d).values.items() if k.startswith("match."))


def _rippled(x: np.ndarray) -> np.ndarray:
    """x through a linear-phase FIR (not the chain's bells) with a ripple of +/-6 dB every
    octave and a third above 100 Hz: finer balance than seven parametric bands follow, broader
    than the single notes the match EQ leaves to the music."""
    f = np.geomspace(20.0, 20000.0, 400)
    ripple = np.where(f > 100.0, 6.0 * np.sin(2.0 * np.pi * np.log2(f / 100.0) * 0.75), 0.0)
    taps = firwin2(4095, np.r_[0.0, f, SR / 2] / (SR / 2), 10.0 ** (np.r_[0.0, ripple, 0.0] / 20.0))
    return lfilter(taps, [1.0], x, axis=-1).astype(np.float32)


def test_literal_one_copies_the_reference_balance_with_the_match_eq():
    """From the network's start, `--literal 1` sets the match EQ from the exact render's
    third-octave shortfall: the master's balance lands far closer to a rippled reference's than
    the parametric bands alone take it (the match EQ switched off), and its words say so; the
    default literal leaves it flat."""
    mix = analyse_array(music_like(12.0, SR, seed=8), SR)
    target = match.target_from(analyse_array(_rippled(music_like(12.0, SR, seed=7)), SR))
    reference = refine.thirds_of(target.clips, SR)

    def apart(settings):  # per band, the master's third-octave balance less the reference's, level aside (dB)
        d = refine.thirds_of(refine.exact_render(settings, mix.clips, SR), SR) - reference
        d = d[np.isfinite(d)]
        return np.abs(d - d.mean())

    def master(literal, bypass=()):
        settings = Settings(Settings.defaults(SR).values, SR, frozenset(Settings.defaults(SR).bypass | set(bypass)))
        return match.finish(settings, mix, target, match.Options(literal=literal), {"start": "network"})[0]

    copied, parametric, default = master(1.0), master(1.0, ["match"]), master(match.LITERAL)
    moved = [v for k, v in copied.values.items() if k.startswith("match.") and v != 0.0]
    assert len(moved) >= 10
    # the match EQ leaves each band's first 2 dB to the music (refine.MATCH_DEAD_BAND_DB)
    assert apart(copied).max() < 0.7 * apart(parametric).max()
    assert (apart(copied) > 3.0).sum() <= (apart(parametric) > 3.0).sum() // 2
    assert any(line.startswith("match EQ: ") for line in explain.describe(copied))
    assert all(v == 0.0 for k, v in default.values.items() if k.startswith("match."))
    assert character.eq_power_at(copied.values, match_eq.CENTRES_HZ, SR, copied.bypass).std() > 0.0


def test_a_copy_leaves_what_lies_above_a_reference_codec_low_pass():
    """A reference cut at 15 kHz by a steep low-pass (an MP3's) has nothing up there: its format,
    not its mastering. `--literal 1` reads where it ends and leaves the match EQ's bands above it
    flat, where the same music uncut (rippled, as above) moves the top band by over a decibel."""
    from scipy.signal import butter, sosfilt

    mix = analyse_array(music_like(12.0, SR, seed=8), SR)
    music = music_like(12.0, SR, seed=7)
    cut = sosfilt(butter(16, 15000.0, fs=SR, output="sos"), music, axis=-1).astype(np.float32)

    def copied(reference):
        target = match.target_from(analyse_array(reference, SR))
        settings, notes = match.finish(
            Settings.defaults(SR), mix, target, match.Options(literal=1.0), {"start": "network"}
        )
        return settings.values["match.16khz.gain_db"], notes

    top, notes = copied(cut)
    reach = notes["reference_low_pass_hz"]  # the run says so (batch.format_result)
    assert top == 0.0 and 13000.0 < reach < 15500.0
    uncut, notes = copied(_rippled(music))
    assert abs(uncut) > 1.0 and "reference_low_pass_hz" not in notes  # copied like the other bands


def test_a_band_above_what_the_rate_allows_is_named_when_it_is_left_out():
    from tonematch.models.chain.settings import Settings

    s = Settings.defaults(44100)
    s.values["match.12k5hz.gain_db"] = 12.0
    s.values["match.1khz.gain_db"] = 3.0
    _, notes = s.at_rate(22050)
    assert notes == ["match.12k5hz (12.5 kHz) is above what 22050 Hz allows; left out of the render"]
    assert s.at_rate(44100)[1] == []  # within reach at 44.1 kHz
    s.values["match.12k5hz.gain_db"] = 0.0  # a flat band sounds the same anywhere: nothing to say
    assert s.at_rate(22050)[1] == []


@pytest.mark.parametrize("sr", [44100, 96000])
def test_every_band_is_a_third_of_an_octave_wide_at_any_rate(sr):
    # fixed-Q bells narrow toward Nyquist: at 44.1 kHz the 12.5 and 16 kHz bands were 0.18 and
    # 0.11 octave wide between their half-gain points
    from tonematch.models.chain.biquads import cascade_power

    for label, centre in zip(match_eq.LABELS, match_eq.CENTRES_HZ):
        if centre >= 0.45 * sr:
            continue
        f = np.geomspace(centre / 4, min(centre * 4, 0.499 * sr), 20000)
        gain = 10 * np.log10(cascade_power(match_eq.coefficients({f"match.{label}.gain_db": 6.0}, sr, xp=np), f, sr))
        half = f[gain >= 3.0]
        assert np.log2(half[-1] / half[0]) == pytest.approx(1 / 3, abs=0.01), label
        assert gain.max() == pytest.approx(6.0, abs=0.01)
