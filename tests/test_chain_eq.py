"""EQ: measured magnitude response equals the analytic biquad response; ranges follow the rate."""

import numpy as np
import pytest
import torch

from tonematch.models.chain import TABLE, eq
from tonematch.models.chain.biquads import design, power_response
from tonematch.models.chain.settings import Settings

SR = 48000


def _impulse_response(p, sample_rate, n=1 << 16, exact=True):
    x = np.zeros((2, n), dtype=np.float32)
    x[:, 0] = 1.0
    if exact:
        return eq.Stream({k: float(v[0]) for k, v in p.items()}, sample_rate, 2).process(x)[0]
    return eq.apply(torch.from_numpy(x)[None], p, sample_rate)[0, 0].numpy()


@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_magnitude_matches_analytic_response(seed, exact):
    g = torch.Generator().manual_seed(seed)
    s = Settings.from_unit(torch.rand(len(TABLE), generator=g, dtype=torch.float64), SR)
    p = s.tensors()
    h = _impulse_response(p, SR, exact=exact)
    measured = np.abs(np.fft.rfft(h.astype(np.float64)))
    freqs = np.fft.rfftfreq(h.size, 1 / SR)
    analytic = np.ones(freqs.size)
    for c in eq.coefficients(p, SR):
        analytic *= power_response(c[0], freqs, SR).numpy()
    band = (freqs > 20) & (freqs < 20000)
    err_db = 20 * np.log10(measured[band] / np.sqrt(analytic[band]))
    assert np.max(np.abs(err_db)) < 0.01


def test_power_response_equals_the_complex_response_in_numpy_and_torch():
    """The real-arithmetic |H|^2 (the frame model's and the report's) against H(z) evaluated on the
    unit circle, down to 5 Hz where a cos-expansion would lose half its digits."""
    s = Settings.from_unit(np.linspace(0.1, 0.9, len(TABLE)), SR)
    freqs = np.geomspace(5, 23000, 300)
    z = np.exp(-2j * np.pi * freqs / SR)
    for c in eq.coefficients({k: float(v) for k, v in s.values.items()}, SR, xp=np):
        b0, b1, b2, a1, a2 = c
        direct = np.abs((b0 + b1 * z + b2 * z * z) / (1 + a1 * z + a2 * z * z)) ** 2
        assert np.allclose(power_response(c, freqs, SR), direct, rtol=1e-9, atol=0)
        assert np.allclose(power_response(torch.as_tensor(c), freqs, SR).numpy(), direct, rtol=1e-9, atol=0)


def test_cookbook_landmarks():
    f = torch.tensor([1000.0])
    peak = design("peak", f, torch.tensor([2.0]), torch.tensor([6.0]), SR)
    assert 10 * np.log10(float(power_response(peak[0], [1000.0], SR)[0])) == pytest.approx(6.0, abs=1e-9)
    hp = design("highpass", f, torch.tensor([2**-0.5]), 0.0, SR)
    assert 10 * np.log10(float(power_response(hp[0], [1000.0], SR)[0])) == pytest.approx(-3.0103, abs=1e-3)
    low = design("low_shelf", torch.tensor([200.0]), torch.tensor([0.707]), torch.tensor([-4.0]), SR)
    assert 10 * np.log10(float(power_response(low[0], [1.0], SR)[0])) == pytest.approx(-4.0, abs=1e-3)
    high = design("high_shelf", torch.tensor([5000.0]), torch.tensor([0.707]), torch.tensor([3.0]), SR)
    assert 10 * np.log10(float(power_response(high[0], [SR / 2 - 1], SR)[0])) == pytest.approx(3.0, abs=0.01)


def test_frequency_ranges_follow_the_sample_rate():
    for sr in (16000, 22050, 44100, 96000):
        for e in TABLE.entries:
            if e.spec.unit == "Hz":
                low, high = e.spec.bounds(sr)
                assert low < high <= 0.45 * sr
    # at 96 kHz the top bands keep their musical range instead of being scaled to Nyquist
    assert TABLE.by_key["eq.high_shelf.freq_hz"].spec.bounds(96000)[1] == 18000.0


def test_bypassed_band_is_skipped():
    s = Settings.defaults(SR)
    s.values["eq.peak2.gain_db"] = 9.0
    on = _impulse_response(s.tensors(), SR)
    impulse = np.eye(1, 4096, dtype=np.float32).repeat(2, 0)
    off = eq.Stream(s.values, SR, 2, frozenset({"eq.peak2", "eq.highpass"})).process(impulse)[0]
    assert abs(off[0] - 1.0) < 1e-9 and np.abs(off[1:]).max() < 1e-9
    assert np.abs(on[1:]).max() > 1e-3
