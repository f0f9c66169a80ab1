"""Settings in an engineer's words (inference/explain.py): what the summary, the report and the
studio say a chain does."""


def test_the_report_and_the_summary_call_the_same_compressor_off():
    """The report's compressor panel is titled as the printed summary says: off when switched
    off (--skip dynamics) or at 1:1, its ratio and threshold otherwise."""
    from tonematch.inference import explain
    from tonematch.models.chain.settings import Settings

    s = Settings.defaults(44100)
    s.values.update({"compressor.ratio": 1.6, "compressor.threshold_db": -14.1})
    assert explain.compressor_title(s) == "1.6:1 at -14.1 dB" and "compressor: 1.6:1" in explain.describe(s)[1]
    off = Settings(s.values, 44100, s.bypass | {"compressor"})
    assert explain.compressor_title(off) == "off" and explain.describe(off)[1] == "compressor: off"
    s.values["compressor.ratio"] = 1.0
    assert explain.compressor_title(s) == "off"


def test_small_eq_moves_are_counted_not_hidden():
    """Moves under MIN_EQ_DB are rendered: the EQ line counts them rather than drop them."""
    from tonematch.inference import explain
    from tonematch.models.chain.settings import Settings

    s = Settings.defaults(44100)
    s.values.update({"eq.low_shelf.gain_db": 2.0, "eq.peak2.gain_db": -0.13, "eq.peak3.gain_db": 0.2})
    line = explain.describe(s)[0]
    assert line.startswith("EQ: low shelf +2.0 dB") and line.endswith(", 2 more under 0.25 dB"), line
    s.values.update({"eq.peak2.gain_db": 0.0, "eq.peak3.gain_db": 0.0})
    assert "more under" not in explain.describe(s)[0]


def test_the_compressor_line_names_an_rms_detector_and_old_settings_keep_their_fingerprint():
    """An RMS-detecting compressor says so (the default peak detector is not named), and a
    settings file written before the RMS window existed reads as unedited."""
    from tonematch.inference import explain
    from tonematch.models.chain.settings import Settings

    s = Settings.defaults(44100)
    s.values.update({"compressor.ratio": 3.0, "compressor.threshold_db": -20.0})
    assert "RMS" not in explain.describe(s)[1]
    stamped = s.stamped({"model": "default"})
    old = stamped.to_dict()
    next(p for p in old["chain"] if p["processor"] == "compressor").pop("rms_ms")
    again = Settings.from_dict(old)
    assert again.values["compressor.rms_ms"] == 0.0 and not again.edited
    s.values["compressor.rms_ms"] = 25.0
    assert explain.describe(s)[1].endswith("knee 6 dB, RMS detector 25 ms")
    assert s.stamped({}).fingerprint() != stamped.fingerprint()


def test_a_short_rms_window_is_named_to_its_precision():
    """A window under 10 ms is read to a tenth (0.4 ms is an RMS detector, not '0 ms')."""
    from tonematch.inference import explain
    from tonematch.models.chain.settings import Settings

    s = Settings.defaults(44100)
    s.values.update({"compressor.ratio": 3.0, "compressor.rms_ms": 0.4})
    assert explain.describe(s)[1].endswith("RMS detector 0.4 ms")
    s.values["compressor.rms_ms"] = 5.0
    assert explain.detector(s) == ", RMS detector 5.0 ms"


def test_a_level_just_under_zero_prints_without_a_minus_zero():
    from tonematch.inference.formatting import signed

    # a master 0.04 dB under full scale printed "-0.0 dBTP" in the run's before/after line
    assert [signed(v) for v in (-0.04, 0.04, -0.06, -1.0, 0.96)] == ["+0.0", "+0.0", "-0.1", "-1.0", "+1.0"]


def test_the_knee_is_said_to_the_tenth_the_studio_shows():
    from tonematch.inference import explain
    from tonematch.models.chain.settings import Settings

    s = Settings.defaults(44100)
    s.values.update({"compressor.ratio": 2.0, "compressor.knee_db": 5.5})
    assert "knee 5.5 dB" in explain.describe(s)[1]  # was "knee 6 dB" beside the studio's 5.5
