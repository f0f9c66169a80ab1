"""Stereo width by mid/side: 0 = mono, 1 = unchanged, 2 = side doubled. Mono input passes."""

from __future__ import annotations

import numpy as np

from . import kernels
from .lazy import torch
from .params import Entry, ParamSpec

NAME = "width"
ENTRIES = [Entry(NAME, None, ParamSpec("width", "", 0.0, 2.0, "lin", 1.0, doc="side gain relative to mid"))]


def apply(x: torch.Tensor, p: dict, sample_rate: float, bypass=frozenset()) -> torch.Tensor:
    if x.shape[1] != 2:
        return x
    w = p["width.width"].to(x.dtype)[:, None]
    mid = 0.5 * (x[:, 0] + x[:, 1])
    side = 0.5 * (x[:, 0] - x[:, 1]) * w
    return torch.stack([mid + side, mid - side], dim=1)


class Stream:
    latency = 0

    def __init__(self, values: dict, sample_rate: float, channels: int, bypass=frozenset()):
        self.w = np.float32(values["width.width"])
        self.channels = channels

    def process(self, block: np.ndarray) -> np.ndarray:
        if self.channels != 2 or self.w == 1.0:
            return block  # width 1 is exactly the input (neutral means off)
        out = np.empty_like(block)
        kernels.mid_side_width(block, np.float32(self.w), out)
        return out
