"""Whole-process time and peak memory of analysing a file: a generated 3-minute stereo 44.1 kHz
track and (with --hour) a 60-minute one, written to /tmp as 16-bit WAV.

Two commands are timed: the streaming path (`python -m tonematch.inference.analyze FILE --json`,
inference.analyze.analyze_file) and `tonematch analyze FILE --json` as the CLI runs it. Peak RSS
is the child's ru_maxrss. Goals: 3 minutes in <= 1.5 s and <= 300 MB; any length <= 500 MB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np
import soundfile as sf

SR = 44100
GOALS = {"3min": (1.5, 300.0), "60min": (None, 500.0)}
_PROBE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, r.returncode)"
)


def make_file(path: str, minutes: float) -> None:
    if os.path.exists(path) and abs(sf.info(path).duration - minutes * 60) < 1:
        return
    rng = np.random.default_rng(0)
    block = 10 * SR
    t = np.arange(block) / SR
    with sf.SoundFile(path, "w", SR, 2, subtype="PCM_16") as f:
        for k in range(int(minutes * 6)):
            env = 0.5 + 0.5 * np.sin(2 * np.pi * (k * 10 + t) / 7.0)  # slow level changes
            tone = 0.3 * np.sin(2 * np.pi * (110 * (1 + k % 5)) * t)
            x = (tone + 0.05 * rng.standard_normal((2, block))) * env
            f.write((0.5 * x).T.astype(np.float32))


def measure(cmd: list[str]) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", _PROBE, *cmd], capture_output=True, text=True, check=True).stdout
    wall, rss, rc = out.split()
    if int(rc) != 0:
        raise RuntimeError(f"{cmd} exited {rc}")
    return float(wall), float(rss)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hour", action="store_true", help="also a 60-minute file (streaming path)")
    ap.add_argument("--cli-hour", action="store_true", help="also the CLI on the hour file (it streams too)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best wall time counts")
    args = ap.parse_args()
    tonematch = os.path.join(os.path.dirname(sys.executable), "tonematch")
    cases = [("3min", 3.0)] + ([("60min", 60.0)] if args.hour or args.cli_hour else [])
    # warm the numba cache once so the figures are the steady state, not the first compile
    make_file("/tmp/tonematch_bench_3min.wav", 3.0)
    subprocess.run(
        [sys.executable, "-m", "tonematch.inference.analyze", "/tmp/tonematch_bench_3min.wav"],
        stdout=subprocess.DEVNULL,
        check=True,
    )
    print(f"{'file':6s} {'command':28s} {'wall s':>7s} {'peak MB':>8s}  vs goal")
    for name, minutes in cases:
        path = f"/tmp/tonematch_bench_{name}.wav"
        t0 = time.perf_counter()
        make_file(path, minutes)
        if time.perf_counter() - t0 > 1:
            print(f"(wrote {path} in {time.perf_counter() - t0:.1f} s)")
        stream = [sys.executable, "-m", "tonematch.inference.analyze", path, "--json"]
        commands = [("stream (inference.analyze)", stream)]
        if name == "3min" or args.cli_hour:
            commands.append(("tonematch analyze (CLI)", [tonematch, "analyze", path, "--json"]))
        for label, cmd in commands:
            runs = [measure(cmd) for _ in range(args.repeat if name == "3min" else 1)]
            wall, rss = min(r[0] for r in runs), max(r[1] for r in runs)
            goal_s, goal_mb = GOALS[name]
            ratio = (f"time {wall / goal_s:.2f}x goal, " if goal_s else "") + f"memory {rss / goal_mb:.2f}x goal"
            print(f"{name:6s} {label:28s} {wall:7.2f} {rss:8.0f}  {ratio}")


if __name__ == "__main__":
    main()
