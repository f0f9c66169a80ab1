"""A reference at a lower sample rate than the mix: its empty top octave is its format, not its
mastering, so the master comes out as it does with the same reference at the mix's rate."""

from __future__ import annotations

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import welch

import tonematch


def _treble_over_bass_db(audio: np.ndarray, sample_rate: int) -> float:
    f, p = welch(audio.mean(axis=0), sample_rate, nperseg=8192)
    return float(10.0 * np.log10(p[(f > 2000) & (f < 10000)].mean() / p[(f > 40) & (f < 250)].mean()))


def test_a_reference_at_22k_is_not_read_as_darker(tmp_path, example_mix, example_reference):
    ref, rate = sf.read(example_reference, dtype="float32", always_2d=True)
    low = tmp_path / "reference_22k.wav"
    sf.write(low, soxr.resample(ref, rate, 22050), 22050, subtype="FLOAT")
    same = tonematch.match(example_mix, example_reference)
    lower = tonematch.match(example_mix, low)
    # before: the 22.05 kHz reference's empty 11-22 kHz read as darkness, its master 1.55 dB
    # darker (treble against bass) than with the same reference at 44.1 kHz; now +0.23 dB
    shift = _treble_over_bass_db(lower.audio, lower.sample_rate) - _treble_over_bass_db(same.audio, same.sample_rate)
    assert abs(shift) < 0.8
