"""Render a file through the exact chain, streaming: bounded memory whatever the file's length.

The output keeps the input's sample rate and channel count, and only ever appears complete (the
writer renders into a temporary file and renames it). Every check that can fail is done before
the first sample is processed, so a long render never fails at the end because of a bad path.
"""
from __future__ import annotations

import time

from tonematch.data import audio
from tonematch.data.errors import TonematchError

BLOCK_FRAMES = 65536
# Integer formats kept as they are; anything else (float, lossy, 8/32-bit) is written as 24-bit.
KEEP_SUBTYPES = ("PCM_16", "PCM_24")


def default_subtype(input_subtype: str) -> str:
    return input_subtype if input_subtype in KEEP_SUBTYPES else "PCM_24"


def render_file(in_path, settings, out_path, bit_depth=None, dither: bool = True,
                block_frames: int = BLOCK_FRAMES) -> dict:
    """Render `in_path` with `settings` (a chain Settings) to `out_path` (.wav or .flac).

    bit_depth: '16', '24', 'float' or None (same as the input when 16/24-bit PCM, else 24).
    Returns a summary: paths, format, frames, the renderer's report and the wall time.
    """
    from tonematch.models.chain.exact import ExactRenderer  # imports torch: only when rendering

    src = audio.info(in_path)
    audio.check_paths(in_path, out_path)
    if src.channels not in (1, 2):
        raise TonematchError(f"cannot render '{in_path}': {src.channels} channels, only mono or stereo")
    subtype = audio.parse_subtype(bit_depth) or default_subtype(src.subtype)
    renderer = ExactRenderer(settings, src.sample_rate, src.channels)  # validates at the input's rate
    start = time.perf_counter()
    # read_blocks opens (and checks) the file at each call: the renderer reads it once per pass.
    source = lambda: audio.read_blocks(in_path, block_frames)  # noqa: E731
    with audio.AudioWriter(out_path, src.sample_rate, src.channels, subtype=subtype, dither=dither) as w:
        for block in renderer.blocks(source):
            w.write(block)
    return {
        "input": str(in_path),
        "output": str(out_path),
        "sample_rate": src.sample_rate,
        "channels": src.channels,
        "frames": w.frames_written,
        "subtype": w.subtype,
        "dither": bool(dither) and w.subtype != "FLOAT",
        "seconds": time.perf_counter() - start,
        "report": dict(renderer.report),
    }


def format_summary(r: dict) -> str:
    duration = r["frames"] / r["sample_rate"]
    bits = {"PCM_16": "16-bit", "PCM_24": "24-bit", "FLOAT": "32-bit float"}[r["subtype"]]
    layout = {1: "mono", 2: "stereo"}[r["channels"]]
    lines = [
        f"rendered {r['input']} -> {r['output']}",
        f"  {duration:.2f} s, {r['sample_rate']} Hz {layout}, {bits}" + (", TPDF dither" if r["dither"] else ""),
    ]
    rep = r["report"]
    if "pre_limiter_lufs" in rep:
        lines.append(f"  loudness before limiter {rep['pre_limiter_lufs']:.2f} LUFS, gain into limiter {rep['gain_db']:+.2f} dB")
    if "passes" in rep:
        lines.append(f"  limiter passes {rep['passes']}, final miss {rep['miss_lu']:+.3f} LU from target")
    speed = duration / r["seconds"] if r["seconds"] > 0 else float("inf")
    lines.append(f"  time {r['seconds']:.2f} s ({speed:.0f}x real time)")
    return "\n".join(lines)
