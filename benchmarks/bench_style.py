"""Styles on engineers the project did not build with its own chain: issue 17's goals, measured.

  python benchmarks/bench_style.py                      # both foreign engineers, held-out corpus music
  python benchmarks/bench_style.py --engineer fixed     # one of them (fixed, adaptive)
  python benchmarks/bench_style.py --pairs 4 --min-s 60 --scored 2   # a small run
  python benchmarks/bench_style.py --engineer own --habit slow       # the project's own synthetic engineer
  python benchmarks/bench_style.py --references --pairs 6 --min-s 60 --max-s 60 --scored 12
                                                        # styles from the engineers' masters alone

Two synthetic engineers master with the evaluation-only processor family (training/foreign:
linear-phase FIR EQ, feedback RMS compressor with program-dependent release, M/S width, soft
clipper and lookahead limiter; nothing the style can fit is that chain):

* fixed: the same settings on every mix (issue 17's habit): low shelf +3 dB at 100 Hz, bell -2 dB
  at 3 kHz (1.5 octaves), 3:1 from 6 dB under the staged loudness with a 10 ms attack and a
  150 ms release (one release time), side x1.2, -10 LUFS, ceiling -1 dBTP.
* adaptive: pulls each mix 70 % of the way to their own bass and treble balance (shelves at
  120 Hz and 6 kHz; aims near the middle of the corpus mixes'), compresses a dynamic mix harder
  (threshold 0.7 dB lower per dB of the mix's crest above 12 dB, 2.5:1, 5/100 ms), brings the
  side 70 % of the way to 6 dB under the mid, -11 LUFS, with a little per-song variation
  (+-0.5 dB aims, +-0.3 LU loudness).

Music: the held-out split of the corpus (training/evaluate.py held_out: the test and validation
tracks the training recipe never trained on). The style is fitted (`tonematch style fit`, one
whole process, wall clock and peak RSS) on pairs made from the held-out tracks of --min-s or
more (at most --max-s of each: 10 tracks of 3-5 minutes); the scored mixes are the shorter
held-out tracks, which the fit never saw. Mixes: style_engineer.as_mix (a random level,
shelves and width). Each scored mix is mastered (a) by the style, (b) by plain matching
(`tonematch match`'s default: the network and refinement) with the engineer's master of the
fitted pair whose mix is closest as reference, and (c) with the chain's settings identified on
that very pair (the floor: how close the chain gets to that master with its per-pair reading,
a peak detector; the style's consensus may choose an RMS one and land under it), and
scored against the engineer's own master of it: MR-STFT on the excerpts the masters are
analysed on, one at a time (inference/quality.py), LUFS error and true peak. Then each goal's figure.
"""

from __future__ import annotations

import argparse
import math
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
# the corpus folder fetch.sh fills (../shared/corpus/fetch.sh; $TONEMATCH_CORPUS if set)
CORPUS = os.path.join(os.environ.get("TONEMATCH_CORPUS", os.path.expanduser("~/.cache/tonematch-corpus")), "music")
BIN = Path(sys.executable).parent
SR = 44100

# the fixed engineer's moves in the chain's vocabulary, for `style show`'s check
FIXED_MOVES = {"low shelf": (3.0, 100.0), "bell": (-2.0, 3000.0)}
FIXED_COMPRESSOR = {"ratio": 3.0, "attack_ms": 10.0, "release_ms": 150.0}
FIXED_WIDTH = 1.2


def fixed_engineer(mix: np.ndarray, seed: int):
    from tonematch.training.foreign.master import ForeignSettings

    return ForeignSettings(
        low_shelf_db=3.0,
        low_shelf_hz=100.0,
        bell_db=-2.0,
        bell_hz=3000.0,
        bell_octaves=1.5,
        comp_threshold_db=-24.0,
        comp_ratio=3.0,
        comp_attack_ms=10.0,
        comp_release_ms=150.0,
        comp_auto_release=1.0,
        side_gain=FIXED_WIDTH,
        ceiling_dbtp=-1.0,
        target_lufs=-10.0,
    )


def _balance(mix: np.ndarray) -> tuple[float, float, float, float]:
    """(bass, treble re the mids dB, block crest dB, side over mid above 200 Hz dB) of a mix."""
    from tonematch.inference import character
    from tonematch.inference.style.model import band_centres
    from tonematch.models import excerpts

    c = character.character_of(excerpts.excerpts(mix, SR), SR)
    f = band_centres(SR)
    mid = c["tone"][(f > 300) & (f < 3000)].mean()
    bass = c["tone"][(f > 40) & (f < 120)].mean() - mid
    treble = c["tone"][(f > 6000) & (f < 14000)].mean() - mid
    return float(bass), float(treble), float(c["crest"]), float(np.mean(c["width"][1:]))


def adaptive_engineer(mix: np.ndarray, seed: int):
    from tonematch.training.foreign.master import ForeignSettings

    rng = np.random.default_rng(2000 + seed)
    bass, treble, crest, side = _balance(mix)
    aim_bass, aim_treble = AIM_BASS_DB + rng.normal(0, 0.5), AIM_TREBLE_DB + rng.normal(0, 0.5)
    return ForeignSettings(
        low_shelf_db=float(np.clip(PULL * (aim_bass - bass), -12, 12)),
        low_shelf_hz=120.0,
        high_shelf_db=float(np.clip(PULL * (aim_treble - treble), -12, 12)),
        high_shelf_hz=6000.0,
        comp_threshold_db=float(-22.0 - PULL * (crest - AIM_CREST_DB)),
        comp_ratio=2.5,
        comp_attack_ms=5.0,
        comp_release_ms=100.0,
        side_gain=float(np.clip(10.0 ** (PULL * (AIM_SIDE_DB - side) / 20.0), 0.5, 2.0)),
        ceiling_dbtp=-1.0,
        target_lufs=float(-11.0 + rng.normal(0, 0.3)),
    )


# The adaptive engineer's own balance, near the middle of the corpus mixes' (bass and treble
# against the mids as _balance reads them, crest, side under mid): most mixes need a move of a
# few dB, not the shelves' limit.
AIM_BASS_DB, AIM_TREBLE_DB, AIM_CREST_DB, AIM_SIDE_DB, PULL = 8.0, -16.0, 12.0, -6.0, 0.7


ENGINEERS = {"fixed": fixed_engineer, "adaptive": adaptive_engineer}


def held_out_tracks(min_s: float, max_s: float, count: int, scored: int) -> tuple[list, list]:
    """(tracks to fit on: the held-out tracks of min_s or more, up to `count`; tracks to score:
    the shorter held-out ones of 20 s or more, up to `scored`), sorted by path."""
    from tonematch.training.evaluate import held_out

    if not os.path.isdir(CORPUS):
        raise SystemExit(
            f"no corpus at {CORPUS}: this benchmark needs its held-out music "
            "(../shared/corpus/fetch.sh, or set $TONEMATCH_CORPUS)"
        )
    tracks = sorted(set(held_out(CORPUS, "test", 0.05, 0.1)) | set(held_out(CORPUS, "val", 0.05, 0.1)))
    fit, score = [], []
    for path in tracks:
        info = sf.info(path)
        if info.samplerate != SR or info.channels != 2:
            continue
        (fit if info.duration >= min_s else score if info.duration >= 20.0 else []).append(str(path))
    return fit[:count], score[:scored]


def read_music(path: str, max_s: float) -> np.ndarray:
    music, sr = sf.read(path, dtype="float32", always_2d=True, frames=int(max_s * SR))
    assert sr == SR
    return music.T


def build(folder: Path, tracks: list, engineer: str, seed: int, max_s: float) -> list:
    """folder/mix/NAME.wav and folder/master/NAME.wav for each track; returns the names and the
    engineer's settings of each."""
    from style_engineer import as_mix

    from tonematch.training.foreign.master import ForeignMaster

    (folder / "mix").mkdir(parents=True, exist_ok=True)
    (folder / "master").mkdir(parents=True, exist_ok=True)
    out = []
    for i, path in enumerate(tracks):
        name = f"{i:02d}_{Path(path).stem}"
        mix = as_mix(read_music(path, max_s), seed + i)
        settings = ENGINEERS[engineer](mix, seed + i)
        if not (folder / "master" / f"{name}.wav").is_file():
            sf.write(folder / "mix" / f"{name}.wav", mix.T, SR, subtype="FLOAT")
            sf.write(folder / "master" / f"{name}.wav", ForeignMaster(settings).apply(mix, SR).T, SR, subtype="FLOAT")
        out.append((name, settings))
    return out


# Runs argv[2:] and writes its peak RSS (kB) to argv[1]. Linux counts the memory a process had
# before exec in its peak, and a child forked from this script starts with this script's (GBs
# after building pairs); a child of this small launcher starts with the launcher's (~10 MB).
LAUNCHER = """import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def timed(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB, exit code) of one whole process; its output goes to ours."""
    with tempfile.TemporaryDirectory() as tmp:
        peak = Path(tmp) / "peak"
        start = time.perf_counter()
        code = subprocess.call([sys.executable, "-c", LAUNCHER, str(peak), *cmd])
        wall = time.perf_counter() - start
        return wall, int(peak.read_text()) / 1024.0 if peak.is_file() else math.nan, code


def show_check(model: dict) -> list[tuple[str, float, float, bool]]:
    """The fixed engineer's moves against what `style show` reports: (move, truth, read, within)."""
    from tonematch.inference.explain import _BAND_NAMES

    g, rows = model["groups"], []
    values = g["eq"]["values"]
    bands = [
        (_BAND_NAMES[b], values[f"eq.{b}.gain_db"], values[f"eq.{b}.freq_hz"])
        for b in ("low_shelf", "peak1", "peak2", "peak3", "peak4", "high_shelf")
        if abs(values[f"eq.{b}.gain_db"]) >= 0.25
    ]
    used = set()
    for move, (gain, freq) in FIXED_MOVES.items():
        near = [(abs(math.log2(f / freq)), i) for i, (kind, _, f) in enumerate(bands) if kind == move and i not in used]
        if near and min(near)[0] <= 1.0:
            i = min(near)[1]
            used.add(i)
            rows.append((f"EQ {move} at {freq:.0f} Hz (dB)", gain, bands[i][1], abs(bands[i][1] - gain) <= 1.0))
        else:
            rows.append((f"EQ {move} at {freq:.0f} Hz (dB)", gain, 0.0, False))
    for i, (kind, gain, freq) in enumerate(bands):
        if i not in used:
            rows.append((f"EQ {kind} at {freq:.0f} Hz, not made (dB)", 0.0, gain, abs(gain) <= 0.5))
    comp = g["compressor"]
    if comp["on"]:
        read = {"ratio": math.exp(comp["log_ratio"]["value"]), "attack_ms": comp["attack_ms"]}
        read["release_ms"] = comp["release_ms"]
        for key, truth in FIXED_COMPRESSOR.items():
            rows.append((f"compressor {key}", truth, read[key], abs(read[key] / truth - 1.0) <= 0.2))
    else:
        rows.append(("compressor", 1.0, 0.0, False))
    width = 10.0 ** (g["width"]["value"] / 20.0)
    rows.append(("width (side gain)", FIXED_WIDTH, width, abs(width / FIXED_WIDTH - 1.0) <= 0.2))
    return rows


def score(folder: Path, style_path: Path, say) -> dict:
    """Master each scored mix (a) with the style, (b) by matching the closest fitted master, (c)
    with its own identified settings; MR-STFT, LUFS error and true peak against the engineer's."""
    from tonematch.data.pairs import find_pairs, load_pair
    from tonematch.inference import api, match, quality, style
    from tonematch.inference.style.distance import excerpt_mrstft
    from tonematch.inference.style.heldout import closest_pair
    from tonematch.inference.style.identify import identify, render_own
    from tonematch.models.measure.truepeak import true_peak_dbtp

    s = style.load_style(style_path)
    train = [style.read_pair(p) for p in find_pairs(folder / "fit")]
    rows = []
    for p in find_pairs(folder / "score"):
        mix, master, sr, _ = load_pair(p)
        data = style.read_pair(p)
        ref = closest_pair(data, train)
        mine, settings, _ = style.master_array(mix, sr, s, match.Options())
        generic = api.match(mix, ref.master_path, sample_rate=sr).audio
        fit = identify(data.mix, data.master, data.mix_char, data.compressor, data.played_master_lufs(), floor=False)
        floor = render_own(mix, sr, fit)
        row = {"name": p.name, "lufs": quality.lufs(master, sr)}
        for key, out in (("style", mine), ("matching", generic), ("floor", floor)):
            row[key] = excerpt_mrstft(out, master, sr)
        row["lufs_error"] = abs(quality.lufs(mine, sr) - row["lufs"])
        row["peak_over"] = true_peak_dbtp(mine) - settings.values["limiter.ceiling_dbtp"]
        rows.append(row)
        say(
            f"  {p.name}: MR-STFT style {row['style']:.3f}, matching {row['matching']:.3f} (reference "
            f"{ref.name}), floor {row['floor']:.3f}; LUFS error {row['lufs_error']:.2f} LU, true peak "
            f"{row['peak_over']:+.2f} dB re the ceiling"
        )
    return {"rows": rows, "style": s}


def built(engineer: str, args, tmp: Path) -> Path:
    """The engineer's folder: fit/ (pairs of the longer held-out tracks) and score/ (the shorter)."""
    fit_tracks, score_tracks = held_out_tracks(args.min_s, args.max_s, args.pairs, args.scored)
    folder = Path(args.keep) / engineer if args.keep else tmp / engineer
    start = time.perf_counter()
    build(folder / "fit", fit_tracks, engineer, args.seed, args.max_s)
    build(folder / "score", score_tracks, engineer, args.seed + 100, args.max_s)
    seconds = [min(sf.info(t).duration, args.max_s) for t in fit_tracks]
    print(
        f"\n== {engineer} engineer (foreign chain): {len(fit_tracks)} pairs of {min(seconds):.0f}-{max(seconds):.0f} s "
        f"to fit, {len(score_tracks)} held-out mixes to score (built in {time.perf_counter() - start:.0f} s)",
        flush=True,
    )
    return folder


def references_engineer(engineer: str, args, tmp: Path) -> None:
    """`style from-references` on the engineer's masters of held-out tracks (the first one, three
    and all of them), each other held-out mix mastered in it and by matching the closest of those
    masters; MR-STFT to the engineer's own master, as score() measures."""
    from tonematch.data.pairs import find_pairs, load_pair
    from tonematch.inference import api, match, style
    from tonematch.inference.inputs import analyse_input
    from tonematch.inference.style.distance import excerpt_mrstft
    from tonematch.inference.style.heldout import closest_pair

    # the references: the first --pairs held-out tracks of --min-s or more; the scored mixes: the
    # held-out tracks after them, whatever their length (up to --max-s of each)
    long, short = held_out_tracks(args.min_s, args.max_s, 1000, 1000)
    refs, scored = long[: args.pairs], (long[args.pairs :] + short)[: args.scored]
    folder = Path(args.keep) / f"references-{engineer}" if args.keep else tmp / f"references-{engineer}"
    build(folder / "fit", refs, engineer, args.seed, args.max_s)
    build(folder / "score", scored, engineer, args.seed + 100, args.max_s)
    print(f"\n== {engineer} engineer (foreign chain): {len(refs)} reference masters, {len(scored)} held-out mixes")
    fits = find_pairs(folder / "fit")
    train = [style.read_pair(p) for p in fits]
    masters = [analyse_input(p.master, "reference master") for p in fits]
    styles = {n: style.style_from_references(masters[:n]) for n in sorted({1, min(3, len(fits)), len(fits)})}
    mrstft: dict = {"matching": [], **{n: [] for n in styles}}
    for p in find_pairs(folder / "score"):
        mix, master, sr, _ = load_pair(p)
        ref = closest_pair(style.read_pair(p), train)
        mrstft["matching"].append(excerpt_mrstft(api.match(mix, ref.master_path, sample_rate=sr).audio, master, sr))
        for n, s in styles.items():
            mrstft[n].append(excerpt_mrstft(style.master_array(mix, sr, s, match.Options())[0], master, sr))
    figures = ", ".join(f"{n} masters {np.mean(mrstft[n]):.3f}" for n in styles)
    print(
        f"style from references, MR-STFT to the engineer's masters (lower is closer), mean of "
        f"{len(mrstft['matching'])} mixes: {figures}; matching the closest master {np.mean(mrstft['matching']):.3f}"
    )


def run_engineer(engineer: str, args, tmp: Path) -> dict:
    folder = built(engineer, args, tmp)
    out = folder / "style.tmstyle"
    wall, peak, code = timed(
        [str(BIN / "tonematch"), "style", "fit", str(folder / "fit"), "-o", str(out), "-f", *args.fit_args]
    )
    print(f"style fit: {wall:.0f} s wall, peak {peak:.0f} MB, exit {code}", flush=True)
    if code != 0:
        raise SystemExit(1)
    result = score(folder, out, print)
    result.update(wall=wall, peak=peak)
    return result


def report(engineer: str, r: dict) -> list[tuple[str, str, bool]]:
    """(goal, figure, met) for one engineer."""
    rows = r["rows"]
    mean = {k: float(np.mean([x[k] for x in rows])) for k in ("style", "matching", "floor", "lufs_error")}
    below = 1.0 - mean["style"] / mean["matching"]
    goals = []
    need = 0.5 if engineer == "fixed" else 0.4
    goals.append(
        (
            f"{engineer}: style >= {100 * need:.0f} % below matching (MR-STFT)",
            f"{100 * below:.0f} % ({mean['style']:.3f} vs {mean['matching']:.3f})",
            below >= need,
        )
    )
    if engineer == "fixed":
        ratio = mean["style"] / mean["floor"]
        goals.append(
            (
                "fixed: style within 1.2 x the per-pair fit floor",
                f"{ratio:.2f} x ({mean['style']:.3f} vs floor {mean['floor']:.3f})",
                ratio <= 1.2,
            )
        )
        checks = show_check(r["style"].settings)
        for move, truth, read, ok in checks:
            print(f"  style show, {move}: truth {truth:g}, read {read:.2f} {'ok' if ok else 'MISSED'}")
        goals.append(
            (
                "fixed: style show within 1 dB / 20 % of each move, nothing invented above 0.5 dB",
                f"{sum(ok for *_, ok in checks)} of {len(checks)} right",
                all(ok for *_, ok in checks),
            )
        )
    worst = max(x["lufs_error"] for x in rows)
    goals.append(
        (f"{engineer}: LUFS error <= 0.5 LU", f"mean {mean['lufs_error']:.2f}, max {worst:.2f} LU", worst <= 0.5)
    )
    over = max(x["peak_over"] for x in rows)
    goals.append((f"{engineer}: true peak <= the ceiling", f"max {over:+.2f} dB re the ceiling", over <= 0.0))
    goals.append(
        (
            f"{engineer}: style fit <= 180 s and <= 1.5 GB",
            f"{r['wall']:.0f} s, {r['peak']:.0f} MB",
            r["wall"] <= 180 and r["peak"] <= 1536,
        )
    )
    return goals


def own_engineer(args) -> int:
    """The project's own synthetic adaptive engineer (tests/style_engineer.py) on the first corpus
    tracks of min-s..max-s: fit time, memory, the compression read and the fit's held-out check."""
    import style_engineer
    from style_engineer import as_mix, write_pair

    compressor = {"usual": None, "fast": style_engineer.FAST, "slow": style_engineer.SLOW}[args.habit]
    fit_tracks, _ = held_out_tracks(args.min_s, args.max_s, args.pairs, 0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pairs"
        for i, path in enumerate(fit_tracks):
            write_pair(folder, f"{i:02d}_{Path(path).stem}", as_mix(read_music(path, args.max_s), args.seed + i),
                       args.seed + i, compressor)  # fmt: skip
        out = Path(tmp) / "own.tmstyle"
        wall, peak, code = timed([str(BIN / "tonematch"), "style", "fit", str(folder), "-o", str(out), *args.fit_args])
        print(f"\nstyle fit ({args.habit} own engineer): {wall:.0f} s wall, peak {peak:.0f} MB, exit {code}")
        return code


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engineer", choices=("both", "fixed", "adaptive", "own"), default="both")
    p.add_argument("--pairs", type=int, default=10, help="pairs to fit on")
    p.add_argument("--scored", type=int, default=8, help="held-out mixes to score")
    p.add_argument("--min-s", type=float, default=180.0, help="shortest track to fit on (seconds)")
    p.add_argument("--max-s", type=float, default=300.0, help="at most this much of each track (seconds)")
    p.add_argument("--seed", type=int, default=0, help="the mixes' and engineers' draws start here")
    p.add_argument("--habit", choices=("usual", "fast", "slow"), default="usual", help="with --engineer own")
    p.add_argument("--references", action="store_true", help="styles from the engineers' masters alone, no fit")
    p.add_argument("--keep", metavar="DIR", help="build the pairs in DIR and keep them (reused when present)")
    p.add_argument("fit_args", nargs="*", help="more arguments for `tonematch style fit` (after --)")
    args = p.parse_args()
    if args.engineer == "own":
        return own_engineer(args)
    from tonematch.inference.style import describe

    goals = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.references:
            for engineer in ("fixed", "adaptive") if args.engineer == "both" else (args.engineer,):
                references_engineer(engineer, args, Path(tmp))
            return 0
        for engineer in ("fixed", "adaptive") if args.engineer == "both" else (args.engineer,):
            result = run_engineer(engineer, args, Path(tmp))
            print("\n".join(describe(result["style"])))
            goals += report(engineer, result)
    print(f"\ngoals ({os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}):")
    for goal, figure, met in goals:
        print(f"  {'met    ' if met else 'NOT MET'}  {goal}: {figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
