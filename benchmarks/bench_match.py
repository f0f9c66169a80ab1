"""End-to-end speed and memory of `tonematch match`, beside Matchering on the same files.

  python benchmarks/bench_match.py            # a 3-minute stereo 44.1 kHz real-music mix
  python benchmarks/bench_match.py --hour     # also a 60-minute mix (peak memory)

Each run is a whole process (load, analyse, predict, refine, render, write), timed by wall clock,
with its own peak RSS from the kernel (os.wait4). The mix is the first wesnoth track of at least 3
minutes, dulled (-4 dB high shelf at 5 kHz) and turned down 8 dB; the reference is the first
hyperrogue track of at least 1 minute (both from ~/.cache/tonematch-corpus; synthetic music when
the corpus is absent). Matchering (GPL; benchmark only, never imported by the package) runs when
installed. Goals: --no-refine >= 7x faster than Matchering, the default >= 4x; peak memory
<= 500 MB for 3 minutes and <= 600 MB for 60.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
CORPUS = os.path.expanduser("~/.cache/tonematch-corpus/music")
BIN = os.path.dirname(sys.executable)


def _track(package: str, seconds: float) -> tuple[np.ndarray, int] | None:
    for path in sorted(glob.glob(os.path.join(CORPUS, package, "*.ogg"))):
        info = sf.info(path)
        if info.duration >= seconds:
            x, sr = sf.read(path, dtype="float32", always_2d=True, frames=int(seconds * info.samplerate))
            return x.T, sr
    return None


def _dull(x: np.ndarray, sr: int) -> np.ndarray:
    """-4 dB first-order high shelf at 5 kHz, then -8 dB: an unmastered-sounding mix."""
    k = np.tan(np.pi * 5000.0 / sr)
    g = 10 ** (-4 / 20)
    b = np.array([g * 1 + k * np.sqrt(g), k * np.sqrt(g) - g])  # high shelf by the bilinear transform
    a = np.array([1 + k * np.sqrt(g), k * np.sqrt(g) - 1])
    return (lfilter(b / a[0], a / a[0], x, axis=-1) * 10 ** (-8 / 20)).astype(np.float32)


def make_files(folder: str, minutes: float) -> tuple[str, str, str]:
    mix = _track("wesnoth-1.16-music", 180.0)
    ref = _track("hyperrogue-music", 60.0)
    what = "real music (corpus)"
    if mix is None or ref is None:
        from signals import music_like

        mix, ref = (music_like(180.0, 44100, seed=1), 44100), (music_like(60.0, 44100, seed=2), 44100)
        what = "synthetic"
    x, sr = mix
    x = _dull(x, sr)
    reps = int(np.ceil(minutes * 60 * sr / x.shape[1]))
    x = np.tile(x, (1, reps))[:, : int(minutes * 60 * sr)]
    mix_path, ref_path = os.path.join(folder, f"mix_{minutes:g}min.wav"), os.path.join(folder, "reference.wav")
    sf.write(mix_path, x.T, sr, subtype="PCM_16")
    sf.write(ref_path, ref[0].T, ref[1], subtype="PCM_16")
    return mix_path, ref_path, what


def timed(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB, exit code) of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        print(f"  ! {' '.join(cmd[:3])} ... exited {proc.returncode}: {proc.stderr.read().decode()[-300:]}")
    return wall, usage.ru_maxrss / 1024.0, proc.returncode


def matchering_cmd(mix: str, ref: str, out: str) -> list[str] | None:
    try:
        import matchering  # noqa: F401
    except ImportError:
        return None
    code = (
        "import sys, matchering as mg; mg.log(lambda *a: None); "
        "mg.process(target=sys.argv[1], reference=sys.argv[2], results=[mg.pcm16(sys.argv[3])])"
    )
    return [sys.executable, "-c", code, mix, ref, out]


def bench(minutes: float, folder: str, runs: int) -> None:
    # the files are made in a child process: the rusage of a forked child counts the pages it
    # shared with its parent before exec, so a parent holding an hour of audio would inflate
    # every peak measured below
    made = subprocess.run([sys.executable, __file__, "--make", folder, str(minutes)], capture_output=True, text=True)
    if made.returncode != 0:
        raise SystemExit(made.stderr)
    mix, ref, what = made.stdout.strip().splitlines()[-1].split("\t")
    print(f"\n{minutes:g}-minute stereo 44.1 kHz mix, {what}; best of {runs} runs")
    tm = os.path.join(BIN, "tonematch")
    cases = {
        "tonematch match (default)": [tm, "match", mix, "-r", ref, "-o", os.path.join(folder, "tm.wav"), "-f"],
        "tonematch match --no-refine": [
            tm,
            "match",
            mix,
            "-r",
            ref,
            "-o",
            os.path.join(folder, "tm_nr.wav"),
            "--no-refine",
            "-f",
        ],
    }
    mg = matchering_cmd(mix, ref, os.path.join(folder, "mg.wav"))
    if mg is not None and minutes <= 10:
        cases["matchering"] = mg
    results = {}
    for name, cmd in cases.items():
        best = min((timed(cmd) for _ in range(runs)), key=lambda r: r[0])
        results[name] = best
        print(f"  {name:30s} {best[0]:7.2f} s  peak {best[1]:6.0f} MB")
    limit = 500 if minutes <= 3 else 600
    for name in ("tonematch match (default)", "tonematch match --no-refine"):
        goal = 4.0 if "default" in name else 7.0
        mem = results[name][1]
        line = f"  {name:30s} memory {mem:.0f} MB vs goal {limit} MB ({'met' if mem <= limit else 'NOT met'})"
        if "matchering" in results:
            ratio = results["matchering"][0] / results[name][0]
            line += f"; {ratio:.1f}x faster than Matchering (goal {goal:g}x: {'met' if ratio >= goal else 'NOT met'})"
        print(line)
    if "matchering" not in results:
        print("  matchering not installed (pip install matchering; GPL, benchmark only)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hour", action="store_true", help="also a 60-minute mix")
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--make", nargs=2, metavar=("FOLDER", "MINUTES"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.make:
        print("\t".join(make_files(args.make[0], float(args.make[1]))))
        return
    with tempfile.TemporaryDirectory() as folder:
        bench(3.0, folder, args.runs)
        if args.hour:
            bench(60.0, folder, 1)


if __name__ == "__main__":
    main()
