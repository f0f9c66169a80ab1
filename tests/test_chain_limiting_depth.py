"""The limiter's depth the renderer reports ('up to X dB off the loudest peak', the heavy-limiting
warning) is what the limiter takes: read off the master against its pre-limiter signal."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tonematch.models.chain.exact import ExactRenderer, render_array
from tonematch.models.chain.settings import Settings


@pytest.mark.parametrize("target_lufs", [-14.0, -9.0])
def test_reported_depth_is_the_gain_reduction_on_the_loudest_peak(example_mix, target_lufs):
    x, sr = sf.read(example_mix, dtype="float32")  # real music: the shipped example
    x = np.ascontiguousarray(x.T)
    base = Settings.from_json(str(example_mix.with_name("settings.json")))
    values = {**base.values, "loudness.target_lufs": target_lufs}
    settings = Settings(values, sr, base.bypass)
    renderer = ExactRenderer(settings, sr, x.shape[0])
    master = np.concatenate(list(renderer.blocks(lambda: iter([x]))), axis=1)
    report = renderer.report
    # the same chain without the limiter, at the gain the render put into it
    opened = Settings(values, sr, settings.bypass | {"limiter", "loudness"})
    into = render_array(x, opened, sr).astype(np.float64) * 10.0 ** (report["gain_db"] / 20.0)
    loud = np.abs(into) > 0.05  # the limiter's gain, sample by sample, where the ratio is well defined
    taken = -20.0 * np.log10(np.abs(master[loud]) / np.abs(into[loud])).min()
    assert taken > 1.0  # the limiter works here
    # the limiter aims MARGIN_DB (0.1 dB) under the ceiling: a depth read to the ceiling was 0.1 dB short
    assert report["peak_limiting_db"] == pytest.approx(taken, abs=0.03)
