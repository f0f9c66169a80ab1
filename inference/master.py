"""Master files: one mix or a batch, against a target (a reference's or a style's), to files.

Each output `out.wav` gets its settings beside it (`out.json`, the render format), so
`tonematch render MIX --params out.json -o again.wav` reproduces it bit for bit, and with
`report=True` a picture of what was done (`out.png`). The master, its settings and its report are
put in place together (data.atomic.Transaction): a failure or an interrupt leaves none of them.

`plan_jobs` computes every file a run will write and checks them (inference/outputs.py) before
any audio is read. `analyse_input` refuses audio that cannot be mastered or matched (too short,
silent, an unsupported rate) with a message about the audio. One mix runs on its own and its
error is the run's (exit 2); in a batch one bad file is reported and skipped, the others written.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from tonematch.data import audio, writer
from tonematch.data.atomic import Transaction
from tonematch.data.errors import TonematchError
from tonematch.models.chain.settings import _version
from tonematch.models.measure.loudness import LoudnessMeter
from tonematch.models.measure.truepeak import TruePeakMeter

from . import explain, match
from .outputs import OutputPlan
from .render import render_file

OUTPUT_SUFFIXES = (".wav", ".flac")
# BS.1770 measures loudness on 400 ms blocks: a shorter file has no loudness to match or set.
MIN_SECONDS = 0.4
SILENT_DBTP = -190.0  # match._db floors at -200 dB: a true peak this low is digital silence


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


def _label(path, what: str) -> str:
    """How a refusal starts: "cannot master 'x.wav'", "cannot use 'r.wav' as the reference", or
    for the API's arrays (named "the mix array") "cannot master the mix array"."""
    if str(path).startswith("the "):
        return f"cannot {'master' if what == 'mix' else 'use'} {path}"
    return f"cannot master '{path}'" if what == "mix" else f"cannot use '{path}' as the {what}"


def check_length(frames: int, sample_rate: int, name, what: str = "mix") -> None:
    """At least one loudness block (MIN_SECONDS): a shorter file has no loudness to measure."""
    if frames < MIN_SECONDS * sample_rate:
        length = f"{frames / sample_rate:.2f} s" if frames >= 0.01 * sample_rate else f"{frames} sample(s)"
        raise TonematchError(
            f"{_label(name, what)}: it lasts {length}; at least {MIN_SECONDS:g} s is needed to measure its loudness"
        )


def check_measured(a: match.Analysis, name, what: str = "mix") -> None:
    """Refuse audio whose measurements cannot drive the chain: digital silence, loudness below the
    BS.1770 gate, or non-finite levels (the settings would be guesses or NaN)."""
    if not math.isfinite(a.true_peak_dbtp) or (a.lufs is not None and not math.isfinite(a.lufs)):
        raise TonematchError(f"{_label(name, what)}: its levels cannot be measured (is the file corrupt?)")
    if a.true_peak_dbtp <= SILENT_DBTP:
        raise TonematchError(f"{_label(name, what)}: it is digitally silent")
    if a.lufs is None:
        raise TonematchError(
            f"{_label(name, what)}: it is too quiet to measure its loudness (below the -70 LUFS gate of BS.1770)"
        )
    if not np.isfinite(a.clips.sum(dtype=np.float64)):
        raise TonematchError(f"{_label(name, what)}: its samples overflow the analysis (is the file corrupt?)")


def analyse_input(path, what: str = "mix", warn: Callable[[str], None] | None = None) -> match.Analysis:
    """A mix or reference file, analysed (match.analyse_file) after the checks that keep its
    settings meaningful: a supported rate, mono or stereo, at least MIN_SECONDS, not silent. A
    float file peaking above +24 dBFS is analysed turned down by the same power of two the render
    applies (render._input_scale), so its settings fit what the chain will receive."""
    from .render import BLOCK_FRAMES, _input_scale

    src = audio.info(path)
    if not audio.MIN_RATE <= src.sample_rate <= audio.MAX_RATE:
        raise TonematchError(
            f"{_label(path, what)}: its sample rate {src.sample_rate} Hz is outside what tonematch works "
            f"at ({audio.MIN_RATE} to {audio.MAX_RATE} Hz)"
        )
    if src.channels not in (1, 2):
        raise TonematchError(f"{_label(path, what)}: {src.channels} channels, only mono or stereo")
    check_length(src.frames, src.sample_rate, path, what)
    scale = _input_scale(path, src.subtype, BLOCK_FRAMES, warn or (lambda message: None))
    a = match.analyse_file(path) if scale == 1.0 else _analyse_scaled(path, src, scale)
    check_measured(a, path, what)
    return a


def _analyse_scaled(path, src: audio.AudioInfo, scale: float) -> match.Analysis:
    """match.analyse_file of the file times `scale` (a power of two: exact in float)."""
    from tonematch.models import excerpts

    blocks = (b * np.float32(scale) for b in audio.read_blocks(path))
    lufs, tp, peak = match._stream_levels(blocks, src.sample_rate, src.channels)
    length = int(match.EXCERPT_S * src.sample_rate)
    starts = excerpts.excerpt_starts(src.frames, length, match.MAX_EXCERPTS)
    n = min(length, src.frames)
    clips = np.stack([audio.read_segment(path, s, n) for s in starts]) * np.float32(scale)
    ratio = max(1.0, tp / peak) if peak > 0 else 1.0
    return match.Analysis(clips, src.sample_rate, src.channels, lufs, match._db(tp), ratio)


def _check_settings(settings, mix_path) -> None:
    bad = [k for k, v in settings.values.items() if not math.isfinite(v)]
    if bad:
        raise TonematchError(
            f"cannot master '{mix_path}': its audio gives no finite setting for {bad[0]} (is the file corrupt?)"
        )


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
    replace: bool = True,
) -> dict:
    """Master one file; returns the render summary plus 'settings', 'notes', 'output_lufs',
    'output_true_peak_dbtp' and the paths written. The master, its settings and its report
    appear together or not at all; replace=False never replaces an existing one."""
    start = time.perf_counter()
    writer.check_paths(mix_path, out_path)
    for extra in (settings_path(out_path),) + ((report_path(out_path),) if report else ()):
        if os.path.abspath(extra) == os.path.abspath(mix_path):
            raise TonematchError(f"'{extra}' would overwrite the input; choose another output name")
    mix = analyse_input(mix_path, "mix")
    settings, notes, target = plan(mix)
    _check_settings(settings, mix_path)
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

    with Transaction(replace=replace) as files:
        summary = render_file(
            mix_path,
            settings,
            files.stage(out_path),
            bit_depth=bit_depth,
            dither=dither,
            warn=warn,
            on_block=on_block,
        )
        summary["output"] = str(out_path)
        files.write(settings_path(out_path), lambda tmp: settings.to_json(tmp))
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

            files.write(report_path(out_path), lambda tmp: write_report(tmp, mix, target, settings, summary))
            summary["report_path"] = str(report_path(out_path))
        files.commit()
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


def output_for(mix_path, out, many: bool, keep_extension: bool = False) -> Path:
    """The output path of one mix: `out` itself, or `out/<name>.wav|.flac` in a batch
    (`out/<name>_<ext>.wav|.flac` with keep_extension, so song.wav and song.ogg stay apart)."""
    if not many:
        return Path(out)
    name = Path(mix_path)
    suffix = name.suffix.lower() if name.suffix.lower() in OUTPUT_SUFFIXES else ".wav"
    stem = name.stem + (f"_{name.suffix[1:]}" if keep_extension and name.suffix else "")
    return Path(out) / (stem + suffix)


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


@dataclass(frozen=True)
class Job:
    mix: Path
    out: Path


def plan_jobs(
    mixes,
    out,
    report: bool = False,
    overwrite: bool = False,
    keep_extension: bool = False,
    inputs=(),
    warn: Callable[[str], None] | None = None,
) -> tuple[list[Job], bool]:
    """Every file the run will write (each master, its settings and report), checked against
    each other and the run's `inputs` ((role, path) pairs besides the mixes) before any audio is
    read (outputs.OutputPlan); a batch's output folder is made once the plan holds.
    Returns the jobs and whether this is a batch (several mixes, or a folder)."""
    paths = expand_inputs(mixes)
    many = len(paths) > 1 or any(Path(m).is_dir() for m in mixes)
    if many and Path(out).suffix.lower() in OUTPUT_SUFFIXES:
        raise TonematchError(f"several mixes need a folder for -o, not '{out}'")
    # one mix into a folder (an existing one, or a name ending in '/') is named as in a batch,
    # and its error is still the run's
    into_folder = many or Path(out).is_dir() or os.fspath(out).endswith(("/", os.sep))
    jobs = [Job(p, output_for(p, out, into_folder, keep_extension)) for p in paths]
    plan = OutputPlan(overwrite, keep_extension_hint=not keep_extension)
    for role, path in inputs:
        plan.add_input(path, role)
    for m in mixes:
        if Path(m).is_dir():
            plan.add_input_folder(m, "mixes")
    for job in jobs:
        plan.add_input(job.mix, "mix")
    for job in jobs:
        plan.add_output(job.out, "master", job.mix)
        plan.add_output(settings_path(job.out), "settings", job.mix)
        if report:
            plan.add_output(report_path(job.out), "report", job.mix)
    if into_folder:
        plan.folder = os.fspath(out)
    plan.check()
    if warn is not None and not report:
        for job in jobs:
            stale_report(job.out, warn)
    if into_folder:
        try:
            Path(out).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TonematchError(f"cannot make the folder '{out}': {exc.strerror or exc}") from None
    return jobs, many


def stale_report(out, warn: Callable[[str], None]) -> None:
    """A run that replaces a master without writing a report leaves an earlier OUT.png alone (it
    may be anything named so), and says that it no longer describes the new master."""
    png = report_path(out)
    if Path(out).exists() and png.exists():
        warn(f"'{png}' is left as it is: it no longer describes the new '{out}' (--report replaces it)")


def master_many(
    jobs: list[Job],
    many: bool,
    plan: Plan,
    options: match.Options,
    say=print,
    error: Callable[[str, BaseException], None] | None = None,
    progress: bool = True,
    **kwargs,
) -> int:
    """Master every job (from plan_jobs). One mix (many=False) runs on its own and its error is
    raised; in a batch each failure is reported through `error(text, exc)` in one line and the
    others go on. Returns the number that failed."""
    if not many:
        (job,) = jobs
        say(format_result(master_file(job.mix, plan, job.out, options, **kwargs)))
        return 0
    failed = 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), unit="mix", leave=False, disable=None)  # None: only on a terminal
    for job in jobs:
        try:
            result = master_file(job.mix, plan, job.out, options, **kwargs)
            (bar.write if bar is not None else say)(format_result(result))
        except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch
            failed += 1
            if bar is not None:
                bar.clear()  # the line must not land inside the progress bar
            from .cli import _one_line

            text = _one_line(exc)
            if str(job.mix) not in text:  # every line names its mix, once
                text = f"{job.mix}: {text}"
            if error is not None:
                error(text, exc)
            else:
                say(text)
            if bar is not None:
                bar.refresh()
        finally:
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return failed
