"""measure.analyzer: one streaming pass gives every `tonematch analyze` value in bounded memory."""

import numpy as np
import pyloudnorm
import pytest

from tonematch.models.measure.analyzer import Analyzer, analyze_array

from signals import music_like

KEYS = [
    "duration_s",
    "sample_rate",
    "channels",
    "integrated_lufs",
    "loudness_range_lu",
    "sample_peak_dbfs",
    "true_peak_dbtp",
    "rms_dbfs",
    "crest_factor_db",
    "dc_offset_dbfs",
    "clipped_fraction",
    "mono",
    "width",
    "side_mid_db",
    "correlation",
    "spectral_balance_db",
]


def same(a, b, rel=1e-9):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], rel) for k in a)
    if a is None or b is None or isinstance(a, bool):
        return a == b
    return a == pytest.approx(b, rel=rel)


def run(x, sr, block):
    a = Analyzer(sr, x.shape[0])
    for i in range(0, x.shape[1], block):
        a.add(x[:, i : i + block])
    return a


def test_keys_and_values():
    sr = 44100
    x = music_like(3.0, sr, seed=0, level_db=-20)
    r = analyze_array(x, sr)
    assert list(r) == KEYS
    expected = pyloudnorm.Meter(sr).integrated_loudness(x.T.astype(np.float64))
    assert r["integrated_lufs"] == pytest.approx(expected, abs=1e-6)
    assert r["rms_dbfs"] == pytest.approx(-20.0, abs=0.01)
    assert r["true_peak_dbtp"] >= r["sample_peak_dbfs"]
    assert r["crest_factor_db"] == pytest.approx(r["sample_peak_dbfs"] - r["rms_dbfs"], abs=1e-9)
    assert r["dc_offset_dbfs"] == pytest.approx(20 * np.log10(np.abs(x.mean(axis=1, dtype=np.float64)).max()))


def test_a_dc_offset_reads_as_the_larger_channel_mean():
    sr = 44100
    x = music_like(3.0, sr, seed=0, level_db=-20)
    x[1] += 0.1  # -20 dBFS on the right channel only
    r = analyze_array(x, sr)
    assert r["dc_offset_dbfs"] == pytest.approx(-20.0, abs=0.5)  # and the music's own mean
    assert run(x, sr, 4096).result()["dc_offset_dbfs"] == pytest.approx(r["dc_offset_dbfs"], abs=1e-9)


@pytest.mark.parametrize("block", [1000, 4096, 65536])
def test_any_block_size_gives_the_same_result(block):
    x = music_like(2.5, 22050, seed=1)
    whole, r = analyze_array(x, 22050), run(x, 22050, block).result()
    assert same(r, whole)


def test_state_does_not_grow_with_length():
    sr = 22050
    x = music_like(5.0, sr, seed=2)
    short, long = Analyzer(sr, 2), Analyzer(sr, 2)
    short.add(x)
    for _ in range(12):
        long.add(x)
    (f1, _), (f2, s2) = short.state_nbytes(), long.state_nbytes()
    # fixed-size state: the spectrum's sums and a carry of less than one 0.37 s frame
    assert max(f1, f2) < 200_000 and abs(f2 - f1) < 2 * 8192 * 4
    assert s2 / 60.0 < 8 * (10 + 1 / 0.09) + 1  # the loudness series: < 170 bytes per second


def test_a_reused_buffer_reads_as_the_blocks_it_held():
    """The spectrum runs a block behind on a second lane: a caller refilling one buffer must get
    what separate blocks give."""
    rng = np.random.default_rng(5)
    x = (0.1 * rng.standard_normal((2, 8 * 4096))).astype(np.float32)
    fresh = Analyzer(44100, 2)
    reused = Analyzer(44100, 2)
    buf = np.empty((2, 4096), np.float32)
    for i in range(0, x.shape[1], 4096):
        fresh.add(x[:, i : i + 4096].copy())
        buf[:] = x[:, i : i + 4096]
        reused.add(buf)
    assert reused.result() == fresh.result()


def test_clipped_samples_stream_as_the_whole_file_reads_them():
    """The flat tops of a clipped mix, counted block by block (runs that cross a block's edge
    included), read as clipped_fraction reads the whole array; clean music reads none, and a
    quieter clipped passage before a louder one does not count (its tops are not the peak)."""
    from tonematch.models.measure.dynamics import ClipMeter, clipped_fraction

    sr = 44100
    x = music_like(2.0, sr, seed=3, level_db=-12)
    clipped = np.clip(x * 6.0, -0.5, 0.5).astype(np.float32)
    clipped[:, : sr // 2] = np.clip(x[:, : sr // 2] * 6.0, -0.25, 0.25)
    whole = clipped_fraction(clipped)
    assert 0.01 < whole < 0.5
    for block in (1000, 65536):
        assert run(clipped, sr, block).result()["clipped_fraction"] == pytest.approx(whole, abs=1e-12)
    part = clipped[:, sr // 2 - 2000 : sr // 2 + 2000]  # across the louder passage's start, a sample at a time
    for block in (1, 3):
        meter = ClipMeter()
        for i in range(0, part.shape[1], block):
            meter.add(part[:, i : i + block])
        assert meter.fraction == pytest.approx(clipped_fraction(part), abs=1e-12) and meter.fraction > 0.01
    assert analyze_array(x, sr)["clipped_fraction"] == 0.0


def test_a_tone_swinging_from_peak_to_peak_is_not_clipping():
    """A tone at a quarter of the rate sampled at 45 degrees holds every sample at +-peak (+p, +p,
    -p, -p, ...): runs of equal magnitude across the sign change read 100 % clipped. A flat top
    stays on one side; the same tone clipped (three samples on one side) still reads."""
    from tonematch.models.measure.dynamics import ClipMeter, clipped_fraction

    n = np.arange(44100)
    tone = np.repeat(np.sin(2 * np.pi * n / 4 + np.pi / 4)[None], 2, axis=0).astype(np.float32)
    assert clipped_fraction(tone) == 0.0
    meter = ClipMeter()
    for i in range(0, tone.shape[1], 1000):
        meter.add(tone[:, i : i + 1000])
    assert meter.fraction == 0.0
    square = np.sign(np.sin(2 * np.pi * (n + 0.5) / 8))[None].astype(np.float32)  # four up, four down
    assert clipped_fraction(square) == 1.0
