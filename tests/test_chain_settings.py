"""Settings JSON: exact round trip, readable layout, clear errors."""
import json

import pytest
import torch

from tonematch.data.errors import TonematchError
from tonematch.models.chain import TABLE
from tonematch.models.chain.settings import Settings


def test_json_round_trip_is_exact(tmp_path):
    s = Settings.from_unit(torch.rand(len(TABLE), generator=torch.Generator().manual_seed(0)), 48000,
                           source={"model": "test"})
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
    assert [p["processor"] for p in d["chain"]] == ["gain", "eq", "compressor", "width", "limiter", "loudness"]
    assert list(tmp_path.iterdir()) == [path]  # no temp files left


def test_unit_round_trip():
    u = torch.rand(len(TABLE), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert torch.allclose(Settings.from_unit(u, 44100).to_unit(), u, atol=1e-12)


def test_partial_file_takes_defaults():
    s = Settings.from_dict({"chain": [{"processor": "compressor", "ratio": 3}]})
    assert s.values["compressor.ratio"] == 3.0
    assert s.values["eq.low_shelf.gain_db"] == 0.0


@pytest.mark.parametrize("chain, message", [
    ([{"processor": "reverb"}], "unknown processor"),
    ([{"processor": "compressor", "treshold_db": -10}], "unknown parameter"),
    ([{"processor": "compressor", "ratio": 50}], "outside its range"),
    ([{"processor": "compressor", "ratio": "2"}], "finite number"),
    ([{"processor": "eq", "mid": {"gain_db": 1}}], "unknown band"),
    ([{"processor": "gain"}, {"processor": "gain"}], "twice"),
    ([{"processor": "gain", "enabled": "no"}], "true or false"),
])
def test_bad_settings_are_explained(chain, message):
    with pytest.raises(TonematchError, match=message):
        Settings.from_dict({"sample_rate": 44100, "chain": chain})


def test_frequency_out_of_range_for_rate():
    d = {"sample_rate": 22050, "chain": [{"processor": "eq", "high_shelf": {"freq_hz": 16000}}]}
    with pytest.raises(TonematchError, match="22050"):
        Settings.from_dict(d)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(TonematchError, match="not found"):
        Settings.from_json(str(tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(TonematchError, match="not valid JSON"):
        Settings.from_json(str(bad))
