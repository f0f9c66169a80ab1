"""A second lane for streaming work: one worker thread, blocks in submission order.

numba kernels compiled with nogil and numpy's FFTs release the GIL, so a meter fed on this lane
runs on the second core while the caller does other work; the results do not depend on timing
(one worker, submission order). Only serial kernels may run here: numba's workqueue layer must
not see parallel regions from two threads.

And one lock, `ENGINE`, for the numba kernels with parallel regions (`parallel=True`): they run
one at a time in this process. The workqueue threading layer (numba's fallback where OpenMP and
TBB are missing) aborts the whole process when two threads launch parallel regions at once, as
two threads calling `tonematch.match` would; two cores gain nothing from overlapping them anyway.
Every such kernel is defined under `one_at_a_time`; the studio holds the same lock around its
work (a reentrant lock: the kernels inside take it again).
"""

from __future__ import annotations

import functools
import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor

ENGINE = threading.RLock()
if hasattr(os, "register_at_fork"):  # a child forked while another thread held it starts with it free
    os.register_at_fork(after_in_child=ENGINE._at_fork_reinit)


def one_at_a_time(kernel):
    """`kernel` (a numba dispatcher compiled with parallel=True) called under `ENGINE`. The
    dispatcher itself stays reachable as `__wrapped__`. A kernel must never be submitted to a
    `Lane`: the caller holding ENGINE while it drains the lane would wait on itself."""

    def call(*args):
        with ENGINE:
            return kernel(*args)

    return functools.update_wrapper(call, kernel, updated=())


class Lane:
    """At most `depth` submitted calls pending; `drain` waits for all and re-raises the first
    error. As a context manager it closes on the way out, whatever happened."""

    def __init__(self, depth: int = 2, name: str = "tonematch-meter"):
        self.depth = depth
        self.pool = ThreadPoolExecutor(1, thread_name_prefix=name)
        self.pending: deque = deque()

    def submit(self, fn, *args) -> None:
        self.pending.append(self.pool.submit(fn, *args))
        while len(self.pending) > self.depth:
            self.pending.popleft().result()  # re-raises the worker's exception here

    def drain(self) -> None:
        while self.pending:
            self.pending.popleft().result()

    def __enter__(self) -> Lane:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for f in self.pending:
            f.cancel()
        self.pending.clear()
        self.pool.shutdown(wait=True)
