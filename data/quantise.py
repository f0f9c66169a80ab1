"""Float samples to integers with TPDF dither, in one pass (the writer's quantiser).

The same arithmetic as numpy on whole arrays (x * 2**(bits-1) in float64, plus u1 + u2 - 1 from
the generator's doubles drawn two per sample in [frame, channel] order, round half to even,
clip to [-scale, scale - 1]), so the output is bit for bit the same; one compiled loop skips the
four float64 temporaries numpy would fill, which cost more than the file's encoding.
A frame of digital silence (every channel exactly 0) stays silent (a dither's "auto-blank"): the
silence before and after a song is not turned into noise. Its numbers are still drawn, so the
stream does not depend on where the silence lies.
numba is imported on the first quantised write only: reading and analysing never pay for it.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _dithered(x, scale, mult, rng, out):
    for i in range(x.shape[0]):
        silent = True
        for j in range(x.shape[1]):
            silent = silent and x[i, j] == 0.0
        for j in range(x.shape[1]):
            u1 = rng.random()
            u2 = rng.random()
            y = np.float64(x[i, j]) * scale + (u1 + u2 - 1.0)
            out[i, j] = 0.0 if silent else min(max(np.rint(y), -scale), scale - 1.0) * mult


@numba.njit(cache=True, nogil=True)
def _rounded(x, scale, mult, out):
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            y = np.float64(x[i, j]) * scale
            out[i, j] = min(max(np.rint(y), -scale), scale - 1.0) * mult


def quantise(x: np.ndarray, bits: int, rng: np.random.Generator | None) -> np.ndarray:
    """Float32 [n, C] -> int16 (bits=16) or int32 holding 24 bits in its top bytes (bits=24, as
    libsndfile stores them); dithered from `rng` (advanced by 2 n C doubles) unless it is None."""
    # one memory layout (C, writable): each layout or read-only flag is its own compiled kernel to load
    x = np.require(x, np.float32, ["C", "W"])
    scale = float(2 ** (bits - 1))
    out = np.empty(x.shape, np.int16 if bits == 16 else np.int32)
    mult = 1.0 if bits == 16 else 256.0  # int32(q) << 8, exact in float64
    if rng is None:
        _rounded(x, scale, mult, out)
    else:
        _dithered(x, scale, mult, rng, out)
    return out
