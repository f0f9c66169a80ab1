"""Master files: one mix or a batch, each through the pipeline (inference/pipeline.py).

`plan_jobs` computes every file a run will write and checks them (inference/outputs.py) before
any audio is read. One mix runs on its own and its error is the run's (exit 2); in a batch one
bad file is reported in one line and skipped, the others written. `format_result` says what
was done in an engineer's words.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tonematch.data import heap
from tonematch.data.errors import TonematchError
from tonematch.data.formats import check_subtype

from . import explain, match
from .console import one_line, reraise_interrupt
from .formatting import hz, signed
from .outputs import OutputPlan
from .pipeline import Aim, master_file, report_path, settings_path

OUTPUT_SUFFIXES = (".wav", ".flac")


# One mix's temporaries come from a kept heap (data/heap.py: fewer page faults, the same peak); a
# batch measured no faster with one and keeps glibc's defaults (docs/decisions.md)
ONE_MIX_KEEP_BYTES = 64 << 20


def format_result(r: dict) -> str:
    """What was done, in an engineer's words."""
    lines = [f"{r['input']} -> {r['output']}"]
    lines += ["  " + line for line in explain.describe(r["settings"], r)]
    notes = r["notes"]
    if "reading" in notes:
        lines.append("  " + explain.reference_reading(notes["reading"], bool(notes.get("refined"))))
    how = {"network": "network", "matcher": "non-learned matcher"}.get(notes["start"], notes["start"])
    if notes["start"] == "style":
        how = f"style '{notes.get('style', '')}'"
        if notes.get("settings_from") == "network":  # a style from references
            how = f"network for the style '{notes.get('style', '')}'"
    if "refined" in notes:
        how += ", refined" if notes["refined"] else ", refinement kept the start (it measured no closer)"
    lines.append(f"  settings from the {how}; written to {r['settings_path']}")
    if "reference_peak_dbtp" in notes:
        who = "the style's masters peak" if notes["start"] == "style" else "the reference peaks"
        lines.append(
            f"  {who} at {notes['reference_peak_dbtp']:.1f} dBTP, under the lowest ceiling the "
            f"limiter takes: the ceiling is {r['settings'].values['limiter.ceiling_dbtp']:.1f} dBTP"
        )
    if "reference_lufs" in notes:
        who = "the style's masters ask" if notes["start"] == "style" else "the reference asks"
        lines.append(
            f"  {who} {notes['reference_lufs']:.1f} LUFS of this mix, outside the loudness the chain "
            f"takes: the target is {r['settings'].values['loudness.target_lufs']:.1f} LUFS"
        )
    if "reference_low_pass_hz" in notes:
        lines.append(
            f"  the reference ends in a low-pass at {notes['reference_low_pass_hz'] / 1000:.1f} kHz (a codec's cut, "
            "not its mastering): nothing above it is copied"
        )
    if notes.get("mono_reference"):
        lines.append("  the reference is mono: it has no width to follow, so the mix keeps its own")
    shift = notes.get("mono_playback_lu", 0.0)
    if shift > 0.0:
        lines.append(
            f"  the reference is mono: its loudness is taken as it plays on two speakers ({shift:+.1f} LU "
            "over its one-channel BS.1770 reading)"
        )
    elif shift < 0.0:
        aim = "the style's masters'" if notes["start"] == "style" else "the reference's"
        lines.append(
            f"  the mix is mono: its master sits {-shift:.1f} LU under {aim} loudness, so that on "
            "two speakers, where it plays twice, it is as loud"
        )
    if "style_eq_refitted_below_hz" in notes:
        lines.append(
            "  the style's EQ has a band above what this mix's rate allows: its curve is refitted below "
            f"{hz(notes['style_eq_refitted_below_hz'])}"
        )
    if "clipped_fraction" in notes:
        lines.append(
            f"  the mix is clipped: {100 * notes['clipped_fraction']:.1f} % of the samples read sit flat at its "
            "peak; mastering cannot restore what the clipping cut off (export the mix with headroom, if you can)"
        )
    if "rumble_fraction" in notes:
        lines.append(
            f"  the mix carries rumble: {100 * notes['rumble_fraction']:.0f} % of its energy lies below 30 Hz, where "
            "the limiter spends itself on it; high-pass the mix, or switch on the EQ's high-pass in "
            f"{r['settings_path']} (e.g. 40 Hz) and render it again"
        )
    if "dc_offset_dbfs" in notes:
        dc = f"  the mix carries a DC offset ({notes['dc_offset_dbfs']:.0f} dBFS)"
        if notes["dc_removed"]:
            lines.append(dc + f": the high-pass at {hz(r['settings'].values['eq.highpass.freq_hz'])} removes it")
        else:
            lines.append(dc + ", left in: the EQ is off, or --amount 0 (the EQ's high-pass would remove it)")

    def lufs(v):
        return "-" if v is None else f"{v:.1f} LUFS"

    # a mis-scaled float mix (render.input_scale) is measured as the chain reads it, turned down
    scaled = r.get("input_scale_db", 0.0)
    before = f"before (as read, turned down {-scaled:.1f} dB)" if scaled < 0.0 else "before"
    lines.append(
        f"  {before}: {lufs(r['input_lufs'])}, {signed(r['input_true_peak_dbtp'])} dBTP; "
        f"after: {lufs(r['output_lufs'])}, {signed(r['output_true_peak_dbtp'])} dBTP"
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
    bit_depth=None,
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
    for job in jobs:  # a format the output cannot hold is known now: refused before any mix is read
        check_subtype(job.out, bit_depth)
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
    aim: Aim,
    options: match.Options,
    say=print,
    error: Callable[[str, BaseException], None] | None = None,
    progress: bool = True,
    **write,
) -> int:
    """Master every job (from plan_jobs). One mix (many=False) runs on its own and its error is
    raised; in a batch each failure is reported through `error(text, exc)` in one line and the
    others go on, in the jobs' order. Returns the number that failed.

    Mixes are mastered one after the other: each stage already uses both cores (the FFTs, the
    render's metering lane), and writing one master while the next was decided bought no time
    and up to 90 MB of peak (docs/decisions.md)."""
    if not many:
        (job,) = jobs
        with heap.kept(ONE_MIX_KEEP_BYTES):
            summary = master_file(job.mix, aim, job.out, options, **write)
        say(format_result(summary))
        return 0
    failed = 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), unit="mix", leave=False, disable=None)  # None: only on a terminal
    warn = write.get("warn")
    for job in jobs:
        if warn is not None:  # warnings go to stderr apart from the masters' lines: each names its mix
            write["warn"] = lambda text, mix=job.mix: _outside(bar, warn, _naming(mix, text))
        try:
            result = master_file(job.mix, aim, job.out, options, **write)
        except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch
            reraise_interrupt(exc)  # but Ctrl-C or SIGTERM met inside a compiled kernel does
            failed += 1
            text = _naming(job.mix, one_line(exc))
            if error is not None:
                _outside(bar, error, text, exc)
            else:
                _outside(bar, say, text)
        else:
            (bar.write if bar is not None else say)(format_result(result))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return failed


def _naming(mix, text: str) -> str:
    """`text` naming its mix, once: a batch's lines are read apart from the masters' reports."""
    return text if str(mix) in text else f"{mix}: {text}"


def _outside(bar, write: Callable[..., None], *args) -> None:
    """`write(*args)`, a line, with the progress bar cleared around it so that it does not land inside the bar."""
    if bar is not None:
        bar.clear()
    write(*args)
    if bar is not None:
        bar.refresh()
