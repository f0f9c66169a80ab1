"""Stereo width on mid / side (evaluation only): M = (L + R) / 2, S = (L - R) / 2; the side is
scaled by `side_gain` and, optionally, high-passed by a linear-phase FIR (mono bass below
`side_lowcut_hz`, an M/S EQ move). The mid is never touched; mono passes unchanged."""

from __future__ import annotations

import numpy as np

from .fir_eq import HighPass, design, filter_aligned


def width(x: np.ndarray, sample_rate: int, side_gain: float = 1.0, side_lowcut_hz: float = 0.0) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.shape[0] != 2 or (side_gain == 1.0 and side_lowcut_hz <= 0.0):
        return x.copy()
    mid = 0.5 * (x[0].astype(np.float64) + x[1])
    side = 0.5 * (x[0].astype(np.float64) - x[1])
    if side_lowcut_hz > 0.0:
        side = filter_aligned(side, design([HighPass(side_lowcut_hz)], sample_rate))
    side = side * side_gain
    return np.stack([mid + side, mid - side]).astype(np.float32)
