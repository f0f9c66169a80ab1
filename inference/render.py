"""Render a file through the exact chain, streaming: bounded memory whatever the file's length.

The output keeps the input's sample rate and channel count, and only ever appears complete (the
writer renders into a temporary file and renames it). Every check that can fail is done before
the first sample is processed, so a long render never fails at the end because of a bad path.

Things that are not errors but change the result are reported through `warn` (the CLI prints
them as `tonematch: warning: ...`): an enabled band above what the file's rate allows (rendered
at the rate's limit; the settings keep the user's value), a mis-scaled hot float input (see
HOT_PEAK), and a loudness target the chain could not reach.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np

from tonematch.data import audio
from tonematch.data.concurrency import Lane
from tonematch.data.errors import TonematchError

from .console import stop_if_signalled

BLOCK_FRAMES = 65536
# Integer formats kept as they are; anything else (float, lossy, 8/32-bit) is written as 24-bit.
KEEP_SUBTYPES = ("PCM_16", "PCM_24")
# Float files peaking above this (+24 dBFS) are taken as mis-scaled, e.g. int16 values stored as
# floats (+90 dBFS), and turned down by a power of two (exact in float) until the peak is at most
# 0 dBFS, before the chain. Overshoots of a few dB (float mixes, lossy decodes) stay as they are,
# so the compressor threshold, in absolute dBFS, keeps its meaning for them. Without this the
# loudness stage, which attenuates at most loudness.MAX_GAIN_DB, leaves the limiter to remove the
# rest, which misses the target and, beyond about +200 dB, the ceiling too. Integer files cannot
# exceed full scale and are not scanned (scanning costs one extra decode of the file).
HOT_PEAK = 16.0
SCANNED_SUBTYPES = ("FLOAT", "DOUBLE")
# The renderer aims within loudness.CORRECTION_TOLERANCE_LU; a miss beyond this is reported.
TARGET_TOLERANCE_LU = 0.1
# A limiter taking more than this off the loudest peak is heard as limiting (loud masters take
# 3-8 dB); the run says so rather than deliver it in silence.
HEAVY_LIMITING_DB = 12.0


def default_subtype(input_subtype: str) -> str:
    return input_subtype if input_subtype in KEEP_SUBTYPES else "PCM_24"


def render_file(
    in_path,
    settings,
    out_path,
    bit_depth=None,
    dither: bool = True,
    block_frames: int = BLOCK_FRAMES,
    warn: Callable[[str], None] | None = None,
    on_block: Callable | None = None,
    on_restart: Callable[[], None] | None = None,
) -> dict:
    """Render `in_path` with `settings` (a chain Settings) to `out_path` (.wav or .flac).

    bit_depth: '16', '24', 'float' or None (same as the input when 16/24-bit PCM, else 24).
    warn: called with each warning as it arises (they are also listed in the summary).
    on_block: called with each output block [C, n] as it is written (meters, a report).
    on_restart: called when the renderer starts its output again (a correction pass of the
    loudness, rare): what on_block saw before is void.
    Returns a summary: paths, format, frames, the renderer's report, warnings and the wall time.
    """
    from tonematch.models.chain import loudness
    from tonematch.models.chain.exact import RESTART, ExactRenderer  # numba kernels: only when rendering

    warnings: list[str] = []

    def note(message: str) -> None:
        warnings.append(message)
        if warn is not None:
            warn(message)

    src = audio.info(in_path)
    audio.check_paths(in_path, out_path)
    check_format(src.sample_rate, src.channels, f"'{in_path}'")
    subtype = audio.parse_subtype(bit_depth) or default_subtype(src.subtype)
    settings, moved = settings.at_rate(src.sample_rate)
    for message in moved:
        note(message)
    renderer = ExactRenderer(settings, src.sample_rate, src.channels)  # validates at the input's rate
    check_length(src.frames, src.sample_rate, settings, f"'{in_path}'", lambda: audio.load(in_path)[0])
    start = time.perf_counter()
    scale = input_scale(in_path, src.subtype, block_frames, note)
    # read_blocks opens (and checks) the file at each call: the renderer reads it once per pass.
    if scale == 1.0:
        source = lambda: audio.read_blocks(in_path, block_frames)  # noqa: E731
    else:
        source = lambda: (b * scale for b in audio.read_blocks(in_path, block_frames))  # noqa: E731
    peak = 0.0  # the output's sample peak: over full scale, a fixed-point file clips there
    # `on_block` (output meters) runs on a lane beside the writer's quantising and writing
    with (
        audio.AudioWriter(out_path, src.sample_rate, src.channels, subtype=subtype, dither=dither) as w,
        Lane(name="tonematch-output") as lane,
    ):
        # the limiter pass streams out as it is made; the rare correction pass starts the file again
        for block in renderer.blocks(source, provisional=True):
            if block is RESTART:
                lane.drain()
                w.restart()
                if on_restart is not None:
                    on_restart()
                continue
            stop_if_signalled()  # before the file can be finished and placed
            w.write(block)
            peak = max(peak, float(np.abs(block).max(initial=0.0)))
            if on_block is not None:
                lane.submit(on_block, block)
        lane.drain()
    report = dict(renderer.report)
    if peak > 1.0:
        note(over_full_scale(peak, w.subtype, settings))
    if report.get("peak_limiting_db", 0.0) > HEAVY_LIMITING_DB:
        note(
            f"the limiter takes up to {report['peak_limiting_db']:.0f} dB off the loudest peaks to reach "
            f"{settings.values['loudness.target_lufs']:.1f} LUFS: expect to hear it (flattened transients, "
            "pumping); a lower loudness target, or more compression before it, asks less of it"
        )
    if abs(report.get("miss_lu", 0.0)) > TARGET_TOLERANCE_LU:
        note(_missed_target(settings.values["loudness.target_lufs"], report, loudness.MAX_GAIN_DB))
    return {
        "input": str(in_path),
        "output": str(out_path),
        "sample_rate": src.sample_rate,
        "channels": src.channels,
        "frames": w.frames_written,
        "subtype": w.subtype,
        "dither": bool(dither) and w.subtype != "FLOAT",
        "input_scale_db": 20.0 * math.log10(scale),
        "seconds": time.perf_counter() - start,
        "report": report,
        "warnings": warnings,
    }


def check_format(sample_rate: int, channels: int, name: str) -> None:
    """Mono or stereo at a rate tonematch works at (the chain's bands need 8 kHz and up), as match refuses."""
    problem = audio.format_problem(sample_rate, channels)
    if problem is not None:
        raise TonematchError(f"cannot render {name}: {problem}")


def check_length(frames: int, sample_rate: int, settings, name: str, samples: Callable[[], np.ndarray]) -> None:
    """A loudness target needs one 400 ms block to measure: a shorter input that is not silent would
    read as silence and get the normalisation's whole +40 dB, limited to the ceiling. `samples`
    gives the audio, read only for such a short input (silence renders to silence, as long ones do)."""
    from tonematch.models.measure.loudness.gating import MOMENTARY_S as MIN_SECONDS  # one BS.1770 block

    short = settings.enabled("loudness") and frames < MIN_SECONDS * sample_rate
    if short and np.abs(samples()).max(initial=0.0) > 0.0:
        raise TonematchError(
            f"cannot render {name}: it lasts {frames / sample_rate:.2f} s; at least {MIN_SECONDS:g} s is needed "
            'to measure its loudness (switch the loudness stage off to render it: "enabled": false)'
        )


def input_scale(in_path, subtype: str, block_frames: int, note: Callable[[str], None]) -> float:
    """1.0, or the power of two that brings a mis-scaled float file's peak to at most 0 dBFS."""
    if subtype not in SCANNED_SUBTYPES:
        return 1.0
    peak = 0.0
    for block in audio.read_blocks(in_path, block_frames):
        peak = max(peak, float(abs(block).max()))
    if peak <= HOT_PEAK:
        return 1.0
    k = math.ceil(math.log2(peak))
    note(
        f"'{in_path}' peaks at {20 * math.log10(peak):+.1f} dBFS, so its samples are taken as mis-scaled: "
        f"turned down {20 * k * math.log10(2):.1f} dB (2^-{k}) before the chain"
    )
    return 2.0**-k


def over_full_scale(peak: float, subtype: str, settings) -> str:
    """The warning for an output whose sample peak is over full scale (in a `subtype` file)."""
    what = (
        "a float file keeps it, a fixed-point one would clip" if subtype in SCANNED_SUBTYPES else "the file clips there"
    )
    why = "" if settings.enabled("limiter") else " (the limiter is off: its ceiling would hold the peaks)"
    return f"the output peaks at {20.0 * math.log10(peak):+.2f} dBFS, over full scale: {what}{why}"


def _unmeasured(report: dict) -> bool:
    """Nothing of the input above BS.1770's gates: it has no loudness to normalise or report."""
    from tonematch.models.measure.loudness.gating import FLOOR_LUFS

    return report.get("pre_limiter_lufs", 0.0) <= FLOOR_LUFS


def _missed_target(target: float, report: dict, max_gain_db: float) -> str:
    from tonematch.models.measure.loudness.gating import FLOOR_LUFS

    reached = target - report["miss_lu"]
    if _unmeasured(report):
        if reached > FLOOR_LUFS:  # quiet, not silent: the output has a loudness to name
            return (
                f"loudness target {target:.1f} LUFS not met: the input is too quiet to measure (below the -70 LUFS "
                f"gate of BS.1770) and normalisation adds at most {max_gain_db:g} dB; the output measures "
                f"{reached:.1f} LUFS"
            )
        return f"loudness target {target:.1f} LUFS not met: the input is silent, and so is the output"
    why = ""
    if report.get("limiter_plateau"):  # more gain would only take more off the peaks
        why = (
            ": the limiter cannot make it louder under its ceiling (more gain into it only takes more "
            "off the peaks; a higher ceiling, or compression before it, can)"
        )
    elif abs(report.get("gain_db", 0.0)) >= max_gain_db - 1e-9:
        why = f": normalisation is limited to {max_gain_db:g} dB either way"
    elif report.get("loudness_jump"):
        why = (
            ": the loudness leaps past it at this gain (limiting pulls quiet stretches under BS.1770's gate), "
            "so no gain lands on it; a target a little higher or lower does"
        )
    elif report["miss_lu"] > 0:
        why = ": the limiter cannot make it louder under its ceiling"
    return f"loudness target {target:.1f} LUFS not met, the output measures {reached:.1f} LUFS{why}"


def format_summary(r: dict) -> str:
    duration = r["frames"] / r["sample_rate"]
    bits = {"PCM_16": "16-bit", "PCM_24": "24-bit", "FLOAT": "32-bit float"}[r["subtype"]]
    layout = {1: "mono", 2: "stereo"}[r["channels"]]
    lines = [
        f"rendered {r['input']} -> {r['output']}",
        f"  {duration:.2f} s, {r['sample_rate']} Hz {layout}, {bits}" + (", TPDF dither" if r["dither"] else ""),
    ]
    rep = r["report"]
    unmeasured = _unmeasured(rep)
    if unmeasured:
        lines.append("  loudness before limiter: none to measure (silent, or under BS.1770's -70 LUFS gate)")
    elif "pre_limiter_lufs" in rep:
        lines.append(
            f"  loudness before limiter {rep['pre_limiter_lufs']:.2f} LUFS, gain into limiter {rep['gain_db']:+.2f} dB"
        )
    if "passes" in rep and not unmeasured:
        lines.append(
            f"  limiter passes {rep['passes']}, final miss {rep['miss_lu']:+.3f} LU from target, "
            f"up to {rep.get('peak_limiting_db', 0.0):.1f} dB off the loudest peak"
        )
    speed = duration / r["seconds"] if r["seconds"] > 0 else float("inf")
    lines.append(f"  time {r['seconds']:.2f} s ({speed:.0f}x real time)")
    return "\n".join(lines)
