"""A style file edited by hand: what `style show` prints (the held-out check, the counts, the floor)
and the fixed settings `master` uses (ceiling, loudness, width) are checked when it loads. An edit
no fit writes is one error line, never an internal error or a figure shown that master would clip."""

import json

import pytest
from safetensors import safe_open
from safetensors.numpy import save_file
from style_example import example_style

from tonematch.inference.cli import main
from tonematch.inference.style import BUMP_HZ, describe, load_style, save_style
from tonematch.inference.style.settings_model import MODEL_VERSION
from tonematch.inference.style.transfer import grid_hz


def _line(value: float) -> dict:
    return {"mode": "fixed", "value": value, "slope": 0.0, "x_mean": 0.0}


def settings_style():
    """A settings style as a fit writes one: a flat EQ, no compressor, width 1.25, -11 LUFS, -1 dBTP."""
    n, k = len(grid_hz()), len(BUMP_HZ)
    s = example_style()
    s.settings = {
        "version": MODEL_VERSION,
        "sample_rate": 44100,
        "bump_hz": [float(f) for f in BUMP_HZ],
        "groups": {
            "eq": {"mode": "fixed", "curve_db": [0.0] * n, "weight": [1.0] * n, "slopes": [0.0] * k}
            | {"mix_mean": [0.0] * k, "values": {}},
            "compressor": {"on": False, "pairs": 0, "mode": "fixed"},
            "width": _line(1.94),
            "loudness": _line(-11.0),
            "limiter": {"mode": "fixed", "ceiling_dbtp": -1.0, "release_ms": 60.0},
        },
        "pairs": [{"name": "a", "floor_db": 0.1}],
        "floor_db": 0.1,
    }
    s.meta["check"] = {
        "style": {"mrstft": 0.07, "lufs_error": 0.0, "crest_error": 0.02},
        "generic": {"mrstft": 1.04, "lufs_error": 0.01, "crest_error": 0.46},
        "mrstft_gain": 0.93,
    }
    return s


def _edit(path, change):
    with safe_open(str(path), framework="numpy") as f:
        metadata, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    card = json.loads(metadata["card"])
    change(card)
    metadata["card"] = json.dumps(card)
    save_file(tensors, str(path), metadata=metadata)


def _set(where, key, value):
    return lambda card: where(card).__setitem__(key, value)


groups = lambda card: card["settings"]["groups"]  # noqa: E731


@pytest.mark.parametrize(
    "change, needle",
    [
        (_set(lambda c: c["meta"], "check", "x"), "held-out check is not a set of figures"),
        (_set(lambda c: c["meta"]["check"]["style"], "mrstft", "x"), "held-out check is not a set of figures"),
        (_set(lambda c: c["settings"], "floor_db", "x"), "floor is not a number"),
        (_set(lambda c: c["meta"], "pairs", -3), "pairs is -3, not a count"),
        (lambda c: c.pop("meta"), "fitted on pairs or on references"),
        (_set(lambda c: groups(c)["limiter"], "ceiling_dbtp", 3.0), "ceiling is 3 dBTP, outside -6 .. 0"),
        (_set(lambda c: groups(c)["limiter"], "ceiling_dbtp", -20.0), "ceiling is -20 dBTP"),
        (_set(lambda c: groups(c)["loudness"], "value", 5.0), "loudness is 5 LUFS, outside -30 .. -6"),
        (_set(lambda c: groups(c)["width"], "value", 15.0), "width is 15 dB of side"),
    ],
)
def test_an_edit_no_fit_writes_is_one_error_line(tmp_path, capsys, change, needle):
    path = save_style(settings_style(), tmp_path / "s.tmstyle")
    assert main(["style", "show", str(path)]) == 0
    assert "ceiling -1.0 dBTP" in capsys.readouterr().out
    _edit(path, change)
    assert main(["style", "show", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and needle in err and "internal error" not in err


def test_a_fit_slightly_over_zero_dbtp_still_loads(tmp_path):
    """Older fits wrote the consensus's trial ceiling unclipped (up to +0.4 dBTP): still a style."""
    path = save_style(settings_style(), tmp_path / "s.tmstyle")
    _edit(path, _set(lambda c: groups(c)["limiter"], "ceiling_dbtp", 0.2))
    assert "ceiling +0.2 dBTP" in "\n".join(describe(load_style(path)))
