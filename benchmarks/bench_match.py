"""End-to-end speed and memory of `tonematch match`, stage by stage, beside Matchering on the same files.

  python benchmarks/bench_match.py                # one 3-minute mix and a batch of six, --runs 3
  python benchmarks/bench_match.py --runs 1       # quicker, noisier
  python benchmarks/bench_match.py --hour         # also a 60-minute mix (peak memory)

Each run is a whole process (load, analyse, predict, refine, render, write), timed by wall clock,
with its own peak RSS from the kernel (os.wait4); medians over --runs. tonematch's modules are
compiled to bytecode first, as an installed package has them. The mix is the first
wesnoth track of at least 3 minutes, dulled (-4 dB high shelf at 5 kHz) and turned down 8 dB; the
batch is six copies of it, so its time per mix compares like for like with Matchering's on that
file (other songs take other times, so a batch of other songs would compare against
Matchering on other files). The reference is the first hyperrogue track of at least 1 minute (both from
~/.cache/tonematch-corpus; synthetic music when the corpus is absent).
Matchering (GPL; benchmark only, never imported by the package) runs on the one-file mix when
installed. Goals (issue 18): a batch >= 7x Matchering's per-file time per mix, one file >= 4x,
--no-refine >= 6x, peak memory <= 500 MB for one file and for the batch (<= 600 MB for 60 minutes).

The stage breakdown comes from inside the process: tonematch runs as `cli.main` behind a timing
shim (this file's --staged mode) that wraps the functions each stage lives in, without changing
what the command does. Time is charged to the innermost stage running on the main thread, so the
stages add up to the process's wall time; work on the second lane overlaps and is not counted.
Each row of the table is its own median over the runs, so the rows need not sum to the wall's.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.expanduser("~/.cache/tonematch-corpus/music")
BATCH = 6
GOALS = {"one file": 4.0, "--no-refine": 6.0, "batch (per mix)": 7.0}  # x Matchering's per-file time
MEMORY_MB = {3.0: 500, 60.0: 600}
PACKAGES = ("tonematch", "tonematch.data", "tonematch.models", "tonematch.inference")  # what `match` imports
# Stages in the order a run meets them; "other" is the rest of the process (planning, settings
# files, the output meters' drain, exit).
STAGES = (
    "process start",
    "imports",
    "analysis",
    "file read/decode",
    "network",
    "refinement",
    "checking renders",
    "final render",
    "write/encode",
    "other",
)
# (stage, outermost only, candidate homes "module:attribute"): where each stage's time is spent.
# Every candidate found is wrapped where it is defined (modules that import the name later get
# the wrapped one); a stage with none found is reported. Read/decode is the streaming decode
# wherever it happens (analysis and render); an outermost-only stage counts only when no other
# stage is running (the exact renderer also serves refinement's checking renders).
HOOKS = (
    ("analysis", False, ("tonematch.inference.inputs:analyse_input", "tonematch.inference.master:analyse_input")),
    ("network", False, ("tonematch.inference.match:load_model", "tonematch.inference.match:predicted_settings")),
    ("refinement", False, ("tonematch.inference.match:finish",)),
    ("checking renders", False, ("tonematch.inference.refine:exact_character",)),
    ("final render", True, ("tonematch.models.chain.exact:ExactRenderer.blocks",)),
    ("file read/decode", False, ("tonematch.data.audio:_blocks",)),
    ("write/encode", False, ("tonematch.data.writer:AudioWriter.write", "tonematch.data.writer:AudioWriter.close")),
)


# -- the timing shim (runs inside the measured process) ---------------------------------------------


class _Clock:
    """Exclusive stage times on the main thread: a stack of running stages, the top one charged."""

    def __init__(self):
        import threading

        self.main = threading.main_thread().ident
        self.ident = threading.get_ident
        self.totals: dict[str, float] = {}
        self.stack = ["other"]
        self.mark = time.perf_counter()

    def _switch(self) -> None:
        now = time.perf_counter()
        top = self.stack[-1]
        self.totals[top] = self.totals.get(top, 0.0) + now - self.mark
        self.mark = now

    def enter(self, stage: str, outermost: bool = False) -> bool:
        if self.ident() != self.main or (outermost and len(self.stack) > 1):
            return False
        self._switch()
        self.stack.append(stage)
        return True

    def leave(self) -> None:
        self._switch()
        self.stack.pop()


def _timed(clock: _Clock, fn, stage: str, outermost: bool):
    import functools
    import inspect

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen(*args, **kwargs):
            it = fn(*args, **kwargs)
            while True:
                entered = clock.enter(stage, outermost)
                try:
                    item = next(it)
                except StopIteration:
                    return
                finally:
                    if entered:
                        clock.leave()
                yield item

        return gen

    @functools.wraps(fn)
    def call(*args, **kwargs):
        entered = clock.enter(stage, outermost)
        try:
            return fn(*args, **kwargs)
        finally:
            if entered:
                clock.leave()

    return call


def _install(clock: _Clock) -> set:
    """Time imports, and wrap each hook's function as soon as its module has loaded.
    Returns the stages none of whose candidates has been found (so far)."""
    import builtins

    pending = [(home, stage, outermost) for stage, outermost, homes in HOOKS for home in homes]
    missing = {stage for stage, _, _ in HOOKS}
    original = builtins.__import__

    def patch() -> None:
        for hook in list(pending):
            home, stage, outermost = hook
            module, attr = home.split(":")
            owner = sys.modules.get(module)
            *path, name = attr.split(".")
            for part in path:
                owner = getattr(owner, part, None)
            if owner is not None and hasattr(owner, name):
                setattr(owner, name, _timed(clock, getattr(owner, name), stage, outermost))
                pending.remove(hook)
                missing.discard(stage)

    def timed_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name in sys.modules and not fromlist:
            return original(name, globals, locals, fromlist, level)
        entered = clock.enter("imports")
        try:
            return original(name, globals, locals, fromlist, level)
        finally:
            if entered:
                clock.leave()
            if pending:
                patch()

    builtins.__import__ = timed_import
    return missing


def staged(out: str, launch: float, argv: list[str]) -> None:
    """Run `tonematch ARGV` in this process and write its stage times (JSON) to `out`."""
    clock = _Clock()
    start = {"process start": time.time() - launch}
    missing = _install(clock)
    code = 0
    try:
        from tonematch.inference.cli import main

        sys.argv = ["tonematch", *argv]
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        clock._switch()
        times = {**start, **clock.totals, "wall": time.time() - launch}
        # a stage whose modules never loaded did not run (refinement's under --no-refine)
        homes = {stage: [h.split(":")[0] for h in hs] for stage, _, hs in HOOKS}
        times["unhooked"] = sorted(s for s in missing if any(m in sys.modules for m in homes[s]))
        with open(out, "w") as f:
            json.dump(times, f)
    sys.exit(code)


# -- the files -------------------------------------------------------------------------------------


def _tracks(package: str, seconds: float, count: int):
    """The first `count` tracks of `package` lasting at least `seconds`, cut to that length."""
    import soundfile as sf

    found = []
    for path in sorted(glob.glob(os.path.join(CORPUS, package, "*.ogg"))):
        info = sf.info(path)
        if info.duration >= seconds:
            x, sr = sf.read(path, dtype="float32", always_2d=True, frames=int(seconds * info.samplerate))
            found.append((x.T, sr))
            if len(found) == count:
                return found
    return None


def _dull(x, sr: int):
    """-4 dB first-order high shelf at 5 kHz, then -8 dB: an unmastered-sounding mix."""
    import numpy as np
    from scipy.signal import lfilter

    k = np.tan(np.pi * 5000.0 / sr)
    g = 10 ** (-4 / 20)
    b = np.array([g * 1 + k * np.sqrt(g), k * np.sqrt(g) - g])  # high shelf by the bilinear transform
    a = np.array([1 + k * np.sqrt(g), k * np.sqrt(g) - 1])
    return (lfilter(b / a[0], a / a[0], x, axis=-1) * 10 ** (-8 / 20)).astype(np.float32)


def make_files(folder: str, minutes: float, batch: int) -> tuple[str, str, list[str], str]:
    """The mix, the reference and `batch` copies of the mix (named apart), as 16-bit WAVs."""
    import shutil

    import numpy as np
    import soundfile as sf

    mix = _tracks("wesnoth-1.16-music", 180.0, 1)
    ref = _tracks("hyperrogue-music", 60.0, 1)
    what = "real music (corpus)"
    if mix is None or ref is None:
        sys.path.insert(0, os.path.join(HERE, "..", "tests"))
        from signals import music_like

        mix, ref = [(music_like(180.0, 44100, seed=1), 44100)], [(music_like(60.0, 44100, seed=2), 44100)]
        what = "synthetic"
    x, sr = mix[0]
    x = _dull(x, sr)
    length = int(minutes * 60 * sr)
    x = np.tile(x, (1, int(np.ceil(length / x.shape[1]))))[:, :length]
    mix_path = os.path.join(folder, f"mix_{minutes:g}min.wav")
    sf.write(mix_path, x.T, sr, subtype="PCM_16")
    copies = [os.path.join(folder, "batch", f"mix{i + 1}.wav") for i in range(batch)]
    for path in copies:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        shutil.copyfile(mix_path, path)
    ref_path = os.path.join(folder, "reference.wav")
    sf.write(ref_path, ref[0][0].T, ref[0][1], subtype="PCM_16")
    return mix_path, ref_path, copies, what


# -- measuring -------------------------------------------------------------------------------------


def timed(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB, exit code) of one whole process."""
    # stderr to a file, not a pipe: a child that says more than a pipe holds would wait on us forever
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            err.seek(0)
            print(f"  ! {' '.join(cmd[:4])} ... exited {code}: {err.read().decode(errors='replace')[-300:]}")
    return wall, usage.ru_maxrss / 1024.0, code


def run_staged(argv: list[str], folder: str) -> tuple[float, float, dict]:
    """One tonematch process through the shim: (wall seconds, peak RSS MB, stage seconds)."""
    out = os.path.join(folder, "stages.json")
    cmd = [sys.executable, __file__, "--staged", out, repr(time.time()), "--", *argv]
    wall, mb, code = timed(cmd)
    if code != 0:
        raise SystemExit(f"tonematch {' '.join(argv)} failed")
    with open(out) as f:
        stages = json.load(f)
    unhooked = stages.pop("unhooked")
    if unhooked:
        print(f"  ! no function found for stage(s) {', '.join(unhooked)} (moved? see HOOKS)")
    return wall, mb, stages


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


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def compiled_as_installed() -> None:
    """Let the runs below start from tonematch's compiled modules, as an installed package does (pip
    compiles at install, an editable install on its first run): a shell that sets
    PYTHONDONTWRITEBYTECODE would have every run compile the package's modules from source again,
    which Matchering, installed by pip, never pays."""
    import importlib.util

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    folders = [p for name in PACKAGES for p in importlib.util.find_spec(name).submodule_search_locations]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *folders], check=True)


def bench(minutes: float, folder: str, runs: int, batch: int) -> None:
    # the files are made in a child process: the rusage of a forked child counts the pages it
    # shared with its parent before exec, so a parent holding an hour of audio would inflate
    # every peak measured below
    made = subprocess.run(
        [sys.executable, __file__, "--make", folder, str(minutes), str(batch)], capture_output=True, text=True
    )
    if made.returncode != 0:
        raise SystemExit(made.stderr)
    mix, ref, many, what = json.loads(made.stdout.strip().splitlines()[-1])
    print(f"\n{minutes:g}-minute stereo 44.1 kHz 16-bit mix, {what}; medians of {runs} run(s)")
    cases = {
        "one file": ["match", mix, "-r", ref, "-o", os.path.join(folder, "tm.wav"), "-f"],
        "--no-refine": ["match", mix, "-r", ref, "-o", os.path.join(folder, "tm_nr.wav"), "--no-refine", "-f"],
    }
    if many:
        cases[f"batch of {len(many)}"] = ["match", *many, "-r", ref, "-o", os.path.join(folder, "out") + "/", "-f"]
    mg = matchering_cmd(mix, ref, os.path.join(folder, "mg.wav")) if minutes <= 10 else None
    walls: dict[str, list[float]] = {}
    peaks: dict[str, list[float]] = {}
    stages: dict[str, list[dict]] = {}
    # rounds interleave the cases, so a burst of load elsewhere hits them alike
    for _ in range(runs):
        for name, argv in cases.items():
            wall, mb, st = run_staged(argv, folder)
            walls.setdefault(name, []).append(wall)
            peaks.setdefault(name, []).append(mb)
            stages.setdefault(name, []).append(st)
        if mg is not None:
            wall, mb, code = timed(mg)
            if code == 0:
                walls.setdefault("matchering", []).append(wall)
                peaks.setdefault("matchering", []).append(mb)
    med = {name: statistics.median(w) for name, w in walls.items()}
    mem = {name: max(p) for name, p in peaks.items()}
    per = {name: len(many) if name.startswith("batch") else 1 for name in cases}
    names = list(cases)
    print("  seconds per mix, by stage".ljust(30) + "".join(f"{n:>15s}" for n in names))
    for stage in STAGES:
        row = [statistics.median(s.get(stage, 0.0) for s in stages[n]) / per[n] for n in names]
        print(f"    {stage:26s}" + "".join(f"{v:15.2f}" for v in row))
    print(f"  {'wall per mix':28s}" + "".join(f"{med[n] / per[n]:15.2f}" for n in names))
    print(f"  {'wall of the process':28s}" + "".join(f"{med[n]:15.2f}" for n in names))
    print(f"  {'peak memory (max), MB':28s}" + "".join(f"{mem[n]:15.0f}" for n in names))
    if "matchering" in med:
        print(f"  matchering, one file: {med['matchering']:.2f} s, peak {mem['matchering']:.0f} MB")
    elif mg is not None:
        print("  matchering failed on every run (its error is above): no ratio")
    else:
        print("  matchering not run (pip install matchering; GPL, benchmark only; files up to 10 minutes)")
    limit = MEMORY_MB.get(minutes, 600)
    for name in names:
        goal = GOALS["batch (per mix)" if name.startswith("batch") else name]
        line = f"  {name:14s} memory {mem[name]:4.0f} MB (goal <= {limit}: {_verdict(mem[name] <= limit)})"
        if "matchering" in med:
            ratio = med["matchering"] / (med[name] / per[name])
            line += f"; {ratio:4.2f}x Matchering per mix (goal >= {goal:g}x: {_verdict(ratio >= goal)})"
        print(line)


def main() -> None:
    if len(sys.argv) > 3 and sys.argv[1] == "--staged":  # the shim, before argparse and any import
        staged(sys.argv[2], float(sys.argv[3]), sys.argv[5:])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hour", action="store_true", help="also a 60-minute mix (one file, no batch)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--batch", type=int, default=BATCH, help="mixes in the batch (0: none)")
    p.add_argument("--make", nargs=3, metavar=("FOLDER", "MINUTES", "BATCH"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.make:
        print(json.dumps(make_files(args.make[0], float(args.make[1]), int(args.make[2]))))
        return
    compiled_as_installed()
    with tempfile.TemporaryDirectory() as folder:
        bench(3.0, folder, args.runs, args.batch)
        if args.hour:
            bench(60.0, folder, 1, 0)


if __name__ == "__main__":
    main()
