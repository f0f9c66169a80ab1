"""A search over a style's dynamics renders each pair's gain and EQ once (identify.ExcerptRenders,
exact.first_stages): the renders must be the full renders, sample for sample."""

from types import SimpleNamespace

import numpy as np

from tonematch.inference.style.identify import ExcerptRenders, clip_setting, settings_of
from tonematch.models import excerpts
from tonematch.models.chain.exact import first_stages, render_array
from tonematch.models.chain.settings import Settings
from tonematch.models.measure.loudness import integrated_loudness

from signals import music_like

SR = 44100


def _values(**more) -> dict:
    v = {"gain.gain_db": 3.0, "eq.low_shelf.gain_db": 2.5, "eq.peak2.gain_db": -3.0, "eq.high_shelf.gain_db": 1.5}
    v.update({"compressor.ratio": 3.0, "compressor.threshold_db": -24.0, "compressor.rms_ms": 20.0})
    v.update({"width.width": 1.2, "loudness.target_lufs": -11.0})
    v = {**v, **more}
    assert set(v) <= set(Settings.defaults(SR).values)  # every name is the table's
    return v


def _from_the_start(values: dict, mix, master) -> np.ndarray:
    """The excerpts rendered end to end at the master's excerpts' loudness, no stage shared."""
    s = settings_of(values, SR)
    target = integrated_loudness(excerpts.joined(master.clips), SR)
    s.values["loudness.target_lufs"] = clip_setting("loudness.target_lufs", target, SR)
    return excerpts.split(render_array(excerpts.joined(mix.clips), s, SR), mix.clips.shape[0])


def test_a_render_after_the_first_stages_is_the_whole_render():
    x = music_like(3.0, SR, seed=4)
    s = settings_of(_values(), SR)
    pre = first_stages(x, s, SR, 2, block=20000)
    assert not np.array_equal(pre, x)  # the gain and EQ did act
    rest = Settings(s.values, s.sample_rate, s.bypass | {"gain", "eq"}, s.source)
    np.testing.assert_array_equal(render_array(pre, rest, SR, block=20000), render_array(x, s, SR, block=20000))


def test_excerpt_renders_match_a_render_from_the_start_and_fall_back_when_the_eq_moves():
    clips = np.stack([music_like(2.0, SR, seed=k) for k in (1, 2)])
    mix = SimpleNamespace(clips=clips, sample_rate=SR)
    master = SimpleNamespace(clips=1.8 * clips, sample_rate=SR)
    renders = ExcerptRenders(_values(), mix, master)
    searched = _values(**{"compressor.ratio": 6.0, "limiter.release_ms": 30.0})  # the dynamics move
    moved = _values(**{"eq.peak2.gain_db": 2.0})  # the EQ moves: rendered from the start
    for values in (searched, moved):
        got = renders(values)
        assert got.shape == clips.shape
        np.testing.assert_array_equal(got, _from_the_start(values, mix, master))
