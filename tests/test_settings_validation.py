"""Malformed settings files through the CLI: valid JSON (or nearly) that makes no sense as settings
must give one line `tonematch: error: ...` naming the file and the key, and exit 2 - never a
traceback. The input audio is never read: settings are checked first."""

import json

import numpy as np
import pytest
import soundfile as sf

from tonematch.inference.cli import main

GOOD_CHAIN = '[{"processor": "gain", "gain_db": 0.0}]'


def settings_text(**parts):
    """A settings file as raw text, so cases JSON cannot build from Python (NaN, 1e400) stay literal."""
    body = {"sample_rate": "44100", "chain": GOOD_CHAIN, **parts}
    return "{" + ", ".join(f'"{k}": {v}' for k, v in body.items() if v is not None) + "}"


def chain_text(*objects):
    return settings_text(chain="[" + ", ".join(objects) + "]")


# name -> (file text, a word the message must contain)
CASES = {
    "rate_string": (settings_text(sample_rate='"abc"'), "sample_rate"),
    "rate_nan": (settings_text(sample_rate="NaN"), "sample_rate"),
    "rate_overflow": (settings_text(sample_rate="1e400"), "sample_rate"),
    "rate_list": (settings_text(sample_rate="[44100]"), "sample_rate"),
    "rate_negative": (settings_text(sample_rate="-44100"), "sample_rate"),
    "rate_zero": (settings_text(sample_rate="0"), "sample_rate"),
    "rate_bool": (settings_text(sample_rate="true"), "sample_rate"),
    "rate_fraction": (settings_text(sample_rate="44100.5"), "sample_rate"),
    "rate_absurd": (settings_text(sample_rate="10000000000"), "sample_rate"),
    "source_string": (settings_text(source='"a model"'), "source"),
    "source_list": (settings_text(source='["a", "b"]'), "source"),
    "version_number": (settings_text(tonematch_version="1"), "tonematch_version"),
    "unknown_top_key": (settings_text(chians="[]"), "chians"),
    "top_level_list": ("[1, 2, 3]", "JSON object"),
    "chain_missing": (settings_text(chain=None), "has no 'chain'"),  # it said "got null"
    "chain_object": (settings_text(chain='{"processor": "gain"}'), "chain"),
    "huge_int_value": (chain_text('{"processor": "gain", "gain_db": 1' + "0" * 400 + "}"), "gain.gain_db"),
    "digits_beyond_python": (chain_text('{"processor": "gain", "gain_db": 1' + "0" * 5000 + "}"), "not valid JSON"),
    "nan_value": (chain_text('{"processor": "gain", "gain_db": NaN}'), "gain.gain_db"),
    "infinite_value": (chain_text('{"processor": "gain", "gain_db": -Infinity}'), "gain.gain_db"),
    "bool_value": (chain_text('{"processor": "compressor", "ratio": true}'), "compressor.ratio"),
    "string_value": (chain_text('{"processor": "compressor", "ratio": "2"}'), "compressor.ratio"),
    "list_value": (chain_text('{"processor": "width", "width": [1]}'), "width.width"),
    "deep_nesting": ("[" * 100000 + "]" * 100000, "nested"),
    "deep_nesting_in_value": (
        chain_text('{"processor": "gain", "gain_db": ' + "[" * 100000 + "]" * 100000 + "}"),
        "nested",
    ),
    "entry_number": (chain_text("5"), "chain[0]"),
    "entry_string": (chain_text('{"processor": "gain"}', '"eq"'), "chain[1]"),
    "entry_null": (chain_text("null"), "chain[0]"),
    "entry_list": (chain_text('["processor", "gain"]'), "chain[0]"),
    "processor_not_a_name": (chain_text('{"processor": ["eq"]}'), "chain[0]"),
    "processor_missing": (chain_text('{"gain_db": 1.0}'), "chain[0]"),
    "band_number": (chain_text('{"processor": "eq", "highpass": 30}'), "eq.highpass"),
    "band_list": (chain_text('{"processor": "eq", "low_shelf": [1.0, 100.0]}'), "eq.low_shelf"),
    "band_null": (chain_text('{"processor": "eq", "peak1": null}'), "eq.peak1"),
    "band_unknown": (chain_text('{"processor": "eq", "mid": {"gain_db": 1}}'), "eq.mid"),
    "band_enabled_string": (chain_text('{"processor": "eq", "peak1": {"enabled": "no"}}'), "eq.peak1.enabled"),
    "band_value_object": (chain_text('{"processor": "eq", "peak1": {"q": {"value": 1}}}'), "eq.peak1.q"),
    "out_of_absolute_range": (
        chain_text('{"processor": "eq", "high_shelf": {"freq_hz": 30000}}'),
        "eq.high_shelf.freq_hz",
    ),
    "not_utf8": (b'{"chain": []}\xff\xfe', "not valid JSON"),
    # two answers to one question: json kept the last silently (a +12 dB gain read as 0 by a person)
    "duplicate_value": (
        chain_text('{"processor": "gain", "gain_db": 0.0, "gain_db": 12.0}'),
        "'gain_db' appears twice",
    ),
    "duplicate_band_value": (chain_text('{"processor": "eq", "peak1": {"q": 1, "q": 4}}'), "'q' appears twice"),
    # 2 MB of junk in `source` was read, rendered with and copied into OUT.json
    "huge_file": (settings_text(source='{"pad": "' + "x" * 2_000_000 + '"}'), "a settings file is a few KB"),
    "duplicate_top_key": (settings_text(sample_rate="44100, " + '"sample_rate": 48000'), "'sample_rate' appears twice"),
}


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("in") / "in.wav")
    sf.write(path, np.zeros((4410, 2), np.float32), 44100, subtype="PCM_16")
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_settings_fail_in_one_line(tmp_path, capsys, wav, case):
    text, word = CASES[case]
    params = tmp_path / "p.json"
    params.write_bytes(text if isinstance(text, bytes) else text.encode())
    code = main(["render", wav, "--params", str(params), "-o", str(tmp_path / "out.wav")])
    out, err = capsys.readouterr()
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tonematch: error:"), err
    assert str(params) in lines[0] and word in lines[0], lines[0]
    assert len(lines[0]) < 300  # the message describes the value, it does not repeat it
    assert out == "" and sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]


def test_the_cases_are_valid_json_where_they_claim_to_be():
    """Guard against a typo in a case turning it into a plain syntax error."""
    for text, word in CASES.values():
        if word in ("not valid JSON", "nested"):
            continue
        json.loads(text)


@pytest.mark.parametrize(
    "argv",
    [
        ["render"],
        ["render", "in.wav"],
        ["render", "in.wav", "-o", "out.wav"],
        ["render", "--params", "p.json", "-o", "out.wav"],
        ["render", "in.wav", "--params", "p.json"],
    ],
)
def test_render_without_its_arguments_is_one_line(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert code == 2 and out == ""
    assert len(lines) == 1 and lines[0].startswith("tonematch: error: render: missing"), err


@pytest.mark.parametrize("key, value", [("eq.high_shelf.gain_db", 50.0), ("compressor.ratio", -3.0)])
def test_the_api_refuses_what_the_command_refuses(tmp_path, wav, key, value):
    """tonematch.render with an edited Settings out of range raises the command line's message
    (it was clamped silently before), for an array and for a file, and writes nothing."""
    import tonematch
    from tonematch.data.errors import TonematchError
    from tonematch.models.chain.settings import Settings

    settings = Settings.defaults(44100)
    settings.values[key] = value
    out = tmp_path / "out.wav"
    with pytest.raises(TonematchError, match=f"parameter '{key}' = .* is outside its range"):
        tonematch.render(str(wav), settings)
    with pytest.raises(TonematchError, match="is outside its range"):
        tonematch.render(str(wav), settings, str(out))
    assert not out.exists()
    settings.values[key] = Settings.defaults(44100).values[key]
    assert tonematch.render(str(wav), settings).shape[0] == 2


def test_a_settings_file_with_a_byte_order_mark_loads(tmp_path):
    """JSON is UTF-8, and some editors (older Notepad) write a BOM first: it was refused."""
    from tonematch.models.chain.settings import Settings

    s = Settings.defaults(44100)
    s.to_json(tmp_path / "s.json")
    text = (tmp_path / "s.json").read_text(encoding="utf-8")
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert Settings.from_json(tmp_path / "bom.json").values == Settings.from_json(tmp_path / "s.json").values


def test_a_unitless_value_out_of_range_reads_without_a_gap():
    from tonematch import Settings, TonematchError

    s = Settings.defaults(44100)
    s.values["width.width"] = 5.0
    with pytest.raises(TonematchError, match=r"'width\.width' = 5 is outside its range \[0, 2\]"):  # was "= 5  is"
        s.check()
