"""The mastering chain: parameter table, processors, differentiable and exact renderers."""

from .chain import PROCESSORS, TABLE, render_batch
from .params import Entry, ParamSpec, ParamTable

__all__ = ["PROCESSORS", "TABLE", "render_batch", "Entry", "ParamSpec", "ParamTable"]
