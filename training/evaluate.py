"""tonematch-eval: held-out comparison of mastering methods on self-supervised cases.

  tonematch-eval FOLDER [--split test] [--model STEM] [--cases 32] [--seed 0] [--sample-rate 44100]
                        [--seconds 6] [--reference same-track|other-track] [--out results.md]

Case i (fixed by --seed): two segments A and B of one track of FOLDER (with --split test: of the
tracks the training recipe held out, by the same seeded split); input = A degraded; target =
clean A through a random chain draw (configs/chain/default.yaml); reference = clean B through the
same draw: another segment of the target master. With --reference other-track the reference is
instead a segment of a different track of the same folder/split (picked from the seed) through
the same draw: the same mastering on other music, as with a real reference; everything else
(segments A, degradation, draw, target) is the same case for case. Each method sees input and
reference and its output is compared with the target. Methods, all through the `tonematch match` pipeline:
input (unchanged), matcher (the non-learned matcher), network (the network alone), refine from
neutral (refinement from the neutral chain, no network), network + refine (the default), and
matchering (only when the optional, GPL `matchering` package is installed). Every chain output
comes from the exact renderer, as `tonematch match` would make it. A second table repeats the
comparison on the cases whose target was heavily compressed (static gain reduction of at least
6 dB at the clip's peak).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
from hydra.utils import instantiate
from omegaconf import OmegaConf

from tonematch.data.errors import TonematchError
from tonematch.data.resample import resample
from tonematch.data.segments import audible, rms_db
from tonematch.data.selfsup import SelfSupervisedDataset
from tonematch.data.splits import list_audio_files, split_files
from tonematch.inference import match as matching, refine
from tonematch.models.chain import TABLE, compressor
from tonematch.models.chain.exact import render_array
from tonematch.models.chain.settings import Settings
from tonematch.models.files import load_model

from . import metrics
from .config_dir import config_dir

COLUMNS = [  # (key, header, format)
    ("mrstft", "MR-STFT", "{:.3f}"),
    ("mel_db", "mel dist (dB)", "{:.2f}"),
    ("centroid_hz", "centroid err (Hz)", "{:.0f}"),
    ("rms_db", "RMS err (dB)", "{:.2f}"),
    ("lufs_lu", "LUFS err (LU)", "{:.2f}"),
    ("crest_db", "crest err (dB)", "{:.2f}"),
    ("true_peak_dbtp", "true peak max (dBTP)", "{:+.2f}"),
    ("seconds", "time/case (s)", "{:.3f}"),
]

Method = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (input, reference) -> output


HEAVY_GR_DB = 6.0  # the "heavily compressed target" subset
REFERENCES = ("same-track", "other-track")
OTHER_TRACK_STREAM = 0x07E2  # mixed into the seed: the other-track picks draw no numbers the cases use


def held_out(folder, split: str, val_fraction: float, test_fraction: float, split_seed: int = 0) -> list:
    """The files of one split of FOLDER, as the training datamodule splits it (by track, seeded)."""
    files = list_audio_files(folder)
    if not files:
        raise TonematchError(f"no audio files in '{folder}'")
    if split == "all":
        return files
    chosen = split_files(files, val_fraction, test_fraction, split_seed, root=folder)[split]
    if not chosen:
        raise TonematchError(f"the {split} split of '{folder}' is empty")
    return chosen


def target_reduction_db(source: np.ndarray, settings: Settings) -> float:
    """Static gain reduction of the drawn compressor at the clip's sample peak (dB, >= 0)."""
    v = settings.values
    peak_db = 20.0 * np.log10(max(float(np.abs(source).max()), 1e-10)) + v["gain.gain_db"]
    gain = compressor.gain_computer(
        peak_db, v["compressor.threshold_db"], v["compressor.ratio"], v["compressor.knee_db"], xp=np
    )
    return -float(gain)


def other_track_segment(dataset: SelfSupervisedDataset, own: str, seed: int, index: int) -> tuple[str, int, np.ndarray]:
    """(path, start, clean segment) from a track other than `own`, a function of (seed, index):
    the track is drawn uniformly among the others, the position uniformly, retried out of
    silence as the dataset does (the loudest of its tries otherwise)."""
    others = [(path, total) for path, total in dataset.tracks if os.path.realpath(path) != os.path.realpath(own)]
    if not others:
        raise TonematchError("--reference other-track needs at least two tracks long enough for a case")
    rng = np.random.default_rng([seed, index, OTHER_TRACK_STREAM])
    path, total = others[int(rng.integers(len(others)))]
    frames = dataset.segment_frames

    def draw():
        start = int(rng.integers(0, total - frames + 1))
        segment = dataset.reader.read(path, start, frames)
        return rms_db(segment), (start, segment)

    start, segment = audible(draw, dataset.tries, dataset.silence_db)
    return path, start, segment


def make_cases(
    files, count: int, seed: int, sample_rate: int, seconds: float, chain_config: str, reference: str = "same-track"
) -> list[dict]:
    """[{input, target, reference, track, reference_track, reference_start, settings, reduction_db}]
    (audio as float32 [2, T] arrays), a function of the arguments. reference: 'same-track'
    (segment B of the case's track) or 'other-track' (a segment of another track); the input,
    target and draw of case i do not depend on it."""
    if reference not in REFERENCES:
        raise TonematchError(f"unknown reference kind '{reference}' (one of: {', '.join(REFERENCES)})")
    if isinstance(files, (str, os.PathLike)):
        files = list_audio_files(files)
    if not files:
        raise TonematchError("no audio files to make cases from")
    dataset = SelfSupervisedDataset(
        files,
        sample_rate=sample_rate,
        segment_frames=int(round(seconds * sample_rate)),
        examples_per_epoch=count,
        seed=seed,
        deterministic=True,
    )
    draw = instantiate(OmegaConf.load(chain_config).draw, sample_rate=sample_rate, seed=seed)
    cases = []
    for i in range(count):
        item = dataset[i]
        source = item["target_source"][None]
        settings = Settings.from_unit(draw.draw([i], source)[0], sample_rate)
        settings.bypass = frozenset()  # the draw's high-pass is part of the target, as in training
        if reference == "other-track":
            ref_path, ref_start, ref_source = other_track_segment(dataset, item["track"], seed, i)
        else:
            ref_path, ref_start, ref_source = item["track"], item["start_b"], item["reference_source"].numpy()
        cases.append(
            {
                "input": item["input"].numpy(),
                "target": render_array(item["target_source"].numpy(), settings, sample_rate),
                "reference": render_array(ref_source, settings, sample_rate),
                "track": os.path.basename(item["track"]),
                "reference_track": os.path.basename(ref_path),
                "reference_start": int(ref_start),
                "settings": settings,
                "reduction_db": target_reduction_db(item["target_source"].numpy(), settings),
            }
        )
    return cases


class CaseFailed(Exception):
    """A method could not process one case (an optional tool refusing a clip): noted, not fatal."""


def pipeline_method(
    sample_rate: int, model=None, refined: bool = True, start: str = "predicted", steps: int | None = None
) -> Method:
    """A `tonematch match` run in memory: the network's (or the matcher's) settings, or the
    neutral chain (start='neutral'), refined or not, rendered exactly."""
    options = matching.Options(refine=refined and start != "neutral", steps=steps)

    def run(audio, reference):
        mix = matching.analyse_array(audio, sample_rate)
        target = matching.target_from(matching.analyse_array(reference, sample_rate))
        if start == "neutral":
            settings = Settings.defaults(sample_rate)
            lufs, ceiling = matching.loudness_and_ceiling(options, target)
            settings.values.update({"loudness.target_lufs": lufs, "limiter.ceiling_dbtp": ceiling})
            if refined:
                from tonematch.inference import character

                frames = character.analyse(mix.clips, sample_rate, mix.true_peak_ratio)
                settings = refine.refine(
                    settings,
                    mix.clips,
                    frames,
                    target.measured(),
                    pull=refine.PULL_MEASURED,
                    steps=refine.STEPS if steps is None else steps,
                ).settings
        else:
            settings, _ = matching.choose_settings(mix, target, options, model)
        return render_array(audio, settings, sample_rate)

    return run


def matchering_method(sample_rate: int) -> Method | None:
    """Matchering (GPL, optional extra) through temporary files, or None when not installed."""
    try:
        import matchering
    except ImportError:
        return None

    def run(audio, reference):
        with tempfile.TemporaryDirectory() as tmp:
            paths = [os.path.join(tmp, name) for name in ("input.wav", "reference.wav", "output.wav")]
            for path, x in zip(paths, (audio, reference)):
                sf.write(path, x.T, sample_rate, subtype="FLOAT")
            try:
                matchering.process(target=paths[0], reference=paths[1], results=[matchering.pcm24(paths[2])])
            except Exception as exc:  # matchering refuses some inputs (too short, too quiet, ...)
                raise CaseFailed(str(exc)) from exc
            out, rate = sf.read(paths[2], dtype="float32", always_2d=True)
        out = resample(np.ascontiguousarray(out.T), rate, sample_rate)
        n = audio.shape[1]
        return np.pad(out, ((0, 0), (0, max(0, n - out.shape[1]))))[:, :n]

    return run


def evaluate(cases: list[dict], methods: dict[str, Method], sample_rate: int) -> tuple[dict, list[str]]:
    """{method: {metric: mean over cases (true peak: max)}}, and notes on cases that failed."""
    results, notes = {}, []
    for name, method in methods.items():
        rows = []
        for i, case in enumerate(cases):
            start = time.perf_counter()
            try:
                output = method(case["input"], case["reference"])
            except CaseFailed as exc:
                notes.append(f"{name} failed on case {i} ({case['track']}): {exc}")
                continue
            seconds = time.perf_counter() - start
            row = metrics.compare(output.astype(np.float32), case["target"], sample_rate)
            row["seconds"] = seconds
            row["heavy"] = case.get("reduction_db", 0.0) >= HEAVY_GR_DB
            rows.append(row)
        for label, chosen in (("all", rows), ("heavy", [r for r in rows if r["heavy"]])):
            if chosen:
                summary = {
                    key: (max if key == "true_peak_dbtp" else np.mean)([r[key] for r in chosen])
                    for key, _, _ in COLUMNS
                }
                summary["cases"] = len(chosen)
                results.setdefault(label, {})[name] = summary
    return results, notes


def table(results: dict) -> str:
    header = "| method | cases | " + " | ".join(h for _, h, _ in COLUMNS) + " |"
    lines = [header, "|" + "---|" * (len(COLUMNS) + 2)]
    for name, row in results.items():
        cells = [fmt.format(row[key]) for key, _, fmt in COLUMNS]
        lines.append(f"| {name} | {row['cases']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(results: dict, notes: list[str], args) -> str:
    where = f"the {args.split} split of `{args.folder}`" if args.split != "all" else f"`{args.folder}`"
    head = (
        f"# tonematch evaluation\n\n{args.cases} cases from {where}, seed {args.seed}, "
        f"{args.seconds:g} s at {args.sample_rate} Hz. Errors are against the target (mean over "
        "cases); the true peak is the output's, worst case.\n"
    )
    if getattr(args, "reference", "same-track") == "other-track":
        head += (
            "\nCross-track references: each case's reference is a segment of a different track of the "
            "same split through the same chain draw as the target (same mastering, other music).\n"
        )
    body = table(results.get("all", {}))
    if results.get("heavy"):
        body += (
            f"\n\nTargets with heavy compression (static gain reduction >= {HEAVY_GR_DB:g} dB at the "
            "clip's peak):\n\n" + table(results["heavy"])
        )
    tail = "".join(f"\n- {n}" for n in notes)
    return head + "\n" + body + "\n" + (f"\nNotes:{tail}\n" if notes else "")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="tonematch-eval", description=__doc__.split("\n\n")[0])
    p.add_argument("folder", help="music; with --split test, the training folder (its held-out tracks are used)")
    p.add_argument(
        "--split",
        choices=("all", "test", "val"),
        default="all",
        help="which tracks of FOLDER: all, or the held-out split the training recipe made",
    )
    p.add_argument("--val-fraction", type=float, default=0.05, help="as data.val_fraction in training")
    p.add_argument("--test-fraction", type=float, default=0.1, help="as data.test_fraction in training")
    p.add_argument("--steps", type=int, help="refinement steps (default: the match default)")
    p.add_argument("--methods", help="comma list of methods to run (default: all)")
    p.add_argument("--model", help="model stem: STEM.safetensors + STEM.json")
    p.add_argument("--cases", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample-rate", type=int, default=44100)
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument(
        "--reference",
        choices=REFERENCES,
        default="same-track",
        help="the reference of each case: another segment of the target's own track (default) or a "
        "segment of a different track, both through the target's chain draw",
    )
    p.add_argument("--out", help="also write the markdown report here")
    p.add_argument("--chain-config", help="YAML with the chain draw (default: configs/chain/default.yaml)")
    args = p.parse_args(argv)
    if args.cases < 1 or args.seconds <= 0.4:
        p.error("--cases must be >= 1 and --seconds above 0.4 (one loudness block)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        chain_config = args.chain_config or str(Path(config_dir()) / "chain" / "default.yaml")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # short tracks are skipped with a warning
            files = held_out(args.folder, args.split, args.val_fraction, args.test_fraction)
            cases = make_cases(
                files, args.cases, args.seed, args.sample_rate, args.seconds, chain_config, args.reference
            )
        sr = args.sample_rate
        methods: dict[str, Method] = {
            "input": lambda audio, reference: audio,
            "matcher": pipeline_method(sr, None, refined=False),
            "refine from neutral": pipeline_method(sr, start="neutral", steps=args.steps),
        }
        if args.model:
            model, _ = load_model(args.model, expected_param_names=TABLE.learned_keys)
            methods["network"] = pipeline_method(sr, model, refined=False)
            methods["network + refine"] = pipeline_method(sr, model, steps=args.steps)
        notes = []
        match = matchering_method(args.sample_rate)
        if match is not None:
            methods["matchering"] = match
        else:
            notes.append("matchering not installed (optional: pip install 'tonematch[matchering]', GPL)")
        if args.methods:
            keep = [m.strip() for m in args.methods.split(",")]
            methods = {k: v for k, v in methods.items() if k in keep}
        results, failed = evaluate(cases, methods, args.sample_rate)
        text = report(results, notes + failed, args)
    except TonematchError as exc:
        print(f"tonematch-eval: error: {exc}", file=sys.stderr)
        return 2
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
