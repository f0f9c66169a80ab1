"""Alignment of a mix with its processed, shifted master, to a tenth of a frame."""

import numpy as np
import pytest

from tonematch.data.align import align, read_fractional, window
from tonematch.data.degrade import apply_degradation
from tonematch.data.errors import TonematchError
from tonematch.data.synth import music_like

SR = 44100


def delayed(x, delay):
    """x delayed by a (fractional) number of frames, by a linear phase in the frequency domain."""
    n = x.shape[-1] + 4096  # room so the circular shift does not wrap music around
    spectrum = np.fft.rfft(x.astype(np.float64), n, axis=-1)
    phase = np.exp(-2j * np.pi * np.fft.rfftfreq(n) * delay)
    return np.fft.irfft(spectrum * phase, n, axis=-1)[:, : x.shape[-1]].astype(np.float32)


@pytest.fixture(scope="module")
def mix():
    return music_like(seconds=6.0, sample_rate=SR, seed=11)


@pytest.mark.parametrize("offset", [1234.0, 1234.5, -640.25, 0.3])
def test_recovers_offset_of_processed_copy(mix, offset):
    master = apply_degradation(delayed(mix, offset), SR, {"tilt_db": 4.0, "bass_db": 3.0, "level_db": -7.0})
    result = align(mix, master, SR, max_offset_s=0.5)
    assert result.offset_frames == pytest.approx(offset, abs=0.1)
    assert result.correlation > 0.8


def test_trimmed_master(mix):
    # A master that starts 1234 frames later in the music (its head was cut) leads the mix.
    master = mix[:, 1234:] * 0.5
    assert align(mix, master, SR, max_offset_s=0.5).offset_frames == pytest.approx(-1234.0, abs=0.1)


def test_a_master_that_stops_early_aligns_where_it_has_audio():
    # 12 s of mix, a master of its first 2.5 s (delayed 300 frames): the middle of the mix, where
    # the search once looked, holds nothing of the master
    long_mix = music_like(seconds=12.0, sample_rate=SR, seed=12)
    master = apply_degradation(delayed(long_mix[:, : int(2.5 * SR)], 300.0), SR, {"tilt_db": 2.0, "level_db": -3.0})
    result = align(long_mix, master, SR, max_offset_s=0.5)
    assert result.offset_frames == pytest.approx(300.0, abs=0.1) and result.correlation > 0.8


def test_rejects_unrelated_audio(mix):
    noise = np.random.default_rng(0).standard_normal(mix.shape).astype(np.float32) * 0.1
    with pytest.raises(TonematchError, match=r"pair song does not correlate \(peak -?0\.\d\d < 0\.50\)") as err:
        align(mix, noise, SR, max_offset_s=0.5, name="song")
    assert "\n" not in str(err.value)
    other = music_like(seconds=6.0, sample_rate=SR, seed=12)[:, ::-1]  # other notes, and reversed: no shared kick drum
    with pytest.raises(TonematchError, match="does not correlate"):
        align(mix, other, SR, max_offset_s=0.5)


@pytest.mark.parametrize("offset", [1234.5, -640.25])
def test_an_inverted_master_aligns_upside_down_when_either_polarity_is_asked(mix, offset):
    """A master with its polarity flipped is the same recording: asked, align finds it at the
    upright master's offset with the correlation's sign turned; unasked (training's pairs), a
    negative peak is refused as before."""
    upright = apply_degradation(delayed(mix, offset), SR, {"tilt_db": 4.0, "bass_db": 3.0, "level_db": -7.0})
    found = align(mix, -upright, SR, max_offset_s=0.5, either_polarity=True)
    plain = align(mix, upright, SR, max_offset_s=0.5)
    assert found.inverted and found.correlation < -0.8
    assert found.offset_frames == pytest.approx(offset, abs=0.1)
    assert found.offset_frames == pytest.approx(plain.offset_frames, abs=1e-6)
    assert found.correlation == pytest.approx(-plain.correlation, abs=1e-6)
    # the upright master reads as it always did, either polarity asked or not
    both = align(mix, upright, SR, max_offset_s=0.5, either_polarity=True)
    assert not both.inverted and (both.offset_frames, both.correlation) == (plain.offset_frames, plain.correlation)
    with pytest.raises(TonematchError, match=r"does not correlate \(peak -0\.\d\d < 0\.50\)"):
        align(mix, -upright, SR, max_offset_s=0.5)


def test_either_polarity_still_refuses_unrelated_audio(mix):
    noise = np.random.default_rng(0).standard_normal(mix.shape).astype(np.float32) * 0.1
    with pytest.raises(TonematchError, match=r"pair song does not correlate \(peak 0\.\d\d < 0\.50 either way up\)"):
        align(mix, noise, SR, max_offset_s=0.5, name="song", either_polarity=True)
    other = music_like(seconds=6.0, sample_rate=SR, seed=12)[:, ::-1]
    for sign in (1.0, -1.0):
        with pytest.raises(TonematchError, match="does not correlate"):
            align(mix, sign * other, SR, max_offset_s=0.5, either_polarity=True)


@pytest.mark.parametrize("lead_s", [2.0, 4.5])
def test_a_master_with_a_lead_in_aligns_with_the_defaults(mix, lead_s):
    """A master exported with silence, or a count-in of clicks, ahead of the music (as style fit
    reads it: align's defaults); 2 s was the search's edge and was refused."""
    lead = np.zeros((2, int(lead_s * SR)), np.float32)
    t = np.arange(int(0.03 * SR)) / SR
    click = 0.3 * np.sin(2 * np.pi * 1500 * t) * np.exp(-t / 0.008)
    for k in range(1, int(lead_s / 0.5)):  # a click every 0.5 s after the first second of silence
        if k * 0.5 >= 1.0:
            lead[:, int(k * 0.5 * SR) : int(k * 0.5 * SR) + t.size] += click
    master = np.concatenate([lead, 0.5 * mix], axis=1)
    result = align(mix, master, SR, either_polarity=True)
    assert result.offset_frames == pytest.approx(lead_s * SR, abs=0.1) and result.correlation > 0.9


def test_offset_outside_the_search_window_is_refused(mix):
    master = delayed(mix, 0.4 * SR)
    with pytest.raises(TonematchError, match=r"offset beyond the \+-0.2 s searched"):
        align(mix, master, SR, max_offset_s=0.2)
    assert align(mix, master, SR, max_offset_s=0.5).offset_frames == pytest.approx(0.4 * SR, abs=0.1)


def test_read_fractional_interpolates_band_limited_audio(mix):
    half, n = 16, 20000
    spectrum = np.fft.rfft(mix[:, :n].astype(np.float64), axis=-1)
    spectrum[:, np.fft.rfftfreq(n) > 0.4] = 0.0  # content up to 0.8 x Nyquist
    x = np.fft.irfft(spectrum, n, axis=-1).astype(np.float32)
    for fraction in (0.25, 0.5, 0.8):
        # x evaluated at t + fraction, against an exact frequency-domain shift (away from edges).
        got = read_fractional(x, fraction, half)
        exact = delayed(x, -fraction)[:, half : n - half]
        err = got[:, 1000:-1000] - exact[:, 1000:-1000]
        assert np.sqrt(np.mean(err**2)) < 10 ** (-70 / 20) * np.sqrt(np.mean(exact**2))
    np.testing.assert_array_equal(read_fractional(mix[:, :100], 0.0, half), mix[:, half : 100 - half])


def test_window_pads_with_zeros():
    x = np.arange(5.0)
    np.testing.assert_array_equal(window(x, -2, 4), [0, 0, 0, 1])
    np.testing.assert_array_equal(window(x, 3, 4), [3, 4, 0, 0])
