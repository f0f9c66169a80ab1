"""What the studio's page shows of audio and settings, computed: the meters' readouts, the
loudest stretch of a file and its peak overview (one streaming pass), the EQ curve and the table
the controls are built from (the tonal balance curves are the report's: report.tone_of and
report.target_balance). Plain functions; the session (session.py) holds the state they are
computed on."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tonematch.data import audio
from tonematch.models.chain import TABLE, match_eq
from tonematch.models.chain.settings import Settings
from tonematch.models.measure import loudness as bs1770

OVERVIEW_BINS = 1200
EQ_POINTS = 240


def floored_db(v: float, floor: float = 1e-10) -> float:
    """dB of an amplitude, floored (the page draws a number where silence has no level)."""
    return 20.0 * math.log10(max(float(v), floor))


def finite_or_none(v) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def measure(x: np.ndarray, sample_rate: int) -> dict:
    """The readouts of a piece of audio [C, T]: integrated loudness, true peak, sample peak,
    crest factor, width (side/mid energy), side/mid in dB, L/R correlation (analyze's meters)."""
    from tonematch.models.measure import dynamics, stereo, truepeak

    meter = bs1770.LoudnessMeter(sample_rate, x.shape[0])
    meter.add(x)
    image = stereo.stereo_image(x)
    return {
        "lufs": finite_or_none(meter.integrated()),
        "true_peak_dbtp": floored_db(truepeak.true_peak(x)),
        "peak_dbfs": floored_db(dynamics.sample_peak(x)),
        "crest_db": finite_or_none(dynamics.crest_factor_db(x)),
        "width": finite_or_none(image["width"]),
        "side_mid_db": finite_or_none(image["side_mid_db"]),
        "correlation": finite_or_none(image["correlation"]),
    }


def loudest_start(powers: np.ndarray, frames: int, length: int, sample_rate: int) -> int:
    """The start (in frames) of the loudest `length` frames, from the momentary block powers of
    the file (400 ms blocks every 100 ms): the window holding the most K-weighted energy, on the
    100 ms grid."""
    step = int(round(bs1770.MOMENTARY_S * (1.0 - bs1770.MOMENTARY_OVERLAP) * sample_rate))
    per_window = max(1, int((length - bs1770.MOMENTARY_S * sample_rate) // step) + 1)
    if frames <= length or len(powers) <= per_window:
        return 0
    sums = np.convolve(np.asarray(powers, dtype=np.float64), np.ones(per_window), mode="valid")
    best = int(np.argmax(sums)) * step
    return int(min(max(best, 0), frames - length))


@dataclass
class Scan:
    """One streaming pass over a file: momentary block powers and a peak overview."""

    powers: np.ndarray
    peaks: np.ndarray  # [OVERVIEW_BINS] max |x| over channels per bin
    frames: int


def scan(path, frames: int, sample_rate: int, channels: int, scale: float, bins: int = OVERVIEW_BINS) -> Scan:
    meter = bs1770.LoudnessMeter(sample_rate, channels)
    edges = np.linspace(0, frames, bins + 1).astype(np.int64)
    peaks = np.zeros(bins, np.float32)
    pos = 0
    for block in audio.read_blocks(path):
        if scale != 1.0:
            block = block * scale
        meter.add(block)
        n = block.shape[1]
        level = np.abs(block).max(axis=0)
        lo, hi = np.searchsorted(edges, [pos, pos + n], side="right") - 1
        for b in range(max(lo, 0), min(hi, bins - 1) + 1):
            a, z = max(edges[b], pos) - pos, min(edges[b + 1], pos + n) - pos
            if z > a:
                peaks[b] = max(peaks[b], float(level[a:z].max()))
        pos += n
    return Scan(meter.momentary_power(), peaks, pos)


def rounded(x, digits: int = 2) -> list:
    """An array as a JSON list of rounded floats, None where not finite."""
    return [None if not math.isfinite(v) else round(float(v), digits) for v in np.asarray(x).ravel()]


def eq_curve(settings: Settings) -> dict:
    """The EQ's response from 20 Hz to 20 kHz (or the top the rate allows): the report's curve."""

    from ..report import eq_curve_db

    sr = settings.sample_rate
    hz = np.geomspace(20.0, min(20000.0, 0.49 * sr), EQ_POINTS)
    return {"hz": rounded(hz, 1), "db": rounded(eq_curve_db(settings, hz), 3)}


def params_table(sample_rate: int) -> list[dict]:
    """The parameter table as the page builds its controls from it (bounds at the mix's rate)."""
    rows = []
    for e in TABLE.entries:
        low, high = e.spec.bounds(sample_rate)
        # a low rate can lower a log row's bottom under its table range, which render still refuses
        low = min(max(low, e.spec.low), high)
        rows.append(
            {
                "key": e.key,
                "processor": e.processor,
                "band": e.band,
                "label": match_eq.BAND_NAMES.get(e.band) if e.processor == match_eq.NAME else None,
                "name": e.spec.name,
                "unit": e.spec.unit,
                "low": low,
                "high": high,
                "scale": e.spec.scale,
                "default": e.spec.default_value(sample_rate),
                "switch": e.switch,
                "default_enabled": e.default_enabled,
            }
        )
    return rows
