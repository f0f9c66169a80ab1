"""Training loss: MR-STFT zero for identical signals and growing with EQ and width changes,
loudness term, parameter term masked where there is no truth, band-limited decimation."""

import math

import numpy as np
import pytest
import torch

from tonematch.data.degrade import equaliser_response_db
from tonematch.data.synth import music_like
from tonematch.models.chain import TABLE, eq, width
from tonematch.training.losses import MasteringLoss, band_limited_decimate, eq_curve_db, tone_grid

SR = 16000


@pytest.fixture(scope="module")
def clip():
    return torch.from_numpy(music_like(seconds=1.0, sample_rate=SR, seed=3))[None]  # [1, 2, T]


def high_shelf(x, gain_db):
    p = {k: torch.tensor([v], dtype=torch.float64) for k, v in TABLE.defaults(SR).items()}
    p["eq.high_shelf.gain_db"] = torch.tensor([gain_db], dtype=torch.float64)
    p["eq.high_shelf.freq_hz"] = torch.tensor([3000.0], dtype=torch.float64)
    return eq.apply(x, p, SR, bypass={"eq.highpass"}).float()


def test_identical_signals_cost_nothing(clip):
    terms = MasteringLoss(SR)(clip, clip.clone())
    assert float(terms["stft"]) == pytest.approx(0.0, abs=1e-6)
    assert float(terms["loudness"]) == pytest.approx(0.0, abs=1e-9)
    assert float(terms["loss"]) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("stereo", ["mid_side", "mono", "left_right"])
def test_spectral_term_grows_with_eq_change(clip, stereo):
    loss = MasteringLoss(SR, stereo=stereo)
    small, large = (float(loss.spectral(high_shelf(clip, g), clip)) for g in (2.0, 8.0))
    assert 0.0 < small < large


def test_side_changes_count_only_with_side_analysis(clip):
    p = {"width.width": torch.tensor([1.5], dtype=torch.float64)}
    wider = width.apply(clip, p, SR)
    assert float(MasteringLoss(SR, stereo="mid_side").spectral(wider, clip)) > 0.01
    # the mono sum does not change (up to float rounding)
    assert float(MasteringLoss(SR, stereo="mono").spectral(wider, clip)) == pytest.approx(0.0, abs=1e-4)


def test_loudness_term_reads_level_difference_in_lu(clip):
    loss = MasteringLoss(SR)
    assert float(loss.loudness(clip * 10 ** (-3 / 20), clip)) == pytest.approx(3.0, abs=0.01)


def test_parameter_term_only_where_truth_is_known(clip):
    loss = MasteringLoss(SR, stft_weight=0.0, loudness_weight=0.0, param_weight=2.0)
    unit = torch.full((2, len(TABLE)), 0.5, dtype=torch.float64, requires_grad=True)
    truth = torch.full_like(unit, 0.5)
    truth[0, 0], truth[1, 1] = 0.9, 0.1  # two wrong entries
    x = clip.expand(2, -1, -1)
    # real pairs: no truth at all -> 0, but still part of the graph (gradient 0, not None)
    pairs = loss(x, x, unit, None, None)
    assert float(pairs["param"].detach()) == 0.0 and float(pairs["loss"].detach()) == 0.0
    pairs["loss"].backward()
    assert torch.count_nonzero(unit.grad) == 0
    known = torch.ones_like(unit, dtype=torch.bool)
    known[1, 1] = False  # the second wrong entry has no truth
    terms = loss(x, x, unit, truth, known)
    assert float(terms["param"].detach()) == pytest.approx(0.4 / (2 * len(TABLE) - 1))
    assert float(terms["loss"].detach()) == pytest.approx(2.0 * 0.4 / (2 * len(TABLE) - 1))
    nothing_known = loss(x, x, unit, truth, torch.zeros_like(known))
    assert float(nothing_known["param"].detach()) == 0.0


def test_band_limited_decimation_keeps_a_sine():
    n = 4000
    t = torch.arange(n, dtype=torch.float64)
    sine = torch.sin(2 * math.pi * 50 * t / n)  # 50 whole cycles: periodic in the frame
    half = band_limited_decimate(sine[None, None], 2)[0, 0]
    expected = torch.sin(2 * math.pi * 50 * torch.arange(n // 2, dtype=torch.float64) / (n // 2))
    assert torch.allclose(half, expected, atol=1e-9)
    # content above the new Nyquist is removed, not folded down
    high = torch.sin(2 * math.pi * 1500 * t / n)
    assert float(band_limited_decimate(high[None, None], 2).abs().max()) < 1e-9


def test_decimated_analysis_still_sees_changes_below_nyquist(clip):
    loss = MasteringLoss(SR, decimate=2)
    assert float(loss.spectral(clip, clip.clone())) == pytest.approx(0.0, abs=1e-6)
    p = {k: torch.tensor([v], dtype=torch.float64) for k, v in TABLE.defaults(SR).items()}
    p["eq.low_shelf.gain_db"] = torch.tensor([6.0], dtype=torch.float64)
    bassier = eq.apply(clip, p, SR, bypass={"eq.highpass"}).float()
    assert float(loss.spectral(bassier, clip)) > 0.01


def unit_with(**physical):
    values = {k: torch.tensor([float(v)], dtype=torch.float64) for k, v in TABLE.defaults(SR).items()}
    for key, v in physical.items():
        values[key.replace("__", ".")] = torch.tensor([float(v)], dtype=torch.float64)
    return TABLE.to_unit(values, SR)


def test_eq_curve_reads_the_settings_in_db():
    unit = unit_with(eq__high_shelf__gain_db=6.0, eq__high_shelf__freq_hz=2000.0)
    curve = eq_curve_db(unit, SR)[0]
    assert float(curve[0]) == pytest.approx(0.0, abs=0.1)  # 30 Hz: below the shelf
    assert float(curve[-1]) == pytest.approx(6.0, abs=0.2)  # 6 kHz (the grid's top at 16 kHz)


def test_tone_term_judges_the_curve_not_the_settings():
    """Two settings that draw nearly the same curve cost nearly nothing against each other; the
    level of a curve does not count (the loudness stage cancels it); a tilt costs its dB."""
    loss = MasteringLoss(SR, tone_weight=1.0)
    shelf = unit_with(eq__high_shelf__gain_db=4.0, eq__high_shelf__freq_hz=3000.0)
    needed = eq_curve_db(shelf, SR)
    assert float(loss.tonal(shelf, needed)) == pytest.approx(0.0, abs=1e-9)
    assert float(loss.tonal(shelf, needed + 3.0)) == pytest.approx(0.0, abs=1e-9)  # level is free
    # a steeper shelf a little higher draws nearly the same curve: little cost, unlike no EQ at all
    near = unit_with(eq__high_shelf__gain_db=4.0, eq__high_shelf__freq_hz=3300.0, eq__high_shelf__q=0.8)
    assert float(loss.tonal(near, needed)) < 0.3
    assert float(loss.tonal(unit_with(), needed)) > 3 * float(loss.tonal(near, needed)) + 0.5
    # the degradation's own response taken back: a +3 dB treble shelf needs a cut there
    degraded = {"treble_db": 3.0}
    undo = torch.as_tensor(-equaliser_response_db(degraded, tone_grid(SR), SR))[None]
    cut = unit_with(eq__high_shelf__gain_db=-3.0, eq__high_shelf__freq_hz=6000.0, eq__high_shelf__q=0.5)
    assert float(loss.tonal(cut, undo)) < float(loss.tonal(unit_with(), undo)) * 0.5
    unit = shelf.clone().requires_grad_(True)
    loss.tonal(unit, needed + torch.linspace(-2, 2, len(tone_grid(SR)), dtype=torch.float64)[None]).backward()
    assert torch.isfinite(unit.grad).all() and unit.grad.abs().sum() > 0
    assert np.all(np.diff(tone_grid(SR)) > 0) and tone_grid(SR)[-1] < 0.45 * SR
