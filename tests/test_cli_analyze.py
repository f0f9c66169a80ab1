"""`tonematch analyze` and inference.analyze: calibrated test tones, stereo measures, JSON output."""

import json
import math

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from tonematch.inference import analyze as an
from tonematch.inference.cli import main


def run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse usage errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def sine(freq, seconds, sr, peak_dbfs, phase=0.0, channels=2):
    n = np.arange(int(seconds * sr))
    x = 10 ** (peak_dbfs / 20) * np.sin(2 * np.pi * freq * n / sr + phase)
    return np.repeat(x[None], channels, axis=0).astype(np.float32)


def analyze_file(tmp_path, capsys, audio, sr, name="t.wav"):
    path = str(tmp_path / name)
    sf.write(path, audio.T, sr, subtype="FLOAT")
    code, out, err = run(["analyze", path, "--json"], capsys)
    assert code == 0 and err == ""
    return json.loads(out)


def test_minus_20_dbfs_stereo_sine(tmp_path, capsys):
    sr = 48000
    x = sine(1000.0, 5.0, sr, -20.0)
    r = analyze_file(tmp_path, capsys, x, sr)
    assert r["sample_rate"] == sr and r["channels"] == 2 and r["duration_s"] == pytest.approx(5.0)
    assert r["sample_peak_dbfs"] == pytest.approx(-20.0, abs=0.01)
    assert r["true_peak_dbtp"] == pytest.approx(-20.0, abs=0.05)
    assert r["crest_factor_db"] == pytest.approx(10 * math.log10(2), abs=0.01)  # sine: peak/RMS = sqrt(2)
    assert r["correlation"] == pytest.approx(1.0, abs=1e-9)
    assert r["width"] == pytest.approx(0.0, abs=1e-12) and r["mono"] is False
    # BS.1770: a 1 kHz sine at -20 dBFS peak reads -23.01 LUFS per channel; two channels add 3.01 dB
    expected = pyloudnorm.Meter(sr).integrated_loudness(x.T.astype(np.float64))
    assert r["integrated_lufs"] == pytest.approx(expected, abs=1e-6)
    assert r["integrated_lufs"] == pytest.approx(-20.0, abs=0.1)
    assert r["loudness_range_lu"] == pytest.approx(pyloudnorm.Meter(sr).loudness_range(x.T.astype(np.float64)))


def test_loudness_range_of_a_20_db_step():
    sr = 22050
    x = np.concatenate([sine(1000.0, 10.0, sr, -30.0), sine(1000.0, 10.0, sr, -10.0)], axis=1)
    assert an.analyze(x, sr)["loudness_range_lu"] == pytest.approx(20.0, abs=0.5)


def test_quarter_rate_sine_true_peak_3_db_over_sample_peak(tmp_path, capsys):
    sr = 44100
    # fs/4 at 45 degrees: every sample lands at +-0.707 of the crest, which lies between samples
    x = sine(sr / 4, 2.0, sr, -6.0, phase=np.pi / 4)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, 256))  # soft edges: no overshoot from a hard start
    x[:, :256] *= ramp
    x[:, -256:] *= ramp[::-1]
    r = analyze_file(tmp_path, capsys, x, sr)
    assert r["sample_peak_dbfs"] == pytest.approx(-6.0 - 3.01, abs=0.01)
    assert r["true_peak_dbtp"] - r["sample_peak_dbfs"] == pytest.approx(3.01, abs=0.05)


def test_uncorrelated_noise_reads_width_1_and_correlation_0(tmp_path, capsys):
    sr = 44100
    x = (0.1 * np.random.default_rng(0).standard_normal((2, 3 * sr))).astype(np.float32)
    r = analyze_file(tmp_path, capsys, x, sr)
    assert r["correlation"] == pytest.approx(0.0, abs=0.02)
    assert r["width"] == pytest.approx(1.0, abs=0.03)
    # white noise: band energy follows bandwidth, so "air" (8 kHz wide) beats "sub" (40 Hz) by ~23 dB
    bands = r["spectral_balance_db"]
    assert bands["air"] - bands["sub"] == pytest.approx(10 * math.log10(8000 / 40), abs=1.0)


def test_opposite_polarity_reads_correlation_minus_1():
    x = sine(440.0, 1.0, 44100, -10.0)
    x[1] *= -1
    r = an.stereo_image(x)
    assert r["correlation"] == pytest.approx(-1.0, abs=1e-9)
    assert r["width"] is None  # no mid at all: the side/mid ratio is undefined


def test_spectral_balance_puts_a_tone_in_its_band():
    bands = an.spectral_balance(sine(3000.0, 2.0, 44100, -12.0), 44100)
    assert [name for name, _, _ in an.BANDS] == list(bands)
    assert bands["presence"] == pytest.approx(0.0, abs=0.01)  # 2.5-6 kHz holds all the energy
    assert max(v for k, v in bands.items() if k != "presence") < -40.0


def test_bands_above_nyquist_are_none():
    bands = an.spectral_balance(sine(1500.0, 1.0, 16000, -12.0), 16000)
    assert bands["air"] is None  # 12-20 kHz lies above Nyquist (8 kHz)
    assert bands["brilliance"] is not None  # 6-12 kHz straddles it and is measured up to 8 kHz
    assert bands["upper_mid"] == pytest.approx(0.0, abs=0.2)


def test_mono_file_and_table_output(tmp_path, capsys):
    sr = 22050
    path = str(tmp_path / "mono.wav")
    sf.write(path, sine(500.0, 2.0, sr, -6.0, channels=1)[0], sr, subtype="PCM_16")
    code, out, err = run(["analyze", path], capsys)
    assert code == 0 and err == ""
    assert "mono" in out and "LUFS" in out and "dBTP" in out and "crest factor" in out
    r = an.analyze(sine(500.0, 2.0, sr, -6.0, channels=1), sr)
    assert r["mono"] is True and r["width"] == 0.0 and r["correlation"] == 1.0


def test_silence_gives_valid_json_with_nulls(tmp_path, capsys):
    r = analyze_file(tmp_path, capsys, np.zeros((2, 44100), np.float32), 44100)
    assert r["integrated_lufs"] is None and r["sample_peak_dbfs"] is None and r["crest_factor_db"] is None
    assert r["correlation"] is None and all(v is None for v in r["spectral_balance_db"].values())


def test_too_short_for_loudness_still_measures_peaks():
    r = an.analyze(sine(1000.0, 0.1, 44100, -3.0), 44100)  # shorter than one 400 ms gating block
    assert r["integrated_lufs"] is None and r["loudness_range_lu"] is None
    assert r["sample_peak_dbfs"] == pytest.approx(-3.0, abs=0.01)


def test_a_surround_file_is_measured_without_a_loudness(tmp_path, capsys):
    """A 5.1 file (six channels, past the five BS.1770 weighs) is analysed, not an internal
    error: peaks measured, loudness and LRA null, as the meter documents."""
    x = sine(1000.0, 2.0, 48000, -6.0, channels=6)
    r = analyze_file(tmp_path, capsys, x, 48000, name="surround.wav")
    assert r["channels"] == 6 and r["integrated_lufs"] is None and r["loudness_range_lu"] is None
    assert r["sample_peak_dbfs"] == pytest.approx(-6.0, abs=0.01)
    assert r["true_peak_dbtp"] == pytest.approx(-6.0, abs=0.05)


def test_streamed_analysis_equals_whole_array(tmp_path):
    x = np.random.default_rng(1).standard_normal((2, 3 * 44100 + 999)).astype(np.float32) * 0.1
    whole = an.analyze(x, 44100)
    path = str(tmp_path / "n.wav")
    sf.write(path, x.T, 44100, subtype="FLOAT")
    streamed = an.analyze_file(path, block_frames=4097)
    assert streamed.pop("spectral_balance_db") == pytest.approx(whole.pop("spectral_balance_db"), rel=1e-9)
    assert streamed == pytest.approx(whole, rel=1e-9)
    assert an.true_peak(x) >= an.sample_peak(x)


@pytest.mark.parametrize("content", [b"not audio at all\n", b""])
def test_unreadable_file_is_one_line_error(tmp_path, capsys, content):
    path = tmp_path / "x.wav"
    path.write_bytes(content)
    code, out, err = run(["analyze", str(path)], capsys)
    assert code != 0 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("tonematch: error:") and "x.wav" in err


def test_a_zero_reads_as_zero_and_rounding_is_no_dc_offset():
    n = np.arange(44100)
    # a tone at a quarter of the rate sampled at its peaks: crest exactly 0 dB, a mean of ~1e-17
    tone = np.repeat(np.sin(2 * np.pi * n / 4 + np.pi / 4)[None], 2, axis=0).astype(np.float32)
    table = an.format_table(an.analyze(tone, 44100))
    assert "crest factor           0.00 dB" in table and "-0.00" not in table
    assert "DC offset              none" in table
