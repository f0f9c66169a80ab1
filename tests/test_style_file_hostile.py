"""A hostile .tmstyle card (nested thousands deep, an integer of hundreds of digits, a true peak
given as a string or a boolean, a line's average mix of 1e300) is one `tonematch: error:` line and
status 2, never an internal error; a fixed line masters as `style show` words it, fixed; and the
API refuses a Style object edited into non-finite numbers as load_style refuses such a file."""

import json
import re
from dataclasses import replace

import numpy as np
import pytest
from style_engineer import SR, make_mix
from test_style_card_edits import _edit, settings_style

import tonematch
from tonematch.inference.cli import main
from tonematch.inference.quality import lufs
from tonematch.inference.style import describe, load_style, save_style


def _raw_edit(path, build):
    """Replace the card with `build(card_json_text)`, a text no dict round trip can hold."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(path), framework="numpy") as f:
        metadata, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    metadata["card"] = build(metadata["card"])
    save_file(tensors, str(path), metadata=metadata)


def _deep_in_meta(levels: int):
    return lambda text: text.replace('"meta": {', '"meta": {"x": ' + "[" * levels + "]" * levels + ", ", 1)


@pytest.mark.parametrize(
    "build, needle",
    [
        (_deep_in_meta(5000), "nests deeper than"),  # json.loads itself recursed past Python's limit
        (_deep_in_meta(600), "nests deeper than"),  # loaded, then `show --json` recursed past it
        (lambda t: t.replace('"true_peak_dbtp": -1.2', '"true_peak_dbtp": -1' + "0" * 400, 1), "digits"),
        (lambda t: t.replace('"pairs": 6', '"pairs": 1' + "0" * 400, 1), "digits"),
    ],
)
def test_a_card_no_json_dump_writes_is_one_error_line(tmp_path, capsys, build, needle):
    path = save_style(settings_style(), tmp_path / "s.tmstyle")
    text = json.dumps(json.loads(_card_text(path)))  # the separators the replacements expect
    _raw_edit(path, lambda _: build(text))
    for extra in ([], ["--json"]):
        assert main(["style", "show", str(path), *extra]) == 2
        out, err = capsys.readouterr()
        assert out == "" and len(err.splitlines()) == 1, err
        assert err.startswith("tonematch: error: ") and needle in err and "internal error" not in err


def _card_text(path) -> str:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        return f.metadata()["card"]


@pytest.mark.parametrize("value", ["-1", True, None])
def test_a_true_peak_that_is_not_a_number_is_refused(tmp_path, capsys, value):
    path = save_style(settings_style(), tmp_path / "s.tmstyle")
    _edit(path, lambda card: card.__setitem__("true_peak_dbtp", value))
    assert main(["style", "show", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "true peak" in err and "internal error" not in err


def test_a_line_whose_average_mix_is_absurd_is_refused(tmp_path, capsys):
    """An adaptive loudness around a mix of 1e300 LUFS: every master at the table's floor."""
    path = save_style(settings_style(), tmp_path / "s.tmstyle")
    loud = {"mode": "adaptive", "value": -11.0, "slope": 1.0, "x_mean": 1e300}
    _edit(path, lambda card: card["settings"]["groups"]["loudness"].update(loud))
    assert main(["style", "show", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "loudness's average mix" in err


def test_a_fixed_line_masters_as_show_says_it(tmp_path):
    """A fixed loudness of -11 LUFS carrying a slope (no fit writes one): `style show` says
    'fixed: -11.0 LUFS', and the master lands there, not 1 LU per LU of the mix away."""
    path = save_style(settings_style(), tmp_path / "s.tmstyle")
    _edit(path, lambda card: card["settings"]["groups"]["loudness"].update(slope=1.0, x_mean=-40.0))
    style = load_style(path)
    assert "loudness, fixed: -11.0 LUFS" in "\n".join(describe(style))
    mix = make_mix(3, 4.0)
    result = tonematch.master(mix, style, sample_rate=SR)
    assert result.settings.values["loudness.target_lufs"] == pytest.approx(-11.0, abs=1e-6)
    assert lufs(np.asarray(result.audio, np.float64), SR) == pytest.approx(-11.0, abs=0.5)


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda s: replace(s, tone_c=np.full_like(s.tone_c, np.nan)), "'tone_c' holds non-finite numbers"),
        (lambda s: replace(s, scalar_c=np.array([3.0, 13.0, np.inf])), "'scalar_c' holds non-finite numbers"),
        (lambda s: replace(s, true_peak_dbtp=float("nan")), "true_peak_dbtp is nan"),
    ],
)
def test_the_api_refuses_a_style_object_edited_into_garbage(edit, needle):
    """tonematch.master(mix, Style) checks the object as load_style checks a file: a loudness of
    inf was mastered at the table's top (-6 LUFS), a NaN balance with an EQ fitted to NaN."""
    style = settings_style()
    style.settings = None  # a style of character: its tensors and true peak aim the master
    with pytest.raises(tonematch.TonematchError, match="not a usable style: .*" + re.escape(needle)):
        tonematch.master(make_mix(3, 2.0), edit(style), sample_rate=SR, refine=False)


def test_the_api_refuses_settings_edited_into_garbage():
    style = settings_style()
    style.settings["groups"]["loudness"]["value"] = float("nan")
    with pytest.raises(tonematch.TonematchError, match="its loudness's value is not a number"):
        tonematch.master(make_mix(3, 2.0), style, sample_rate=SR)
    assert tonematch.master(make_mix(3, 2.0), settings_style(), sample_rate=SR).audio.size


def test_show_never_says_minus_zero():
    """A fitted width of 0.9996 (side -0.003 dB) read 'side -0.0 dB' in `style show`."""
    style = settings_style()
    style.settings["groups"]["width"]["value"] = -0.003
    text = "\n".join(describe(style))
    assert "stereo width, fixed: 1.00 (side +0.0 dB)" in text and "-0.0" not in text


_RMS_COMPRESSOR = {
    "on": True, "pairs": 6, "mode": "fixed", "timing_pairs": 6, "reduction_db": 4.0,
    "threshold": {"mode": "fixed", "value": -7.0, "slope": 0.0, "x_mean": 0.0, "reference": "mix loudness"},
    "log_ratio": {"mode": "fixed", "value": 1.3, "slope": 0.0, "x_mean": 12.0},
    "attack_ms": 2.2, "release_ms": 104.0, "knee_db": 6.0, "rms_ms": 20.0,
}  # fmt: skip


@pytest.mark.parametrize(
    "probes, said",
    [
        ({"attack_ms": [0.001, 0.002], "release_ms": [0.03, 0.02]}, "renders of attack 0.7 to 6.6 ms sound nearly"),
        ({"attack_ms": [0.02, 0.04], "release_ms": [0.03, 0.02]}, None),
        ({"attack_ms": [0.001, "x"]}, "timing probes are not two numbers"),
        ({"ratio": [0.1, 0.1]}, "timing probes are not two numbers"),
    ],
)
def test_the_rms_search_timing_probes_are_said_or_refused(tmp_path, capsys, probes, said):
    """A style whose RMS search could not tell the attack apart says so in `style show`; one that
    could says nothing of it; probes that are not two numbers per timing are refused in one line."""
    path = save_style(settings_style(), tmp_path / "s.tmstyle")
    comp = dict(_RMS_COMPRESSOR, timing_probes=probes)
    _edit(path, lambda card: card["settings"]["groups"].__setitem__("compressor", comp))
    code = main(["style", "show", str(path)])
    out, err = capsys.readouterr()
    if said is None:
        assert code == 0 and "not told apart" not in out and "attack 2.2 ms, release 104 ms" in out, out
    elif said.startswith("timing probes"):
        assert code == 2 and len(err.splitlines()) == 1 and said in err, err
    else:
        assert code == 0 and said in out and "release 52" not in out, out
