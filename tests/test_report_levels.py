"""`--report`'s compressor panel: the band of levels the compressor sees is what its detector reads,
peak or RMS (an RMS detector hears a sine 3 dB under its peak), and the title names an RMS detector."""

import numpy as np

from tonematch.inference import character, explain, inputs, report
from tonematch.models.chain.settings import Settings

SR = 44100


def _sine(freq_hz: float, amplitude: float):
    """(analysis, frames) of 4 s of a stereo sine, as the report receives a mix."""
    t = np.arange(4 * SR) / SR
    x = np.stack([amplitude * np.sin(2 * np.pi * freq_hz * t)] * 2).astype(np.float32)
    mix = inputs.analyse_array(x, SR)
    return mix, character.analyse(mix.clips, SR, mix.true_peak_ratio)


def test_the_levels_band_follows_the_detector():
    mix, frames = _sine(1000.0, 0.5)  # peak -6.02 dBFS
    s = Settings.defaults(SR)
    s.values.update({"compressor.ratio": 3.0, "compressor.threshold_db": -20.0, "gain.gain_db": 2.0})
    peak = np.percentile(report.detector_levels(mix.clips, frames, s), [5, 99])
    assert np.all(np.abs(peak - (-6.02 + 2.0)) < 0.2), peak
    for rms_ms in (5.0, 30.0, 300.0):
        s.values["compressor.rms_ms"] = rms_ms
        rms = np.percentile(report.detector_levels(mix.clips, frames, s), [5, 99])
        assert np.all(np.abs(rms - (-6.02 - 3.01 + 2.0)) < 0.2), (rms_ms, rms)
    assert explain.detector(s) == ", RMS detector 300 ms"


def test_the_levels_band_hears_the_eq():
    """The compressor's detector follows the EQ: a bass sine under a +6 dB low shelf reaches it
    boosted, and the band of levels it sees says so (peak and RMS detectors)."""
    mix, frames = _sine(60.0, 0.25)  # peak -12.04 dBFS
    s = Settings.defaults(SR)
    s.values.update({"compressor.ratio": 3.0, "compressor.threshold_db": -20.0, "gain.gain_db": 1.0})
    s.values.update({"eq.low_shelf.gain_db": 6.0, "eq.low_shelf.freq_hz": 200.0})
    boost = 10.0 * np.log10(character.eq_power_at(s.values, np.array([60.0]), SR, s.bypass)[0])
    assert boost > 5.0, boost
    peak = np.percentile(report.detector_levels(mix.clips, frames, s), [5, 99])
    assert np.all(np.abs(peak - (-12.04 + 1.0 + boost)) < 0.2), (peak, boost)
    s.values["compressor.rms_ms"] = 30.0
    rms = np.percentile(report.detector_levels(mix.clips, frames, s), [5, 99])
    assert np.all(np.abs(rms - (-12.04 - 3.01 + 1.0 + boost)) < 0.2), (rms, boost)


def test_the_static_curve_is_what_the_compressor_does_to_a_steady_level():
    """The curve's output level is the exact compressor's on a steady (DC) input, make-up gain included."""
    from tonematch.models.chain.exact import render_array

    s = Settings.defaults(SR)
    s.values.update(
        {
            "compressor.ratio": 4.0,
            "compressor.threshold_db": -20.0,
            "compressor.knee_db": 6.0,
            "compressor.makeup_db": 4.0,
        }
    )
    only = Settings(s.values, SR, s.bypass | {"gain", "eq", "width", "limiter", "loudness"})
    levels = np.array([-40.0, -22.0, -20.0, -12.0, -3.0])
    real = [
        20.0 * np.log10(render_array(np.full((2, SR // 2), 10 ** (lv / 20), np.float32), only, SR)[0, -1])
        for lv in levels
    ]
    assert np.allclose(report.static_curve(s, levels), real, atol=0.01), (report.static_curve(s, levels), real)
    s.bypass = s.bypass | {"compressor"}
    assert np.allclose(report.static_curve(s, levels), levels)


def test_the_panels_say_what_they_plot(tmp_path, monkeypatch):
    """The tonal balance is read on the analysed excerpts (not the whole song) and the output's
    curve is the frame model's; a style master's third curve and bars are its 'style target'."""
    from matplotlib.figure import Figure

    from tonematch.inference import match

    drawn = []
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: drawn.append(fig))
    t = np.arange(2 * SR) / SR
    x = np.stack([0.3 * np.sin(2 * np.pi * 440.0 * t), 0.2 * np.sin(2 * np.pi * 660.0 * t)]).astype(np.float32)
    mix = inputs.analyse_array(x, SR)
    summary = {"input": "mix.wav", "output": "out.wav", "input_lufs": mix.lufs, "output_lufs": -14.0}
    summary.update(input_true_peak_dbtp=mix.true_peak_dbtp, output_true_peak_dbtp=-1.0, frames=x.shape[1])
    for name, third in (("reference", "reference"), ("style mine", "style target")):
        report.write_report(tmp_path / "r.png", mix, match.target_from(mix, name), Settings.defaults(SR), summary)
        tone, levels = drawn[-1].axes[1], drawn[-1].axes[4]
        assert "analysed excerpts" in tone.get_title()
        assert [t.get_text() for t in tone.get_legend().get_texts()] == ["mix", "output (frame model)", third]
        assert [t.get_text() for t in levels.get_xticklabels()][2::3] == [third, third]
    # the compressor's panel shows the levels it sees only when it is on
    comp = drawn[-1].axes[2]
    assert [t.get_text() for t in comp.get_legend().get_texts()] == ["compressor", "1:1"]  # defaults: ratio 1
    on = Settings.defaults(SR)
    on.values["compressor.ratio"] = 3.0
    report.write_report(tmp_path / "r.png", mix, match.target_from(mix, "reference"), on, summary)
    assert "levels it sees (5-99 %)" in [t.get_text() for t in drawn[-1].axes[2].get_legend().get_texts()]
    # a mono reference that match took as it plays: its loudness bar says so, and only its
    summary["notes"] = {"mono_playback_lu": 3.0103}
    report.write_report(tmp_path / "r.png", mix, match.target_from(mix, "reference"), Settings.defaults(SR), summary)
    numbers = [t.get_text() for t in drawn[-1].axes[4].texts if "LUFS" not in t.get_text()][:3]
    assert "on 2 speakers" in numbers[2] and not any("speakers" in n for n in numbers[:2]), numbers


def test_the_tonal_balance_is_aligned_over_the_range_it_compares():
    """Two files alike from 30 Hz to 16 kHz get one curve there, whatever lies above (ultrasonics
    of a 96 kHz file, or none: a reference cut at 16 kHz)."""
    sr = 96000
    rng = np.random.default_rng(1)
    spec = np.fft.rfft(rng.standard_normal((2, 2 * sr)))
    f = np.fft.rfftfreq(2 * sr, 1.0 / sr)
    audible = np.fft.irfft(spec * ((f > 20.0) & (f < 15000.0)) / np.sqrt(np.maximum(f, 20.0)), axis=-1)
    ultra = np.fft.irfft(spec * (f > 25000.0), axis=-1)
    curves = []
    for x in (audible, audible + 0.3 * np.abs(audible).max() / np.abs(ultra).max() * ultra):
        frames = character.analyse(inputs.analyse_array(x.astype(np.float32), sr).clips, sr)
        curves.append(report.balance_db(character.neutral(frames), frames))
    sel = (frames.centers_hz > 60.0) & (frames.centers_hz < 12000.0)
    assert np.abs(curves[0] - curves[1])[sel].max() < 0.1, np.abs(curves[0] - curves[1])[sel].max()


def test_gain_reduction_is_drawn_once_the_envelopes_settle():
    """Each excerpt renders from rest: its first SETTLE_S is left out of the panel, so a steady
    tone under a slow compressor draws its steady gain reduction, not the attack from rest."""
    from matplotlib.figure import Figure

    mix, _ = _sine(1000.0, 0.5)
    s = Settings.defaults(SR)
    s.values.update({"compressor.ratio": 4.0, "compressor.threshold_db": -30.0, "compressor.attack_ms": 100.0})
    s.bypass = s.bypass | {"limiter", "loudness"}
    ax = Figure().subplots()
    report._gain_reduction_panel(ax, mix, s, {"frames": mix.clips.shape[-1]})
    (fill,) = ax.collections
    t, g = fill.get_paths()[0].vertices.T
    drawn = g[g < -0.01]
    assert t.min() >= report.SETTLE_S - 1e-9
    assert np.ptp(drawn) < 0.5, (drawn.min(), drawn.max())  # steady, no ramp from 0
