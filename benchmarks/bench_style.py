"""`tonematch style fit` on 10 pairs of 3-5 minutes: fit time, peak memory and the held-out check.

  python benchmarks/bench_style.py                  # 10 corpus tracks of 3-5 minutes
  python benchmarks/bench_style.py --pairs 6 --min-s 60 --max-s 180 --seed 100   # other tracks, engineer
  python benchmarks/bench_style.py --synthetic      # synthetic music (what runs without the corpus)
  python benchmarks/bench_style.py --habit slow     # an engineer who compresses hard and slow (or fast)

The pairs are made by the synthetic adaptive engineer of tests/style_engineer.py (a target tilt,
loudness and compression habit, with per-song variation) from the first tracks of
~/.cache/tonematch-corpus/music whose length lies in [--min-s, --max-s] (synthetic music of 3-5
minutes when the corpus is absent), written as float WAV in a temporary folder. The fit is one
whole process (`tonematch style fit PAIRS -o S.tmstyle`), timed by wall clock, with its peak RSS
from the kernel (os.wait4). Its held-out check (the style against generic matching with the
engineer's closest other master as reference, on exact renders of the held-out mixes) is read back
from the style's card. Goals: fit <= 5 minutes on the 2-core CPU; the style >= 30 % closer (MR-STFT).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
CORPUS = os.path.expanduser("~/.cache/tonematch-corpus/music")
BIN = Path(sys.executable).parent


def corpus_tracks(count: int, min_s: float, max_s: float) -> list[str]:
    """The first `count` 44.1 kHz stereo corpus tracks (sorted by path) of min_s..max_s seconds."""
    found = []
    for path in sorted(glob.glob(os.path.join(CORPUS, "*", "*.ogg"))):
        info = sf.info(path)
        if min_s <= info.duration <= max_s and info.samplerate == 44100 and info.channels == 2:
            found.append(path)
    return found[:count]


def make_pairs(
    folder: Path, count: int, min_s: float, max_s: float, seed: int, synthetic: bool, compressor: dict | None = None
) -> str:
    """Write count pairs into folder/mix and folder/master; returns what music they came from."""
    from style_engineer import SR, as_mix, write_pair

    from signals import music_like

    tracks = [] if synthetic else corpus_tracks(count, min_s, max_s)
    if len(tracks) < count:
        lengths = np.random.default_rng(seed).uniform(max(min_s, 1.0), max(min_s, max_s), count)
        for i, seconds in enumerate(lengths):
            music = music_like(float(seconds), SR, seed=seed + i)
            write_pair(folder, f"song{i:02d}", as_mix(music, seed + i), seed + i, compressor)
        return f"synthetic music ({lengths.min():.0f}-{lengths.max():.0f} s)"
    for i, path in enumerate(tracks):
        music, sr = sf.read(path, dtype="float32", always_2d=True)
        assert sr == SR
        write_pair(folder, f"{i:02d}_{Path(path).stem}", as_mix(music.T, seed + i), seed + i, compressor)
    seconds = [sf.info(p).duration for p in tracks]
    return f"corpus music ({min(seconds):.0f}-{max(seconds):.0f} s)"


def timed(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB, exit code) of one whole process; its output goes to ours."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=int, default=10)
    p.add_argument("--min-s", type=float, default=180.0, help="shortest corpus track (seconds)")
    p.add_argument("--max-s", type=float, default=300.0, help="longest corpus track (seconds)")
    p.add_argument("--seed", type=int, default=0, help="the engineer's per-song draws start here")
    p.add_argument("--synthetic", action="store_true", help="synthetic music even when the corpus is there")
    p.add_argument(
        "--habit",
        choices=("usual", "fast", "slow"),
        default="usual",
        help="the engineer's compression: usual (3:1 from 4 dB over the mix's loudness, 5/80 ms), or "
        "4:1 from 8 dB under it, fast (1/40 ms) or slow (80/1000 ms)",
    )
    p.add_argument("--keep", metavar="DIR", help="build the pairs in DIR and keep them (reused when present)")
    p.add_argument("fit_args", nargs="*", help="more arguments for `tonematch style fit` (after --)")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp) / "pairs"
        if folder.joinpath("mix").is_dir():
            what = f"kept pairs in {folder}"
        else:
            start = time.perf_counter()
            import style_engineer

            compressor = {"usual": None, "fast": style_engineer.FAST, "slow": style_engineer.SLOW}[args.habit]
            what = make_pairs(folder, args.pairs, args.min_s, args.max_s, args.seed, args.synthetic, compressor)
            print(f"built {args.pairs} pairs from {what} in {time.perf_counter() - start:.0f} s", flush=True)
        out = Path(tmp) / "bench.tmstyle"
        env_note = os.environ.get("OMP_NUM_THREADS", "unset")
        wall, peak, code = timed([str(BIN / "tonematch"), "style", "fit", str(folder), "-o", str(out), *args.fit_args])
        print(f"\nstyle fit: {wall:.0f} s wall (goal <= 300 s), peak {peak:.0f} MB, exit {code}")
        print(f"  pairs: {what}; OMP_NUM_THREADS={env_note}; {os.cpu_count()} CPUs")
        if code != 0 or not out.is_file():
            return 1
        card = json.loads(
            subprocess.run(
                [str(BIN / "tonematch"), "style", "show", str(out), "--json"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        h = card.get("habit") or {}
        if h.get("timing_pairs"):
            print(
                f"  compression read ({args.habit} engineer): attack {h['attack_ms']:.1f} ms, release "
                f"{h['release_ms']:.0f} ms, ratio {h['ratio']:.1f}:1, from {h['timing_pairs']} pair(s)"
            )
        else:
            print(f"  compression read ({args.habit} engineer): no timing")
        check = card["meta"].get("check")
        if check is None:
            print("  no held-out check (fewer than 4 pairs, or --no-check)")
            return 0
        print(f"  held out: {', '.join(check['held_out'])}")
        for key in ("generic", "style"):
            m = check[key]
            print(
                f"  {key:8s} MR-STFT {m['mrstft']:.3f}  LUFS error {m['lufs_error']:.2f} LU  "
                f"crest error {m['crest_error']:.2f} dB"
            )
        print(
            f"  the style is {100 * check['mrstft_gain']:.1f} % closer (MR-STFT) than generic matching (goal >= 30 %)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
