"""The core install's weight and start-up, beside an install that also carries torch and librosa.

  python benchmarks/bench_install.py               # core venv, and one with torch 2.13.0 + librosa
  python benchmarks/bench_install.py --core-only   # core venv; torch and librosa sized from this
                                                   # interpreter's dist-info RECORDs instead
Each venv is made fresh in a temporary folder (`python -m venv`, then `pip install` of a copy of
this source tree, from the indexes pip is configured with). The second holds what `pip install
tonematch` pulled before torch and librosa moved to the train extra. Printed per venv: its
installed size (site-packages, MB) and the biggest distributions, the import time of `tonematch`
and of its API (median of three fresh processes), and the wall time of `tonematch match
--no-refine` on examples/ (the first run compiles the numba kernels into the install's cache).
"""

from __future__ import annotations

import argparse
import csv
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ("pyproject.toml", "README.md", "tonematch", "data", "models", "training", "inference")
TORCH = "torch==2.13.0"  # the CPU build, as `make venv` pins it (an unpinned torch pulls GB of CUDA)
OLD_EXTRAS = (TORCH, "librosa>=0.10")  # what the core dependencies held before


def copy_source(dst: str) -> str:
    """The package's sources alone: pip builds in the tree it is given, so not in the shared one."""
    for name in SOURCES:
        src = os.path.join(REPO, name)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(dst, name), ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(src, dst)
    return dst


def make_venv(path: str, requirements: list[str]) -> tuple[str, float]:
    """(the venv's python, seconds the venv and its install took)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", path], check=True)
    python = os.path.join(path, "bin", "python")
    proc = subprocess.run([python, "-m", "pip", "install", "-q", *requirements], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"pip install {' '.join(requirements)} failed:\n{proc.stdout}\n{proc.stderr}")
    return python, time.perf_counter() - started


def site_packages(python: str) -> str:
    out = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def folder_mb(path: str) -> float:
    total = 0
    for here, _, files in os.walk(path):
        total += sum(os.lstat(os.path.join(here, f)).st_size for f in files)
    return total / 1e6


def distribution_mb(site: str) -> dict[str, float]:
    """Each installed distribution's size from its RECORD (what pip wrote for it)."""
    sizes = {}
    for record in glob.glob(os.path.join(site, "*.dist-info", "RECORD")):
        name = os.path.basename(os.path.dirname(record)).removesuffix(".dist-info").rsplit("-", 1)[0]
        with open(record, newline="") as f:
            sizes[name] = sum(int(row[2]) for row in csv.reader(f) if len(row) > 2 and row[2].isdigit()) / 1e6
    return sizes


def import_seconds(python: str, module: str, cwd: str) -> float:
    """Median of three fresh processes (from `cwd`: in the clone, tonematch/ would shadow the install)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [
        float(subprocess.run([python, "-c", code], cwd=cwd, check=True, capture_output=True, text=True).stdout)
        for _ in range(3)
    ]
    return statistics.median(runs)


def match_seconds(python: str, cwd: str) -> tuple[float, float]:
    """(first run, median of two more) of `tonematch match --no-refine` on the shipped examples."""
    tonematch = os.path.join(os.path.dirname(python), "tonematch")
    out = os.path.join(cwd, "bench-match.wav")
    argv = [
        tonematch,
        "match",
        os.path.join(REPO, "examples", "mix.flac"),
        "-r",
        os.path.join(REPO, "examples", "reference.flac"),
        "-o",
        out,
        "--no-refine",
        "-f",
    ]
    times = []
    for _ in range(3):
        started = time.perf_counter()
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if proc.returncode != 0 or "settings from the network" not in proc.stdout:
            raise SystemExit(f"tonematch match failed in {python}:\n{proc.stdout}\n{proc.stderr}")
    return times[0], statistics.median(times[1:])


def measure(label: str, python: str, install_s: float, cwd: str, torch: bool) -> dict:
    site = site_packages(python)
    row = {"label": label, "install_s": install_s, "site_mb": folder_mb(site), "dists": distribution_mb(site)}
    row["import_s"] = import_seconds(python, "tonematch", cwd)
    row["api_s"] = import_seconds(python, "tonematch.inference.api", cwd)
    row["torch_s"] = import_seconds(python, "torch", cwd) if torch else None
    row["match_first_s"], row["match_s"] = match_seconds(python, cwd)
    return row


def show(row: dict) -> None:
    print(f"{row['label']}: {row['site_mb']:.0f} MB installed (site-packages), made in {row['install_s']:.0f} s")
    biggest = sorted(row["dists"].items(), key=lambda kv: -kv[1])[:6]
    print("  biggest: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in biggest))
    print(
        f"  import tonematch {row['import_s'] * 1e3:.0f} ms, its API (tonematch.inference.api) {row['api_s']:.2f} s"
        + (f", import torch {row['torch_s']:.2f} s" if row["torch_s"] is not None else "")
    )
    print(
        f"  tonematch match --no-refine (examples, 12 s): first run {row['match_first_s']:.1f} s (numba compiles), "
        f"then {row['match_s']:.1f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--core-only", action="store_true", help="skip the venv with torch and librosa")
    ap.add_argument("--keep", metavar="DIR", help="build the venvs in DIR and keep them (default: a temporary folder)")
    args = ap.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="tonematch-install-")
    os.makedirs(work, exist_ok=True)
    try:
        source = copy_source(tempfile.mkdtemp(dir=work, prefix="src-"))
        python, seconds = make_venv(os.path.join(work, "core"), [source])
        core = measure("core (pip install tonematch)", python, seconds, work, torch=False)
        missing = {"torch", "librosa"} & {name.lower() for name in core["dists"]}
        if missing:
            raise SystemExit(f"the core install pulled {sorted(missing)}: it should not")
        show(core)
        if args.core_only:
            here = distribution_mb(site_packages(sys.executable))
            for name in ("torch", "librosa"):
                if name in here:
                    print(f"  {name} in {sys.executable}'s venv: {here[name]:.0f} MB (dist-info RECORD)")
            return
        python, seconds = make_venv(os.path.join(work, "torch"), [*OLD_EXTRAS, source])
        heavy = measure(f"core + {TORCH} + librosa (the former core)", python, seconds, work, torch=True)
        show(heavy)
        dists = heavy["dists"]
        added = sorted(set(dists) - set(core["dists"]), key=lambda n: -dists[n])
        named = ", ".join(f"{n} {dists[n]:.0f} MB" for n in added[:5])
        print(
            f"  added by torch and librosa: {heavy['site_mb'] - core['site_mb']:.0f} MB in {len(added)} "
            f"distributions ({named}, ...)"
        )
        print(
            f"core install: {core['site_mb']:.0f} MB, {core['site_mb'] / heavy['site_mb']:.0%} of the former "
            f"{heavy['site_mb']:.0f} MB"
        )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
