"""A model file received from someone else: an architecture the card cannot honestly describe, or
tensors of a type no trained network holds, is refused in one line naming the file, by the numpy
runtime (`match`) and by the torch loader (`tonematch-eval`) alike, before anything is allocated."""

from __future__ import annotations

import json
import resource
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from tonematch.data.errors import TonematchError
from tonematch.models import numpy_runtime
from tonematch.models.files import DEFAULT_MODEL


def _copy(tmp_path, config=None, encoder=None, controller=None, drop=(), tensors=None):
    """The shipped model copied to tmp_path/net with its card's config edited."""
    stem = tmp_path / "net"
    card = json.loads((DEFAULT_MODEL.parent / "default.json").read_text())
    card["config"].update(config or {})
    card["config"]["encoder_kwargs"].update(encoder or {})
    card["config"]["controller_kwargs"].update(controller or {})
    for key in drop:
        card["config"].pop(key)
    (tmp_path / "net.json").write_text(json.dumps(card))
    if tensors is None:
        shutil.copy(str(DEFAULT_MODEL) + ".safetensors", str(stem) + ".safetensors")
    else:
        weights = load_file(str(DEFAULT_MODEL) + ".safetensors")
        tensors(weights)
        save_file(weights, str(stem) + ".safetensors", metadata={"format": "pt"})
    return stem


def _as(key, dtype):
    def change(w):
        w[key] = w[key].astype(dtype)

    return change


CARDS = {
    "n_fft_huge": ({"encoder": {"n_fft": 10**9}}, "encoder_kwargs.n_fft"),  # a 4 GB test tone before
    "hop_huge": ({"encoder": {"hop": 10**9}}, "encoder_kwargs.hop"),
    "n_fft_string": ({"encoder": {"n_fft": "2048"}}, "encoder_kwargs.n_fft"),  # a TypeError before
    "channels_number": ({"encoder": {"channels": 4}}, "encoder_kwargs.channels"),
    "channels_many": ({"encoder": {"channels": [16] * 60}}, "encoder_kwargs.channels"),
    "n_mels_huge": ({"encoder": {"n_mels": 10**9}}, "encoder_kwargs.n_mels"),
    "hidden_huge": ({"controller": {"hidden": 10**9}}, "controller_kwargs.hidden"),
    "hidden_negative": ({"controller": {"hidden": -5}}, "controller_kwargs.hidden"),
    "dropout_string": ({"controller": {"dropout": "0.1"}}, "controller_kwargs.dropout"),
    "unknown_kwarg": ({"encoder": {"layers": 3}}, "'layers'"),
    "no_sample_rate": ({"drop": ("sample_rate",)}, "'sample_rate' is missing"),  # a KeyError before
}


@pytest.mark.parametrize("case", sorted(CARDS))
def test_an_absurd_architecture_is_refused_before_allocating(tmp_path, case):
    changes, needle = CARDS[case]
    stem = _copy(tmp_path, **changes)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(TonematchError, match="invalid config") as exc:
        numpy_runtime.load(stem)
    assert needle in str(exc.value) and str(stem) in str(exc.value)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # kB: nothing allocated


def test_the_torch_loader_refuses_a_huge_hidden_layer_before_building_it(tmp_path):
    pytest.importorskip("torch")
    from tonematch.models.files import load_model

    stem = _copy(tmp_path, controller={"hidden": 10**9})  # 1.4 TB of weights asked for before
    with pytest.raises(TonematchError, match="controller_kwargs.hidden"):
        load_model(stem)


@pytest.mark.parametrize(
    "dtype, name",
    [(np.int64, "I64"), (np.int32, "I32"), (np.bool_, "BOOL"), (np.uint8, "U8")],
)
def test_tensors_that_are_not_floats_are_refused_by_name(tmp_path, dtype, name):
    stem = _copy(tmp_path, tensors=_as("controller.out.weight", dtype))
    with pytest.raises(TonematchError, match=f"'controller.out.weight' holds {name} numbers"):
        numpy_runtime.load(stem)


def test_bfloat16_tensors_are_refused_not_a_crash(tmp_path):
    """safetensors.numpy cannot read bfloat16 (a TypeError, exit 1 'internal error', before): the
    header names the dtype, so the file is refused in one line."""
    import struct

    numpy_runtime.load(DEFAULT_MODEL)  # the shipped file passes
    raw = (DEFAULT_MODEL.parent / "default.safetensors").read_bytes()
    size = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + size])
    header["controller.out.weight"]["dtype"] = "BF16"  # the same bytes read as twice as many bf16
    header["controller.out.weight"]["shape"] = [62, 384]
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    stem = _copy(tmp_path)
    (tmp_path / "net.safetensors").write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + size :])
    with pytest.raises(TonematchError, match="'controller.out.weight' holds BF16 numbers"):
        numpy_runtime.load(stem)


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_float16_and_float64_weights_still_load(tmp_path, dtype):
    def change(w):
        w.update({k: v.astype(dtype) for k, v in w.items()})

    model = numpy_runtime.load(_copy(tmp_path, tensors=change))
    shipped = numpy_runtime.load(DEFAULT_MODEL)
    t = np.arange(3 * shipped.sample_rate) / shipped.sample_rate
    mix = np.stack([np.sin(2 * np.pi * 220.0 * t), 0.7 * np.sin(2 * np.pi * 330.0 * t)]).astype(np.float32) * 0.2
    reference = np.roll(mix, 1000, axis=1) * 0.5
    ours, theirs = model.predict_track(mix, reference), shipped.predict_track(mix, reference)
    # the same network: float64 holds the float32 weights exactly, float16 rounds them (3e-4 here)
    np.testing.assert_allclose(ours, theirs, atol=1e-5 if dtype == np.float64 else 5e-3)


def _extra(w):
    w["extra.thing"] = np.zeros(4, np.float32)


def _scalar_bias(w):  # broadcast by numpy, refused by torch
    w["controller.out.bias"] = np.array(0.5, np.float32)


@pytest.mark.parametrize(
    "changes, needle",
    [
        ({"tensors": _extra}, "unexpected ['extra.thing']"),
        ({"tensors": _scalar_bias}, "'controller.out.bias' has shape ()"),
        ({"controller": {"hidden": 256}}, "'controller.net.0.weight' has shape (384, 361), expected (256, 361)"),
        ({"encoder": {"embed_dim": 64}}, "'encoder.head.0.weight' has shape (128, 1024), expected (64, 1024)"),
    ],
)
def test_weights_that_are_not_the_cards_architecture_are_refused_as_load_model_refuses_them(tmp_path, changes, needle):
    """An extra tensor, a bias of another shape, or a card beside another architecture's weights
    (the card of a hidden-256 model next to these): the numpy runtime took them, running whatever
    the tensors held and ignoring the card's sizes, while tonematch-eval's loader refused them."""
    stem = _copy(tmp_path, **changes)
    with pytest.raises(TonematchError, match="do not match the model its card describes") as exc:
        numpy_runtime.load(stem)
    assert needle in str(exc.value)
