"""tonematch-eval: held-out comparison of mastering methods on self-supervised cases.

  tonematch-eval FOLDER [--split test] [--model STEM] [--cases 32] [--seed 0] [--sample-rate 44100]
                        [--seconds 6] [--reference same-track|other-track] [--chain project|foreign]
                        [--option KEY=VALUE ...] [--out results.md]
  tonematch-eval FOLDER --follow [the options above] [--axes tone,dynamics,width,loudness] [--scales 1]

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

With --chain foreign the targets and references are mastered by the evaluation-only foreign
family instead (training/foreign: linear-phase EQ, feedback RMS compressor, soft clipper, another
limiter design; one random draw per case), which the network never saw in training; its heavy
subset: the foreign compressor's gain reduction was at least 6 dB for 5 % of the target's render
(the 95th percentile of its gain-reduction trace: a transient's overshoot alone does not count).

--follow runs the follow evaluation instead (training/follow.py): does the output move when the
reference's mastering moves? --option KEY=VALUE passes a `match` option (tonematch.inference.
match.Options field) to the default method, network + refine, e.g. --option amount=0.5.
"""

from __future__ import annotations

import ast
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from tonematch.data.errors import TonematchError
from tonematch.data.output_paths import check_output_folder
from tonematch.data.resample import resample
from tonematch.data.segments import audible, rms_db
from tonematch.data.selfsup import SelfSupervisedDataset
from tonematch.data.splits import list_audio_files
from tonematch.inference import match as matching, pipeline
from tonematch.inference.console import error, one_line
from tonematch.inference.inputs import analyse_array
from tonematch.models.chain import TABLE, compressor
from tonematch.models.chain.exact import render_array
from tonematch.models.chain.settings import Settings
from tonematch.models.files import load_model

from . import metrics
from .config_dir import config_dir
from .splits import add_split_options, held_out  # noqa: F401 (follow, unmastered and eval_command take them from here)

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
CHAINS = ("project", "foreign")
OTHER_TRACK_STREAM = 0x07E2  # mixed into the seed: the other-track picks draw no numbers the cases use
FOREIGN_STREAM = 0xF0E1  # the foreign chain's draws, likewise


def draw_config(path):
    """The `draw:` section of a chain config (--chain-config): a missing file or section is one line."""
    if not os.path.isfile(path):
        raise TonematchError(f"--chain-config: no such file '{path}'")
    config = OmegaConf.load(path)
    if not isinstance(config, DictConfig) or config.get("draw") is None:
        raise TonematchError(f"--chain-config {path}: no 'draw:' section (as in configs/chain/default.yaml)")
    return config.draw


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


def case_dataset(files, count: int, seed: int, sample_rate: int, seconds: float) -> SelfSupervisedDataset:
    """The held-out segments of the cases: item i is segment A (clean and degraded) and segment B
    of one track, a function of (files, seed, i)."""
    if isinstance(files, (str, os.PathLike)):
        files = list_audio_files(files)
    if not files:
        raise TonematchError("no audio files to make cases from")
    return SelfSupervisedDataset(
        files,
        sample_rate=sample_rate,
        segment_frames=int(round(seconds * sample_rate)),
        examples_per_epoch=count,
        seed=seed,
        deterministic=True,
    )


def foreign_settings(seed: int, index: int):
    """Case `index`'s random foreign mastering (training/foreign), a function of (seed, index)."""
    from . import foreign

    return foreign.draw(np.random.default_rng([seed, index, FOREIGN_STREAM]))


def make_cases(
    files,
    count: int,
    seed: int,
    sample_rate: int,
    seconds: float,
    chain_config: str | None,
    reference: str = "same-track",
    chain: str = "project",
) -> list[dict]:
    """[{input, target, reference, track, reference_track, reference_start, settings, reduction_db}]
    (audio as float32 [2, T] arrays), a function of the arguments. reference: 'same-track'
    (segment B of the case's track) or 'other-track' (a segment of another track); the input,
    target and draw of case i do not depend on it. chain: 'project' (the chain draw of
    chain_config; settings is a Settings) or 'foreign' (training/foreign; settings is a
    ForeignSettings, reduction_db the 95th percentile of the foreign compressor's gain reduction
    over the target's render); the input and reference segments do not depend on it."""
    if reference not in REFERENCES:
        raise TonematchError(f"unknown reference kind '{reference}' (one of: {', '.join(REFERENCES)})")
    if chain not in CHAINS:
        raise TonematchError(f"unknown chain '{chain}' (one of: {', '.join(CHAINS)})")
    dataset = case_dataset(files, count, seed, sample_rate, seconds)
    if chain == "project":
        draw = instantiate(draw_config(chain_config), sample_rate=sample_rate, seed=seed)
    cases = []
    for i in range(count):
        item = dataset[i]
        clean = item["target_source"].numpy()
        if reference == "other-track":
            ref_path, ref_start, ref_source = other_track_segment(dataset, item["track"], seed, i)
        else:
            ref_path, ref_start, ref_source = item["track"], item["start_b"], item["reference_source"].numpy()
        if chain == "project":
            settings = Settings.from_unit(draw.draw([i], item["target_source"][None])[0], sample_rate)
            settings.bypass = frozenset()  # the draw's high-pass is part of the target, as in training
            target = render_array(clean, settings, sample_rate)
            reference_audio = render_array(ref_source, settings, sample_rate)
            reduction = target_reduction_db(clean, settings)
        else:
            from .foreign import ForeignMaster

            settings = foreign_settings(seed, i)
            target, rendered = ForeignMaster(settings).render(clean, sample_rate)
            reference_audio = ForeignMaster(settings).apply(ref_source, sample_rate)
            reduction = rendered["compressor_p95_db"]
        cases.append(
            {
                "input": item["input"].numpy(),
                "target": target,
                "reference": reference_audio,
                "track": os.path.basename(item["track"]),
                "reference_track": os.path.basename(ref_path),
                "reference_start": int(ref_start),
                "settings": settings,
                "reduction_db": reduction,
            }
        )
    return cases


class CaseFailed(Exception):
    """A method could not process one case (an optional tool refusing a clip): noted, not fatal."""


def match_options(refine: bool, steps: int | None = None, options: dict | None = None) -> matching.Options:
    """matching.Options with refine and steps, plus any other of its fields from `options` (a
    new `match` option works here as soon as Options has the field), read as the Python API reads
    its keywords (`skip="width"` is the group); options' own refine or steps win. Unknown names,
    wrong types and values out of range are refused."""
    from tonematch.inference.api import options_of

    with warnings.catch_warnings():
        # options that cancel each other are the API's UserWarning; the report names the options run with
        warnings.simplefilter("ignore", UserWarning)
        return options_of({"refine": refine, "steps": steps, **(options or {})})


def parse_option(text: str) -> tuple[str, object]:
    """'KEY=VALUE' -> (KEY, the value as matching.Options holds it), checked on its own so a bad
    one is named: VALUE is read as a Python literal where it reads as one, else as the string
    ('amount=0.5', 'skip=width,eq' or 'skip=["width", "eq"]', 'platform=apple', 'steps=8')."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise TonematchError(f"--option takes KEY=VALUE, got '{text}'")
    if key == "model":  # Options.model is the command's; here the network is --model's
        raise TonematchError(f"--option {text}: give the network with --model STEM")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = raw.strip()
    try:
        chosen = match_options(True, None, {key: value})
    except TonematchError as exc:
        # the API's and the match flags' wording ('--amount must lie in 0..1'), under this option's name
        raise TonematchError(f"--option {text}: {str(exc).removeprefix('--')}") from None
    return key, getattr(chosen, key)


def pipeline_method(
    sample_rate: int,
    model=None,
    refined: bool = True,
    start: str = "predicted",
    steps: int | None = None,
    options: dict | None = None,
) -> Method:
    """A `tonematch match` run in memory: the network's (or the matcher's) settings, or the
    neutral chain (start='neutral'), refined or not, rendered exactly. `options`: further
    matching.Options fields by name (e.g. {"amount": 0.5}), as `match` would take them."""
    options = match_options(refined, steps, options)

    def run(audio, reference):
        target = matching.target_from(analyse_array(reference, sample_rate))
        aim = pipeline.NeutralAim(target) if start == "neutral" else pipeline.ReferenceAim(target, model)
        return pipeline.master_array(audio, sample_rate, aim, options)[0]

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


DEFAULT_METHOD = "network + refine"  # what `tonematch match` does
METHOD_NAMES = (
    "input",
    "reference",
    "matcher",
    "matcher + refine",
    "refine from neutral",
    "network",
    DEFAULT_METHOD,
    "matchering",
)


def build_methods(args, extra: bool = False) -> tuple[dict[str, Method], list[str]]:
    """The methods to compare ({name: method}, in table order) and notes. extra (the follow
    evaluation): also 'reference' (the reference itself as the output: what copying it gives) and
    'matcher + refine' (`tonematch match --model none`). --option values go to the default."""
    sr = args.sample_rate
    options = dict(parse_option(o) for o in (getattr(args, "option", None) or ()))
    methods: dict[str, Method] = {"input": lambda audio, reference: audio}
    if extra:
        methods["reference"] = lambda audio, reference: reference
    methods["matcher"] = pipeline_method(sr, None, refined=False)
    if extra:
        methods["matcher + refine"] = pipeline_method(sr, None, steps=args.steps)
    methods["refine from neutral"] = pipeline_method(sr, start="neutral", steps=args.steps)
    if args.model:
        model, _ = load_model(args.model, expected_param_names=TABLE.learned_keys)
        methods["network"] = pipeline_method(sr, model, refined=False)
        methods[DEFAULT_METHOD] = pipeline_method(sr, model, steps=args.steps, options=options)
    elif options:
        raise TonematchError("--option applies to the default method (network + refine): give --model")
    notes = []
    match = matchering_method(sr)
    if match is not None:
        methods["matchering"] = match
    else:
        notes.append("matchering not installed (optional: pip install 'tonematch[matchering]', GPL)")
    if args.methods:
        keep = [m.strip() for m in args.methods.split(",")]
        unknown = [m for m in keep if m not in METHOD_NAMES]
        if unknown:
            raise TonematchError(f"unknown methods: {', '.join(unknown)} (known: {', '.join(METHOD_NAMES)})")
        needs_model = [m for m in keep if m in ("network", DEFAULT_METHOD) and m not in methods]
        if needs_model:  # asked for by name: an empty table with status 0 would read as done
            raise TonematchError(f"--methods {', '.join(needs_model)}: give --model STEM (the network to evaluate)")
        notes += [f"{m} is not available here (no --model, or not installed)" for m in keep if m not in methods]
        methods = {k: v for k, v in methods.items() if k in keep}
    if options:
        notes.append(f"{DEFAULT_METHOD} ran with match options {options}")
    return methods, notes


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
    foreign = getattr(args, "chain", "project") == "foreign"
    if foreign:
        head += (
            "\nForeign chain: targets and references are mastered by the evaluation-only processor family "
            "(training/foreign: linear-phase EQ, feedback RMS compressor, M/S width, soft clipper, lookahead "
            "limiter, loudness), one random draw per case, never seen in training.\n"
        )
    if getattr(args, "reference", "same-track") == "other-track":
        head += (
            "\nCross-track references: each case's reference is a segment of a different track of the "
            "same split through the same chain draw as the target (same mastering, other music).\n"
        )
    body = table(results.get("all", {}))
    if results.get("heavy"):
        what = (
            f"the foreign compressor's gain reduction was at least {HEAVY_GR_DB:g} dB for 5 % of the target's "
            "render (its 95th percentile)"
            if foreign
            else f"static gain reduction >= {HEAVY_GR_DB:g} dB at the clip's peak"
        )
        body += f"\n\nTargets with heavy compression ({what}):\n\n" + table(results["heavy"])
    tail = "".join(f"\n- {n}" for n in notes)
    return head + "\n" + body + "\n" + (f"\nNotes:{tail}\n" if notes else "")


def emit(args, build) -> int:
    """Run `build()` (-> the markdown report), print it and write it to --out: exit 0, or one
    error line and exit 2 (every evaluation's ending)."""
    try:
        if args.out:  # before the cases run, not after: a long evaluation never ends unwritten
            check_output_folder(args.out)
        text = build()
    except TonematchError as exc:
        error(one_line(exc), "tonematch-eval")
        return 2
    print(text)
    if args.out:
        from tonematch.data.atomic import write_atomic

        try:
            write_atomic(args.out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        except (OSError, TonematchError) as exc:  # a disk that filled up meanwhile: the report is printed above
            error(f"--out: {one_line(exc)}", "tonematch-eval")
            return 2
    return 0


def run(args) -> str:
    """The comparison table of every method on the cases `args` describes (markdown)."""
    chain_config = args.chain_config or str(Path(config_dir()) / "chain" / "default.yaml")
    methods, notes = build_methods(args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # short tracks are skipped with a warning
        files = held_out(args.folder, args.split, args.val_fraction, args.test_fraction)
        cases = make_cases(
            files, args.cases, args.seed, args.sample_rate, args.seconds, chain_config, args.reference, args.chain
        )
    results, failed = evaluate(cases, methods, args.sample_rate)
    return report(results, notes + failed, args)
