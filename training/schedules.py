"""Learning-rate schedules, built once the trainer knows the number of optimiser steps.

Configs give them as Hydra partials (configs/scheduler/); the module calls them with
`optimizer=` and `total_steps=` (Lightning's estimate of the optimiser steps: trainer.max_steps)
and steps them after every optimiser step (interval "step"). Every schedule takes `warmup_steps`,
which the experiments set whichever schedule is chosen.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, OneCycleLR


def warmup_cosine(optimizer: Optimizer, total_steps: int, warmup_steps: int = 0, min_lr_ratio: float = 0.0) -> LambdaLR:
    """Linear warm-up from 0, then cosine decay to `min_lr_ratio` x the base rate at `total_steps`."""
    total_steps = max(1, int(total_steps))
    warmup_steps = min(max(0, int(warmup_steps)), total_steps - 1)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)


def one_cycle(
    optimizer: Optimizer,
    total_steps: int,
    max_lr: float,
    warmup_steps: int | None = None,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1.0e4,
    cycle_momentum: bool = True,
) -> OneCycleLR:
    """torch's OneCycleLR over `total_steps`: from max_lr / div_factor up to `max_lr`, then down
    to max_lr / div_factor / final_div_factor at the last of `total_steps` steps.

    The rise lasts `warmup_steps` steps when given (the peak is at that step, as in
    `warmup_cosine`), else the fraction `pct_start` of the schedule. Both are clamped so that
    each phase has a length torch can divide by: a schedule too short for a rise only falls.
    """
    total_steps = max(1, int(total_steps))
    if warmup_steps is not None:
        # OneCycleLR's peak is at step pct_start * total_steps - 1
        peak = min(max(0, int(warmup_steps)), total_steps - 2)
        pct_start = (peak + 1) / total_steps if peak > 0 else 0.0
    # the fall needs at least one step (peak <= total_steps - 2) ...
    pct_start = min(max(0.0, float(pct_start)), (total_steps - 1) / total_steps)
    # ... and a rise ending at step 0 is a division by zero in torch: no rise then
    if float(pct_start * total_steps) - 1 == 0:
        pct_start = 0.0
    return OneCycleLR(
        optimizer,
        max_lr=max_lr,
        total_steps=total_steps,
        pct_start=pct_start,
        anneal_strategy=anneal_strategy,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
        cycle_momentum=cycle_momentum,
    )
