"""Training data order that is a function of (seed, epoch, position), so runs resume exactly.

Epoch e visits item ids e * size + permutation(size), the permutation seeded by (seed, e) and
sharded over ranks. The datasets are deterministic in the item id, so the data depends neither on
the worker count nor on torch's global random state. ResumableLoader is a DataLoader with the
state_dict / load_state_dict pair Lightning saves in checkpoints and restores before iterating,
so a resumed run continues with the batch after the last one the model trained on.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

# Item ids of epoch e start at e * size; datasets are sized for this many epochs.
MAX_EPOCHS = 1_000_000


def epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, np.uint64)[0] >> 1)


class EpochSampler(DistributedSampler):
    """Subclasses DistributedSampler only so Lightning keeps it instead of wrapping it in its own
    distributed sampler, which would not pass the epoch on to this one."""

    def __init__(self, size: int, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1):
        if size < world_size * batch_size:
            raise ValueError(
                f"examples_per_epoch={size} is less than one batch of {batch_size} on each of {world_size} rank(s)"
            )
        super().__init__(range(size), num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True)
        self.size = int(size)
        self.batch_size = int(batch_size)
        self._resume: tuple[int, int] | None = None
        self._offset = 0  # the data's epoch less the one Lightning passes to set_epoch

    def resume(self, epoch: int, batches_done: int) -> None:
        """The next pass yields epoch `epoch` from its batch `batches_done` on (once)."""
        self._resume = (int(epoch), int(batches_done))

    def __iter__(self):
        if self._resume is not None:
            epoch, skip = self._resume[0], self._resume[1] * self.batch_size
            self._resume = None
            # restored from a checkpoint saved at an epoch's end (validation: best-step*, hpc_ckpt),
            # Lightning's set_epoch runs one ahead from then on: the following epochs keep the step
            self._offset = epoch - self.epoch
        else:
            epoch, skip = self.epoch + self._offset, 0
        g = torch.Generator().manual_seed(epoch_seed(self.seed, epoch))
        order = torch.randperm(self.size, generator=g)[self.rank : self.total_size : self.num_replicas]
        return iter((epoch * self.size + order[skip:]).tolist())


class ResumableLoader(DataLoader):
    """DataLoader over an EpochSampler; `position()` says where training stands (epoch, batches
    of it trained on). It comes from the trainer's progress counters, not from this loader, whose
    workers and Lightning's prefetching run ahead of what the model has actually seen."""

    def __init__(self, *args, position: Callable[[], dict], **kwargs):
        super().__init__(*args, **kwargs)
        self._position = position

    def state_dict(self) -> dict:
        return self._position()

    def load_state_dict(self, state: dict) -> None:
        # Lightning swaps in a plain sampler for some debugging modes (overfit_batches): no resume
        if state and isinstance(self.sampler, EpochSampler):
            self.sampler.resume(state["epoch"], state["batches_done"])
