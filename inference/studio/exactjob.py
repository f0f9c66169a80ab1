"""The whole-file render behind the studio's exact preview.

`render_whole` feeds the exact renderer as render_file does (the same blocks, the same input
scaling, the same renderer), so the region it cuts out holds the samples export will write before
dither. The studio runs it in-process once at start, and after each change in a process of its
own (`python -m tonematch.inference.studio.exactjob`, a job as JSON on stdin, the result as an
.npz file), at a lower priority: a newer change kills that process at once, and the page's quick
renders neither wait for it nor share the CPU with it.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Callable

import numpy as np

from tonematch.data import audio
from tonematch.models.measure import loudness as bs1770


class Superseded(Exception):
    """A newer change arrived while a whole-file render was running."""


def render_whole(
    path,
    settings,
    scale: float,
    block_frames: int,
    start: int,
    frames: int,
    check: Callable[[], bool] | None = None,
) -> dict:
    """The whole file through the exact renderer (settings at the file's rate). Returns the
    output frames [start, start + frames), the gain into the limiter, the master's integrated
    loudness and true peak, and its momentary block powers (400 ms every 100 ms). `check()`
    returning False between blocks raises Superseded."""
    from tonematch.models.chain.exact import ExactRenderer
    from tonematch.models.measure.truepeak import TruePeakMeter

    info = audio.info(path)

    def source():
        blocks = audio.read_blocks(path, block_frames)
        if scale != 1.0:
            blocks = (b * scale for b in blocks)  # the expression render_file uses
        for b in blocks:
            if check is not None and not check():
                raise Superseded()
            yield b

    renderer = ExactRenderer(settings, info.sample_rate, info.channels)
    meter = bs1770.LoudnessMeter(info.sample_rate, info.channels)
    tp = TruePeakMeter(info.channels)
    lo, hi = start, start + frames
    kept, pos = [], 0
    for y in renderer.blocks(source):
        if check is not None and not check():
            raise Superseded()
        meter.add(y)
        tp.add(y)
        a, z = max(lo, pos), min(hi, pos + y.shape[1])
        if z > a:
            kept.append(y[:, a - pos : z - pos])
        pos += y.shape[1]
    lufs = meter.integrated()
    return {
        "master": np.concatenate(kept, axis=1),
        "gain_db": float(renderer.report.get("gain_db", 0.0)),
        "lufs": None if lufs is None or not math.isfinite(lufs) else float(lufs),
        "true_peak_dbtp": 20.0 * math.log10(max(tp.peak(), 1e-10)),
        "blocks": np.asarray(meter.momentary_power(), dtype=np.float64),
    }


def job(settings_dict: dict, path, scale: float, block_frames: int, start: int, frames: int, out: str) -> dict:
    """What the parent sends (JSON) to the child."""
    return {
        "settings": settings_dict,
        "path": os.fspath(path),
        "scale": scale,
        "block_frames": block_frames,
        "start": start,
        "frames": frames,
        "out": out,
    }


def save(result: dict, out: str) -> None:
    tmp = out + ".part.npz"
    np.savez(
        tmp,
        master=result["master"],
        blocks=result["blocks"],
        scalars=np.array(
            [result["gain_db"], np.nan if result["lufs"] is None else result["lufs"], result["true_peak_dbtp"]]
        ),
    )
    os.replace(tmp, out)


def load(out: str) -> dict:
    with np.load(out) as z:
        gain, lufs, tp = (float(v) for v in z["scalars"])
        return {
            "master": z["master"],
            "blocks": z["blocks"],
            "gain_db": gain,
            "lufs": None if math.isnan(lufs) else lufs,
            "true_peak_dbtp": tp,
        }


BACKGROUND_NICE = 10  # the page's own renders come first: this one only makes the preview exact


def main() -> int:
    from tonematch.models.chain.settings import Settings

    try:
        os.nice(BACKGROUND_NICE)
    except (AttributeError, OSError):  # not on this system: it still runs, killed by any change
        pass
    j = json.load(sys.stdin)
    settings = Settings.from_dict(j["settings"])
    result = render_whole(
        j["path"], settings, float(j["scale"]), int(j["block_frames"]), int(j["start"]), int(j["frames"])
    )
    save(result, j["out"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
