"""Measurements of a piece of audio: loudness, peaks, dynamics, stereo image, spectral balance.

`analyze(audio, sample_rate)` takes [C, T] float32 and returns a flat dict of plain floats (None
where a value is undefined, e.g. the loudness of silence), so it serialises to JSON as is. Reports
and the evaluation reuse it. Levels are relative to digital full scale: a full-scale sine reads
0 dBFS sample peak (not the +3 dB "RMS-calibrated" convention).
"""
from __future__ import annotations

import math

import numpy as np
import pyloudnorm
from scipy.signal import resample_poly, welch

TRUE_PEAK_OVERSAMPLING = 4  # BS.1770-4 Annex 2: 4x is enough at 44.1/48 kHz
# Octave-ish bands from 20 Hz to 20 kHz (edges in Hz, names as engineers say them).
BANDS = (
    ("sub", 20.0, 60.0),
    ("bass", 60.0, 150.0),
    ("low_mid", 150.0, 400.0),
    ("mid", 400.0, 1000.0),
    ("upper_mid", 1000.0, 2500.0),
    ("presence", 2500.0, 6000.0),
    ("brilliance", 6000.0, 12000.0),
    ("air", 12000.0, 20000.0),
)
_CHUNK = 1 << 18  # frames per chunk for true peak and spectrum: bounded scratch memory
_TP_MARGIN = 256  # input frames of context each side of a chunk, far beyond the resampler's taps
_NPERSEG = 4096


def _db(power_or_amp: float, power: bool = False) -> float | None:
    """dB of a positive amplitude (or power); None for zero (silence has no level)."""
    if not power_or_amp > 0.0:
        return None
    return (10.0 if power else 20.0) * math.log10(power_or_amp)


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def sample_peak(audio: np.ndarray) -> float:
    return float(np.max(np.abs(audio))) if audio.size else 0.0


def true_peak(audio: np.ndarray) -> float:
    """Peak of the 4x oversampled signal (linear). Chunked with overlapping context, so memory stays
    bounded and the result equals oversampling the whole file at once."""
    up = TRUE_PEAK_OVERSAMPLING
    n = audio.shape[1]
    peak = 0.0
    for start in range(0, n, _CHUNK):
        lo, hi = max(start - _TP_MARGIN, 0), min(start + _CHUNK + _TP_MARGIN, n)
        y = resample_poly(audio[:, lo:hi].astype(np.float64), up, 1, axis=1)
        keep = y[:, (start - lo) * up:(min(start + _CHUNK, n) - lo) * up]
        peak = max(peak, float(np.max(np.abs(keep))))
    return max(peak, sample_peak(audio))  # the interpolated signal passes through every sample


def loudness(audio: np.ndarray, sample_rate: int) -> tuple[float | None, float | None]:
    """(integrated loudness in LUFS, loudness range in LU) via pyloudnorm; None when undefined
    (shorter than one gating block, silence, or more than 5 channels)."""
    data = np.ascontiguousarray(audio.T, dtype=np.float64)
    meter = pyloudnorm.Meter(sample_rate)
    try:
        lufs = _finite(meter.integrated_loudness(data))
    except ValueError:  # pyloudnorm's way of saying "too short" or "too many channels"
        return None, None
    try:
        lra = _finite(meter.loudness_range(data))
    except ValueError:
        lra = None
    return lufs, lra


def stereo_image(audio: np.ndarray) -> dict:
    """Side/mid energy ratio (0: mono, 1: unrelated channels, > 1: more side than mid) and the L/R
    correlation (1: identical, 0: unrelated, -1: opposite polarity). Mono files read 0 and 1."""
    if audio.shape[0] == 1:
        return {"mono": True, "width": 0.0, "side_mid_db": None, "correlation": 1.0}
    if audio.shape[0] != 2:
        return {"mono": False, "width": None, "side_mid_db": None, "correlation": None}
    left, right = audio[0].astype(np.float64), audio[1].astype(np.float64)
    mid_e = float(np.sum((0.5 * (left + right)) ** 2))
    side_e = float(np.sum((0.5 * (left - right)) ** 2))
    ll, rr, lr = float(left @ left), float(right @ right), float(left @ right)
    corr = lr / math.sqrt(ll * rr) if ll > 0 and rr > 0 else None
    return {
        "mono": False,
        "width": side_e / mid_e if mid_e > 0 else None,  # undefined for pure side (or silence)
        "side_mid_db": _db(side_e / mid_e, power=True) if mid_e > 0 else None,
        "correlation": corr,
    }


def spectral_balance(audio: np.ndarray, sample_rate: int) -> dict[str, float | None]:
    """Energy per band in dB relative to the total over all bands (Welch PSD, channels averaged).

    Bands above Nyquist read None; one straddling it is cut at Nyquist."""
    n = audio.shape[1]
    nperseg = min(_NPERSEG, n)
    psd, weight = None, 0
    for start in range(0, n, _CHUNK):
        chunk = audio[:, start:start + _CHUNK].astype(np.float64)
        if chunk.shape[1] < nperseg:  # a short tail: too few frames for a segment, and negligible
            if psd is not None:
                continue
            nperseg = chunk.shape[1]
        freqs, p = welch(chunk, fs=sample_rate, nperseg=nperseg, axis=1)
        p = p.mean(axis=0) * chunk.shape[1]  # weight each chunk by its length
        psd = p if psd is None else psd + p
        weight += chunk.shape[1]
    nyquist = sample_rate / 2.0
    energy: dict[str, float | None] = {}
    for name, lo, hi in BANDS:
        if lo >= nyquist or psd is None:
            energy[name] = None
            continue
        sel = (freqs >= lo) & (freqs < min(hi, nyquist))
        energy[name] = float(np.sum(psd[sel]))
    total = sum(e for e in energy.values() if e)
    return {k: (_db(e / total, power=True) if e is not None and total > 0 else None) for k, e in energy.items()}


def analyze(audio: np.ndarray, sample_rate: int) -> dict:
    """All measurements of `audio` [C, T] at `sample_rate`, as a flat JSON-ready dict."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    channels, frames = audio.shape
    peak = sample_peak(audio)
    rms = math.sqrt(float(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    lufs, lra = loudness(audio, sample_rate)
    out = {
        "duration_s": frames / sample_rate,
        "sample_rate": int(sample_rate),
        "channels": int(channels),
        "integrated_lufs": lufs,
        "loudness_range_lu": lra,
        "sample_peak_dbfs": _db(peak),
        "true_peak_dbtp": _db(true_peak(audio)) if frames else None,
        "rms_dbfs": _db(rms),
        "crest_factor_db": _db(peak / rms) if rms > 0 else None,
    }
    out.update(stereo_image(audio))
    out["spectral_balance_db"] = spectral_balance(audio, sample_rate) if frames else {b[0]: None for b in BANDS}
    return out


def _fmt(value, unit: str, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f} {unit}".rstrip()


def format_table(result: dict, title: str | None = None) -> str:
    """Human-readable listing of an `analyze` result (what `tonematch analyze` prints)."""
    r = result
    if r["mono"]:
        stereo = [("stereo", "mono (width 0, correlation 1)")]
    else:
        stereo = [
            ("stereo width", "n/a" if r["width"] is None else
             f"{r['width']:.3f} side/mid" + (f" ({r['side_mid_db']:.1f} dB)" if r["side_mid_db"] is not None else "")),
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
        *stereo,
    ]
    lines = [title] if title else []
    lines += [f"  {k:22s} {v}" for k, v in rows]
    lines.append("  spectral balance (dB re total)")
    for name, lo, hi in BANDS:
        label = f"{name} {_hz(lo)}-{_hz(hi)}"
        lines.append(f"    {label:20s} {_fmt(r['spectral_balance_db'][name], 'dB')}")
    return "\n".join(lines)


def _hz(f: float) -> str:
    return f"{f / 1000:g}k" if f >= 1000 else f"{f:g}"
