"""Feed-forward compressor with a stereo-linked detector: peak (the default) or RMS.

The RMS detector (`rms_ms` > 0) hears the mean power of the channels smoothed over that window,
as a mastering compressor's RMS switch does: it answers a passage's body rather than its
transients. Gain computer with a quadratic soft knee and attack/release smoothing of the gain in dB
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
    # not learned: the network's training chain is peak-detecting; styles and people choose it
    Entry(NAME, None, ParamSpec("rms_ms", "ms", 0.0, 300.0, "lin", 0.0, learned=False, doc="RMS window; 0: peak")),
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


def _detector_db(x: torch.Tensor, rms_ms: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """[B, C, T] float64 -> detector level in dB [B, T]: the linked peak, or where rms_ms [B] > 0
    the channels' mean power smoothed over that window (from silence, as the exact render)."""
    level = 20.0 * torch.log10(x.abs().amax(dim=1) + _EPS)
    rms = rms_ms > 0.0
    if not bool(rms.any()):
        return level
    pole = ops.time_constant_to_pole(torch.where(rms, rms_ms, torch.ones_like(rms_ms)), sample_rate)
    power = ops.ballistics(x.pow(2).mean(dim=1), pole, pole, 0.0)
    return torch.where(rms[:, None], 10.0 * torch.log10(power + _EPS**2), level)


def apply(x: torch.Tensor, p: dict, sample_rate: float, bypass=frozenset()) -> torch.Tensor:
    col = lambda k: p[f"{NAME}.{k}"].to(torch.float64)[:, None]  # noqa: E731
    level = _detector_db(x.double(), p[f"{NAME}.rms_ms"].to(torch.float64).reshape(-1), sample_rate)  # [B, T]
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
        self.rms_pole = ops.time_constant_to_pole(v["rms_ms"], sample_rate) if v["rms_ms"] > 0.0 else None
        self.power = np.zeros(1)  # the RMS detector's smoothed power, from silence

    def process(self, block: np.ndarray) -> np.ndarray:
        x = np.asarray(block, dtype=np.float32)
        if self.rms_pole is None:
            level = np.abs(x).max(axis=0) if x.shape[0] > 1 else np.abs(x[0])
            level = np.log(level + np.float32(_EPS))
        else:  # ln of the RMS level: half the ln of the power
            power = np.empty(x.shape[1], np.float32)
            kernels.smoothed_power(x, self.rms_pole, self.power, power)
            level = np.float32(0.5) * np.log(power + np.float32(_EPS**2))
        gain = np.empty_like(level)
        kernels.compress_gain(level, *self.args, self.state, gain)
        return x * np.exp(gain)
