"""`--report`'s compressor panel: the band of levels the compressor sees is what its detector reads,
peak or RMS (an RMS detector hears a sine 3 dB under its peak), and the title names an RMS detector."""

import numpy as np

from tonematch.inference import character, explain, inputs, report
from tonematch.models.chain.settings import Settings

SR = 44100


def test_the_levels_band_follows_the_detector():
    t = np.arange(4 * SR) / SR
    x = np.stack([0.5 * np.sin(2 * np.pi * 1000.0 * t)] * 2).astype(np.float32)  # peak -6.02 dBFS
    mix = inputs.analyse_array(x, SR)
    frames = character.analyse(mix.clips, SR, mix.true_peak_ratio)
    s = Settings.defaults(SR)
    s.values.update({"compressor.ratio": 3.0, "compressor.threshold_db": -20.0, "gain.gain_db": 2.0})
    peak = np.percentile(report.detector_levels(mix.clips, frames, s), [5, 99])
    assert np.all(np.abs(peak - (-6.02 + 2.0)) < 0.2), peak
    for rms_ms in (5.0, 30.0, 300.0):
        s.values["compressor.rms_ms"] = rms_ms
        rms = np.percentile(report.detector_levels(mix.clips, frames, s), [5, 99])
        assert np.all(np.abs(rms - (-6.02 - 3.01 + 2.0)) < 0.2), (rms_ms, rms)
    assert explain.detector(s) == ", RMS detector 300 ms"
