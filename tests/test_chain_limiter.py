"""Limiter: true-peak ceiling on hard transients and inter-sample peaks; transparent below it."""

import functools

import numpy as np
import pytest
import torch

from tonematch.models.chain import limiter
from tonematch.models.chain.settings import Settings

from signals import music_like, true_peak_db

SR = 44100


def _limit(x, ceiling=-1.0, release_ms=50.0, exact=True):
    s = Settings.defaults(SR)
    s.values.update({"limiter.ceiling_dbtp": ceiling, "limiter.release_ms": release_ms})
    if not exact:
        return limiter.apply(torch.from_numpy(x)[None], s.tensors(), SR)[0].numpy()
    lim = limiter.Stream(s.values, SR, x.shape[0])
    y = lim.process(np.concatenate([x, np.zeros((x.shape[0], lim.latency), np.float32)], axis=1))
    return y[:, lim.latency :]


def _intersample_sine(n=SR):
    # fs/4 at 45 degrees: every sample sits at 0.707 of the waveform's true peak (+3 dB between)
    t = np.arange(n)
    return (1.4 * np.sin(np.pi / 2 * t + np.pi / 4)).astype(np.float32)


@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize("ceiling", [-0.3, -1.0, -3.0])
def test_true_peak_holds_on_transients_and_intersample_peaks(ceiling, exact):
    rng = np.random.default_rng(int(-ceiling * 10))
    n = SR
    clicks = np.zeros((2, n), np.float32)
    clicks[:, rng.integers(100, n - 100, 40)] = rng.choice([-4.0, 4.0], (2, 40))  # +12 dBFS spikes
    noise = (0.3 * rng.standard_normal((2, n))).astype(np.float32) + clicks
    sine = np.stack([_intersample_sine(n)] * 2)
    loud_music = music_like(1.0, SR, seed=3, level_db=-6)
    for x in (noise, sine, loud_music):
        y = _limit(x, ceiling, exact=exact)
        assert true_peak_db(y, 4) <= ceiling + 1e-3
        assert 20 * np.log10(np.abs(y).max()) <= ceiling


def test_intersample_detection_is_needed():
    # the sine's samples are 3 dB below its peak: a sample-peak limiter would let it through
    x = np.stack([_intersample_sine()] * 2) / 1.4 * 10 ** (1 / 20)  # true peak +1 dBTP, samples -2 dBFS
    assert 20 * np.log10(np.abs(x).max()) < -1.0 < true_peak_db(x)
    y = _limit(x, -1.0)
    assert true_peak_db(y) <= -1.0 + 1e-3


def test_transparent_below_the_ceiling():
    x = music_like(1.0, SR, seed=1, level_db=-30)
    assert true_peak_db(x) < -10
    np.testing.assert_array_equal(_limit(x, -1.0), x)


def test_release_recovers_gain():
    x = np.full((1, SR), 0.1, np.float32)
    x[0, 1000:1010] = 1.0  # a short burst forces about -12 dB, then the gain must come back
    fast = _limit(x, -12.0, release_ms=10)
    slow = _limit(x, -12.0, release_ms=500)
    after = 1010 + int(0.15 * SR)  # 15 time constants of the fast release
    assert fast[0, after] == pytest.approx(0.1, rel=1e-3)
    assert slow[0, after] < 0.09


def test_loud_render_holds_ceiling_to_the_last_sample():
    from tonematch.models.chain.exact import render_array

    x = music_like(2.0, SR, seed=9, level_db=-14)
    x[:, -5:] = 0.9  # a peak right at the end must be limited too
    s = Settings.defaults(SR)
    s.values.update({"loudness.target_lufs": -8.0, "limiter.ceiling_dbtp": -1.0})
    y = render_array(x, s, SR)
    assert true_peak_db(y) <= -1.0 + 1e-3


def _hot_dense(seconds=3.0, seed=0):
    """Loud music plus noise low-passed at 20 kHz: dense, with content right up the band."""
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    noise = sosfilt(butter(8, 20000, fs=SR, output="sos"), rng.standard_normal((2, n)))
    return (music_like(seconds, SR, seed=seed, level_db=-8) + 0.2 * noise).astype(np.float32)


@pytest.mark.parametrize("oversample", [4, 16])
def test_ceiling_holds_at_4x_and_16x_on_a_hot_dense_render(oversample):
    from tonematch.models.chain.exact import render_array

    s = Settings.defaults(SR)
    s.values.update({"loudness.target_lufs": -6.0, "limiter.ceiling_dbtp": -1.0})
    y = render_array(_hot_dense(), s, SR)
    assert true_peak_db(y, oversample) <= -1.0
    # 16-bit with TPDF dither as the writer adds it (+-1 LSB each of two uniforms) stays under too
    rng = np.random.default_rng(1)
    q = np.round(y * 32768 + rng.random(y.shape) + rng.random(y.shape) - 1.0) / 32768
    assert true_peak_db(q, oversample) <= -1.0


def test_detection_sees_peaks_between_the_4x_points():
    from scipy.signal import butter, resample_poly, sosfilt

    from tonematch.models.chain.limiter.detect import detect_block

    rng = np.random.default_rng(5)
    # content up to ~16 kHz (the interpolator, like music codecs, is not meant for the top octave)
    x = sosfilt(butter(10, 15000, fs=SR, output="sos"), rng.standard_normal((2, 20000))).astype(np.float32)
    env = np.empty(x.shape[1] - limiter.TAPS + 1, np.float32)
    detect_block(x, env)
    # the 16x peak over each interval [n, n + 1) (x[n] at 16 n)
    fine = np.abs(resample_poly(x.astype(np.float64), 16, 1, axis=-1)).max(axis=0).reshape(-1, 16).max(axis=1)
    fine = fine[limiter.TAPS_LEFT : limiter.TAPS_LEFT + len(env)][1000:-1000]
    coarse = np.abs(resample_poly(x.astype(np.float64), 4, 1, axis=-1)).max(axis=0).reshape(-1, 4).max(axis=1)
    coarse = coarse[limiter.TAPS_LEFT : limiter.TAPS_LEFT + len(env)][1000:-1000]
    env = np.maximum(np.maximum(env[999:-1001], env[1000:-1000]), env[1001:-999])  # n - 1 .. n + 1
    top = fine > 0.5 * fine.max()  # the peaks a limiter acts on (absolute errors elsewhere are tiny)
    assert 20 * np.log10((fine / env)[top].max()) < 0.03  # misses at most 0.03 dB (a neighbour may hold it)
    assert 20 * np.log10((fine / coarse)[top].max()) > 0.1  # where the 4x points alone miss more


def test_gain_curve_adjoint_gradcheck():
    from tonematch.models.chain.limiter.batch import gain_curve

    g = torch.Generator().manual_seed(0)
    q = (0.3 + 0.7 * torch.rand(2, 60, generator=g, dtype=torch.float64)).requires_grad_(True)
    rel = torch.tensor([0.9, 0.6], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: gain_curve(a, b, 5), (q, rel), eps=1e-7, atol=1e-6)


def test_one_limiter_pass_lands_on_a_loud_target():
    from tonematch.models.chain.exact import ExactRenderer

    x = music_like(8.0, SR, seed=4, level_db=-20)
    s = Settings.defaults(SR)
    s.values.update({"loudness.target_lufs": -9.0, "limiter.ceiling_dbtp": -1.0})
    r = ExactRenderer(s, SR, 2)
    list(r.blocks(lambda: iter([x])))
    assert r.report["passes"] == 1 and abs(r.report["miss_lu"]) <= 0.05


@pytest.mark.parametrize("target, closest_lu", [(-10.0, 0.0), (-9.0, 0.0), (-13.0, 2.0), (-18.0, 3.5)])
def test_gain_search_across_a_gating_jump_lands_nearest_the_target(target, closest_lu):
    """A click track (every 0.1 s) with a 0.4 s tone: as the limiter flattens the clicks, their
    blocks fall under BS.1770's relative gate and the output's loudness leaps from about -21.5
    to -11 LUFS over a fraction of a dB of gain. Targets on either branch are reached; one in
    the gap lands on its nearer edge. The secant alone hopped between the branches and kept its
    last step: -10 LUFS rendered at -60.8, -9 at -38.8, -13 at -24.1, -18 at -10.0."""
    from tonematch.models.chain.exact import ExactRenderer

    x = np.zeros((2, 10 * SR), np.float32)
    x[:, :: SR // 10] = 0.9
    x[:, SR : SR + int(0.4 * SR)] += 0.3 * np.sin(2 * np.pi * 440 * np.arange(int(0.4 * SR)) / SR)
    s = Settings.defaults(SR)
    s.values.update({"loudness.target_lufs": target, "limiter.ceiling_dbtp": -1.0})
    r = ExactRenderer(s, SR, 2)
    list(r.blocks(lambda: iter([x])))
    assert abs(r.report["miss_lu"]) <= closest_lu + 0.1, r.report
    # a target in the gap is said to be one, not blamed on a limiter out of headroom
    from tonematch.inference.render import _missed_target

    if closest_lu > 0.0:
        assert r.report["loudness_jump"] is True
        assert "leaps past it" in _missed_target(target, r.report, 40.0)
    else:
        assert not r.report.get("loudness_jump")


@functools.cache
def _hot_music() -> np.ndarray:
    """31 s of hot music, made once for the three releases: over predict.SPLIT_MIN_SAMPLES and
    four warm-ups of the 300 ms release (25 time constants each)."""
    return music_like(31.0, 44100, seed=3, level_db=-6)


@pytest.mark.parametrize("release_ms", [5.0, 60.0, 300.0])
def test_prediction_split_over_two_threads_equals_one_sweep(release_ms, monkeypatch):
    """The loudness prediction sweeps a long file in two halves (the second warmed up over a few
    release time constants): it must read what one sweep from the start reads."""
    from tonematch.models.chain.limiter import predict

    sr = 44100
    x = _hot_music()
    env = np.abs(x).max(axis=0).astype(np.float32)  # a hot envelope: the limiter works hard
    e = (x.astype(np.float64) ** 2).sum(axis=0).astype(np.float32)
    rel = float(np.exp(-1.0 / (release_ms * 1e-3 * sr)))
    pred = predict.Predictor(env, 0, e, sr, 10 ** (-1 / 20), rel, 88)
    assert len(e) >= predict.SPLIT_MIN_SAMPLES and len(e) >= 4 * pred.warm  # the split path runs
    split = [pred.lufs(g) for g in (0.0, 6.0, 12.0)]
    monkeypatch.setattr(predict, "SPLIT_MIN_SAMPLES", 1 << 40)
    whole = [pred.lufs(g) for g in (0.0, 6.0, 12.0)]
    assert np.allclose(split, whole, atol=1e-9), (split, whole)
    assert split[2] - split[0] < 11.0  # the limiter took loudness away: the prediction is not a plain gain


def test_a_target_past_the_limiters_reach_is_not_called_a_leap():
    """Music pushed to -6 LUFS under a -6 dBTP ceiling: the limiter runs out of headroom, the
    loudness creeps up with the gain to the gain's bound (no leap), and the warning does not
    speak of one."""
    from tonematch.inference.render import _missed_target
    from tonematch.models.chain.exact import ExactRenderer

    s = Settings.defaults(SR)
    s.values.update({"loudness.target_lufs": -6.0, "limiter.ceiling_dbtp": -6.0})
    r = ExactRenderer(s, SR, 2)
    list(r.blocks(lambda: iter([music_like(6.0, SR, seed=3)])))
    assert r.report["miss_lu"] > 0.5 and r.report["loudness_jump"] is False, r.report
    assert "leaps past it" not in _missed_target(-6.0, r.report, 40.0)
