"""Settings JSON: exact round trip, readable layout, clear errors."""

import json

import numpy as np
import pytest
import torch

from tonematch.data.errors import TonematchError
from tonematch.models.chain import TABLE
from tonematch.models.chain.settings import Settings


def test_json_round_trip_is_exact(tmp_path):
    s = Settings.from_unit(
        torch.rand(len(TABLE), generator=torch.Generator().manual_seed(0)), 48000, source={"model": "test"}
    )
    s.bypass = frozenset({"eq.peak3", "compressor"})
    path = tmp_path / "s.json"
    s.to_json(str(path))
    back = Settings.from_json(str(path))
    assert back.values == s.values
    assert back.bypass == s.bypass and back.sample_rate == 48000 and back.source == {"model": "test"}
    d = json.loads(path.read_text())
    eq = next(p for p in d["chain"] if p["processor"] == "eq")
    assert set(eq["low_shelf"]) == {"gain_db", "freq_hz", "q"}
    assert eq["peak3"]["enabled"] is False
    assert [p["processor"] for p in d["chain"]] == ["gain", "eq", "match", "compressor", "width", "limiter", "loudness"]
    assert list(tmp_path.iterdir()) == [path]  # no temp files left


def test_unit_round_trip():
    u = torch.rand(len(TABLE), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert torch.allclose(Settings.from_unit(u, 44100).to_unit(), u, atol=1e-12)


def test_partial_file_takes_defaults():
    s = Settings.from_dict({"chain": [{"processor": "compressor", "ratio": 3}]})
    assert s.values["compressor.ratio"] == 3.0
    assert s.values["eq.low_shelf.gain_db"] == 0.0


@pytest.mark.parametrize(
    "chain, message",
    [
        ([{"processor": "reverb"}], "unknown processor"),
        ([{"processor": "compressor", "treshold_db": -10}], "unknown parameter"),
        ([{"processor": "compressor", "ratio": 50}], "outside its range"),
        ([{"processor": "compressor", "ratio": "2"}], "finite number"),
        ([{"processor": "eq", "mid": {"gain_db": 1}}], "unknown band"),
        ([{"processor": "gain"}, {"processor": "gain"}], "twice"),
        ([{"processor": "gain", "enabled": "no"}], "true or false"),
    ],
)
def test_bad_settings_are_explained(chain, message):
    with pytest.raises(TonematchError, match=message):
        Settings.from_dict({"sample_rate": 44100, "chain": chain})


def test_frequency_above_the_rate_is_kept_and_moved_only_for_rendering():
    d = {"sample_rate": 44100, "chain": [{"processor": "eq", "high_shelf": {"gain_db": 2.0, "freq_hz": 8000}}]}
    s = Settings.from_dict(d)
    assert s.values["eq.high_shelf.freq_hz"] == 8000.0  # the file's value, whatever the rate
    with pytest.raises(TonematchError, match="16000 Hz"):
        s.validate(16000)  # renderers get at_rate copies; the raw values do not fit this rate
    at16, notes = s.at_rate(16000)
    assert notes == ["eq.high_shelf.freq_hz 8000 Hz is above what 16000 Hz allows; using 7200 Hz"]
    assert at16.values["eq.high_shelf.freq_hz"] == 7200.0 and s.values["eq.high_shelf.freq_hz"] == 8000.0
    at16.validate(16000)
    assert s.at_rate(44100)[1] == []


def test_only_bands_that_are_on_and_audible_are_reported_when_moved():
    Settings.from_dict(
        {"sample_rate": 8000, "chain": [{"processor": "eq", "high_shelf": {"enabled": False, "freq_hz": 16000}}]}
    ).validate(8000)  # a band that is off is not checked against the rate
    s = Settings.from_dict(
        {
            "chain": [
                {
                    "processor": "eq",
                    "high_shelf": {"enabled": False, "freq_hz": 16000},
                    "peak4": {"gain_db": 0.0, "freq_hz": 16000},
                }
            ]
        }
    )
    at8, notes = s.at_rate(8000)
    assert notes == []  # off, and 0 dB: neither changes the sound
    at8.validate(8000)


def test_absolute_ranges_still_refuse_nonsense():
    for band, value in (("high_shelf", 30000.0), ("highpass", 5.0)):
        d = {"chain": [{"processor": "eq", band: {"enabled": False, "freq_hz": value}}]}
        with pytest.raises(TonematchError, match=f"eq.{band}.freq_hz"):
            Settings.from_dict(d)


def test_the_off_state_comes_from_the_parameter_table():
    off = {e.switch for e in TABLE.entries if not e.default_enabled}
    assert off == {"eq.highpass"} and TABLE.default_bypass == frozenset(off)
    assert Settings.defaults(48000).bypass == TABLE.default_bypass


@pytest.mark.parametrize(
    "chain, highpass_on",
    [
        ([], False),
        ([{"processor": "eq"}], False),
        ([{"processor": "eq", "low_shelf": {"gain_db": 1.0}}], False),
        ([{"processor": "eq", "highpass": {"freq_hz": 30.0}}], True),  # naming a band switches it on
        ([{"processor": "eq", "highpass": {"enabled": True}}], True),
        ([{"processor": "eq", "highpass": {"enabled": False, "freq_hz": 30.0}}], False),
    ],
)
def test_a_band_the_file_leaves_out_keeps_its_default_state(chain, highpass_on):
    s = Settings.from_dict({"chain": chain})
    assert s.enabled("eq", "highpass") is highpass_on
    back = Settings.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back.bypass == s.bypass and back.values == s.values


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(TonematchError, match="not found"):
        Settings.from_json(str(tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(TonematchError, match="not valid JSON"):
        Settings.from_json(str(bad))


def _null_render(settings, sample_rate):
    from tonematch.data.synth import music_like
    from tonematch.models.chain.exact import render_array

    x = music_like(seconds=1.0, sample_rate=sample_rate)
    return x, render_array(x, settings, sample_rate, block=4096)


@pytest.mark.parametrize("sample_rate", [8000, 44100])
def test_defaults_are_neutral(sample_rate):
    """Null test: with loudness and limiter off, the defaults give back the input."""
    s = Settings.defaults(sample_rate)
    s.bypass = s.bypass | {"loudness", "limiter"}
    x, y = _null_render(s, sample_rate)
    assert np.abs(y - x).max() < 1e-6


def test_a_file_without_eq_is_neutral():
    s = Settings.from_dict(
        {
            "sample_rate": 44100,
            "chain": [{"processor": "limiter", "enabled": False}, {"processor": "loudness", "enabled": False}],
        }
    )
    x, y = _null_render(s, 44100)
    assert np.abs(y - x).max() < 1e-6
    s = Settings.from_dict(
        {
            "chain": [
                {"processor": "eq", "low_shelf": {"gain_db": 0.0}},
                {"processor": "limiter", "enabled": False},
                {"processor": "loudness", "enabled": False},
            ]
        }
    )
    assert np.abs(_null_render(s, 44100)[1] - x).max() < 1e-6  # an eq without a highpass too


def test_unit_mapping_is_the_tables_lin_log_mapping_for_one_or_many_specs():
    """One mapping: many specs at once (nested lists too), one spec's from_unit on floats and on
    tensors all give the lin/log formula; knee and width have low = 0: no NaN from the log branch."""
    from tonematch.models.chain.params import unit_mapping

    keys = ["eq.peak2.freq_hz", "compressor.knee_db", "width.width", "compressor.ratio", "eq.low_shelf.gain_db"]
    specs = [TABLE.by_key[k].spec for k in keys]
    u = np.linspace(0.05, 0.95, len(specs))
    for rate in (22050, 48000):
        bounds = [s.bounds(rate) for s in specs]
        want = [
            lo * (hi / lo) ** x if s.scale == "log" else lo + (hi - lo) * x for s, (lo, hi), x in zip(specs, bounds, u)
        ]
        got = unit_mapping(specs, rate)(u)
        assert np.allclose(got, want, rtol=1e-12)
        assert np.allclose([s.from_unit(float(x), rate) for s, x in zip(specs, u)], want, rtol=1e-12)
        tensors = [float(s.from_unit(torch.tensor(x, dtype=torch.float64), rate)) for s, x in zip(specs, u)]
        assert np.allclose(tensors, want, rtol=1e-12)
        nested = unit_mapping([specs[:2], specs[2:4]], rate)(u[:4].reshape(2, 2))
        assert np.allclose(nested.ravel(), got[:4], rtol=1e-12)
