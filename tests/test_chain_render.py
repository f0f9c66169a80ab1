"""The two renderings agree; streaming equals one shot; loudness lands on target."""

import numpy as np
import pyloudnorm
import pytest
import torch

from tonematch.models.chain import TABLE, exact, render_batch
from tonematch.models.chain.exact import render_array
from tonematch.models.chain.settings import Settings

from signals import music_like, residual_db

SR = 44100


def random_settings(seed: int, sample_rate: int = SR) -> Settings:
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(len(TABLE), generator=g, dtype=torch.float64)
    return Settings.from_unit(u, sample_rate)


@pytest.mark.parametrize("seed", range(8))
def test_exact_matches_differentiable_for_random_draws(seed):
    x = music_like(3.0, SR, seed=seed)
    s = random_settings(seed)
    exact = render_array(x, s, SR)
    diff = render_batch(torch.from_numpy(x)[None], s.tensors(), SR)[0].numpy()
    assert exact.shape == x.shape
    assert residual_db(exact, diff) < -40.0


def test_whole_table_extremes_agree():
    x = music_like(2.0, SR, seed=3)
    for fill in (0.0, 1.0):
        s = Settings.from_unit(torch.full((len(TABLE),), fill), SR)
        exact = render_array(x, s, SR)
        diff = render_batch(torch.from_numpy(x)[None], s.tensors(), SR)[0].numpy()
        assert np.isfinite(exact).all()
        assert residual_db(exact, diff) < -40.0


def test_streaming_block_size_does_not_matter():
    x = music_like(3.0, SR, seed=1)
    s = random_settings(11)
    whole = render_array(x, s, SR, block=x.shape[1])
    for block in (997, 4096, 65536):
        assert residual_db(whole, render_array(x, s, SR, block=block)) < -120.0


def _loud(seed: int) -> tuple[np.ndarray, Settings]:
    x = music_like(4.0, SR, seed=seed, level_db=-24)
    s = Settings.defaults(SR)
    s.values.update({"loudness.target_lufs": -9.0, "limiter.ceiling_dbtp": -1.0})
    return x, s


def _blocks(renderer, x, provisional=False):
    source = lambda: (x[:, i : i + 4096] for i in range(0, x.shape[1], 4096))  # noqa: E731
    return list(renderer.blocks(source, provisional=provisional))


def _after_last_restart(blocks):
    last = max((i for i, b in enumerate(blocks) if b is exact.RESTART), default=-1)
    return np.concatenate(blocks[last + 1 :], axis=1)


@pytest.mark.parametrize("miss_db", [0.0, 1.5])
def test_a_provisional_render_equals_the_held_one(first_guess_off, miss_db):
    """A file writer takes the limiter pass as it is made (RESTART before a correction pass): the
    output is the same. A wrong first prediction (miss_db) forces the correction pass; a cache
    too small for the file makes every pass recompute the pre-limiter audio."""
    first_guess_off(miss_db)
    x, s = _loud(seed=5)
    reference = exact.ExactRenderer(s, SR, 2)
    kept = np.concatenate(_blocks(reference, x), axis=1)
    passes = reference.report["passes"]
    assert passes > 1 if miss_db else passes == 1
    provisional = _blocks(exact.ExactRenderer(s, SR, 2), x, provisional=True)
    assert sum(b is exact.RESTART for b in provisional) == passes - 1
    np.testing.assert_array_equal(_after_last_restart(provisional), kept)
    # over the cache the statistics are decimated, so the gain differs a little: same length, same loudness
    small = exact.ExactRenderer(s, SR, 2, cache_bytes=1 << 16)
    streamed = _after_last_restart(_blocks(small, x, provisional=True))
    assert streamed.shape == kept.shape
    assert abs(small.report["miss_lu"]) <= 0.05 or small.report["passes"] == 3


@pytest.mark.parametrize("target", [-20.0, -14.0, -9.0])
def test_output_lands_on_loudness_target(target):
    x = music_like(6.0, SR, seed=2, level_db=-22)
    s = Settings.defaults(SR)
    s.values.update({"loudness.target_lufs": target, "limiter.ceiling_dbtp": -1.0})
    y = render_array(x, s, SR)
    measured = pyloudnorm.Meter(SR).integrated_loudness(y.T.astype(np.float64))
    assert abs(measured - target) < 0.15


def test_neutral_chain_without_loudness_is_transparent():
    x = music_like(2.0, SR, seed=4, level_db=-24)
    s = Settings.defaults(SR)
    s.bypass = s.bypass | {"loudness"}
    y = render_array(x, s, SR)
    # default EQ is flat except a 10 Hz high-pass; compressor ratio 1; quiet signal under the ceiling
    assert residual_db(x, y) < -30.0


def test_bypass_everything_is_identity():
    x = music_like(1.0, SR, seed=5)
    s = Settings.defaults(SR)
    s.bypass = frozenset(TABLE.processors)
    np.testing.assert_array_equal(render_array(x, s, SR), x)
    np.testing.assert_array_equal(render_batch(torch.from_numpy(x)[None], s.tensors(), SR, s.bypass)[0].numpy(), x)


def test_mono_stays_mono_and_other_rates_work():
    for sr in (22050, 48000):
        x = music_like(2.0, sr, seed=6)[:1]
        s = random_settings(5, sr)
        y = render_array(x, s, sr)
        assert y.shape == x.shape and np.isfinite(y).all()
