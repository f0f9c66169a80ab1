"""A reference louder than the loudness stage takes (-6 LUFS): the run says so, and a mono mix's
master is aimed as close to it as the stage allows, not 3 LU under the clamped target."""

from __future__ import annotations

import numpy as np
import soundfile as sf

import tonematch
from tonematch.inference import batch


def _loud_reference(path) -> tuple[np.ndarray, int]:
    ref, rate = sf.read(path, dtype="float32", always_2d=True)
    return np.clip(ref.T * 10.0 ** (15.0 / 20.0), -1.0, 1.0), rate  # clipped: about -3 LUFS


def test_a_reference_louder_than_the_stage_takes_is_said(example_mix, example_reference):
    ref, rate = _loud_reference(example_reference)
    mix, _ = sf.read(example_mix, dtype="float32", always_2d=True)
    result = tonematch.match(mix.T.copy(), ref, sample_rate=rate, refine=False)
    assert result.settings.values["loudness.target_lufs"] == -6.0
    # before: nothing said the reference read louder than the -6.0 LUFS target
    assert result.notes["reference_lufs"] > -5.0
    run = {"input": "mix", "output": "out", "settings": result.settings, "notes": result.notes}
    levels = dict.fromkeys(("input_lufs", "input_true_peak_dbtp", "output_lufs", "output_true_peak_dbtp"), 0.0)
    line = batch.format_result({**run, **levels, "settings_path": "x", "total_seconds": 1.0})
    assert "outside the loudness the chain takes" in line


def test_a_mono_mix_is_aimed_at_the_top_of_the_stage(example_mix, example_reference):
    ref, rate = _loud_reference(example_reference)
    mix, _ = sf.read(example_mix, dtype="float32", always_2d=True)
    result = tonematch.match(mix.T.mean(axis=0, keepdims=True), ref, sample_rate=rate, refine=False)
    # as played the reference asks ~-6 LUFS of a mono file, the stage's top; before: -9.0 (clamped, then -3 LU)
    assert result.settings.values["loudness.target_lufs"] > -7.0
