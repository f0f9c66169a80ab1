"""Input gain: the drive into the compressor and everything after it."""

from __future__ import annotations

import numpy as np

from .lazy import torch
from .params import Entry, ParamSpec

NAME = "gain"
ENTRIES = [Entry(NAME, None, ParamSpec("gain_db", "dB", -24.0, 24.0, "lin", 0.0, doc="input gain"))]


def apply(x: torch.Tensor, p: dict, sample_rate: float, bypass=frozenset()) -> torch.Tensor:
    g = 10.0 ** (p["gain.gain_db"] / 20.0)
    return x * g.to(x.dtype)[:, None, None]


class Stream:
    latency = 0

    def __init__(self, values: dict, sample_rate: float, channels: int, bypass=frozenset()):
        self.g = np.float32(10.0 ** (values["gain.gain_db"] / 20.0))

    def process(self, block: np.ndarray) -> np.ndarray:
        return block if self.g == 1.0 else block * self.g  # 0 dB is exactly the input
