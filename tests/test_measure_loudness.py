"""measure.loudness: pyloudnorm agreement, EBU Tech 3341 / 3342 reference signals, streaming."""

import numpy as np
import pyloudnorm
import pytest

from tonematch.models.measure import loudness as L

from signals import music_like


def tone(level_dbfs, seconds, sr=48000, freq=1000.0):
    """Stereo 1 kHz sine with peak level_dbfs on both channels (EBU 3341/3342 test tones)."""
    n = np.arange(int(round(seconds * sr)))
    x = 10 ** (level_dbfs / 20) * np.sin(2 * np.pi * freq * n / sr)
    return np.repeat(x[None], 2, axis=0).astype(np.float32)


def seq(*parts, sr=48000):
    return np.concatenate([tone(db, s, sr) for db, s in parts], axis=1)


def meter(x, sr, block=None):
    m = L.LoudnessMeter(sr, x.shape[0])
    step = block or x.shape[1]
    for i in range(0, x.shape[1], step):
        m.add(x[:, i : i + step])
    return m


def test_k_weighting_equals_pyloudnorm_filters():
    for sr in (22050, 44100, 48000, 96000):
        ref = [
            [s.b[0] / s.a[0], s.b[1] / s.a[0], s.b[2] / s.a[0], s.a[1] / s.a[0], s.a[2] / s.a[0]]
            for s in pyloudnorm.Meter(sr)._filters.values()
        ]
        np.testing.assert_allclose(L.k_weighting(sr), ref, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("sr", [22050, 44100, 48000])
@pytest.mark.parametrize("seconds", [0.45, 2.0, 7.3])
def test_integrated_and_range_match_pyloudnorm(sr, seconds):
    x = music_like(seconds, sr, seed=sr % 5, level_db=-22)
    x[:, : sr // 2] *= 0.01  # a quiet start exercises the relative gate
    m = meter(x, sr, block=7919)
    ref = pyloudnorm.Meter(sr)
    assert m.integrated() == pytest.approx(ref.integrated_loudness(x.T.astype(np.float64)), abs=1e-6)
    if seconds >= 1.5:
        assert m.loudness_range() == pytest.approx(ref.loudness_range(x.T.astype(np.float64)), abs=1e-6)
    else:
        assert m.loudness_range() is None


def test_mono_matches_pyloudnorm():
    x = music_like(3.0, 44100, seed=2)[:1]
    assert L.integrated_loudness(x, 44100) == pytest.approx(
        pyloudnorm.Meter(44100).integrated_loudness(x[0].astype(np.float64)), abs=1e-6
    )


@pytest.mark.parametrize(
    "parts,expected",
    [
        (((-23, 20),), -23.0),  # 3341 case 1
        (((-33, 20),), -33.0),  # 3341 case 2
        (((-36, 10), (-23, 60), (-36, 10)), -23.0),  # 3341 case 3
        (((-72, 10), (-36, 10), (-23, 60), (-36, 10), (-72, 10)), -23.0),  # 3341 case 4
        (((-26, 20), (-20, 20.1), (-26, 20)), -23.0),  # 3341 case 5
    ],
)
def test_ebu_tech_3341_integrated(parts, expected):
    assert L.integrated_loudness(seq(*parts), 48000) == pytest.approx(expected, abs=0.1)


@pytest.mark.parametrize(
    "parts,expected",
    [
        (((-20, 20), (-30, 20)), 10.0),  # 3342 case 1
        (((-20, 20), (-15, 20)), 5.0),  # 3342 case 2
        (((-40, 20), (-20, 20)), 20.0),  # 3342 case 3
        (((-50, 20), (-35, 20), (-20, 20), (-35, 20), (-50, 20)), 15.0),  # 3342 case 4
    ],
)
def test_ebu_tech_3342_loudness_range(parts, expected):
    sr = 16000  # 1 kHz tones; the range does not depend on the rate, and this keeps the test fast
    assert meter(seq(*parts, sr=sr), sr).loudness_range() == pytest.approx(expected, abs=1.0)


@pytest.mark.parametrize("block", [1, 37, 4096, 44100, 10**7])
def test_streaming_equals_whole_for_any_block_size(block):
    sr = 44100
    x = music_like(4.1 if block > 1 else 1.7, sr, seed=4)
    whole = meter(x, sr)
    m = meter(x, sr, block=block)
    assert m.integrated() == pytest.approx(whole.integrated(), abs=1e-9)
    np.testing.assert_allclose(m.momentary(), whole.momentary(), atol=1e-9)
    np.testing.assert_allclose(m.short_term(), whole.short_term(), atol=1e-9)


def test_series_and_undefined_values():
    sr = 48000
    m = meter(tone(-23, 10.0, sr), sr)
    mom, st = m.momentary(), m.short_term()
    assert len(mom) == 97 and np.allclose(mom, -23.0, atol=0.05)  # (10 - 0.4) / 0.1 + 1 blocks
    assert np.allclose(st[:70], -23.0, atol=0.05)  # 3 s blocks inside the tone
    assert meter(np.zeros((2, sr), np.float32), sr).integrated() is None  # silence
    assert meter(tone(-20, 0.3, sr), sr).integrated() is None  # shorter than a block
    assert L.LoudnessMeter(sr, 6).integrated() is None  # BS.1770 weights stop at 5 channels


def test_state_is_fixed_but_for_the_loudness_series():
    sr = 22050
    short, long = L.LoudnessMeter(sr, 2), L.LoudnessMeter(sr, 2)
    x = music_like(5.0, sr, seed=1)
    short.add(x)
    for _ in range(8):
        long.add(x)
    (f1, _), (f2, s2) = short.state_nbytes, long.state_nbytes
    assert max(f1, f2) < 1000  # filter state, totals and at most a few open blocks
    assert s2 <= 8 * 40.0 * (10 + 1 / 0.09) + 64  # 8 bytes per block, 10 + 11.1 blocks per second


def test_differentiable_meter_agrees():
    torch = pytest.importorskip("torch")
    x = music_like(3.0, 44100, seed=5)
    ref = L.integrated_loudness(x, 44100)
    assert float(L.loudness_lufs(torch.from_numpy(x)[None], 44100)[0]) == pytest.approx(ref, abs=1e-4)
