"""Feed-forward compressor with a stereo-linked peak detector.

Gain computer with a quadratic soft knee and attack/release smoothing of the gain in dB
(the "smooth decoupled" topology of Giannoulis, Massberg & Reiss, JAES 2012).
"""

from __future__ import annotations

import numpy as np

from . import kernels, ops
from .lazy import torch
from .params import Entry, ParamSpec

NAME = "compressor"
ENTRIES = [
    Entry(NAME, None, ParamSpec("threshold_db", "dB", -50.0, 0.0, "lin", 0.0)),
    Entry(NAME, None, ParamSpec("ratio", ":1", 1.0, 20.0, "log", 1.0)),
    Entry(NAME, None, ParamSpec("attack_ms", "ms", 0.1, 100.0, "log", 10.0)),
    Entry(NAME, None, ParamSpec("release_ms", "ms", 10.0, 1500.0, "log", 150.0)),
    Entry(NAME, None, ParamSpec("knee_db", "dB", 0.0, 24.0, "lin", 6.0)),
    Entry(NAME, None, ParamSpec("makeup_db", "dB", -6.0, 18.0, "lin", 0.0)),
]
_EPS = 1e-10  # -200 dBFS floor keeps log finite (and gradients finite) on digital silence


def gain_computer(level_db, threshold_db, ratio, knee_db, xp=None):
    """Static gain change in dB (<= 0) for a detector level in dB: torch tensors, or arrays of
    `xp` (numpy, or autograd.numpy in the refinement's frame model)."""
    xp = torch if xp is None else xp
    over = level_db - threshold_db
    slope = 1.0 / ratio - 1.0
    # clamp the knee width inside the knee branch only, so knee 0 never divides by zero
    safe_knee = torch.clamp(knee_db, min=1e-6) if xp is torch else xp.maximum(knee_db, 1e-6)
    in_knee = slope * (over + knee_db / 2.0) ** 2 / (2.0 * safe_knee)
    above = slope * over
    return xp.where(2.0 * over < -knee_db, 0.0 * over, xp.where(2.0 * over > knee_db, above, in_knee))


def _detector_db(x: torch.Tensor) -> torch.Tensor:
    return 20.0 * torch.log10(x.abs().amax(dim=1) + _EPS)


def apply(x: torch.Tensor, p: dict, sample_rate: float, bypass=frozenset()) -> torch.Tensor:
    col = lambda k: p[f"{NAME}.{k}"].to(torch.float64)[:, None]  # noqa: E731
    level = _detector_db(x.double())  # [B, T]
    static = gain_computer(level, col("threshold_db"), col("ratio"), col("knee_db"))
    att = ops.time_constant_to_pole(p[f"{NAME}.attack_ms"], sample_rate)
    rel = ops.time_constant_to_pole(p[f"{NAME}.release_ms"], sample_rate)
    smooth = ops.ballistics(static, att, rel, 0.0)
    gain = 10.0 ** ((smooth + col("makeup_db")) / 20.0)
    return x * gain.to(x.dtype)[:, None, :]


class Stream:
    latency = 0

    def __init__(self, values: dict, sample_rate: float, channels: int, bypass=frozenset()):
        v = {e.spec.name: float(values[e.key]) for e in ENTRIES}
        self.args = (
            v["threshold_db"],
            v["ratio"],
            v["knee_db"],
            v["makeup_db"],
            ops.time_constant_to_pole(v["attack_ms"], sample_rate),
            ops.time_constant_to_pole(v["release_ms"], sample_rate),
        )
        self.state = np.zeros(1)

    def process(self, block: np.ndarray) -> np.ndarray:
        x = np.asarray(block, dtype=np.float32)
        level = np.abs(x).max(axis=0) if x.shape[0] > 1 else np.abs(x[0])
        level = np.log(level + np.float32(_EPS))
        gain = np.empty_like(level)
        kernels.compress_gain(level, *self.args, self.state, gain)
        return x * np.exp(gain)
