"""torch, imported on first use.

The exact renderer, `tonematch render`, `analyze` and `match` never touch a tensor, and importing
torch costs about 220 MB and a second per process; the differentiable renderer imports it when it
first runs. `is_tensor` tells a tensor apart without importing torch (nothing else can be one).

Why not lazy_loader or importlib's LazyLoader: both register a half-made `torch` in sys.modules,
and a later `from torch.utils.data import ...` elsewhere (the pair dataset) then imports torch's
submodules against it and fails. This stand-in stays out of sys.modules: the first attribute read
imports the real torch the ordinary way and copies its namespace here.
"""

from __future__ import annotations

import importlib


class _Torch:
    def __getattr__(self, name: str):
        real = importlib.import_module("torch")
        self.__dict__.update(vars(real))  # later reads are plain attribute hits
        return getattr(real, name)


torch = _Torch()


def is_tensor(x) -> bool:
    return type(x).__module__.partition(".")[0] == "torch"
