"""torch, imported on first use.

The exact renderer, `tonematch render` and `analyze` never touch a tensor, and importing torch
costs about 220 MB and a second per process; the differentiable renderer imports it when it
first runs. `is_tensor` tells a tensor apart without importing torch (nothing else can be one).
"""

from __future__ import annotations

import lazy_loader

torch = lazy_loader.load("torch")


def is_tensor(x) -> bool:
    return type(x).__module__.partition(".")[0] == "torch"
