"""tonematch-eval: held-out comparison of mastering methods on self-supervised cases.

  tonematch-eval FOLDER [--model STEM] [--cases 32] [--seed 0] [--sample-rate 44100]
                        [--seconds 6] [--out results.md]

Case i (fixed by --seed): two segments A and B of one track of FOLDER; input = A degraded;
target = clean A through a random chain draw (configs/chain/default.yaml); reference = clean B
through the same draw. Each method sees input and reference and its output is compared with the
target. Methods: input (unchanged), baseline (training/baseline.py), model (--model: settings
predicted by the network), matchering (only when the optional, GPL `matchering` package is
installed). Every chain output comes from the exact renderer, as `tonematch render` would make it.
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
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from tonematch.data.errors import TonematchError
from tonematch.data.resample import resample
from tonematch.data.selfsup import SelfSupervisedDataset
from tonematch.data.splits import list_audio_files
from tonematch.models.chain import TABLE
from tonematch.models.chain.exact import render_array
from tonematch.models.chain.settings import Settings
from tonematch.models.files import load_model

from . import metrics
from .baseline import baseline_settings
from .config_dir import config_dir

COLUMNS = [  # (key, header, format)
    ("mrstft", "MR-STFT", "{:.3f}"),
    ("mel_db", "mel dist (dB)", "{:.2f}"),
    ("centroid_hz", "centroid err (Hz)", "{:.0f}"),
    ("rms_db", "RMS err (dB)", "{:.2f}"),
    ("lufs_lu", "LUFS err (LU)", "{:.2f}"),
    ("true_peak_dbtp", "true peak max (dBTP)", "{:+.2f}"),
    ("seconds", "time/case (s)", "{:.3f}"),
]

Method = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (input, reference) -> output


def make_cases(folder, count: int, seed: int, sample_rate: int, seconds: float, chain_config: str) -> list[dict]:
    """[{input, target, reference, track}] as float32 [2, T] arrays, a function of the arguments."""
    files = list_audio_files(folder)
    if not files:
        raise TonematchError(f"no audio files in '{folder}'")
    dataset = SelfSupervisedDataset(
        files, sample_rate=sample_rate, segment_frames=int(round(seconds * sample_rate)),
        examples_per_epoch=count, seed=seed, deterministic=True,
    )
    draw = instantiate(OmegaConf.load(chain_config).draw, sample_rate=sample_rate, seed=seed)
    cases = []
    for i in range(count):
        item = dataset[i]
        source = item["target_source"][None]
        settings = Settings.from_unit(draw.draw([i], source)[0], sample_rate)
        cases.append({
            "input": item["input"].numpy(),
            "target": render_array(item["target_source"].numpy(), settings, sample_rate),
            "reference": render_array(item["reference_source"].numpy(), settings, sample_rate),
            "track": os.path.basename(item["track"]),
        })
    return cases


def settings_from_unit(unit: torch.Tensor, model_rate: int, sample_rate: int) -> Settings:
    """The network's [P] vector -> Settings for rendering at `sample_rate`. Frequencies are read
    at the rate the model was trained at (its ranges), then kept inside this rate's ranges."""
    values = Settings.from_unit(unit, model_rate).values
    for key, value in values.items():
        low, high = TABLE.by_key[key].spec.bounds(sample_rate)
        values[key] = min(max(value, low), high)
    return Settings(values, sample_rate)


class CaseFailed(Exception):
    """A method could not process one case (an optional tool refusing a clip): noted, not fatal."""


def model_method(stem: str, sample_rate: int) -> Method:
    model, _ = load_model(stem, expected_param_names=TABLE.learned_keys)
    model_rate = model.sample_rate

    def run(audio, reference):
        x, ref = (resample(a, sample_rate, model_rate) for a in (audio, reference))
        unit = model.predict_track(torch.from_numpy(x), reference=torch.from_numpy(ref))
        return render_array(audio, settings_from_unit(unit.double(), model_rate, sample_rate), sample_rate)

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
            rows.append(row)
        if rows:
            results[name] = {
                key: (max if key == "true_peak_dbtp" else np.mean)([r[key] for r in rows]) for key, _, _ in COLUMNS
            }
            results[name]["cases"] = len(rows)
    return results, notes


def table(results: dict) -> str:
    header = "| method | cases | " + " | ".join(h for _, h, _ in COLUMNS) + " |"
    lines = [header, "|" + "---|" * (len(COLUMNS) + 2)]
    for name, row in results.items():
        cells = [fmt.format(row[key]) for key, _, fmt in COLUMNS]
        lines.append(f"| {name} | {row['cases']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(results: dict, notes: list[str], args) -> str:
    head = (
        f"# tonematch evaluation\n\n{args.cases} cases from `{args.folder}`, seed {args.seed}, "
        f"{args.seconds:g} s at {args.sample_rate} Hz. Errors are against the target (mean over "
        "cases); the true peak is the output's, worst case.\n"
    )
    body = table(results)
    tail = "".join(f"\n- {n}" for n in notes)
    return head + "\n" + body + "\n" + (f"\nNotes:{tail}\n" if notes else "")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="tonematch-eval", description=__doc__.split("\n\n")[0])
    p.add_argument("folder", help="held-out music (not used in training)")
    p.add_argument("--model", help="model stem: STEM.safetensors + STEM.json")
    p.add_argument("--cases", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample-rate", type=int, default=44100)
    p.add_argument("--seconds", type=float, default=6.0)
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
            cases = make_cases(args.folder, args.cases, args.seed, args.sample_rate, args.seconds, chain_config)
        methods: dict[str, Method] = {
            "input": lambda audio, reference: audio,
            "baseline": lambda audio, reference: render_array(
                audio, baseline_settings(audio, reference, args.sample_rate), args.sample_rate
            ),
        }
        if args.model:
            methods["model"] = model_method(args.model, args.sample_rate)
        notes = []
        match = matchering_method(args.sample_rate)
        if match is not None:
            methods["matchering"] = match
        else:
            notes.append("matchering not installed (optional: pip install 'tonematch[matchering]', GPL)")
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
