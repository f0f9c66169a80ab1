"""Validation at the boundary: model and style files checked on load (shapes, finiteness, ranges)
and refused in one line naming the file; the Python API's sample rates, arrays and options
refused with the command line's message (TonematchError); tonematch-export never unpickles code."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import soundfile as sf
from safetensors import safe_open
from safetensors.numpy import load_file, save_file
from style_example import example_style

import tonematch
from tonematch.data.errors import TonematchError
from tonematch.inference.cli import main
from tonematch.inference.style import file as style_file
from tonematch.models import numpy_runtime
from tonematch.models.files import DEFAULT_MODEL

from signals import music_like

SR = 22050


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(code, out, err, needle):
    lines = err.splitlines()
    assert code == 2 and out == "", err
    assert len(lines) == 1 and lines[0].startswith("tonematch: error: ") and "Traceback" not in err, err
    assert "Warning" not in err  # numpy's RuntimeWarnings never reach the user
    assert needle in lines[0], lines[0]
    return lines[0]


# -- model files --------------------------------------------------------------------------------------


def _model_copy(tmp_path, change=None, card_text=None):
    """The shipped model copied to tmp_path/net, its tensors passed through `change(dict)`."""
    stem = tmp_path / "net"
    shutil.copy(str(DEFAULT_MODEL) + ".json", str(stem) + ".json")
    weights = load_file(str(DEFAULT_MODEL) + ".safetensors")
    if change is not None:
        change(weights)
    save_file(weights, str(stem) + ".safetensors", metadata={"format": "pt"})
    if card_text is not None:
        (tmp_path / "net.json").write_text(card_text((tmp_path / "net.json").read_text()))
    return stem


def _config(text, **changes):
    card = json.loads(text)
    card["config"].update(changes)
    return json.dumps(card)


def _flip_bytes(w):  # a transfer that swapped the byte order of one tensor
    w["controller.out.weight"] = w["controller.out.weight"].byteswap()


def _one_huge(w):
    w["encoder.head.0.weight"] = w["encoder.head.0.weight"].copy()
    w["encoder.head.0.weight"][3, 5] = 1e6


def _cut_shape(w):
    w["controller.net.3.weight"] = np.ascontiguousarray(w["controller.net.3.weight"][:-1])


def _nan(w):
    w["encoder.cnn.1.0.weight"] = w["encoder.cnn.1.0.weight"].copy()
    w["encoder.cnn.1.0.weight"].flat[7] = np.nan


@pytest.mark.parametrize(
    "change, card, needle",
    [
        (_flip_bytes, None, "corrupt"),
        (_one_huge, None, "far beyond any trained weight"),
        (_cut_shape, None, "do not match the model its card describes"),
        (_nan, None, "NaN or infinite"),
        (None, lambda t: t.replace('"format_version": 1,', '"format_version": 1, "note": NaN,'), "NaN"),
        (None, lambda t: _config(t, sample_rate=-24000), "sample rate"),
        (None, lambda t: _config(t, n_params=31.5), "'n_params' is 31.5"),
    ],
)
def test_a_corrupt_model_file_is_refused_on_load_naming_it(tmp_path, change, card, needle):
    stem = _model_copy(tmp_path, change, card)
    with pytest.raises(TonematchError, match=needle) as exc:
        numpy_runtime.load(stem)
    assert str(stem) in str(exc.value)


def test_the_shipped_model_passes_its_own_checks():
    numpy_runtime.load(DEFAULT_MODEL)


def test_match_with_a_corrupt_model_exits_2_before_any_audio(tmp_path, capsys):
    stem = _model_copy(tmp_path, _flip_bytes)
    sf.write(tmp_path / "mix.wav", music_like(2.0, SR, seed=1).T, SR, subtype="PCM_16")
    code, out, err = run(
        capsys, "match", tmp_path / "mix.wav", "-r", tmp_path / "mix.wav", "-o", tmp_path / "o.wav",
        "--model", stem, "--no-refine",
    )  # fmt: skip
    one_error_line(code, out, err, str(stem))
    assert not (tmp_path / "o.wav").exists()


# -- style files --------------------------------------------------------------------------------------


def _rewrite(path, tensors=None, card=None):
    """Rewrite a saved style with other tensors or card, its checksum made to match (what a
    careless editor or a tool that 'fixes' the file would do): only validation can catch it."""
    with safe_open(str(path), framework="numpy") as f:
        metadata = dict(f.metadata())
        arrays = {k: f.get_tensor(k) for k in f.keys()}
    arrays.update(tensors or {})
    if card is not None:
        c = json.loads(metadata["card"])
        card(c)
        metadata["card"] = json.dumps(c)  # allow_nan: Python writes NaN as a bare word
    metadata["sha256"] = style_file._digest(arrays)
    save_file(arrays, str(path), metadata=metadata)


def _habit_nan(c):
    c["habit"]["ratio"] = math.nan


def _peak_nan(c):
    c["true_peak_dbtp"] = math.nan


def _habit_missing(c):
    del c["habit"]["attack_ms"]


def _check_nan(c):
    c["meta"]["check"] = {"style": {"mrstft": math.nan}}


@pytest.mark.parametrize(
    "tensors, card, needle",
    [
        (None, _habit_nan, "NaN"),
        (None, _peak_nan, "NaN"),
        (None, _habit_missing, "lacks attack_ms"),
        (None, _check_nan, "NaN"),
        ({"tone_a": np.full(7, 1.5)}, None, "'tone_a' holds 1.5"),
        ({"scalar_c": np.array([0.5, 5.0, 1e30])}, None, "'scalar_c'"),
        ({"bump_hz": np.array(np.arange(7.0)[::-1] * 1000 + 100)}, None, "not increasing"),
        ({"width_c": np.array([0.0, 1.0])}, None, "inconsistent shapes"),
    ],
)
def test_a_style_with_unusable_numbers_is_refused_by_show_and_master(tmp_path, capsys, tensors, card, needle):
    path = style_file.save_style(example_style(habit={"timing_pairs": 3, "reduction_db": 3.0}), tmp_path / "s.tmstyle")
    code, _, err = run(capsys, "style", "show", path)
    assert code == 0, err
    _rewrite(path, tensors, card)
    line = one_error_line(*run(capsys, "style", "show", path), needle)
    assert str(path) in line
    sf.write(tmp_path / "mix.wav", music_like(2.0, SR, seed=1).T, SR, subtype="PCM_16")
    one_error_line(*run(capsys, "master", tmp_path / "mix.wav", "-s", path, "-o", tmp_path / "o.wav"), str(path))
    assert not (tmp_path / "o.wav").exists()


# -- the Python API ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mix():
    return music_like(2.0, SR, seed=1)


@pytest.mark.parametrize("rate", [0, -44100, float("nan"), 44100.5, "44100", True, 4000])
def test_api_refuses_a_bad_sample_rate_at_once(mix, rate):
    for call in (
        lambda: tonematch.match(mix, mix, sample_rate=rate),
        lambda: tonematch.master(mix, "none.tmstyle", sample_rate=rate),
        lambda: tonematch.analyze(mix, sample_rate=rate),
        lambda: tonematch.render(mix, tonematch.Settings.defaults(44100), sample_rate=rate),
    ):
        with pytest.raises(TonematchError, match="sample.rate"):
            call()


@pytest.mark.parametrize(
    "array, needle",
    [
        (np.zeros((2, SR), np.int16), "int16 samples"),
        (np.zeros((SR, 2), np.float32), "looks like [frames, channels]"),
        (np.zeros((2, 2, SR), np.float32), "must be [channels, frames]"),
        (np.zeros((2, SR), np.complex64), "float samples"),
        (np.zeros((2, 0), np.float32), "no samples"),
        (np.full((2, SR), np.nan, np.float32), "NaN"),
        (np.full((2, SR), 1e30, np.float64), "peaks at +600.0 dBFS"),
        ("not an array".encode(), "must be an array"),
    ],
)
def test_api_refuses_arrays_of_the_wrong_layout_or_dtype(mix, array, needle):
    with pytest.raises(TonematchError) as exc:
        tonematch.match(array, mix, sample_rate=SR)
    assert needle in str(exc.value)


def test_api_refuses_short_and_silent_audio_with_the_command_lines_message(tmp_path, capsys, mix):
    with pytest.raises(TonematchError, match="cannot master the mix array: it lasts 10 sample"):
        tonematch.match(mix[:, :10], mix, sample_rate=SR)
    with pytest.raises(TonematchError, match="cannot use the reference array: it is digitally silent"):
        tonematch.match(mix, np.zeros_like(mix), sample_rate=SR)
    sf.write(tmp_path / "quiet.wav", np.zeros((SR, 2), np.float32), SR)
    sf.write(tmp_path / "mix.wav", mix.T, SR, subtype="PCM_16")
    with pytest.raises(TonematchError) as exc:
        tonematch.match(str(tmp_path / "mix.wav"), str(tmp_path / "quiet.wav"))
    code, _, err = run(capsys, "match", tmp_path / "mix.wav", "-r", tmp_path / "quiet.wav", "-o", tmp_path / "o.wav")
    assert code == 2 and err.strip() == f"tonematch: error: {exc.value}"


def test_api_options_are_checked_like_the_flags():
    from tonematch.inference.api import options_of

    assert options_of({"skip": "width"}).skip == ("width",)  # a group, not the letters w, i, d, t, h
    assert options_of({"only": "eq,loudness"}).only == ("eq", "loudness")
    assert options_of({"skip": ["width", "eq"]}).skip == ("width", "eq")
    for bad, needle in [
        ({"skip": "widht"}, "unknown group 'widht'"),
        ({"amonut": 0.5}, "unknown option 'amonut'"),
        ({"amount": "half"}, "amount must be a number"),
        ({"amount": 2.0}, "--amount must lie in 0..1"),
        ({"steps": 2.5}, "steps must be a whole number"),
        ({"target_lufs": float("nan")}, "target_lufs must be a finite number"),
        ({"refine": "no"}, "refine must be True or False"),
        ({"platform": "myspace"}, "unknown platform"),
    ]:
        with pytest.raises(TonematchError, match=needle):
            options_of(bad)
    with pytest.warns(UserWarning, match="overrides apple's -16 LUFS"):
        options_of({"platform": "apple", "target_lufs": -12.0})


def test_api_master_refuses_a_model(mix):
    with pytest.raises(TonematchError, match="model= does not apply"):
        tonematch.master(mix, "none.tmstyle", sample_rate=SR, model="default")


# -- tonematch-export -----------------------------------------------------------------------------------


class _Payload:
    """What a tampered checkpoint could hold: unpickling it would create `marker`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_export_loads_checkpoints_with_weights_only(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("hydra")
    from tonematch.training.export import load_checkpoint

    good = tmp_path / "good.ckpt"
    torch.save({"state_dict": {"model.w": torch.zeros(3)}, "global_step": 4, "loops": {"a": [1, 2.0]}}, good)
    assert load_checkpoint(good)["global_step"] == 4
    marker = tmp_path / "ran"
    bad = tmp_path / "bad.ckpt"
    torch.save({"state_dict": {}, "payload": _Payload(marker)}, bad)
    with pytest.raises(TonematchError, match="more than tensors and plain data.*io.open"):
        load_checkpoint(bad)
    assert not marker.exists()  # the payload never ran
    (tmp_path / "junk.ckpt").write_bytes(b"\x00" * 64)
    with pytest.raises(TonematchError, match="junk.ckpt"):
        load_checkpoint(tmp_path / "junk.ckpt")


@pytest.mark.parametrize(
    "content, words",
    # were "...checkpoint: " (nothing after the colon) and a KeyError(101)
    [(b"", "the file is empty"), (b"hello\n", "not a file torch.save wrote")],
)
def test_export_says_what_is_wrong_with_a_file_that_is_no_checkpoint(tmp_path, content, words):
    pytest.importorskip("torch")
    pytest.importorskip("hydra")
    from tonematch.training.export import load_checkpoint

    path = tmp_path / "x.ckpt"
    path.write_bytes(content)
    with pytest.raises(TonematchError, match=f"x.ckpt is not a readable checkpoint: {words}$"):
        load_checkpoint(path)


def test_export_says_an_unreadable_file_is_one_before_looking_for_its_run(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("hydra")
    from tonematch.training.export import export

    path = tmp_path / "alone.ckpt"  # outside any run folder: it said "no .hydra/config.yaml found"
    path.write_bytes(b"not a checkpoint\n")
    with pytest.raises(TonematchError, match="alone.ckpt is not a readable checkpoint"):
        export(path, tmp_path / "m")
