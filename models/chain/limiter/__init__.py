"""True-peak lookahead limiter, in small parts:

  detect.py   the detection envelope: the meter's 4x interpolator plus a parabolic vertex per
              interval, so peaks between the 4x points are seen too
  gain.py     the gain computer (envelope -> gain curve), its adjoint, the margin and ceiling
  stream.py   the exact streaming limiter (numba, carried state, fixed latency)
  batch.py    the differentiable limiter on [B, C, T] tensors (torch + gain.py's kernels)
  predict.py  the loudness of the limited output at any gain, from the envelope alone

Both limiters compute the same thing (tests/test_chain_render.py); the ceiling is held on the
4x and 16x oversampled output (tests/test_chain_limiter.py).
"""

from __future__ import annotations

from ..params import Entry, ParamSpec
from .detect import TAPS, TAPS_LEFT, TAPS_RIGHT, detect_block, envelope  # noqa: F401
from .gain import GUARD, MARGIN_DB, ceiling_gain, lookahead_samples  # noqa: F401
from .stream import Stream  # noqa: F401

NAME = "limiter"
ENTRIES = [
    Entry(NAME, None, ParamSpec("ceiling_dbtp", "dBTP", -6.0, 0.0, "lin", -1.0)),
    Entry(NAME, None, ParamSpec("release_ms", "ms", 1.0, 1000.0, "log", 60.0)),
    Entry(NAME, None, ParamSpec("lookahead_ms", "ms", 0.5, 10.0, "log", 2.0, learned=False)),
]


def __getattr__(name: str):
    # the differentiable limiter (torch) loads on first use: a render never needs it
    if name in ("apply", "padded_peak", "pads", "batch"):
        import importlib

        batch = importlib.import_module(".batch", __name__)
        return batch if name == "batch" else getattr(batch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
