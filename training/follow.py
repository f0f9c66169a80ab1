"""tonematch-eval --follow: does the output move when the reference's mastering moves?

  tonematch-eval FOLDER --follow [--split test] [--model STEM] [--cases 32] [--seed 0] [--seconds 6]
                 [--axes tone,dynamics,width,loudness] [--scales 1] [--methods ...] [--option KEY=VALUE]

Mix i (fixed by --seed): segment A of a held-out track, degraded as the self-supervised cases are
(random tilt and shelves, width, downward expansion, level: data/degrade.py); the same segment
clean is what the ideal masters. Reference: a segment of a DIFFERENT held-out track (picked as
--reference other-track picks it) mastered by the evaluation-only foreign family
(training/foreign) K + 1 ways: a random base mastering and, per axis and scale, a + and a -
variant that moves that axis alone (tone: brighter / darker tilt; dynamics: denser / more open;
width: wider / narrower; loudness: louder / quieter). The ideal output for each is the same
foreign mastering applied to the clean mix segment. Every method sees the degraded mix and each
of the K + 1 references in turn.

Descriptors of every output, ideal and reference (training/metrics.py over the shared meters):
  tilt     energy of the 2-16 kHz 1/3-octave bands over that of 31-198 Hz (dB)
  shape    the 1/3-octave band levels 31 Hz - 16 kHz, mean removed (a vector, dB)
  width    side / mid energy (dB)
  PLR      true peak (dBTP) minus integrated loudness (LUFS)
  crest    sample peak over RMS (dB)
  spread   momentary (400 ms) loudness, 95th minus 10th percentile (LU): the compressor's macro-
           dynamics, which PLR and crest do not see apart once a limiter sets the peaks (and
           `match` takes its ceiling from the reference's true peak where that is lower)
  LUFS     integrated loudness

Follow slope of a descriptor on an axis: over the mixes and that axis's variants, with changes
taken from the base mastering (dout = d(output_k) - d(output_base), dideal likewise), the least-
squares slope through the origin, sum(dout * dideal) / sum(dideal^2), pooled over mixes (a vector
descriptor pools its bands too): 1 = the output moves as the ideal does, 0 = it ignores the
reference, above 1 = it overshoots. Error: |d(output) - d(ideal)| (shape: the RMS difference over
bands), mean over mixes and all K + 1 masterings.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tonematch.data.errors import TonematchError

from . import metrics
from .evaluate import CaseFailed, Method, build_methods, case_dataset, emit, held_out, other_track_segment

AXIS_DESCRIPTORS = {  # axis -> the descriptors whose follow slope it reports
    "tone": ("tilt", "shape"),
    "dynamics": ("plr", "crest", "spread"),
    "width": ("width",),
    "loudness": ("lufs",),
}
DESCRIPTORS = (  # key, header, unit of the error
    ("tilt", "tilt", "dB"),
    ("shape", "1/3-oct shape", "dB"),
    ("width", "side/mid", "dB"),
    ("plr", "PLR", "dB"),
    ("crest", "crest", "dB"),
    ("spread", "loudness spread", "LU"),
    ("lufs", "LUFS", "LU"),
)
FOLLOW_STREAM = 0xF011  # mixed into the seed for the base masterings
# the intervals resample the mixes (a mix's masterings share its music and base, so they are not
# independent draws): this many resamplings, this central share of them
BOOTSTRAP_DRAWS, BOOTSTRAP_SHARE = 2000, 0.9
INTERVAL_ERRORS = ("tilt", "shape", "width")  # the errors issue 16's goals name
DEFAULT_NOTE = "network + refine is what `tonematch match` does by default; matcher + refine is `--model none`."


def describe(x: np.ndarray, sample_rate: int) -> dict:
    """The follow descriptors of one clip [C, T]."""
    x = np.asarray(x, dtype=np.float32)
    return {
        "tilt": metrics.tilt_db(x, sample_rate),
        "shape": metrics.third_octave_shape_db(x, sample_rate),
        "width": metrics.side_mid_db(x),
        "plr": metrics.plr_db(x, sample_rate),
        "crest": metrics.crest_db(x),
        "spread": metrics.momentary_spread_lu(x, sample_rate),
        "lufs": metrics.lufs(x, sample_rate),
    }


def change(a: dict, b: dict, key: str) -> np.ndarray:
    """a[key] - b[key] as a 1-D array (one value, or one per band)."""
    return np.atleast_1d(np.asarray(a[key], dtype=np.float64) - np.asarray(b[key], dtype=np.float64))


def error(a: dict, b: dict, key: str) -> float:
    if key == "shape":
        return metrics.shape_distance_db(a[key], b[key])
    return float(abs(change(a, b, key)[0]))


def slope_terms(pairs) -> tuple[float, float]:
    """(sum of dout . dideal, sum of dideal . dideal) over `pairs` of (dout, dideal) arrays."""
    return sum(float(np.dot(o, i)) for o, i in pairs), sum(float(np.dot(i, i)) for _, i in pairs)


def follow_slope(pairs) -> float:
    """Least-squares slope through the origin of output changes on ideal changes, pooled over
    `pairs` of (dout, dideal) arrays; NaN when the ideal never moved."""
    num, den = slope_terms(pairs)
    return num / den if den > 0 else float("nan")


@dataclass(frozen=True)
class Mastering:
    axis: str  # "base" for the base mastering
    label: str
    amount: float  # signed steps along the axis
    settings: object  # foreign.ForeignSettings


def masterings(seed: int, index: int, axes, scales) -> list[Mastering]:
    """Mix `index`'s base mastering, then its single-axis variants."""
    from . import foreign

    base = foreign.draw(np.random.default_rng([seed, index, FOLLOW_STREAM]))
    return [Mastering("base", "base", 0.0, base)] + [
        Mastering(axis, label, amount, s) for axis, label, amount, s in foreign.variants(base, axes, scales)
    ]


def make_case(dataset, index: int, seed: int, sample_rate: int, axes, scales) -> dict:
    """{input, masterings, references, ideals, track, reference_track, seconds}: the degraded mix,
    and per mastering the reference song and the clean mix through it."""
    from .foreign import ForeignMaster

    start = time.perf_counter()
    item = dataset[index]
    clean = item["target_source"].numpy()
    ref_path, _, ref_source = other_track_segment(dataset, item["track"], seed, index)
    chosen = masterings(seed, index, axes, scales)
    case = {
        "input": item["input"].numpy(),
        "masterings": chosen,
        "references": [ForeignMaster(m.settings).apply(ref_source, sample_rate) for m in chosen],
        "ideals": [ForeignMaster(m.settings).apply(clean, sample_rate) for m in chosen],
        "track": Path(item["track"]).name,
        "reference_track": Path(ref_path).name,
    }
    case["seconds"] = time.perf_counter() - start
    return case


def run(cases, methods: dict[str, Method], sample_rate: int, log=None) -> tuple[dict, list[str], list[dict]]:
    """({method: [per-mix record]}, notes, per-mix timings). A record holds the descriptors of
    the outputs and ideals (base first) and the axis of each mastering. `cases`: any iterable
    (a generator keeps one mix's audio in memory at a time)."""
    records: dict[str, list] = {name: [] for name in methods}
    notes, timings = [], []
    for n, case in enumerate(cases):
        ideals = [describe(x, sample_rate) for x in case["ideals"]]
        axes = [m.axis for m in case["masterings"]]
        timing = {"mix": n, "masterings": case.get("seconds", 0.0)}
        for name, method in methods.items():
            start = time.perf_counter()
            try:
                outputs = [method(case["input"], reference) for reference in case["references"]]
            except CaseFailed as exc:
                notes.append(f"{name} failed on mix {n} ({case.get('track', '?')}): {exc}")
                continue
            timing[name] = time.perf_counter() - start
            records[name].append(
                {
                    "outputs": [describe(y.astype(np.float32), sample_rate) for y in outputs],
                    "ideals": ideals,
                    "axes": axes,
                    "seconds": timing[name] / len(outputs),
                }
            )
        timings.append(timing)
        if log is not None:
            parts = " | ".join(f"{k} {v:.1f} s" for k, v in timing.items() if k != "mix")
            log(f"mix {n + 1}: {case.get('track', '?')} vs {case.get('reference_track', '?')}: {parts}")
    return records, notes, timings


def columns(axes) -> list[tuple[str, str]]:
    return [(axis, key) for axis in axes for key in AXIS_DESCRIPTORS[axis]]


def _pairs(rows: list[dict], axis: str, key: str) -> list:
    """(dout, dideal) of every variant on `axis` of the mixes `rows`, changes from each base."""
    return [
        (change(r["outputs"][k], r["outputs"][0], key), change(r["ideals"][k], r["ideals"][0], key))
        for r in rows
        for k, a in enumerate(r["axes"])
        if a == axis
    ]


def _mean_error(row: dict, key: str) -> float:
    return float(np.mean([error(o, i, key) for o, i in zip(row["outputs"], row["ideals"])]))


def intervals(rows: list[dict], axes, seed: int = 0) -> dict:
    """{(axis, key): (low, high)} of each follow slope and {key: (low, high)} of the INTERVAL_ERRORS,
    the central BOOTSTRAP_SHARE of BOOTSTRAP_DRAWS resamplings of the mixes with replacement: how
    far another set of mixes as many could move the figure. None with fewer than 3 mixes."""
    if len(rows) < 3:
        return {}
    picks = np.random.default_rng(seed).integers(0, len(rows), size=(BOOTSTRAP_DRAWS, len(rows)))
    tail = 50.0 * (1.0 - BOOTSTRAP_SHARE)
    out = {}
    for axis, key in columns(axes):
        sums = np.array([slope_terms(_pairs([r], axis, key)) for r in rows])
        num, den = sums[picks, 0].sum(axis=1), sums[picks, 1].sum(axis=1)
        slopes = np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)
        if np.isfinite(slopes).any():
            out[(axis, key)] = tuple(float(v) for v in np.nanpercentile(slopes, [tail, 100.0 - tail]))
    for key in INTERVAL_ERRORS:
        means = np.array([_mean_error(r, key) for r in rows])[picks].mean(axis=1)
        out[key] = tuple(float(v) for v in np.percentile(means, [tail, 100.0 - tail]))
    return out


def summarise(records: dict, axes) -> dict:
    """{method: {"slopes": {(axis, key): slope}, "errors": {key: mean error}, "intervals"
    (intervals()), "seconds", "mixes"}} (methods without a record are left out)."""
    out = {}
    for name, rows in records.items():
        if not rows:
            continue
        slopes = {(axis, key): follow_slope(_pairs(rows, axis, key)) for axis, key in columns(axes)}
        errors = {
            key: float(np.mean([error(o, i, key) for r in rows for o, i in zip(r["outputs"], r["ideals"])]))
            for key, _, _ in DESCRIPTORS
        }
        seconds = float(np.mean([r["seconds"] for r in rows]))
        out[name] = {
            "slopes": slopes,
            "errors": errors,
            "intervals": intervals(rows, axes),
            "seconds": seconds,
            "mixes": len(rows),
        }
    return out


def ideal_moves(records: dict, axes) -> dict:
    """{(axis, key): mean size of the ideal's change from the base} over the first method's mixes
    (the ideals do not depend on the method)."""
    rows = next((r for r in records.values() if r), [])
    moves = {}
    for axis, key in columns(axes):
        sizes = [
            float(np.sqrt(np.mean(change(r["ideals"][k], r["ideals"][0], key) ** 2)))
            for r in rows
            for k, a in enumerate(r["axes"])
            if a == axis
        ]
        moves[(axis, key)] = float(np.mean(sizes)) if sizes else float("nan")
    return moves


def _header(axis: str, key: str) -> str:
    return f"{axis}: {dict((k, h) for k, h, _ in DESCRIPTORS)[key]}"


def tables(summary: dict, axes) -> tuple[str, str]:
    """(the slope table, the error table) in markdown."""
    cols = columns(axes)
    lines = ["| method | mixes | " + " | ".join(_header(a, k) for a, k in cols) + " |", "|" + "---|" * (len(cols) + 2)]
    for name, row in summary.items():
        cells = [f"{row['slopes'][c]:.2f}" for c in cols]
        lines.append(f"| {name} | {row['mixes']} | " + " | ".join(cells) + " |")
    slope_table = "\n".join(lines)
    heads = [f"{h} err ({'dB RMS' if k == 'shape' else u})" for k, h, u in DESCRIPTORS]
    lines = ["| method | mixes | " + " | ".join(heads) + " | time/run (s) |", "|" + "---|" * (len(heads) + 3)]
    for name, row in summary.items():
        cells = [f"{row['errors'][k]:.2f}" for k, _, _ in DESCRIPTORS]
        lines.append(f"| {name} | {row['mixes']} | " + " | ".join(cells) + f" | {row['seconds']:.3f} |")
    return slope_table, "\n".join(lines)


def interval_table(summary: dict, axes) -> str:
    """The bootstrap intervals (intervals()) of the methods that have them, in markdown; '' if none."""
    cols = columns(axes)
    heads = [_header(a, k) + " slope" for a, k in cols]
    heads += [f"{h} err ({'dB RMS' if k == 'shape' else u})" for k, h, u in DESCRIPTORS if k in INTERVAL_ERRORS]
    keys = cols + list(INTERVAL_ERRORS)
    lines = ["| method | mixes | " + " | ".join(heads) + " |", "|" + "---|" * (len(heads) + 2)]
    for name, row in summary.items():
        if row["intervals"]:
            cells = [
                f"{row['intervals'][k][0]:.2f} to {row['intervals'][k][1]:.2f}" if k in row["intervals"] else "n/a"
                for k in keys
            ]
            lines.append(f"| {name} | {row['mixes']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) if len(lines) > 2 else ""


def report(records: dict, notes: list[str], timings: list[dict], cases_seen: list[dict], args, axes, scales) -> str:
    from . import foreign

    summary = summarise(records, axes)
    slope_table, error_table = tables(summary, axes)
    where = f"the {args.split} split of `{args.folder}`" if args.split != "all" else f"`{args.folder}`"
    steps = {
        "tone": f"tilt {foreign.master.TILT_STEP:+g} / {-foreign.master.TILT_STEP:+g} dB per octave",
        "dynamics": (
            f"compressor threshold -/+{foreign.master.THRESHOLD_STEP_DB:g} dB and ratio x/÷"
            f"{foreign.master.RATIO_STEP:g}, clipper -/+{foreign.master.CLIP_STEP_DB:g} dB, drive +/-"
            f"{foreign.master.DRIVE_STEP_DB:g} dB"
        ),
        "width": f"side gain x/÷{foreign.master.SIDE_STEP:g}",
        "loudness": f"target +/-{foreign.master.LOUDNESS_STEP_LU:g} LU",
    }
    k = len(axes) * 2 * len(scales)
    moves = ideal_moves(records, axes)
    moved = ", ".join(f"{_header(a, key)} {v:.2f}" for (a, key), v in moves.items())
    per_mix = {}
    for t in timings:
        for key, value in t.items():
            if key != "mix":
                per_mix.setdefault(key, []).append(value)
    timing_line = ", ".join(f"{key} {np.mean(v):.1f} s" for key, v in per_mix.items())
    held = "held-out " if args.split != "all" else ""  # --split all reads the training tracks too
    head = (
        f"# tonematch follow evaluation\n\n{len(timings)} mixes from {where}, seed {args.seed}, "
        f"{args.seconds:g} s at {args.sample_rate} Hz, {k} variants per mix (axes {', '.join(axes)}; "
        f"scales {', '.join(f'{s:g}' for s in scales)}) around a random foreign base mastering.\n\n"
        f"Mix: a {held}segment degraded as the self-supervised cases are (data/degrade.py); reference: a "
        f"segment of a different {held}track through the foreign family (training/foreign, never used in "
        "training); ideal: the clean mix segment through the same foreign mastering. One step: "
        + "; ".join(f"{a}: {steps[a]}" for a in axes)
        + f". {DEFAULT_NOTE}\n"
    )
    body = (
        "\nFollow slope (output change / ideal change across the variants, least squares through the origin, "
        "pooled over mixes; 1 = follows fully, 0 = ignores the reference):\n\n"
        + slope_table
        + f"\n\nThe ideal moved on average (|change| from the base; shape: RMS over bands): {moved}.\n"
        + "\nError to the ideal (mean over mixes and all masterings, base included); time/run: one method "
        "call on one clip:\n\n" + error_table + f"\n\nTime per mix (s, mean): {timing_line}.\n"
    )
    spread = interval_table(summary, axes)
    if spread:
        body += (
            f"\nHow far another {len(timings)} mixes could move these figures: the central "
            f"{100 * BOOTSTRAP_SHARE:.0f} % of {BOOTSTRAP_DRAWS} resamplings of the mixes with replacement "
            "(bootstrap; a mix's masterings move together):\n\n" + spread + "\n"
        )
    listing = "".join(f"\n{i + 1}. {c['track']} / reference {c['reference_track']}" for i, c in enumerate(cases_seen))
    tail = "".join(f"\n- {n}" for n in notes)
    return head + body + (f"\nNotes:{tail}\n" if notes else "") + f"\nMixes:{listing}\n"


def parse_list(text: str | None, allowed=None, kind=str) -> tuple:
    if text is None:
        return tuple(allowed)
    values = tuple(kind(v.strip()) for v in text.split(",") if v.strip())
    if not values:
        raise TonematchError(f"empty list: '{text}'")
    if allowed is not None:
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise TonematchError(f"unknown: {', '.join(map(str, unknown))} (known: {', '.join(allowed)})")
    return values


def main(args) -> int:
    def build() -> str:
        axes = parse_list(args.axes, tuple(AXIS_DESCRIPTORS))
        try:
            scales = parse_list(args.scales, kind=float)
        except ValueError as exc:
            raise TonematchError(f"--scales takes numbers: {exc}") from exc
        if any(not s > 0 for s in scales):
            raise TonematchError("--scales must be positive")
        methods, notes = build_methods(args, extra=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # short tracks are skipped with a warning
            files = held_out(args.folder, args.split, args.val_fraction, args.test_fraction)
            dataset = case_dataset(files, args.cases, args.seed, args.sample_rate, args.seconds)
        seen: list[dict] = []

        def cases():
            for i in range(args.cases):
                case = make_case(dataset, i, args.seed, args.sample_rate, axes, scales)
                seen.append({"track": case["track"], "reference_track": case["reference_track"]})
                yield case

        def log(line):
            print(line, file=sys.stderr, flush=True)

        records, failed, timings = run(cases(), methods, args.sample_rate, log)
        return report(records, notes + failed, timings, seen, args, axes, scales)

    return emit(args, build)
