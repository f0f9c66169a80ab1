"""Model files: safetensors tensors + a JSON card, never pickle.

Loading a shared file can therefore never run code. A model is `<stem>.safetensors` (state
dict) + `<stem>.json` (architecture config + model card, plus a fingerprint of its encoder).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from safetensors import SafetensorError, safe_open

from tonematch.data.atomic import write_atomic
from tonematch.data.errors import TonematchError
from tonematch.models.descriptors import DESCRIPTOR_NAMES

if TYPE_CHECKING:  # torch is imported where a function needs it: numpy_runtime.py reads model files without it
    import torch

    from tonematch.models.model import MasteringModel

# Derived buffers of the encoder (not in its state dict) that a model file also carries, so the
# numpy runtime (numpy_runtime.py) needs neither torch nor librosa to rebuild them.
DERIVED_KEYS = ("encoder.mel", "encoder.window")

# The shipped default model: models/weights/default.safetensors + .json (package data).
DEFAULT_MODEL = Path(__file__).resolve().parent / "weights" / "default"

MODEL_FORMAT = "tonematch-model"
FORMAT_VERSION = 1
_SUFFIXES = (".safetensors", ".json")


def model_paths(path_stem: str | os.PathLike) -> tuple[Path, Path]:
    """(STEM.safetensors, STEM.json) of a model stem, or of either file's name given as the stem."""
    stem = str(path_stem)
    for suffix in _SUFFIXES:  # accept either file's name as the stem too
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    return Path(stem + ".safetensors"), Path(stem + ".json")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=2, sort_keys=False, allow_nan=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda p: Path(p).write_text(text + "\n", encoding="utf-8"))


def _read_card(json_path: Path, kind: str, fmt: str) -> dict[str, Any]:
    """A card's JSON (no NaN or Infinity), refused unless it is a `kind` card of format `fmt`."""
    try:
        card = json.loads(json_path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise TonematchError(f"{json_path} is not a readable {kind} card: {' '.join(str(exc).split())}") from None
    if not isinstance(card, dict) or card.get("format") != fmt:
        raise TonematchError(f"{json_path} is not a {kind} card (format is not '{fmt}')")
    return card


def _read(path_stem: str | os.PathLike, kind: str, fmt: str, numpy: bool = False) -> tuple[dict, dict[str, Any]]:
    tensors_path, json_path = model_paths(path_stem)
    for p in (tensors_path, json_path):
        if not p.is_file():
            raise TonematchError(f"{kind} file not found: {p}")
    card = _read_card(json_path, kind, fmt)
    if card.get("format_version") != FORMAT_VERSION:
        raise TonematchError(
            f"{json_path} has {kind} format version {card.get('format_version')!r}; "
            f"this tonematch reads version {FORMAT_VERSION}"
        )
    try:
        _check_dtypes(tensors_path)
        if numpy:
            from safetensors.numpy import load_file as load_numpy

            tensors = load_numpy(str(tensors_path))
        else:
            from safetensors.torch import load_file

            tensors = load_file(str(tensors_path), device="cpu")
    except (OSError, SafetensorError, ValueError) as exc:
        detail = " ".join(str(exc).split())[:160]
        raise TonematchError(f"{tensors_path} is not a readable safetensors file: {detail}") from None
    return tensors, card


# What a trained network's tensors are. Others (bfloat16, float8: numpy cannot read them; integers:
# not weights) are refused by name from the file's header, before any tensor is read.
_FLOAT_DTYPES = ("F16", "F32", "F64")


def _check_dtypes(tensors_path: Path) -> None:
    with safe_open(str(tensors_path), framework="numpy") as f:
        for key in f.keys():
            dtype = f.get_slice(key).get_dtype()
            if dtype not in _FLOAT_DTYPES:
                raise TonematchError(
                    f"{tensors_path}: '{key}' holds {dtype} numbers; a model's tensors are float16, float32 "
                    "or float64 (export it again with tonematch-export)"
                )


def _no_constant(name: str):
    raise ValueError(f"it holds {name}, which is not a number")


# No trained weight comes near this (the shipped model's largest is about 5): a value beyond it is
# a corrupt file (e.g. bytes flipped), whose activations would overflow to NaN settings.
MAX_ABS_WEIGHT = 1e3


def check_weights(path_stem, weights: dict[str, Any]) -> None:
    """Every tensor a float, finite and within MAX_ABS_WEIGHT; one TonematchError naming the file."""
    for key, w in weights.items():
        a = np.asarray(w.detach().cpu().numpy() if hasattr(w, "detach") else w)
        if a.dtype.kind not in "fiub":
            raise TonematchError(f"weights in {path_stem} are not usable: '{key}' holds {a.dtype}, not numbers")
        if a.size == 0 or a.dtype.kind != "f":
            continue
        if not np.isfinite(a).all():
            raise TonematchError(f"weights in {path_stem} hold NaN or infinite values ('{key}'): the file is corrupt")
        peak = float(np.abs(a).max())
        if peak > MAX_ABS_WEIGHT:
            raise TonematchError(
                f"weights in {path_stem} hold {peak:.3g} in '{key}', far beyond any trained weight: the file is corrupt"
            )


def _check_config(path_stem, cfg: dict[str, Any]) -> None:
    """The architecture numbers a model is rebuilt from: whole, positive, in range."""
    from tonematch.data.audio import check_sample_rate

    try:
        for key in ("n_params", "sample_rate", "excerpt_frames"):  # what save_model always writes
            if key not in cfg:
                raise TonematchError(f"'{key}' is missing")
        check_sample_rate(cfg["sample_rate"], "model sample rate")
        for key in ("n_params", "excerpt_frames", "max_excerpts"):
            _whole(key, cfg.get(key, 1), 10**8)
        names = cfg.get("param_names")
        if names is not None and (not isinstance(names, list) or len(names) != cfg.get("n_params")):
            raise TonematchError("'param_names' does not list n_params names")
        for key in ("encoder_kwargs", "controller_kwargs"):
            if not isinstance(cfg.get(key) or {}, dict):
                raise TonematchError(f"'{key}' is not an object")
        _check_sizes(cfg.get("encoder_kwargs") or {}, cfg.get("controller_kwargs") or {})
    except TonematchError as exc:
        raise TonematchError(f"model {path_stem} has an invalid config: {exc}") from None


# The architecture's sizes a model file may ask for (the shipped model's in brackets): several times
# any trained one, yet small enough that rebuilding the network, or the load's test prediction,
# never asks for gigabytes. A corrupt or hostile card is refused before anything is allocated.
_ENCODER_LIMITS = {"n_fft": 8192, "hop": 8192, "n_mels": 512, "embed_dim": 1024}  # [2048, 512, 64, 128]
_MAX_BLOCKS, _MAX_CHANNELS, _MAX_HIDDEN = 6, 512, 4096  # [4 blocks, 128 channels, hidden 384]


def _whole(key: str, value, top: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        raise TonematchError(f"'{key}' is {value!r}, not a whole number from 1 to {top}")
    return value


def _check_sizes(enc: dict[str, Any], ctl: dict[str, Any]) -> None:
    """encoder_kwargs and controller_kwargs: known names, whole sizes within the limits above."""
    for where, kwargs, known in (
        ("encoder_kwargs", enc, (*_ENCODER_LIMITS, "channels")),
        ("controller_kwargs", ctl, ("hidden", "dropout")),
    ):
        unknown = sorted(str(k) for k in kwargs if k not in known)
        if unknown:
            raise TonematchError(f"'{where}' holds '{unknown[0]}', which the network does not take")
    for key, top in _ENCODER_LIMITS.items():
        if key in enc:
            _whole(f"encoder_kwargs.{key}", enc[key], top)
    channels = enc.get("channels", [1])
    if not isinstance(channels, list) or not 1 <= len(channels) <= _MAX_BLOCKS:
        raise TonematchError(f"'encoder_kwargs.channels' is not a list of 1 to {_MAX_BLOCKS} sizes")
    for c in channels:
        _whole("encoder_kwargs.channels", c, _MAX_CHANNELS)
    if "hidden" in ctl:
        _whole("controller_kwargs.hidden", ctl["hidden"], _MAX_HIDDEN)
    dropout = ctl.get("dropout", 0.0)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise TonematchError(f"'controller_kwargs.dropout' is {dropout!r}, not a number from 0 to 1")


def encoder_fingerprint(model: MasteringModel) -> str:
    """SHA-256 over the encoder's weights: identifies which encoder produced an embedding."""
    import torch

    h = hashlib.sha256()
    for name, tensor in sorted(model.encoder.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()


def save_model(model: MasteringModel, path_stem: str | os.PathLike, card: dict[str, Any] | None = None) -> None:
    """Write `<stem>.safetensors` (weights) and `<stem>.json` (config + card fields)."""
    from safetensors.torch import save_file

    tensors_path, json_path = model_paths(path_stem)
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    state.update({key: model.get_buffer(key).detach().to("cpu").contiguous().clone() for key in DERIVED_KEYS})
    data: dict[str, Any] = {"format": MODEL_FORMAT, "format_version": FORMAT_VERSION}
    data.update(card or {})
    data["config"] = model.config()  # written last: card fields can never override the config
    data["encoder_fingerprint"] = encoder_fingerprint(model)
    tensors_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(tensors_path, lambda p: save_file(state, p, metadata={"format": "pt"}))
    _write_json(json_path, data)


def card_path(path_stem: str | os.PathLike) -> Path:
    """`<stem>.json`, the model card of a stem (either file's name works as the stem too)."""
    return model_paths(path_stem)[1]


def set_card_field(path_stem: str | os.PathLike, key: str, value: Any) -> Path:
    """Write one field of a model's card (`<stem>.json`, atomically), e.g. its typical_balance;
    the config and the fingerprint are not fields to set. Returns the card's path."""
    if key in ("config", "encoder_fingerprint", "format", "format_version"):
        raise TonematchError(f"'{key}' of a model card is written by tonematch-export only")
    json_path = card_path(path_stem)
    if not json_path.is_file():
        raise TonematchError(f"model card not found: {json_path}")
    card = _read_card(json_path, "model", MODEL_FORMAT)
    card[key] = value
    _write_json(json_path, card)
    return json_path


def load_model(
    path_stem: str | os.PathLike, expected_param_names: list[str] | None = None
) -> tuple[MasteringModel, dict[str, Any]]:
    """Rebuild a model from its card and load its weights (strict keys and shapes).

    `expected_param_names`: the chain's learned keys; a model trained for another chain raises.
    """
    from tonematch.models.model import MasteringModel

    state, card = _read(path_stem, "model", MODEL_FORMAT)
    _check_card(path_stem, card, expected_param_names)
    cfg = card["config"]
    names = cfg.get("param_names")
    try:
        model = MasteringModel(
            n_params=int(cfg["n_params"]),
            sample_rate=int(cfg["sample_rate"]),
            excerpt_frames=int(cfg["excerpt_frames"]),
            max_excerpts=int(cfg.get("max_excerpts", 8)),
            encoder_kwargs=cfg.get("encoder_kwargs") or {},
            controller_kwargs=cfg.get("controller_kwargs") or {},
            param_names=names,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TonematchError(f"model {path_stem} has an invalid config: {exc}") from None
    derived = {key: state.pop(key) for key in DERIVED_KEYS if key in state}
    _check_state(path_stem, model, state)
    check_weights(path_stem, state)
    model.load_state_dict(state, strict=True)
    for key, tensor in derived.items():  # what the numpy runtime will use must be what torch computes
        own = model.get_buffer(key)
        if tensor.shape != own.shape or not bool((tensor - own).abs().max() <= 1e-6 * (1.0 + own.abs().max())):
            raise TonematchError(f"model {path_stem}: '{key}' differs from the one the encoder computes")
    model.eval()
    model.typical_balance = card.get("typical_balance")  # refinement's anchor (inference/refine.tone_anchor)
    return model, card


def _check_card(path_stem, card: dict[str, Any], expected_param_names: list[str] | None) -> None:
    cfg = card.get("config")
    if not isinstance(cfg, dict):
        raise TonematchError(f"{model_paths(path_stem)[1]} has no model config")
    _check_config(path_stem, cfg)
    names = cfg.get("param_names")
    if expected_param_names is not None and list(names or []) != list(expected_param_names):
        raise TonematchError(_names_mismatch(path_stem, names, list(expected_param_names)))
    if cfg.get("descriptor_names", DESCRIPTOR_NAMES) != DESCRIPTOR_NAMES:
        raise TonematchError(f"model {path_stem} was trained with other descriptors than this tonematch computes")
    _check_typical_balance(path_stem, card.get("typical_balance"))


def _check_typical_balance(path_stem, typical) -> None:
    """A card's typical balance (training/typical.py), where there is one: increasing positive
    centres and finite levels of the same length."""
    if typical is None:
        return
    try:
        centres = np.asarray(typical["centres_hz"], dtype=np.float64)
        levels = np.asarray(typical["tone_db"], dtype=np.float64)
        ok = centres.ndim == 1 and centres.shape == levels.shape and len(centres) >= 2
        ok = ok and bool(np.all(np.isfinite(levels)) and np.all(centres > 0) and np.all(np.diff(centres) > 0))
    except (TypeError, KeyError, ValueError, IndexError):
        ok = False
    if not ok:
        raise TonematchError(f"model {path_stem} has a malformed typical_balance (centres_hz and tone_db lists)")


def read_model_file(
    path_stem: str | os.PathLike, expected_param_names: list[str] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A model file's weights as numpy arrays and its card, checked as load_model checks them
    (format, parameter names, descriptors), without torch: for the numpy runtime (numpy_runtime.py)."""
    weights, card = _read(path_stem, "model", MODEL_FORMAT, numpy=True)
    _check_card(path_stem, card, expected_param_names)
    check_weights(path_stem, weights)
    weights = {k: v.astype(np.float32, copy=False) for k, v in weights.items()}
    return weights, card


def _names_mismatch(path_stem, got: list[str] | None, expected: list[str]) -> str:
    if got is None:
        return f"model {path_stem} does not record its parameter names; cannot check it against this chain"
    if len(got) != len(expected):
        return f"model {path_stem} predicts {len(got)} parameters but this chain has {len(expected)}"
    i = next(i for i, (a, b) in enumerate(zip(got, expected)) if a != b)
    return (
        f"model {path_stem} was trained for another chain: parameter {i} is '{got[i]}', the chain has '{expected[i]}'"
    )


def _check_state(path_stem, model: MasteringModel, state: dict[str, torch.Tensor]) -> None:
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        what = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise TonematchError(f"weights in {path_stem} do not match the model: {what}")
    for key, tensor in own.items():
        if state[key].shape != tensor.shape:
            raise TonematchError(
                f"weights in {path_stem} do not match the model: '{key}' has shape "
                f"{tuple(state[key].shape)}, expected {tuple(tensor.shape)}"
            )
