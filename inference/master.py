"""Master files: one mix or a batch, against a target (a reference's or a style's), to files.

Each output `out.wav` gets its settings beside it (`out.json`, the render format), so
`tonematch render MIX --params out.json -o again.wav` reproduces it bit for bit, and with
`report=True` a picture of what was done (`out.png`). In a batch one bad file is reported and
skipped; the others are written.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from tonematch.data import writer
from tonematch.data.errors import TonematchError
from tonematch.models.chain.settings import _version
from tonematch.models.measure.loudness import LoudnessMeter
from tonematch.models.measure.truepeak import TruePeakMeter

from . import explain, match
from .render import render_file

OUTPUT_SUFFIXES = (".wav", ".flac")


def settings_path(out_path) -> Path:
    return Path(out_path).with_suffix(".json")


def report_path(out_path) -> Path:
    return Path(out_path).with_suffix(".png")


Plan = Callable  # (match.Analysis) -> (Settings, notes, match.Target): how a mix gets its settings


def reference_plan(target: match.Target, options: match.Options, model=None) -> Plan:
    """Settings toward one reference (the `match` command)."""

    def plan(mix: match.Analysis):
        settings, notes = match.choose_settings(mix, target, options, model)
        return settings, notes, target

    return plan


def master_file(
    mix_path,
    plan: Plan,
    out_path,
    options: match.Options,
    report: bool = False,
    bit_depth=None,
    dither: bool = True,
    warn: Callable[[str], None] | None = None,
    source: dict | None = None,
) -> dict:
    """Master one file; returns the render summary plus 'settings', 'notes', 'output_lufs',
    'output_true_peak_dbtp' and the paths written."""
    start = time.perf_counter()
    writer.check_paths(mix_path, out_path)
    for extra in (settings_path(out_path),) + ((report_path(out_path),) if report else ()):
        if os.path.abspath(extra) == os.path.abspath(mix_path):
            raise TonematchError(f"'{extra}' would overwrite the input; choose another output name")
    mix = match.analyse_file(mix_path)
    settings, notes, target = plan(mix)
    settings.source = {
        "tonematch_version": _version(),
        "mix": os.path.basename(os.fspath(mix_path)),
        **(source or {}),
        "started_from": notes["start"],
        "refined": bool(notes.get("refined", False)),
        "amount": options.amount,
        "groups": list(options.groups()),
    }
    channels = mix.channels
    meter, tp = LoudnessMeter(mix.sample_rate, channels), TruePeakMeter(channels)

    def on_block(block):
        meter.add(block)
        tp.add(block)

    summary = render_file(
        mix_path, settings, out_path, bit_depth=bit_depth, dither=dither, warn=warn, on_block=on_block
    )
    settings.to_json(str(settings_path(out_path)))
    summary.update(
        settings=settings,
        notes=notes,
        output_lufs=meter.integrated(),
        output_true_peak_dbtp=match._db(tp.peak()),
        input_lufs=mix.lufs,
        input_true_peak_dbtp=mix.true_peak_dbtp,
        settings_path=str(settings_path(out_path)),
    )
    if report:
        from .report import write_report

        write_report(report_path(out_path), mix, target, settings, summary)
        summary["report_path"] = str(report_path(out_path))
    summary["total_seconds"] = time.perf_counter() - start
    return summary


def format_result(r: dict) -> str:
    """What was done, in an engineer's words."""
    lines = [f"{r['input']} -> {r['output']}"]
    lines += ["  " + line for line in explain.describe(r["settings"], r)]
    notes = r["notes"]
    how = {"network": "network", "matcher": "non-learned matcher"}.get(notes["start"], notes["start"])
    if notes["start"] == "style":
        how = f"style '{notes.get('style', '')}'"
    if "refined" in notes:
        how += ", refined" if notes["refined"] else ", refinement kept the start (it measured no closer)"
    lines.append(f"  settings from the {how}; written to {r['settings_path']}")

    def lufs(v):
        return "-" if v is None else f"{v:.1f} LUFS"

    lines.append(
        f"  before: {lufs(r['input_lufs'])}, {r['input_true_peak_dbtp']:+.1f} dBTP; "
        f"after: {lufs(r['output_lufs'])}, {r['output_true_peak_dbtp']:+.1f} dBTP"
    )
    if "report_path" in r:
        lines.append(f"  report: {r['report_path']}")
    lines.append(f"  time {r['total_seconds']:.1f} s")
    return "\n".join(lines)


def output_for(mix_path, out, many: bool) -> Path:
    """The output path of one mix: `out` itself, or `out/<name>.wav|.flac` in a batch."""
    if not many:
        return Path(out)
    name = Path(mix_path)
    suffix = name.suffix.lower() if name.suffix.lower() in OUTPUT_SUFFIXES else ".wav"
    return Path(out) / (name.stem + suffix)


def expand_inputs(paths) -> list[Path]:
    """Files as given, folders as the audio files inside them (sorted)."""
    from tonematch.data.splits import list_audio_files

    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = list_audio_files(p)
            if not found:
                raise TonematchError(f"no audio files in folder '{p}'")
            out.extend(Path(f) for f in found)
        else:
            out.append(p)
    return out


def master_many(
    mixes,
    plan: Plan,
    out,
    options: match.Options,
    say=print,
    error: Callable[[str], None] | None = None,
    progress: bool = True,
    **kwargs,
) -> int:
    """Master every mix (files or folders) to `out` (a file for one mix, else a folder).
    Returns the number that failed; each failure is reported in one line through `error`."""
    paths = expand_inputs(mixes)
    many = len(paths) > 1 or any(Path(m).is_dir() for m in mixes)
    if many:
        if Path(out).suffix.lower() in OUTPUT_SUFFIXES:
            raise TonematchError(f"several mixes need a folder for -o, not '{out}'")
        Path(out).mkdir(parents=True, exist_ok=True)
    failed = 0
    bar = None
    if many and progress:
        from tqdm import tqdm

        bar = tqdm(total=len(paths), unit="mix", leave=False)
    for path in paths:
        try:
            result = master_file(path, plan, output_for(path, out, many), options, **kwargs)
            (bar.write if bar is not None else say)(format_result(result))
        except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch
            failed += 1
            text = f"{path}: {' '.join(str(exc).split())}"
            if bar is not None:
                bar.clear()  # the line must not land inside the progress bar
            (error or say)(text)
            if bar is not None:
                bar.refresh()
        finally:
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return failed
