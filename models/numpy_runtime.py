"""The shipped network at inference, in numpy: the same arithmetic as model.py on the same file.

Mastering one mix runs the network once on a few excerpts. torch costs 1-2 s to import and about
200 MB resident, more than the whole prediction, so `tonematch match` reads the safetensors file
with safetensors.numpy and runs the encoder (log-mel STFT, 3x3 convolutions as one matrix
product per layer, GroupNorm, GELU, 2x2 average pooling, mean/std over time, a linear head with
LayerNorm) and the controller (two GELU layers, a sigmoid) here. Training and export keep the
torch model; tests hold the two equal to float32 rounding. The mel filterbank and the STFT
window travel in the model file (save_model writes them), so no librosa is needed either.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import scipy.fft
from numba import njit, prange

from tonematch.data.concurrency import one_at_a_time
from tonematch.data.errors import TonematchError
from tonematch.models import files
from tonematch.models.descriptors import DESCRIPTOR_NAMES, describe
from tonematch.models.excerpts import excerpt_starts
from tonematch.models.geometry import encoder_geometry
from tonematch.models.measure.spectrum import centred_frames

_POWER_EPS = 1e-10  # as encoder.py: -100 dB floor before the log
ENCODE_CHUNK = 2  # clips encoded at once (encode): memory grows with it, speed does not
NORM_EPS = 1e-5  # GroupNorm / LayerNorm eps and the std floor, torch's defaults as the model uses them


_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, x Phi(x) (torch.nn.GELU's default, not the tanh approximation), for the
    controller's few hundred values (the encoder's run fused in _norm_gelu_pool)."""
    x = np.asarray(x, dtype=np.float64)
    return (0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))).astype(np.float32)


def _conv3x3(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """3x3 convolution, zero padding 1, no bias: [B, Ci, H, W] -> [B, Co, H, W]. im2col laid out
    [Ci * 9, B * H * W] so the whole batch is one matrix product (one large GEMM, not B small ones)."""
    b, ci, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))).transpose(1, 0, 2, 3)  # [Ci, B, H + 2, W + 2]
    cols = np.empty((ci, 9, b, h, wd), np.float32)
    for dy in range(3):
        for dx in range(3):
            cols[:, 3 * dy + dx] = xp[:, :, dy : dy + h, dx : dx + wd]
    out = w.reshape(w.shape[0], -1) @ cols.reshape(ci * 9, b * h * wd)  # [Co, B * H * W]
    return np.ascontiguousarray(out.reshape(w.shape[0], b, h, wd).transpose(1, 0, 2, 3))


@one_at_a_time
@njit(cache=True, parallel=True)
def _group_stats(x, groups):
    """Mean and 1 / sqrt(var + eps) of each (item, group) of [B, C, H, W] (biased variance, float64 sums)."""
    b_n, c_n = x.shape[0], x.shape[1]
    per = c_n // groups
    mean = np.empty((b_n, groups))
    inv = np.empty((b_n, groups))
    for bg in prange(b_n * groups):
        b, g = bg // groups, bg % groups
        s = 0.0
        s2 = 0.0
        for c in range(g * per, (g + 1) * per):
            for i in range(x.shape[2]):
                for j in range(x.shape[3]):
                    v = np.float64(x[b, c, i, j])
                    s += v
                    s2 += v * v
        n = per * x.shape[2] * x.shape[3]
        m = s / n
        mean[b, g] = m
        inv[b, g] = 1.0 / math.sqrt(max(s2 / n - m * m, 0.0) + NORM_EPS)
    return mean, inv


@one_at_a_time
@njit(cache=True, parallel=True)
def _norm_gelu_pool(x, mean, inv, weight, bias, groups):
    """GroupNorm's affine step, GELU and 2x2 average pooling (floor) in one sweep:
    [B, C, H, W] -> [B, C, H // 2, W // 2]."""
    b_n, c_n, h, w = x.shape
    per = c_n // groups
    out = np.empty((b_n, c_n, h // 2, w // 2), np.float32)
    for bc in prange(b_n * c_n):
        b, c = bc // c_n, bc % c_n
        g = c // per
        scale = inv[b, g] * weight[c]
        shift = bias[c] - mean[b, g] * scale
        for i in range(h // 2):
            for j in range(w // 2):
                acc = 0.0
                for di in range(2):
                    for dj in range(2):
                        v = np.float32(x[b, c, 2 * i + di, 2 * j + dj] * scale + shift)
                        acc += 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0)))
                out[b, c, i, j] = 0.25 * acc
    return out


def _linear(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return x @ w.T + bias


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + NORM_EPS) * weight + bias


@dataclass
class NumpyModel:
    """Weights by state-dict name and the architecture config of a model file."""

    w: dict[str, np.ndarray]
    config: dict
    card: dict

    @property
    def sample_rate(self) -> int:
        return int(self.config["sample_rate"])

    @property
    def typical_balance(self) -> dict | None:
        """The mean tonal balance of the model's training music ({"centres_hz", "tone_db"}; the
        card's `typical_balance`, written by `python -m tonematch.training.typical`), or None."""
        return self.card.get("typical_balance")

    @property
    def _blocks(self) -> int:
        """The encoder's convolution + pooling blocks."""
        return len((self.config.get("encoder_kwargs") or {}).get("channels", (32, 64, 128, 128)))

    def _encoder_geometry(self) -> tuple[int, int, int]:
        """(n_fft, hop, min_samples) of this model's encoder at its rate."""
        enc = self.config.get("encoder_kwargs") or {}
        return encoder_geometry(self.sample_rate, enc.get("n_fft", 2048), enc.get("hop", 512), self._blocks)

    def features(self, x: np.ndarray) -> np.ndarray:
        """[B, C, T] -> [B, 2, n_mels, frames]: log-mel of mid and side (dB / 20), as encoder.features."""
        n_fft, hop, min_samples = self._encoder_geometry()
        x = np.broadcast_to(x, (x.shape[0], 2, x.shape[-1])).astype(np.float32)
        if x.shape[-1] < min_samples:
            x = np.pad(x, ((0, 0), (0, 0), (0, min_samples - x.shape[-1])))
        b = x.shape[0]
        ms = np.stack([0.5 * (x[:, 0] + x[:, 1]), 0.5 * (x[:, 0] - x[:, 1])], axis=1).reshape(2 * b, -1)
        frames = centred_frames(ms, n_fft, hop)  # as torch.stft(center=True, pad_mode="constant")
        # scipy's FFT: n_fft is odd at 24 kHz (1115 = 5 x 223), where numpy's is ~3x slower
        spec = scipy.fft.rfft(frames * self.w["encoder.window"], axis=-1, workers=2)  # [2B, frames, F]
        power = spec.real**2 + spec.imag**2
        mel = (power @ self.w["encoder.mel"].T).transpose(0, 2, 1)  # [2B, n_mels, frames]
        return (0.5 * np.log10(mel + np.float32(_POWER_EPS))).reshape(b, 2, mel.shape[1], -1)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """[B, C, T] clips -> [B, embed_dim] embeddings (encoder.forward), ENCODE_CHUNK
        clips at a time (each clip's embedding is its own)."""
        return np.concatenate([self._encode(x[i : i + ENCODE_CHUNK]) for i in range(0, len(x), ENCODE_CHUNK)])

    def _encode(self, x: np.ndarray) -> np.ndarray:
        h = self.features(x)
        for i in range(self._blocks):
            conv = self.w[f"encoder.cnn.{i}.0.weight"]
            h = _conv3x3(h, conv)
            groups = math.gcd(8, conv.shape[0])  # as encoder._block
            mean, inv = _group_stats(h, groups)
            weight, bias = self.w[f"encoder.cnn.{i}.1.weight"], self.w[f"encoder.cnn.{i}.1.bias"]
            h = _norm_gelu_pool(h, mean, inv, weight, bias, groups)
        h = h.reshape(h.shape[0], h.shape[1] * h.shape[2], h.shape[3])
        stats = np.concatenate([h.mean(axis=-1), np.sqrt(h.var(axis=-1) + NORM_EPS)], axis=-1)
        out = _linear(stats, self.w["encoder.head.0.weight"], self.w["encoder.head.0.bias"])
        return _layer_norm(out, self.w["encoder.head.1.weight"], self.w["encoder.head.1.bias"])

    def excerpts(self, audio: np.ndarray) -> np.ndarray:
        """[C, T] -> [N, C, L]: as MasteringModel.excerpts (evenly spaced, the track if short)."""
        length, total = int(self.config["excerpt_frames"]), audio.shape[-1]
        if total <= length:
            return audio[None]
        starts = excerpt_starts(total, length, int(self.config.get("max_excerpts", 8)))
        return np.stack([audio[:, s : s + length] for s in starts])

    def embed_track(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[C, T] at the model's rate -> (embedding [E], descriptors [D]) (MasteringModel.embed_track)."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 2 or audio.shape[0] not in (1, 2) or audio.shape[1] == 0:
            raise ValueError(f"audio must be a non-empty [C, T] array with C = 1 or 2, got {audio.shape}")
        return self.encode(self.excerpts(audio)).mean(axis=0), describe(audio[None], self.sample_rate)[0]

    def control(self, emb_in, emb_ref, desc_in, desc_ref) -> np.ndarray:
        """Controller: analysis of mix and reference -> [n_params] in [0, 1] (float64)."""
        feats = np.concatenate([emb_in, emb_ref, desc_in, desc_ref, desc_ref - desc_in]).astype(np.float32)
        h = gelu(_linear(feats, self.w["controller.net.0.weight"], self.w["controller.net.0.bias"]))
        h = gelu(_linear(h, self.w["controller.net.3.weight"], self.w["controller.net.3.bias"]))
        logits = _linear(h, self.w["controller.out.weight"], self.w["controller.out.bias"]).astype(np.float64)
        return 1.0 / (1.0 + np.exp(-logits))

    def predict_track(self, mix: np.ndarray, reference=None, reference_embedding=None, reference_descriptors=None):
        """Chain settings [n_params] in [0, 1] for a whole mix, against a reference track or a
        precomputed (embedding, descriptors) pair (MasteringModel.predict_track)."""
        if reference is not None:
            emb_ref, desc_ref = self.embed_track(reference)
        elif reference_embedding is not None and reference_descriptors is not None:
            emb_ref = np.asarray(reference_embedding, np.float32).reshape(-1)
            desc_ref = np.asarray(reference_descriptors, np.float32).reshape(-1)
        else:
            raise ValueError("give either `reference` or both `reference_embedding` and `reference_descriptors`")
        emb_in, desc_in = self.embed_track(mix)
        return self.control(emb_in, emb_ref, desc_in, desc_ref)


def load(path_stem: str | os.PathLike, expected_param_names: list[str] | None = None) -> NumpyModel:
    """A model file for the numpy runtime; refuses what load_model refuses (format, chain,
    descriptors) and a file without the filterbank it needs (re-export it with tonematch-export)."""
    w, card = files.read_model_file(path_stem, expected_param_names)
    missing = [k for k in ("encoder.mel", "encoder.window") if k not in w]
    if missing:
        raise TonematchError(f"model {path_stem} lacks {', '.join(missing)}: export it again with tonematch-export")
    if card["config"].get("descriptor_names", DESCRIPTOR_NAMES) != DESCRIPTOR_NAMES:
        raise TonematchError(f"model {path_stem} was trained with other descriptors than this tonematch computes")
    _check_shapes(w, card["config"], path_stem)
    model = NumpyModel(w, card["config"], card)
    _smoke_test(model, path_stem)
    return model


def expected_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """Every tensor of the network a card's config describes and its shape, as model.py builds it
    (the encoder's and controller's own defaults where the card names none)."""
    enc, ctl = config.get("encoder_kwargs") or {}, config.get("controller_kwargs") or {}
    channels = list(enc.get("channels", (32, 64, 128, 128)))
    n_mels, embed, hidden = enc.get("n_mels", 96), enc.get("embed_dim", 256), ctl.get("hidden", 512)
    n_fft, _, _ = encoder_geometry(config["sample_rate"], enc.get("n_fft", 2048), enc.get("hop", 512), len(channels))
    shapes = {"encoder.mel": (n_mels, n_fft // 2 + 1), "encoder.window": (n_fft,)}
    c_in = 2
    for i, c in enumerate(channels):
        shapes[f"encoder.cnn.{i}.0.weight"] = (c, c_in, 3, 3)
        shapes[f"encoder.cnn.{i}.1.weight"] = shapes[f"encoder.cnn.{i}.1.bias"] = (c,)
        c_in = c
    features = 2 * embed + 3 * len(DESCRIPTOR_NAMES)
    n = int(config["n_params"])
    shapes.update({
        "encoder.head.0.weight": (embed, 2 * c_in * (n_mels // 2 ** len(channels))),
        "encoder.head.0.bias": (embed,), "encoder.head.1.weight": (embed,), "encoder.head.1.bias": (embed,),
        "controller.net.0.weight": (hidden, features), "controller.net.0.bias": (hidden,),
        "controller.net.3.weight": (hidden, hidden), "controller.net.3.bias": (hidden,),
        "controller.out.weight": (n, hidden), "controller.out.bias": (n,),
    })  # fmt: skip
    return shapes


def _check_shapes(w: dict[str, np.ndarray], config: dict, path_stem) -> None:
    """The tensors are those of the card's architecture, no more and no fewer, each of its shape:
    what load_model refuses (strict keys and shapes), so a card beside another model's weights, or
    an extra tensor, is not taken here while tonematch-eval refuses it."""
    shapes = expected_shapes(config)
    missing, unexpected = sorted(set(shapes) - set(w)), sorted(set(w) - set(shapes))
    if missing or unexpected:
        what = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise TonematchError(f"weights in {path_stem} do not match the model its card describes: {what}")
    for key, shape in shapes.items():
        if tuple(w[key].shape) != shape:
            raise TonematchError(
                f"weights in {path_stem} do not match the model its card describes: '{key}' has shape "
                f"{tuple(w[key].shape)}, expected {shape}"
            )


def _smoke_test(model: NumpyModel, path_stem) -> None:
    """One prediction on the shortest input the encoder takes, so a file whose tensors do not fit
    together (a shape edited, a layer missing) or that overflows is refused on load, naming it,
    instead of failing inside a run (a few milliseconds)."""
    _, _, min_samples = model._encoder_geometry()
    t = np.arange(min_samples, dtype=np.float64) / model.sample_rate
    clip = (0.1 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    clip = np.stack([clip, 0.5 * clip])
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            unit = model.predict_track(clip, reference=clip)
    except (ValueError, KeyError, IndexError, TypeError, FloatingPointError) as exc:
        detail = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise TonematchError(f"model {path_stem} is corrupt or does not fit together: {detail}") from None
    n = int(model.config["n_params"])
    if unit.shape != (n,) or not np.isfinite(unit).all():
        raise TonematchError(f"model {path_stem} is corrupt: it predicts {unit.shape} values, expected {n} finite ones")
