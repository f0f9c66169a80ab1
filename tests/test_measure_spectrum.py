"""measure.spectrum: the eight bands, centroid, 1/3-octave LTAS, streaming."""

import numpy as np
import pytest
from scipy.signal import welch

from tonematch.models.measure import spectrum as sp

from signals import music_like


def sine(freq, seconds, sr, channels=2):
    n = np.arange(int(seconds * sr))
    return np.repeat(np.sin(2 * np.pi * freq * n / sr)[None], channels, axis=0).astype(np.float32)


def test_band_definition():
    assert sp.BAND_NAMES == ("sub", "bass", "low_mid", "mid", "upper_mid", "presence", "brilliance", "air")
    assert sp.BAND_EDGES_HZ == (20, 60, 150, 400, 1000, 2500, 6000, 12000, 20000)


def test_tone_lands_in_its_band_and_sets_the_centroid():
    x = sine(3000.0, 2.0, 44100)
    bands = sp.band_shares_db(x, 44100)
    assert bands["presence"] == pytest.approx(0.0, abs=0.01)
    assert max(v for k, v in bands.items() if k != "presence") < -40.0
    assert sp.spectral_centroid_hz(x, 44100) == pytest.approx(3000.0, rel=0.01)


def test_psd_matches_scipy_welch():
    x = music_like(2.0, 22050, seed=1)
    m = sp.SpectrumMeter(22050, 2)
    m.add(x)
    freqs, ours = m.psd()
    f_ref, ref = welch(x.astype(np.float64), fs=22050, nperseg=m.nperseg, detrend=False, axis=1)
    np.testing.assert_allclose(freqs, f_ref)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-12 * ref.max())


def test_white_noise_third_octaves_rise_1_db_per_band():
    sr = 48000
    x = np.random.default_rng(0).standard_normal((1, 20 * sr)).astype(np.float32)
    centres, level = sp.third_octave_db(x, sr)
    assert centres[0] == pytest.approx(24.8, abs=0.1) and centres[-1] == pytest.approx(20159, rel=1e-3)
    sel = centres > 100
    slope, _ = np.polyfit(np.arange(sel.sum()), level[sel], 1)
    assert slope == pytest.approx(10 * np.log10(2 ** (1 / 3)), abs=0.03)
    total = 10 * np.log10(np.sum(10 ** (level / 10)))  # 24.8 Hz .. 22.6 kHz of a unit-variance flat density
    assert total == pytest.approx(10 * np.log10((20159 * 2 ** (1 / 6) - 24.8 / 2 ** (1 / 6)) / 24000), abs=0.1)


def test_bands_above_nyquist_and_silence():
    bands = sp.band_shares_db(sine(1500.0, 1.0, 16000), 16000)
    assert bands["air"] is None and bands["brilliance"] is not None
    assert bands["upper_mid"] == pytest.approx(0.0, abs=0.2)
    assert all(v is None for v in sp.band_shares_db(np.zeros((2, 9000), np.float32), 44100).values())
    assert sp.band_shares_db(np.zeros((2, 0), np.float32), 44100)["mid"] is None


@pytest.mark.parametrize("block", [1, 777, 4096, 100000])
def test_streaming_equals_whole(block):
    x = music_like(1.3, 22050, seed=3)
    whole, m = sp.SpectrumMeter(22050, 2), sp.SpectrumMeter(22050, 2)
    whole.add(x)
    for i in range(0, x.shape[1], block):
        m.add(x[:, i : i + block])
    np.testing.assert_allclose(m.psd()[1], whole.psd()[1], rtol=1e-10)
    assert m.carry.shape[1] < m.nperseg  # bounded carry


def test_short_signal_is_one_frame():
    bands = sp.band_shares_db(sine(3000.0, 0.05, 44100), 44100)  # 2205 samples < one frame
    assert bands["presence"] == pytest.approx(0.0, abs=0.1)


def test_a_low_pass_cliff_is_found_where_music_falls_off_gradually():
    """low_pass_hz: music through a steep low-pass at 16 kHz (a codec's) ends in a cliff there;
    the same music as it is, or darkened by a gentle first-order roll-off, does not."""
    from scipy.signal import butter, sosfilt

    sr = 44100
    x = music_like(8.0, sr, seed=4)
    cut = sosfilt(butter(16, 16000.0, fs=sr, output="sos"), x, axis=-1)
    gentle = sosfilt(butter(1, 3000.0, fs=sr, output="sos"), x, axis=-1)
    found = sp.meter_of(cut, sr).low_pass_hz()
    assert found is not None and 14500.0 < found < 17000.0
    assert sp.meter_of(x, sr).low_pass_hz() is None
    assert sp.meter_of(gentle, sr).low_pass_hz() is None


@pytest.mark.parametrize("sr", [44100, 48000, 96000])
def test_a_bass_note_above_60_hz_stays_out_of_the_sub_band(sr):
    # 93 ms frames (4096 samples at 44.1 kHz) let a 70 Hz note's window leak into 48-60 Hz: the
    # sub band read -10 dB at 44.1 kHz and -6 dB at 96 kHz, where it holds nothing
    assert sp.band_shares_db(sine(70.0, 4.0, sr), sr)["sub"] < -45.0


def test_the_eight_bands_read_the_same_at_any_rate(example_mix):
    import soundfile as sf
    import soxr

    x, sr = sf.read(example_mix, dtype="float32", always_2d=True)
    at_44k = sp.band_shares_db(x.T, sr)
    for rate in (48000, 96000):
        at_rate = sp.band_shares_db(soxr.resample(x, sr, rate).T, rate)
        for name in sp.BAND_NAMES[:-1]:  # the air band ends where the 44.1 kHz file does
            assert at_rate[name] == pytest.approx(at_44k[name], abs=0.3), (rate, name)
