"""Measurements of a piece of audio: loudness, peaks, dynamics, stereo image, spectral balance.

`analyze(audio, sample_rate)` takes [C, T] float32 and `analyze_file(path)` streams a file in
blocks (bounded memory at any length); both return a flat dict of plain floats (None where a
value is undefined, e.g. the loudness of silence), so it serialises to JSON as is. Every value
comes from tonematch.models.measure (numpy/numba: no torch on this path). Levels are relative to
digital full scale: a full-scale sine reads 0 dBFS sample peak (not the +3 dB convention).
"""

from __future__ import annotations

import numpy as np

from tonematch.models.measure import analyzer, loudness as _loudness, spectrum, stereo, truepeak
from tonematch.models.measure.dynamics import (
    db as _db,  # noqa: F401  (re-exported)
    sample_peak,  # noqa: F401  (re-exported)
)

from .formatting import hz_short

BANDS = spectrum.BANDS  # the eight named bands (tonematch.models.measure.spectrum)
BLOCK_FRAMES = 65536  # frames per block when streaming a file


def true_peak(audio: np.ndarray) -> float:
    """Peak of the 4x oversampled signal (linear): the one interpolator, measure.truepeak."""
    return truepeak.true_peak(audio)


def loudness(audio: np.ndarray, sample_rate: int) -> tuple[float | None, float | None]:
    """(integrated loudness in LUFS, loudness range in LU); None when undefined (shorter than one
    gating block, silence, or more than 5 channels)."""
    audio = np.atleast_2d(audio)
    meter = _loudness.LoudnessMeter(sample_rate, audio.shape[0])
    meter.add(audio)
    return meter.integrated(), meter.loudness_range()


def stereo_image(audio: np.ndarray) -> dict:
    """Side/mid energy ratio and L/R correlation (measure.stereo)."""
    return stereo.stereo_image(audio)


def spectral_balance(audio: np.ndarray, sample_rate: int) -> dict[str, float | None]:
    """Energy per band in dB relative to the total over all bands (measure.spectrum); bands above
    Nyquist read None, one straddling it is cut at Nyquist."""
    return spectrum.band_shares_db(audio, sample_rate)


def analyze(audio: np.ndarray, sample_rate: int) -> dict:
    """All measurements of `audio` [C, T] at `sample_rate`, as a flat JSON-ready dict."""
    return analyzer.analyze_array(audio, sample_rate)


def analyze_file(path, block_frames: int = BLOCK_FRAMES) -> dict:
    """`analyze` of a file, streamed in blocks: memory does not grow with its length."""
    from tonematch.data import audio

    meta = audio.info(path)
    return analyzer.analyze_blocks(audio.read_blocks(path, block_frames), meta.sample_rate, meta.channels)


def _fmt(value, unit: str, digits: int = 1) -> str:
    # + 0.0: a value that rounds to zero from below reads "0.00", never "-0.00"
    return "n/a" if value is None else f"{round(value, digits) + 0.0:.{digits}f} {unit}".rstrip()


# a DC offset under this is rounding in the arithmetic (a pure sine's mean), far below a 24-bit LSB
DC_FLOOR_DBFS = -150.0


def _dc(dbfs) -> str:
    return "none" if dbfs is None or dbfs < DC_FLOOR_DBFS else _fmt(dbfs, "dBFS")


def _clipped(fraction: float) -> str:
    """The share of samples flat at the peak, in runs of three or more (music reads none)."""
    return "none" if fraction <= 0.0 else f"{100 * fraction:.3f} % (flat at the peak, in runs of 3 or more)"


def format_table(result: dict, title: str | None = None) -> str:
    """Human-readable listing of an `analyze` result (what `tonematch analyze` prints)."""
    r = result
    if r["mono"]:
        stereo_rows = [("stereo", "mono (width 0, correlation 1)")]
    else:
        stereo_rows = [
            (
                "stereo width",
                "n/a"
                if r["width"] is None
                else f"{r['width']:.3f} side/mid"
                + (f" ({r['side_mid_db']:.1f} dB)" if r["side_mid_db"] is not None else ""),
            ),
            ("L/R correlation", _fmt(r["correlation"], "", 3)),
        ]
    rows = [
        ("duration", f"{r['duration_s']:.2f} s"),
        ("sample rate", f"{r['sample_rate']} Hz"),
        ("channels", str(r["channels"])),
        ("integrated loudness", _fmt(r["integrated_lufs"], "LUFS")),
        ("loudness range", _fmt(r["loudness_range_lu"], "LU")),
        ("sample peak", _fmt(r["sample_peak_dbfs"], "dBFS", 2)),
        ("true peak", _fmt(r["true_peak_dbtp"], "dBTP", 2)),
        ("RMS", _fmt(r["rms_dbfs"], "dBFS")),
        ("crest factor", _fmt(r["crest_factor_db"], "dB", 2)),
        ("DC offset", _dc(r["dc_offset_dbfs"])),
        ("clipped samples", _clipped(r["clipped_fraction"])),
        *stereo_rows,
    ]
    lines = [title] if title else []
    lines += [f"  {k:22s} {v}" for k, v in rows]
    lines.append("  spectral balance (dB re total)")
    for name, lo, hi in BANDS:
        label = f"{name} {hz_short(lo)}-{hz_short(hi)}"
        lines.append(f"    {label:20s} {_fmt(r['spectral_balance_db'][name], 'dB')}")
    return "\n".join(lines)


def main(argv=None) -> int:
    """`python -m tonematch.inference.analyze FILE [--json]`: the streaming path as a process."""
    import argparse
    import json

    p = argparse.ArgumentParser(prog="python -m tonematch.inference.analyze")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = analyze_file(args.file)
    if args.json:
        print(json.dumps({"file": args.file, **result}, indent=2, allow_nan=False))
    else:
        print(format_table(result, title=args.file))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
