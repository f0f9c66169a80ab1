"""tonematch-eval --unmastered SUBDIR: quiet unmastered mixes against loud masters of other songs.

  tonematch-eval FOLDER --unmastered SUBDIR [--split test] [--model STEM] [--cases 16] [--seed 0]
                 [--seconds 6] [--methods ...] [--option KEY=VALUE]

Case i (fixed by --seed): a segment of a track under FOLDER/SUBDIR (raw, unmastered material,
e.g. the corpus's fluidsynth renders) as it is, no degradation; reference: a segment of a track of
the same split outside SUBDIR (finished masters), drawn from the seed. There is no true master
here: the table measures how far each output moves toward its reference in what a listener
compares first: tonal balance (1/3-octave shape distance to the reference, RMS over bands), tilt,
density (crest: output minus reference), loudness; and, for the tone, the share of the mix's own
distance to the reference that each method closed.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from tonematch.data.errors import TonematchError
from tonematch.data.segments import audible, rms_db
from tonematch.data.tracks import TrackReader

from . import metrics
from .evaluate import CaseFailed, build_methods, emit, held_out

UNMASTERED_STREAM = 0x0A11  # mixed into the seed: the picks draw no numbers other evaluations use
COLUMNS = (  # key, header, format
    ("shape", "1/3-oct dist to ref (dB)", "{:.2f}"),
    ("closed", "tone distance closed", "{:.0%}"),
    ("tilt", "tilt: out - ref (dB)", "{:+.2f}"),
    ("crest", "crest: out - ref (dB)", "{:+.2f}"),
    ("lufs", "LUFS: out - ref (LU)", "{:+.2f}"),
    ("seconds", "time/case (s)", "{:.2f}"),
)


def _segment(reader: TrackReader, path, frames: int, rng: np.random.Generator) -> np.ndarray:
    total = reader.frames(path)
    if total < frames:
        raise TonematchError(f"'{path}' is shorter than one case segment")

    def draw():
        start = int(rng.integers(0, total - frames + 1))
        x = reader.read(path, start, frames)
        return rms_db(x), x

    return audible(draw, 8, -50.0)


def make_cases(files, subdir: str, count: int, seed: int, sample_rate: int, seconds: float) -> list[dict]:
    """[{input, reference, track, reference_track}] for `count` cases, a function of the arguments."""
    mixes = [f for f in files if f"{os.sep}{subdir}{os.sep}" in os.fspath(f)]
    masters = [f for f in files if f not in mixes]
    if not mixes or not masters:
        raise TonematchError(
            f"--unmastered needs tracks under '{subdir}/' and others beside it ({len(mixes)} and {len(masters)})"
        )
    reader, frames = TrackReader(sample_rate), int(round(seconds * sample_rate))
    cases = []
    for i in range(count):
        rng = np.random.default_rng([seed, i, UNMASTERED_STREAM])
        mix, ref = mixes[i % len(mixes)], masters[int(rng.integers(len(masters)))]
        cases.append(
            {
                "input": _segment(reader, mix, frames, rng),
                "reference": _segment(reader, ref, frames, rng),
                "track": Path(mix).name,
                "reference_track": Path(ref).name,
            }
        )
    return cases


def measure(output: np.ndarray, mix: np.ndarray, reference: np.ndarray, sample_rate: int) -> dict:
    ref_shape = metrics.third_octave_shape_db(reference, sample_rate)
    distance = metrics.shape_distance_db(metrics.third_octave_shape_db(output, sample_rate), ref_shape)
    before = metrics.shape_distance_db(metrics.third_octave_shape_db(mix, sample_rate), ref_shape)
    return {
        "shape": distance,
        "closed": 1.0 - distance / before if before > 0 else 0.0,
        "tilt": metrics.tilt_db(output, sample_rate) - metrics.tilt_db(reference, sample_rate),
        "crest": metrics.crest_db(output) - metrics.crest_db(reference),
        "lufs": metrics.lufs(output, sample_rate) - metrics.lufs(reference, sample_rate),
    }


def run(cases, methods, sample_rate: int) -> tuple[dict, list[str]]:
    import time

    results, notes = {}, []
    for name, method in methods.items():
        rows = []
        for i, case in enumerate(cases):
            start = time.perf_counter()
            try:
                out = method(case["input"], case["reference"]).astype(np.float32)
            except CaseFailed as exc:
                notes.append(f"{name} failed on case {i} ({case['track']}): {exc}")
                continue
            seconds = time.perf_counter() - start  # the method's time, before the measures' own
            row = measure(out, case["input"], case["reference"], sample_rate)
            row["seconds"] = seconds
            rows.append(row)
        if rows:
            results[name] = {key: float(np.mean([r[key] for r in rows])) for key, _, _ in COLUMNS}
            results[name]["cases"] = len(rows)
    return results, notes


def report(results: dict, notes: list[str], cases: list[dict], args) -> str:
    # --split all is the whole folder, not a split of it
    where, others = (f"the {args.split} split of ", " of the split") if args.split != "all" else ("", "")
    head = (
        f"# tonematch: unmastered mixes against other songs' masters\n\n{args.cases} cases from "
        f"{where}`{args.folder}`: mixes under `{args.unmastered}/` as they are, references "
        f"from the other tracks{others}; {args.seconds:g} s at {args.sample_rate} Hz. Means over cases. "
        "'tone distance closed': 1 - (output's 1/3-octave distance to the reference) / (the mix's).\n\n"
    )
    lines = ["| method | cases | " + " | ".join(h for _, h, _ in COLUMNS) + " |", "|" + "---|" * (len(COLUMNS) + 2)]
    for name, row in results.items():
        cells = [fmt.format(row[key]) for key, _, fmt in COLUMNS]
        lines.append(f"| {name} | {row['cases']} | " + " | ".join(cells) + " |")
    listing = "".join(f"\n{i + 1}. {c['track']} / reference {c['reference_track']}" for i, c in enumerate(cases))
    tail = "".join(f"\n- {n}" for n in notes)
    return head + "\n".join(lines) + "\n" + (f"\nNotes:{tail}\n" if notes else "") + f"\nCases:{listing}\n"


def main(args) -> int:
    def build() -> str:
        methods, notes = build_methods(args)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            files = held_out(args.folder, args.split, args.val_fraction, args.test_fraction)
            cases = make_cases(files, args.unmastered, args.cases, args.seed, args.sample_rate, args.seconds)
        results, failed = run(cases, methods, args.sample_rate)
        return report(results, notes + failed, cases, args)

    return emit(args, build)
