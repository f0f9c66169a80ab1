"""The Python API called from two threads at once: no crash, and the results of the same calls
made one after the other.

The child runs under numba's workqueue threading layer (its fallback where OpenMP and TBB are
missing), which aborts the whole process when two threads launch parallel regions at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest

CHILD = textwrap.dedent(
    """
    import sys
    from concurrent.futures import ThreadPoolExecutor

    import numba
    import numpy as np
    import soundfile as sf

    import tonematch

    mix_path, reference_path, settings_path = sys.argv[1:4]
    mix = sf.read(mix_path, dtype="float32", always_2d=True)[0].T[:, : 4 * 44100].copy()
    reference = sf.read(reference_path, dtype="float32", always_2d=True)[0].T[:, : 4 * 44100].copy()
    settings = tonematch.Settings.from_json(settings_path)
    jobs = [
        lambda: tonematch.match(mix, reference, sample_rate=44100).audio,
        lambda: tonematch.render(mix, settings, sample_rate=44100),
    ]
    serial = [job() for job in jobs]
    assert numba.threading_layer() == "workqueue", numba.threading_layer()
    for _ in range(3):
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(job) for job in jobs + jobs[::-1]]
            results = [f.result() for f in futures]
        for got, want in zip(results, serial + serial[::-1]):
            assert np.array_equal(got, want), float(np.abs(got - want).max())
    print("same")
    """
)


def test_concurrent_api_calls_run_and_match_the_serial_results(example_mix, example_reference):
    settings = os.path.join(os.path.dirname(example_mix), "settings.json")
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue"}
    p = subprocess.run(
        [sys.executable, "-c", CHILD, str(example_mix), str(example_reference), settings],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip() == "same"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_forked_while_another_thread_runs_a_kernel_can_run_kernels():
    from tonematch.data.concurrency import ENGINE

    held, done = threading.Event(), threading.Event()

    def hold():
        with ENGINE:
            held.set()
            done.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(10)
    try:
        pid = os.fork()
        if pid == 0:  # the child: the lock is free (it would wait forever on the parent's thread)
            os._exit(0 if ENGINE.acquire(timeout=5) else 1)
        _, status = os.waitpid(pid, 0)
    finally:
        done.set()
        thread.join()
    assert os.waitstatus_to_exitcode(status) == 0
