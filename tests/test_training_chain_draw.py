"""Chain draw for self-supervised targets: realistic ranges from the shipped config, per-item
determinism, level-relative threshold, and which parameters count as ground truth."""

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from tonematch.models.chain import TABLE
from tonematch.training.chain_draw import ChainDraw, ParamDraw, parameter_truth

SR = 44100
CONFIG = Path(__file__).resolve().parent.parent / "configs" / "chain" / "default.yaml"
KEYS = TABLE.learned_keys


@pytest.fixture(scope="module")
def draw():
    return instantiate(OmegaConf.load(CONFIG).draw, sample_rate=SR, seed=7)


def clips(n, peak_db=-6.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, 4096, generator=g)
    return x / x.abs().amax(dim=(1, 2), keepdim=True) * 10 ** (peak_db / 20)


def test_shipped_distribution_is_realistic(draw):
    n = 2000
    phys = draw.physical(torch.arange(n), clips(n))
    assert set(phys) == set(KEYS)
    keys = ("compressor.ratio", "width.width", "loudness.target_lufs", "limiter.ceiling_dbtp")
    ratio, width, lufs, ceiling = (phys[k] for k in keys)
    assert 1.0 <= ratio.min() and ratio.max() <= 8.0 and ratio.median() < 3.0  # log-uniform: mostly gentle
    assert 0.7 <= width.min() and width.max() <= 1.4
    assert -20.0 <= lufs.min() and lufs.max() <= -8.0
    assert -2.0 <= ceiling.min() and ceiling.max() <= -0.3
    bands = ("low_shelf", "peak1", "peak2", "peak3", "peak4", "high_shelf")
    gains = torch.stack([phys[f"eq.{b}.gain_db"] for b in bands])
    assert abs(float(gains.std()) - 3.0) < 0.3 and float(gains.abs().max()) <= 9.0
    hp = phys["eq.highpass.freq_hz"]
    off = (hp == 10.0).double().mean()  # the table default: high-pass effectively off
    assert 0.55 < off < 0.65 and float(hp.max()) <= 120.0
    # not drawn: gain and make-up stay neutral (the loudness stage cancels them)
    assert torch.all(phys["gain.gain_db"] == 0.0) and torch.all(phys["compressor.makeup_db"] == 0.0)


def test_threshold_follows_the_clip_level(draw):
    ids = torch.arange(50)
    quiet = draw.physical(ids, clips(50, peak_db=-20.0))["compressor.threshold_db"]
    loud = draw.physical(ids, clips(50, peak_db=-4.0))["compressor.threshold_db"]
    assert torch.allclose(loud - quiet, torch.full_like(quiet, 16.0), atol=1e-6)
    assert torch.all(quiet <= -20.0 - 3.0 + 1e-9) and torch.all(quiet >= -20.0 - 20.0 - 1e-9)


def test_each_item_draw_depends_on_its_id_only(draw):
    x = clips(4)
    together = draw.draw(torch.tensor([3, 5, 8, 13]), x)
    alone = draw.draw(torch.tensor([8]), x[2:3])
    assert torch.equal(together[2:3], alone)
    assert not torch.equal(draw.draw([3], x[:1], stream=1), together[:1])  # validation has its own
    other_seed = ChainDraw(SR, OmegaConf.to_container(OmegaConf.load(CONFIG).draw.distribution), seed=8)
    assert not torch.equal(other_seed.draw([3], x[:1]), together[:1])


def test_unit_vector_renders_the_drawn_values(draw):
    x = clips(16)
    phys = draw.physical(torch.arange(16), x)
    unit = draw.draw(torch.arange(16), x)
    assert unit.shape == (16, len(TABLE)) and unit.min() >= 0 and unit.max() <= 1
    back = TABLE.from_unit(unit, SR)
    for key in KEYS:
        assert torch.allclose(back[key], phys[key], rtol=1e-9, atol=1e-9), key


def test_bad_distributions_are_refused():
    with pytest.raises(ValueError, match="unknown or fixed"):
        ChainDraw(SR, {"limiter.lookahead_ms": {"dist": "uniform", "low": 1, "high": 2}})
    with pytest.raises(ValueError, match="unknown distribution"):
        ParamDraw(dist="cauchy")
    with pytest.raises(ValueError, match="positive"):
        ParamDraw(dist="loguniform", low=0.0, high=1.0)


def degradation(**changes):
    base = {
        "tilt_db": 0.0,
        "bass_db": 0.0,
        "treble_db": 0.0,
        "width": 1.0,
        "expansion_ratio": 1.0,
        "expansion_threshold_db": -12.0,
        "level_db": 0.0,
    }
    rows = [dict(base), {**base, **changes}]
    return {k: torch.tensor([r[k] for r in rows], dtype=torch.float64) for k in base}


@pytest.mark.parametrize(
    "changes, spoiled_prefix",
    [({"tilt_db": 2.0}, "eq."), ({"expansion_ratio": 1.5}, "compressor.")],
)
def test_truth_is_masked_where_a_degradation_changed_the_answer(draw, changes, spoiled_prefix):
    unit = draw.draw(torch.arange(2), clips(2))
    truth, known = parameter_truth(unit, degradation(**changes), SR)
    assert known[0].all()  # the neutral item: every drawn value is the answer
    for i, key in enumerate(KEYS):
        expect = not key.startswith(spoiled_prefix) or key == "compressor.makeup_db"
        assert bool(known[1, i]) == expect, key
    gain = KEYS.index("gain.gain_db")
    others = [i for i in range(len(KEYS)) if i != gain]
    assert torch.equal(truth[:, others], unit[:, others])


def test_level_degradation_is_undone_by_the_gain_stage(draw):
    unit = draw.draw(torch.arange(2), clips(2))
    truth, known = parameter_truth(unit, degradation(level_db=-12.0), SR)
    gain = TABLE.from_unit(truth, SR)["gain.gain_db"]
    assert torch.allclose(gain, torch.tensor([0.0, 12.0], dtype=torch.float64))
    assert known.all()
    # without degradation records (clean inputs) the draw is the answer everywhere
    t2, k2 = parameter_truth(unit, None, SR)
    assert torch.equal(t2, unit) and k2.all()


def test_width_truth_takes_the_degradation_back(draw):
    """The degraded input's side is the clean side times w_d: the width that reaches the target
    is the drawn width over w_d, known wherever it fits the table's range."""
    unit = draw.draw(torch.arange(2), clips(2))
    drawn = TABLE.from_unit(unit, SR)["width.width"]
    truth, known = parameter_truth(unit, degradation(width=0.8), SR)
    needed = TABLE.from_unit(truth, SR)["width.width"]
    assert torch.allclose(needed, drawn / torch.tensor([1.0, 0.8], dtype=torch.float64), rtol=1e-9)
    assert known[:, KEYS.index("width.width")].all()
    # a side the chain cannot restore (beyond width 2) is no truth at all
    truth, known = parameter_truth(unit, degradation(width=0.3), SR)
    w = KEYS.index("width.width")
    assert bool(known[1, w]) == bool(drawn[1] / 0.3 <= 2.0)


def _corner(draw, fill: float, x: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """[1, P] unit vector with every drawn parameter at its distribution's low (0) or high (1)
    end, clipped to the table as the draw clips it; the rest at their defaults."""
    peak_db = 20.0 * torch.log10(x.abs().max()).item()
    phys = {}
    for key in KEYS:
        spec, (low, high) = draw.specs.get(key), TABLE.by_key[key].spec.bounds(sample_rate)
        value = float(draw.defaults[key]) if spec is None else (spec.low if fill == 0 else spec.high)
        value += peak_db if spec is not None and spec.relative_to else 0.0
        phys[key] = torch.tensor([min(max(value, low), high)], dtype=torch.float64)
    return TABLE.to_unit(phys, sample_rate).double()


@pytest.mark.parametrize("sample_rate", [16000, 24000])
def test_drawn_settings_render_alike_on_both_chains_at_the_training_rates(sample_rate):
    """The smoke (16 kHz) and CPU recipe (24 kHz) rates, stereo and mono, random draws and the
    draw's corners: the differentiable chain the targets come from and the exact renderer agree
    (measured -126 to -143 dB of residual; the chain tests cover uniform settings at 44.1 kHz)."""
    from tonematch.models.chain import render_batch
    from tonematch.models.chain.exact import render_array
    from tonematch.models.chain.settings import Settings

    from signals import music_like, residual_db

    draw = instantiate(OmegaConf.load(CONFIG).draw, sample_rate=sample_rate, seed=3)
    for i, channels in enumerate((2, 1, 2, 1)):
        x = music_like(1.0, sample_rate, seed=i)[:channels].copy()
        source = torch.from_numpy(x)[None]
        unit = draw.draw([i], source) if i < 2 else _corner(draw, float(i == 3), source, sample_rate)
        exact = render_array(x, Settings.from_unit(unit[0], sample_rate), sample_rate)
        batched = render_batch(source, TABLE.from_unit(unit, sample_rate), sample_rate)[0].numpy()
        assert exact.shape == x.shape
        assert residual_db(exact, batched) < -60.0
