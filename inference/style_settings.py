"""An engineer's style in settings: their chain identified on each pair, and how it follows the mix.

Each pair is identified directly. Mix and master are aligned (data/align.py), and the chain
(EQ -> compressor -> width -> loudness -> limiter) multiplies the EQ'd mix by broadband gains
only, so, frame by frame, the master's mid spectrum is H(f) g(t) times the mix's: H the EQ and
g the compressor, loudness and limiter gains. The transfer H is estimated from the mids'
cross-spectra with g taken out (alternating least squares, float64), the EQ's bands are fitted
to |H| up to a constant (the bands' biquad responses, bounded L-BFGS-B), the width is the side's
transfer over the mid's, the compressor is read from the pair's gain trace (gain_trace.py; its
threshold is read on the EQ'd mix at the mix's own level, so the fitted EQ's gain on the mix is
added back), and the loudness and ceiling are the master's. The exact render of the pair's
excerpts with those settings, against the master, is the pair's floor: how close the chain gets
to that master at all.

The style then learns, per group of settings, how they depend on the mix, from constant ("my
chain": the median of the pairs' settings) to adaptive (each setting a ridge line on one
descriptor of the mix: the mix's own balance for each EQ region, its loudness for the threshold
and loudness, its crest for the ratio, its width for the width; or, for the EQ, the character
model of style.py, which pulls every mix toward the engineer's balance), whichever predicts the
held-out pair best, leave one pair out at a time. A new mix is mastered from the settings the
style predicts for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tonematch.models.chain import TABLE
from tonematch.models.chain.biquads import design, power_response
from tonematch.models.chain.params import unit_mapping

EQ_BANDS = ("low_shelf", "peak1", "peak2", "peak3", "peak4", "high_shelf")
EQ_NAMES = ("gain_db", "freq_hz", "q")
FRAME_S = 0.093  # the transfer estimate's frames (4096 samples at 44.1 kHz), hop a quarter
SHORT_S = 0.0116  # the gain trace's frames (512 samples at 44.1 kHz), hop a quarter
GRID_OCTAVES = 1.0 / 12.0  # the EQ curve's grid
GRID_LOW_HZ, GRID_HIGH_HZ = 30.0, 16000.0
PASSES = 3  # estimates of the transfer after the first, each with the master divided by the last gain trace
QUIET_DB = 70.0  # grid bands this far under the loudest (in the mix) say too little about the EQ
WIDTH_LOW_HZ = 200.0  # the width is read above this (below, masters are near mono whatever the width)
EQ_STEPS = 100  # evaluations of the band fit's least squares
EQ_GAIN_PENALTY = 2e-3  # per dB^2 of band gain: of two equal fits, the smaller boosts
PRUNE_DB = 0.08  # a band whose removal raises the fit's RMS error by less than this (dB) is left out
MIN_MOVE_DB = 0.25  # bands smaller than this are not moves
CORRECTIONS = 1  # output-space corrections of the EQ and width (identify)
CONSENSUS_PAIRS = 6  # a fixed compressor is chosen on renders of at most this many pairs ...
CONSENSUS_EXCERPTS = 1  # ... this many excerpts of each
CONSENSUS_SWEEPS = 2  # steps along each setting, the second half the first
CONSENSUS_LIMITER_MS = (20.0, 60.0, 150.0)  # limiter releases tried beside the pairs' median
CONSENSUS_CEILING_DB = (0.1, 0.2)  # ceilings tried above the masters' median true peak
CONSENSUS_MARGIN = 0.05  # a single pair's compressor replaces the medians only if this much closer
# then one step along each: ln limiter release, ceiling dB, threshold dB, ln ratio, ln attack, ln release
CONSENSUS_STEPS = (0.5, 0.2, 1.0, 0.2, 0.5, 0.4)


# -- the transfer function mix -> master ------------------------------------------------------------


def grid_hz() -> np.ndarray:
    """Centres of the EQ curve's 1/12-octave grid, 30 Hz .. 16 kHz (the same at every rate: a
    rate's top, 0.45 x rate, bounds what a pair says, by its weights)."""
    n = int(math.floor(math.log2(GRID_HIGH_HZ / GRID_LOW_HZ) / GRID_OCTAVES + 1e-9)) + 1
    return GRID_LOW_HZ * 2.0 ** (np.arange(n) * GRID_OCTAVES)


def _stft(x: np.ndarray, n: int) -> np.ndarray:
    """[N, L] -> [N, T, n // 2 + 1] Hann-windowed spectra, hop n // 4 (float64 in, complex128 out)."""
    from tonematch.models.measure.spectrum import centred_frames

    window = np.hanning(n + 1)[:-1]
    return np.fft.rfft(centred_frames(np.asarray(x, np.float64), n, n // 4) * window, axis=-1)


@dataclass
class Transfer:
    """What one aligned pair says about the chain, on the grid (grid_hz): the EQ curve |H| in dB
    (up to a constant), how much the mix says there (weight, 0..1), the width, and how much of
    the master's mid the model H g explains (coherence, 0..1)."""

    grid_hz: np.ndarray
    curve_db: np.ndarray
    weight: np.ndarray
    width: float
    coherence: float


def _gain_trace(y: np.ndarray, xe: np.ndarray, short: int) -> np.ndarray:
    """Per sample, the master's level over the EQ'd mix's [N, L] (linear): power ratios on short
    Hann frames (hop a quarter), interpolated; silence says nothing (held within 30 dB)."""
    hop = short // 4
    window = np.hanning(short + 1)[:-1] ** 2
    from tonematch.models.measure.spectrum import centred_frames

    py = (centred_frames(y, short, hop) ** 2 * window).sum(-1)
    px = (centred_frames(xe, short, hop) ** 2 * window).sum(-1)
    trace = 10.0 * np.log10(np.maximum(py, 1e-30) / np.maximum(px, 1e-30))
    middle = np.median(trace)
    trace = np.clip(trace, middle - 30.0, middle + 30.0)
    centres = np.arange(trace.shape[-1]) * hop
    samples = np.arange(y.shape[-1])
    return np.stack([10.0 ** (np.interp(samples, centres, t) / 20.0) for t in trace])


def transfer(mix: np.ndarray, master: np.ndarray, sample_rate: int) -> Transfer:
    """Estimate the EQ and the width from aligned excerpts [N, C, L] (mix and master)."""
    from scipy.signal import fftconvolve
    from scipy.signal.windows import tukey

    mix, master = np.asarray(mix, np.float64), np.asarray(master, np.float64)
    n = 1 << int(round(math.log2(FRAME_S * sample_rate)))
    short = 1 << int(round(math.log2(SHORT_S * sample_rate)))
    length = mix.shape[-1]
    xm, ym = mix.mean(axis=1), master.mean(axis=1)
    fx = _stft(xm, n)
    px = np.abs(fx) ** 2
    energy = px.sum(-1)
    loud = energy > 1e-4 * energy.max()
    sxx = np.maximum(px[loud].sum(0), 1e-30)
    taper = tukey(n, 0.5)
    gain = np.ones_like(ym)
    for _ in range(PASSES):
        fy = _stft(ym / gain, n)
        sxy = (np.conj(fx[loud]) * fy[loud]).sum(0)
        h = np.roll(np.fft.irfft(sxy / sxx, n=n), n // 2) * taper
        xe = fftconvolve(xm, h[None], axes=-1)[:, n // 2 : n // 2 + length]
        gain = _gain_trace(ym, xe, short)
    fy = _stft(ym / gain, n)
    sxy = (np.conj(fx[loud]) * fy[loud]).sum(0)
    syy = (np.abs(fy[loud]) ** 2).sum(0)
    coherence = float(np.sum(np.abs(sxy) ** 2 / sxx) / max(float(np.sum(syy)), 1e-30))
    bins = np.arange(px.shape[-1]) * sample_rate / n
    grid = grid_hz()
    edges = np.concatenate([[grid[0] * 2 ** (-GRID_OCTAVES / 2)], grid * 2 ** (GRID_OCTAVES / 2)])
    band = np.searchsorted(edges, bins, side="right") - 1
    curve, power = np.zeros(len(grid)), np.zeros(len(grid))
    for b in range(len(grid)):
        sel = band == b
        if not sel.any():  # a grid band narrower than a bin (low frequencies): the nearest bin
            sel = np.abs(bins - grid[b]) == np.abs(bins - grid[b]).min()
        curve[b] = 20.0 * math.log10(max(abs(sxy[sel].sum()) / sxx[sel].sum(), 1e-10))
        power[b] = sxx[sel].sum() / sel.sum()
    level = 10.0 * np.log10(np.maximum(power, 1e-30))
    weight = np.clip((level - (level.max() - QUIET_DB)) / 10.0, 0.0, 1.0)
    weight[grid > 0.45 * sample_rate] = 0.0
    width = 1.0
    if mix.shape[1] == 2:
        xs, ys = 0.5 * (mix[:, 0] - mix[:, 1]), 0.5 * (master[:, 0] - master[:, 1])
        above = bins >= WIDTH_LOW_HZ
        hf = np.fft.rfft(np.roll(h, -(n // 2)), n=n)  # the estimated filter's response
        fxs = _stft(xs, n)[loud][:, above] * hf[above]
        fys = _stft(ys / gain, n)[loud][:, above]
        side = float(np.sum(np.abs(fxs) ** 2))
        if side > 1e-6 * float(np.sum(sxx[above] * np.abs(hf[above]) ** 2)):
            width = float(np.clip((np.conj(fxs) * fys).real.sum() / side, 0.0, 2.0))
    return Transfer(grid, curve, weight, width, coherence)


# -- the EQ's bands fitted to a curve ---------------------------------------------------------------


def _eq_specs():
    return [[TABLE.by_key[f"eq.{band}.{name}"].spec for name in EQ_NAMES] for band in EQ_BANDS]


def eq_response_db(values: dict, freqs_hz: np.ndarray, sample_rate: int, bands=EQ_BANDS) -> np.ndarray:
    """The response (dB) of the EQ bands `bands` of settings `values` at `freqs_hz`."""
    total = np.zeros(len(freqs_hz))
    for band in bands:
        kind = "peak" if band.startswith("peak") else band
        v = [np.array([float(values[f"eq.{band}.{name}"])]) for name in EQ_NAMES]
        coefs = design(kind, v[1], v[2], v[0], sample_rate, np)
        total += 10.0 * np.log10(np.maximum(power_response(coefs, freqs_hz, sample_rate)[0], 1e-18))
    return total


def _start_units(curve: np.ndarray, grid: np.ndarray, sample_rate: int) -> np.ndarray:
    """[bands, 3] start in [0, 1]: each band at its table default frequency and Q, its gain the
    curve's (relative to the curve's median) there."""
    mid = float(np.median(curve))
    rows = []
    for row in _eq_specs():
        freq = row[1].default_value(sample_rate)
        gain = float(np.clip(np.interp(math.log(freq), np.log(grid), curve) - mid, -6.0, 6.0))
        values = (gain, freq, row[2].default_value(sample_rate))
        rows.append([min(max(s.to_unit(v, sample_rate), 0.0), 1.0) for s, v in zip(row, values)])
    return np.array(rows, dtype=np.float64)


def _band_db(kinds, v: np.ndarray, grid: np.ndarray, sample_rate: int) -> np.ndarray:
    """[bands, F] each band's response (dB) for physical values v [bands, 3] (gain, freq, q), one
    vectorised design per kind of band."""
    out = np.zeros((len(kinds), len(grid)))
    kinds = np.asarray(kinds)
    for kind in np.unique(kinds):
        rows = np.flatnonzero(kinds == kind)
        coefs = design(str(kind), v[rows, 1], v[rows, 2], v[rows, 0], sample_rate, np)
        out[rows] = 10.0 * np.log10(np.maximum(power_response(coefs, grid, sample_rate), 1e-18))
    return out


def fit_bands(
    curve_db: np.ndarray, weight: np.ndarray, grid: np.ndarray, sample_rate: int, prune: bool = False
) -> tuple[dict, float]:
    """(EQ band values, weighted RMS error dB) whose response follows `curve_db` up to a constant
    (bounded least squares in the table's [0, 1] space, float64; each band's Jacobian columns
    from its own response, all bands at once). `prune`: bands that buy less than PRUNE_DB of
    error are left out (gain 0), the smallest first, the rest refitted: a readable EQ, with no
    moves the curve does not need."""
    from scipy.optimize import least_squares

    specs = _eq_specs()
    physical = unit_mapping(specs, sample_rate, np)
    target = np.asarray(curve_db, np.float64)
    w = np.asarray(weight, np.float64) / max(float(np.sum(weight)), 1e-12)
    sw = np.sqrt(w)
    kinds = np.array(["peak" if b.startswith("peak") else b for b in EQ_BANDS])
    penalty = math.sqrt(EQ_GAIN_PENALTY)
    step = 1e-6

    def centred(r):
        return sw * (r - np.sum(w * r, axis=-1, keepdims=True))

    def parts(flat, active, start):
        u = start.copy()
        u[active] = flat.reshape(len(active), 3)
        return u, physical(u)

    def residual(flat, active, start):
        u, v = parts(flat, active, start)
        r = _band_db(kinds[active], v[active], grid, sample_rate).sum(0) - target
        return np.concatenate([centred(r), penalty * v[active, 0] / math.sqrt(len(active))])

    def jacobian(flat, active, start):
        u, v = parts(flat, active, start)
        here = _band_db(kinds[active], v[active], grid, sample_rate)
        jac = np.zeros((len(target) + len(active), 3 * len(active)))
        for j in range(3):
            moved = u.copy()
            moved[active, j] += step
            dv = physical(moved)
            d = (_band_db(kinds[active], dv[active], grid, sample_rate) - here) / step  # [bands, F]
            jac[: len(target), j::3] = centred(d).T
            if j == 0:
                gain = (dv[active, 0] - v[active, 0]) / step
                jac[len(target) + np.arange(len(active)), np.arange(len(active)) * 3] = (
                    penalty * gain / math.sqrt(len(active))
                )
        return jac

    def solve(start, active):
        if not active:
            r = target - np.sum(w * target)
            return start, float(np.sqrt(np.sum(w * r**2)))
        x0 = np.clip(start[active].ravel(), 1e-6, 1.0 - 2e-6)
        result = least_squares(
            residual,
            x0,
            jac=jacobian,
            bounds=(0.0, 1.0 - 1e-6),
            args=(active, start),
            xtol=1e-7,
            ftol=1e-9,
            max_nfev=EQ_STEPS,
        )
        u = start.copy()
        u[active] = result.x.reshape(len(active), 3)
        r = residual(result.x, active, start)[: len(target)]
        return u, float(np.sqrt(np.sum(r**2)))

    start = _start_units(target, grid, sample_rate)
    zero = np.array([min(max(row[0].to_unit(0.0, sample_rate), 0.0), 1.0) for row in specs])
    active = list(range(len(EQ_BANDS)))
    u, err = solve(start, active)
    while prune and active:
        v = physical(u)
        size = np.abs(_band_db(kinds[active], v[active], grid, sample_rate)).max(axis=1)
        drop = active[int(np.argmin(size))]
        rest = [k for k in active if k != drop]
        trial = u.copy()
        trial[drop, 0] = zero[drop]
        u_rest, e_rest = solve(trial, rest)
        if e_rest - err > PRUNE_DB:
            break
        u, active = u_rest, rest
    v = physical(u)
    values = {}
    for i, band in enumerate(EQ_BANDS):
        for j, name in enumerate(EQ_NAMES):
            values[f"eq.{band}.{name}"] = float(v[i, j])
        if i not in active:
            values[f"eq.{band}.gain_db"] = 0.0
    return values, err


# -- one pair identified ------------------------------------------------------------------------------

THIRD_OCTAVE = 1.0 / 3.0
DISTANCE_FRAME_S = 0.046  # frames of the spectral distance (2048 samples at 44.1 kHz), hop a quarter
DISTANCE_RANGE_DB = 60.0  # band levels are floored this far under the loudest frame's loudest band


def _third_octave_matrix(n: int, sample_rate: int) -> np.ndarray:
    """[bins, bands] 1/3-octave bands from 31.5 Hz to min(16 kHz, 0.45 x rate)."""
    bins = np.arange(n // 2 + 1) * sample_rate / n
    top = min(16000.0, 0.45 * sample_rate)
    centres = 31.5 * 2.0 ** (np.arange(int(math.log2(top / 31.5) / THIRD_OCTAVE) + 1) * THIRD_OCTAVE)
    lo, hi = centres * 2 ** (-THIRD_OCTAVE / 2), centres * 2 ** (THIRD_OCTAVE / 2)
    m = ((bins[:, None] >= lo[None]) & (bins[:, None] < hi[None])).astype(np.float64)
    for b in np.flatnonzero(m.sum(0) == 0):  # a band narrower than a bin: the nearest bin
        m[np.argmin(np.abs(bins - centres[b])), b] = 1.0
    return m


def band_levels(clips: np.ndarray, sample_rate: int) -> np.ndarray:
    """[N, 2, T, B] mid and side 1/3-octave levels (dB) per frame of excerpts [N, C, L] (a mono
    file: its side is silence). float32: a distance in tenths of a dB needs no more."""
    import scipy.fft

    from tonematch.models.measure.spectrum import centred_frames

    n = 1 << int(round(math.log2(DISTANCE_FRAME_S * sample_rate)))
    x = np.asarray(clips, np.float32)
    mid = 0.5 * (x[:, 0] + x[:, 1]) if x.shape[1] == 2 else x[:, 0]
    side = 0.5 * (x[:, 0] - x[:, 1]) if x.shape[1] == 2 else np.zeros_like(mid)
    m = _third_octave_matrix(n, sample_rate).astype(np.float32)
    window = np.hanning(n + 1)[:-1].astype(np.float32)
    frames = centred_frames(np.stack([mid, side], axis=1), n, n // 4) * window
    spec = scipy.fft.rfft(frames, axis=-1)
    power = (spec.real**2 + spec.imag**2) @ m
    return 10.0 * np.log10(np.maximum(power, 1e-20))


class Distance:
    """spectral_distance to one master's excerpts, its levels measured once."""

    def __init__(self, master: np.ndarray, sample_rate: int):
        self.sample_rate = sample_rate
        self.levels = band_levels(master, sample_rate)
        self.floor = float(self.levels.max()) - DISTANCE_RANGE_DB
        self.use = self.levels > self.floor

    def __call__(self, out: np.ndarray) -> float:
        if not self.use.any():
            return 0.0
        a = np.maximum(band_levels(out, self.sample_rate), self.floor)
        return float(np.abs(a - self.levels)[self.use].mean())


def spectral_distance(out: np.ndarray, master: np.ndarray, sample_rate: int) -> float:
    """How far a render is from the master, excerpts [N, C, L] at the same places: the mean
    absolute difference of their mid and side 1/3-octave levels frame by frame (dB), over the
    master's audible frames and bands (within DISTANCE_RANGE_DB of its loudest)."""
    return Distance(master, sample_rate)(out)


def mix_descriptors(mix_char: dict, mix_lufs: float | None, sample_rate: int) -> dict:
    """What the adaptive lines read off a mix: its loudness (LUFS), block crest (dB), loudness
    spread (LU), width (side over mid above 200 Hz, dB) and tonal balance in the style's seven
    bumps (dB, style.project)."""
    from . import style

    centres = style.band_centres(sample_rate)
    basis = style.bump_basis(centres, style.BUMP_HZ)
    coef, _ = style.project(mix_char["tone"], centres, basis, sample_rate)
    width = mix_char["width"]
    return {
        "lufs": float(mix_lufs if mix_lufs is not None else mix_char["lufs"]),
        "crest": float(mix_char["crest"]),
        "spread": float(mix_char["spread"]),
        "width_db": float(np.clip(width[1:], -40, 20).mean()) if np.size(width) else 0.0,
        "tone": [float(c) for c in coef],
    }


@dataclass
class PairFit:
    """One pair identified: the chain's settings for it (engineer's units), the fitted EQ's
    response on the grid (dB, 0 dB where it does nothing) and the measured curve it was fitted
    to, the mix's descriptors, whether the compressor's timing was read, and the floor (the
    exact render with these settings against the master: 1/3-octave distance, dB)."""

    values: dict
    curve_db: np.ndarray
    measured_db: np.ndarray
    weight: np.ndarray
    descriptors: dict
    timing: bool
    compressed: bool
    floor_db: float
    eq_error_db: float


def _eq_gain_db(values: dict, mix_clips: np.ndarray, sample_rate: int) -> float:
    """How much louder (power, dB) the mix's mid comes out of the EQ `values`."""
    n = 4096
    x = np.asarray(mix_clips, np.float64).mean(axis=1)
    power = (np.abs(_stft(x, n)) ** 2).sum(axis=(0, 1))
    bins = np.maximum(np.arange(power.size) * sample_rate / n, 1.0)
    response = 10.0 ** (eq_response_db(values, bins, sample_rate) / 10.0)
    return float(10.0 * math.log10(max(np.sum(power * response), 1e-30) / max(np.sum(power), 1e-30)))


def _clip(key: str, value: float, sample_rate: int) -> float:
    low, high = TABLE.by_key[key].spec.bounds(sample_rate)
    return float(min(max(value, low), high))


def identify(mix, master, mix_char: dict, compressor: dict | None, floor: bool = True) -> PairFit:
    """The chain's settings for one aligned pair (mix, master: match.Analysis of the same
    excerpts; `compressor`: gain_trace.read_compressor's reading of them).

    The transfer estimate has its own bias on a given piece of music (the compressor's gain
    varies inside its frames, differently at different frequencies). So the excerpts are
    rendered with the settings found and the same estimate is made of that render: where the
    estimate of the render differs from the estimate of the master, the settings differ, and the
    EQ and width are corrected by that difference (CORRECTIONS times; output space mapping)."""
    from tonematch.models.chain.settings import Settings

    sr = mix.sample_rate
    tr = transfer(mix.clips, master.clips, sr)
    target_db, width = tr.curve_db, tr.width
    values = Settings.defaults(sr).values
    timing = compressed = False
    if compressor is not None and compressor.get("timing") != "no compression":
        compressed = True
        values["compressor.ratio"] = _clip("compressor.ratio", compressor["ratio"], sr)
        values["compressor.knee_db"] = _clip("compressor.knee_db", compressor.get("knee_db", 6.0), sr)
        if "attack_ms" in compressor and "release_ms" in compressor:
            timing = True
            values["compressor.attack_ms"] = _clip("compressor.attack_ms", compressor["attack_ms"], sr)
            values["compressor.release_ms"] = _clip("compressor.release_ms", compressor["release_ms"], sr)
    if compressor is not None and "limiter_release_ms" in compressor:
        values["limiter.release_ms"] = _clip("limiter.release_ms", compressor["limiter_release_ms"], sr)
    values["loudness.target_lufs"] = _clip("loudness.target_lufs", master.lufs, sr)
    values["limiter.ceiling_dbtp"] = _clip("limiter.ceiling_dbtp", min(master.true_peak_dbtp, 0.0), sr)
    eq_error = math.nan
    for step in range(CORRECTIONS + 1):
        eq, eq_error = fit_bands(target_db, tr.weight, tr.grid_hz, sr)
        values.update(eq)
        if compressed:  # read on the EQ'd mix at the mix's own level: the EQ's gain added back
            threshold = compressor["threshold_db"] + _eq_gain_db(eq, mix.clips, sr)
            values["compressor.threshold_db"] = _clip("compressor.threshold_db", threshold, sr)
        values["width.width"] = _clip("width.width", width, sr)
        if step == CORRECTIONS:
            break
        again = transfer(mix.clips, render_excerpts(values, mix, master), sr)
        target_db = eq_response_db(eq, tr.grid_hz, sr) + (tr.curve_db - again.curve_db)
        width = width * tr.width / max(again.width, 1e-3)
    fit = PairFit(
        values,
        eq_response_db(eq, tr.grid_hz, sr),
        tr.curve_db,
        tr.weight,
        mix_descriptors(mix_char, mix.lufs, sr),
        timing,
        compressed,
        math.nan,
        eq_error,
    )
    if floor:
        out = render_excerpts(values, mix, master)
        fit.floor_db = spectral_distance(out, master.clips, sr)
    return fit


def render_excerpts(values: dict, mix, master) -> np.ndarray:
    """The mix's excerpts [N, C, L] rendered end to end with `values`, at the loudness of the
    master's excerpts (the loudness of the whole master would not be theirs)."""
    from tonematch.models import excerpts
    from tonematch.models.chain.exact import render_array
    from tonematch.models.measure.loudness import integrated_loudness

    sr = mix.sample_rate
    s = settings_of(values, sr)
    target = integrated_loudness(excerpts.joined(master.clips), sr)
    if target is not None:
        s.values["loudness.target_lufs"] = _clip("loudness.target_lufs", target, sr)
    return excerpts.split(render_array(excerpts.joined(mix.clips), s, sr), mix.clips.shape[0])


def settings_of(values: dict, sample_rate: int):
    from tonematch.models.chain.settings import Settings

    s = Settings.defaults(sample_rate)
    s.values.update(values)
    return s


# -- the style: each group fixed or adaptive, by leave-one-out ----------------------------------------

MODEL_VERSION = 1
SHRINK = (0.0, 0.3, 1.0, 3.0)  # an adaptive line's slope is the OLS slope / (1 + g), g by leave-one-out
MARGIN = 0.15  # an adaptive model must predict the held-out pairs this much better (relative) than fixed
MIN_ADAPTIVE_PAIRS = 5  # fewer pairs: every group fixed (a line on four points says little)
GROUPS = ("eq", "compressor", "width", "loudness", "limiter")
MID_BUMPS = (2, 3, 4)  # the bumps at 254 Hz, 640 Hz and 1.6 kHz: the mids a balance is heard against
# What a setting's reading varies by anyway: an adaptive line must predict better than this
# (per pair, RMS) to be kept; within it the setting is fixed.
NOISE = {"eq": 0.1, "threshold": 0.5, "log_ratio": 0.05, "width_db": 0.1, "loudness": 0.1}


def _median(values) -> float:
    return float(np.median(np.asarray(values, np.float64)))


def _line(x: np.ndarray, y: np.ndarray, g: float) -> tuple[float, float, float]:
    """(slope, x mean, intercept): y ~ intercept + slope (x - x mean), the slope OLS / (1 + g), the
    intercept the median residual (one misread pair moves it little)."""
    xm = float(x.mean())
    sxx = float(((x - xm) ** 2).sum())
    slope = 0.0 if sxx < 1e-9 else float(((x - xm) * (y - y.mean())).sum() / (sxx * (1.0 + g)))
    return slope, xm, _median(y - slope * (x - xm))


def _loo(x: np.ndarray, y: np.ndarray, g: float | None) -> float:
    """Leave-one-out squared error of the line with shrinkage g (None: the median, fixed)."""
    n, err = len(y), 0.0
    for i in range(n):
        keep = np.arange(n) != i
        if g is None:
            pred = _median(y[keep])
        else:
            slope, xm, c = _line(x[keep], y[keep], g)
            pred = c + slope * (x[i] - xm)
        err += float((pred - y[i]) ** 2)
    return err


def adaptive_line(x, y, noise: float = 0.0) -> dict:
    """A setting y (per pair) as a function of one mix descriptor x: fixed (the median) or a line,
    whichever predicts held-out pairs better (leave one out; the line must win by MARGIN, and by
    more than `noise`^2 per pair: a setting that hardly varies is fixed)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    fixed = {"mode": "fixed", "value": _median(y), "slope": 0.0, "x_mean": float(x.mean()) if x.size else 0.0}
    if len(y) < MIN_ADAPTIVE_PAIRS:
        fixed["loo"] = {"fixed": None, "adaptive": None}
        return fixed
    e_fixed = _loo(x, y, None)
    e_best, g_best = min((_loo(x, y, g), g) for g in SHRINK)
    fixed["loo"] = {"fixed": e_fixed / len(y), "adaptive": e_best / len(y)}
    if e_best >= (1.0 - MARGIN) * e_fixed or e_fixed - e_best <= len(y) * noise**2:
        return fixed
    slope, xm, c = _line(x, y, g_best)
    return {"mode": "adaptive", "value": c, "slope": slope, "x_mean": xm, "loo": fixed["loo"]}


def line_value(line: dict, x: float) -> float:
    return float(line["value"] + line["slope"] * (x - line["x_mean"]))


def _bump_grid(bump_hz) -> np.ndarray:
    """[G, K] the style's bumps on the EQ grid."""
    from . import style

    return style.bump_basis(grid_hz(), bump_hz)


def _curve_error(pred: np.ndarray, truth: np.ndarray, weight: np.ndarray) -> float:
    """Weighted mean square (dB^2) of two EQ curves' difference, up to a constant."""
    w = weight / max(float(weight.sum()), 1e-12)
    d = pred - truth
    d = d - np.sum(w * d)
    return float(np.sum(w * d**2))


def _eq_model(fits: list[PairFit], masters_tone: np.ndarray, mode: str, bump_hz) -> dict:
    """An EQ model on these pairs: the median curve plus, per bump, a slope on the mix's own
    balance there ("adaptive": shrunk toward none by leave-one-out; "character": the character
    model's pull, style.shrunk_line's master = a mix + c, as a change of a - 1 per dB of the mix)."""
    from . import style

    curves = np.array([f.curve_db for f in fits])
    mix = relative_tone([f.descriptors["tone"] for f in fits])  # [n, K]
    basis = _bump_grid(bump_hz)
    w = np.median(np.array([f.weight for f in fits]), axis=0)
    sel = w > 0
    coef = np.linalg.lstsq(basis[sel] * np.sqrt(w[sel, None]), (curves[:, sel] * np.sqrt(w[sel])).T, rcond=None)[0].T
    coef = relative_tone(coef)
    slopes = np.zeros(mix.shape[1])
    if mode == "adaptive":
        for k in range(mix.shape[1]):
            line = adaptive_line(mix[:, k], coef[:, k], NOISE["eq"])
            slopes[k] = line["slope"]
    elif mode == "character":
        masters = relative_tone(masters_tone)
        for k in range(mix.shape[1]):
            a, _, _ = style.shrunk_line(mix[:, k], masters[:, k])
            slopes[k] = a - 1.0
    mean = mix.mean(axis=0)
    return {
        "mode": mode,
        "curve_db": np.median(curves - (basis @ (slopes[None] * (mix - mean)).T).T, axis=0),
        "weight": w,
        "slopes": slopes,
        "mix_mean": mean,
    }


def relative_tone(tone) -> np.ndarray:
    """Bump coefficients [..., K] relative to the mids (the mean of MID_BUMPS): a balance as an
    engineer hears it (bass and treble against the mids), and an EQ curve known up to a constant."""
    tone = np.asarray(tone, np.float64)
    return tone - tone[..., MID_BUMPS].mean(axis=-1, keepdims=True)


def eq_curve(model: dict, tone, bump_hz) -> np.ndarray:
    """The EQ curve (dB on the grid) an EQ model gives a mix of tonal balance `tone` (bumps)."""
    basis = _bump_grid(bump_hz)
    return np.asarray(model["curve_db"]) + basis @ (
        np.asarray(model["slopes"]) * (relative_tone(tone) - np.asarray(model["mix_mean"]))
    )


def _choose_eq(fits: list[PairFit], masters_tone: np.ndarray, bump_hz) -> tuple[dict, dict]:
    """(the EQ model the pairs prefer, leave-one-out error per mode, dB^2)."""
    n = len(fits)
    modes = ("fixed", "adaptive", "character") if n >= MIN_ADAPTIVE_PAIRS else ("fixed",)
    errors = {}
    for mode in modes:
        err = 0.0
        for i in range(n):
            keep = [j for j in range(n) if j != i]
            m = _eq_model([fits[j] for j in keep], masters_tone[keep], mode, bump_hz)
            err += _curve_error(eq_curve(m, fits[i].descriptors["tone"], bump_hz), fits[i].curve_db, m["weight"])
        errors[mode] = err / n
    best = "fixed"
    for mode in modes[1:]:
        better = errors[mode] < (1.0 - MARGIN) * errors["fixed"] and errors["fixed"] - errors[mode] > NOISE["eq"] ** 2
        if better and errors[mode] < errors[best]:
            best = mode
    return _eq_model(fits, masters_tone, best, bump_hz), errors


def _compressor_model(on: list[PairFit], pairs: int) -> dict:
    """The compressor: on where most pairs compress. Its threshold fixed in dBFS, or relative to
    the mix's loudness (fixed there, or following the mix's crest), whichever predicts held-out
    pairs best; the ratio fixed or following the crest; attack and release the medians of the
    pairs whose timing was read; the knee as read."""
    comp: dict = {"on": len(on) * 2 > pairs, "pairs": len(on), "mode": "fixed"}
    if not comp["on"]:
        return comp
    n = len(on)
    thr = np.array([f.values["compressor.threshold_db"] for f in on])
    lufs = np.array([f.descriptors["lufs"] for f in on])
    crest = np.array([f.descriptors["crest"] for f in on])
    rel = adaptive_line(crest, thr - lufs, NOISE["threshold"])
    if n >= 3:
        e_abs = _loo(np.zeros(n), thr, None) / n
        e_rel = rel["loo"]["adaptive"] if rel["mode"] == "adaptive" else _loo(crest, thr - lufs, None) / n
    else:
        e_abs, e_rel = math.inf, 0.0
    if e_abs < e_rel:
        threshold = {"mode": "fixed", "value": _median(thr), "slope": 0.0, "x_mean": 0.0, "reference": "dBFS"}
    else:
        threshold = dict(rel, reference="mix loudness")
    threshold["loo"] = {"dBFS": e_abs, "mix loudness": e_rel}
    ratio = adaptive_line(crest, np.log([f.values["compressor.ratio"] for f in on]), NOISE["log_ratio"])
    timed = [f for f in on if f.timing]

    def timing(name: str, default: float) -> float:
        return float(np.exp(_median(np.log([f.values[name] for f in timed])))) if timed else default

    comp.update(
        {
            "threshold": threshold,
            "log_ratio": ratio,
            "knee_db": _median([f.values["compressor.knee_db"] for f in on]),
            "timing_pairs": len(timed),
            "attack_ms": timing("compressor.attack_ms", 10.0),
            "release_ms": timing("compressor.release_ms", 150.0),
            "mode": "adaptive" if "adaptive" in (threshold["mode"], ratio["mode"]) else "fixed",
        }
    )
    return comp


def _subset(a, count: int):
    """`count` excerpts of an analysis (match.Analysis) spread over its inner ones (the first is
    often an intro), as a shallow copy."""
    from dataclasses import replace

    n = a.clips.shape[0]
    pick = np.unique(np.linspace(0, n - 1, count + 2)[1:-1].round().astype(int)) if n > count else np.arange(n)
    return replace(a, clips=a.clips[pick])


def consensus(groups: dict, rows: list, sample_rate: int) -> dict:
    """The fixed parts of the dynamics chosen on exact renders: the limiter's release and ceiling
    and, where the compressor is fixed, the compressor. Each pair's reading is a reading of the
    same chain through its own music, and the readings scatter (a compressor or limiter of
    another design is explained differently by different music; the limiter's release read from
    a gain trace is its model's, not the chain's). So the medians, each pair's reading and no
    compression are tried on the pairs (CONSENSUS_PAIRS of them, CONSENSUS_EXCERPTS excerpts
    each, with the style's EQ and width, at each master's loudness), the one with the least
    1/3-octave distance to the masters kept, then moved a step along each setting where that
    measures better. rows: [(PairFit, mix, master)] (match.Analysis). Returns the groups."""
    comp, lim = dict(groups["compressor"]), dict(groups["limiter"])
    if len(rows) < 2:
        return groups
    pick = np.unique(np.linspace(0, len(rows) - 1, min(CONSENSUS_PAIRS, len(rows))).round().astype(int))
    use = [(rows[i][0], _subset(rows[i][1], CONSENSUS_EXCERPTS), _subset(rows[i][2], CONSENSUS_EXCERPTS)) for i in pick]
    model = {"groups": groups, "bump_hz": list(BUMP_HZ_DEFAULT)}
    bases = [predict(model, fit.descriptors, sample_rate) for fit, _, _ in use]
    fixed = comp["on"]  # the compressor's settings are searched (its lines' values, their slopes kept)
    relative = fixed and comp["threshold"]["reference"] == "mix loudness"
    slopes = [comp["threshold"]["slope"], comp["log_ratio"]["slope"]] if fixed else [0.0, 0.0]

    def crest_offsets(fit) -> list[float]:
        """The pair's crest from the mean the threshold's and the ratio's lines are centred on."""
        return [fit.descriptors["crest"] - comp[key]["x_mean"] for key in ("threshold", "log_ratio")]

    def values(theta, fit, base, slope=None):
        v = dict(base)
        v["limiter.release_ms"] = _clip("limiter.release_ms", math.exp(theta[0]), sample_rate)
        v["limiter.ceiling_dbtp"] = _clip("limiter.ceiling_dbtp", theta[1], sample_rate)
        if fixed:
            if theta[2] is None:
                v["compressor.ratio"] = 1.0
                return v
            slope = slopes if slope is None else slope
            dx = crest_offsets(fit)
            thr = theta[2] + slope[0] * dx[0] + (fit.descriptors["lufs"] if relative else 0.0)
            v["compressor.threshold_db"] = _clip("compressor.threshold_db", thr, sample_rate)
            v["compressor.ratio"] = _clip("compressor.ratio", math.exp(theta[3] + slope[1] * dx[1]), sample_rate)
            for i, key in enumerate(("attack_ms", "release_ms")):
                v[f"compressor.{key}"] = _clip(f"compressor.{key}", math.exp(theta[4 + i]), sample_rate)
        else:
            v["compressor.ratio"] = 1.0
        return v

    distances = [Distance(master.clips, sample_rate) for _, _, master in use]

    def cost(theta, slope=None) -> float:
        total = 0.0
        for (fit, mix, master), base, distance in zip(use, bases, distances):
            total += distance(render_excerpts(values(theta, fit, base, slope), mix, master))
        return total / len(use)

    theta = [math.log(lim["release_ms"]), lim["ceiling_dbtp"]]
    if fixed:
        theta += [
            comp["threshold"]["value"],
            comp["log_ratio"]["value"],
            math.log(comp["attack_ms"]),
            math.log(comp["release_ms"]),
        ]
    cands = [theta] + [[math.log(ms)] + theta[1:] for ms in CONSENSUS_LIMITER_MS]
    scores = [cost(c) for c in cands]
    best_cost, best = min(zip(scores, range(len(cands))))
    best = list(cands[best])
    record = {"medians": scores[0]}
    for above in CONSENSUS_CEILING_DB:  # a limiter's true peaks land a little under its ceiling
        trial = [best[0], theta[1] + above] + best[2:]
        c = cost(trial)
        if c < best_cost:
            best_cost, best = c, trial
    if fixed:  # each pair's compressor, and none
        cands = [best[:2] + [None]]
        for fit, *_ in rows:
            if fit.compressed:  # its reading, as the lines' values at the mean crest
                dx = crest_offsets(fit)
                t = fit.values["compressor.threshold_db"] - (fit.descriptors["lufs"] if relative else 0.0)
                t -= slopes[0] * dx[0]
                r = math.log(fit.values["compressor.ratio"]) - slopes[1] * dx[1]
                timing = [math.log(fit.values[f"compressor.{k}"]) for k in ("attack_ms", "release_ms")]
                cands.append(best[:2] + [t, r] + (timing if fit.timing else best[4:]))
        scores = [cost(c) for c in cands]
        record["no compression"] = scores[0]
        i = int(np.argmin(scores))
        if scores[i] < (1.0 - CONSENSUS_MARGIN) * best_cost:  # the medians, unless clearly worse
            best_cost, best = scores[i], list(cands[i])
    for sweep in range(CONSENSUS_SWEEPS):
        for axis, step in enumerate(CONSENSUS_STEPS[: len(best)]):
            if best[axis] is None or (axis >= 2 and best[2] is None) or (sweep > 0 and axis < 2):
                continue  # the limiter's settings take one sweep, the compressor's two
            for sign in (1.0, -1.0):
                trial = list(best)
                trial[axis] += sign * step * 0.5**sweep
                c = cost(trial)
                if c < best_cost:
                    best_cost, best = c, trial
                    break
    record["chosen"] = best_cost
    lim.update(release_ms=float(math.exp(best[0])), ceiling_dbtp=float(best[1]))
    if fixed and best[2] is not None and any(slopes):  # the lines must earn their slopes on renders too
        flat = cost(best, [0.0, 0.0])
        record["without slopes"] = flat
        if flat <= (1.0 + CONSENSUS_MARGIN) * best_cost:
            slopes[:] = [0.0, 0.0]
            comp["mode"] = "fixed"
    if fixed:
        if best[2] is None:
            comp["on"] = False
            comp["mode"] = "fixed"
        else:
            comp["threshold"] = dict(comp["threshold"], value=float(best[2]), slope=float(slopes[0]))
            log_ratio = float(min(max(best[3], 0.0), math.log(20.0)))
            comp["log_ratio"] = dict(comp["log_ratio"], value=log_ratio, slope=float(slopes[1]))
            for key, slope in zip(("threshold", "log_ratio"), slopes):
                comp[key]["mode"] = "adaptive" if slope else "fixed"
            comp["attack_ms"], comp["release_ms"] = float(math.exp(best[4])), float(math.exp(best[5]))
    comp["consensus"] = record
    return dict(groups, compressor=comp, limiter=lim)


BUMP_HZ_DEFAULT = tuple(float(40.0 * 2.0 ** (k * 4.0 / 3.0)) for k in range(7))  # style.BUMP_HZ


def fit_model(fits: list[PairFit], masters_tone, sample_rate: int, names=None, audio=None) -> dict:
    """The settings style of identified pairs (JSON-ready: lists and floats)."""
    from . import style

    bump_hz = style.BUMP_HZ
    masters_tone = np.asarray(masters_tone, np.float64)
    groups: dict = {}
    eq, eq_errors = _choose_eq(fits, masters_tone, bump_hz)
    fixed_values, fixed_error = fit_bands(eq["curve_db"], eq["weight"], grid_hz(), sample_rate, prune=True)
    groups["eq"] = {
        "mode": eq["mode"],
        "curve_db": eq["curve_db"].tolist(),
        "weight": eq["weight"].tolist(),
        "slopes": eq["slopes"].tolist(),
        "mix_mean": eq["mix_mean"].tolist(),
        "values": {k: float(v) for k, v in fixed_values.items()},
        "fit_error_db": fixed_error,
        "loo": eq_errors,
    }
    on = [f for f in fits if f.compressed]
    groups["compressor"] = _compressor_model(on, len(fits))
    width_db = [20.0 * math.log10(max(f.values["width.width"], 1e-3)) for f in fits]
    groups["width"] = adaptive_line([f.descriptors["width_db"] for f in fits], width_db, NOISE["width_db"])
    groups["loudness"] = adaptive_line(
        [f.descriptors["lufs"] for f in fits], [f.values["loudness.target_lufs"] for f in fits], NOISE["loudness"]
    )
    groups["limiter"] = {
        "mode": "fixed",
        "ceiling_dbtp": _median([f.values["limiter.ceiling_dbtp"] for f in fits]),
        "release_ms": float(np.exp(_median(np.log([f.values["limiter.release_ms"] for f in fits])))),
    }
    if audio is not None:
        groups = consensus(groups, [(f, mix, master) for f, (mix, master) in zip(fits, audio)], sample_rate)
    floors = [f.floor_db for f in fits if math.isfinite(f.floor_db)]
    return {
        "version": MODEL_VERSION,
        "sample_rate": int(sample_rate),
        "bump_hz": [float(f) for f in bump_hz],
        "groups": groups,
        "pairs": [
            {"name": str(name), "floor_db": f.floor_db, "eq_error_db": f.eq_error_db}
            for name, f in zip(names or [f"pair {i + 1}" for i in range(len(fits))], fits)
        ],
        "floor_db": float(np.mean(floors)) if floors else None,
    }


def predict(model: dict, descriptors: dict, sample_rate: int, eq_only: bool = False) -> dict:
    """The chain's settings (engineer's units, every key of the table) the style sets for a mix
    of these descriptors (mix_descriptors); `eq_only`: the fixed EQ, width and limiter only (the
    compressor off, the loudness the table's default)."""
    from tonematch.models.chain.settings import Settings

    g = model["groups"]
    values = Settings.defaults(sample_rate).values
    eq = g["eq"]
    if eq_only:
        values.update(eq["values"])
        values["width.width"] = 10.0 ** (g["width"]["value"] / 20.0)
        values["limiter.ceiling_dbtp"] = g["limiter"]["ceiling_dbtp"]
        values["limiter.release_ms"] = g["limiter"]["release_ms"]
        return {k: _clip(k, v, sample_rate) for k, v in values.items()}
    if eq["mode"] == "fixed":
        values.update(eq["values"])
    else:
        curve = eq_curve(eq, descriptors["tone"], model["bump_hz"])
        weight = np.asarray(eq["weight"], np.float64).copy()
        weight[grid_hz() > 0.45 * sample_rate] = 0.0
        values.update(fit_bands(curve, weight, grid_hz(), sample_rate, prune=True)[0])
    comp = g["compressor"]
    if comp["on"]:
        thr = comp["threshold"]
        threshold = line_value(thr, descriptors["crest"])
        if thr["reference"] == "mix loudness":
            threshold += descriptors["lufs"]
        values["compressor.threshold_db"] = threshold
        values["compressor.ratio"] = math.exp(line_value(comp["log_ratio"], descriptors["crest"]))
        for name in ("attack_ms", "release_ms", "knee_db"):
            values[f"compressor.{name}"] = comp[name]
    values["width.width"] = 10.0 ** (line_value(g["width"], descriptors["width_db"]) / 20.0)
    values["loudness.target_lufs"] = line_value(g["loudness"], descriptors["lufs"])
    values["limiter.ceiling_dbtp"] = g["limiter"]["ceiling_dbtp"]
    values["limiter.release_ms"] = g["limiter"]["release_ms"]
    return {k: _clip(k, v, sample_rate) for k, v in values.items()}


# -- fitting and mastering with a style (style.py calls these) ----------------------------------------


def identify_pair(p) -> PairFit:
    """Identify a style.PairData (its compressor already read): sets p.fit and p.settings."""
    p.fit = identify(p.mix, p.master, p.mix_char, p.compressor)
    p.settings = settings_of(p.fit.values, p.mix.sample_rate)
    return p.fit


def master_tone(p) -> np.ndarray:
    """The master's tonal balance in the style's bumps (what the character model reads)."""
    from . import style

    sr = p.master.sample_rate
    centres = style.band_centres(sr)
    return style.project(p.master_char["tone"], centres, style.bump_basis(centres, style.BUMP_HZ), sr)[0]


def attach(fitted, data: list) -> None:
    """Fit the settings style of identified pairs (style.PairData with `fit`) onto a style.Style."""
    rows = [p for p in data if getattr(p, "fit", None) is not None]
    if not rows:
        return
    fitted.settings = fit_model(
        [p.fit for p in rows],
        [master_tone(p) for p in rows],
        rows[0].mix.sample_rate,
        [p.name for p in rows],
        [(p.mix, p.master) for p in rows],
    )


def choose_settings(mix, fitted, options):
    """(settings, notes, target) for a mix: the settings the style predicts for it, then the
    run's loudness and ceiling where the user sets them, groups and amount (no refinement: the
    style's settings are the engineer's own). The target's excerpts are the mix rendered with
    them, so a report's style-target curve shows what the style does."""
    from dataclasses import replace

    from tonematch.models import excerpts
    from tonematch.models.chain.exact import render_array

    from . import character, match

    sr = mix.sample_rate
    mix_char = character.character_of(mix.clips, sr, mix.true_peak_ratio)
    values = predict(fitted.settings, mix_descriptors(mix_char, mix.lufs, sr), sr)
    settings = settings_of(values, sr)
    if not fitted.settings["groups"]["compressor"]["on"]:
        settings.values["compressor.ratio"] = 1.0
    target = match.Target(
        None, values["loudness.target_lufs"], values["limiter.ceiling_dbtp"], sr, mix.clips, name=f"style {fitted.name}"
    )
    lufs, ceiling = match.loudness_and_ceiling(options, target)
    if options.target_lufs is None and options.platform is None:
        lufs = values["loudness.target_lufs"]
    if options.ceiling_dbtp is None and options.platform is None:
        ceiling = values["limiter.ceiling_dbtp"]
    notes = {"start": "style", "style": fitted.name, "target_lufs": float(lufs), "settings_from": "style settings"}
    settings, notes = match.finish(settings, mix, target, replace(options, refine=False), notes)
    settings.values["loudness.target_lufs"] = float(lufs)
    settings.values["limiter.ceiling_dbtp"] = float(ceiling)
    target.lufs, target.true_peak_dbtp = float(lufs), float(ceiling)
    rendered = render_array(excerpts.joined(mix.clips), settings, sr)
    target.clips = excerpts.split(rendered, mix.clips.shape[0])
    return settings, notes, target


# -- a style file's settings, checked on load ----------------------------------------------------------


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def _line_problem(line, name: str, low: float, high: float) -> str | None:
    if not isinstance(line, dict) or line.get("mode") not in ("fixed", "adaptive"):
        return f"its {name} is not a fixed or adaptive line"
    for key in ("value", "slope", "x_mean"):
        if not _number(line.get(key)):
            return f"its {name}'s {key} is not a number"
    if not low <= float(line["value"]) <= high or abs(float(line["slope"])) > 10.0:
        return f"its {name} lies outside {low:g} .. {high:g} (or its slope beyond +-10)"
    return None


def problem(model) -> str | None:
    """Why a style file's settings model cannot be used (its shape, numbers and ranges), or None."""
    if not isinstance(model, dict) or model.get("version") != MODEL_VERSION:
        return f"its settings are not version {MODEL_VERSION} settings"
    g = model.get("groups")
    if not isinstance(g, dict) or any(name not in g for name in GROUPS):
        return "its settings lack a group"
    bumps = model.get("bump_hz")
    if not isinstance(bumps, list) or len(bumps) < 2 or not all(_number(b) and 10 < b < 30000 for b in bumps):
        return "its settings' bumps are not frequencies"
    eq, n = g["eq"], len(grid_hz())
    if not isinstance(eq, dict) or eq.get("mode") not in ("fixed", "adaptive", "character"):
        return "its EQ is not fixed, adaptive or character"
    for key, size, low, high in (
        ("curve_db", n, -60.0, 60.0),
        ("weight", n, 0.0, 1.0),
        ("slopes", len(bumps), -10.0, 10.0),
        ("mix_mean", len(bumps), -100.0, 100.0),
    ):
        v = eq.get(key)
        if not isinstance(v, list) or len(v) != size or not all(_number(x) and low <= x <= high for x in v):
            return f"its EQ's {key} is not {size} numbers in {low:g} .. {high:g}"
    values = eq.get("values")
    if not isinstance(values, dict) or any(not str(k).startswith("eq.") for k in values):
        return "its EQ's values are not EQ settings"
    try:
        TABLE.validate(dict(values))
    except Exception as exc:  # noqa: BLE001 - TonematchError names the key
        return f"its EQ: {exc}"
    comp = g["compressor"]
    if not isinstance(comp, dict) or not isinstance(comp.get("on"), bool):
        return "its compressor is not an object saying whether it is on"
    if comp["on"]:
        thr = comp.get("threshold")
        bad = _line_problem(thr, "threshold", -100.0, 50.0) or _line_problem(
            comp.get("log_ratio"), "ratio", 0.0, math.log(20.0)
        )
        if bad:
            return bad
        if thr.get("reference") not in ("dBFS", "mix loudness"):
            return "its threshold is neither in dBFS nor relative to the mix's loudness"
        for key in ("attack_ms", "release_ms", "knee_db"):
            spec = TABLE.by_key[f"compressor.{key}"].spec
            if not _number(comp.get(key)) or not spec.low <= comp[key] <= spec.high:
                return f"its compressor's {key} is not a number in {spec.low:g} .. {spec.high:g}"
    bad = _line_problem(g["width"], "width", -40.0, 20.0) or _line_problem(g["loudness"], "loudness", -70.0, 10.0)
    if bad:
        return bad
    lim = g["limiter"]
    if not isinstance(lim, dict) or not _number(lim.get("ceiling_dbtp")) or not _number(lim.get("release_ms")):
        return "its limiter is not a ceiling and a release"
    if not -70.0 <= lim["ceiling_dbtp"] <= 20.0 or not 0.1 <= lim["release_ms"] <= 100000.0:
        return "its limiter's ceiling or release is out of range"
    return None


# -- in words (style show) -----------------------------------------------------------------------------


def _hz(f: float) -> str:
    return f"{f / 1000:.1f} kHz" if f >= 1000 else f"{f:.0f} Hz"


def _ms(v: float) -> str:
    return f"{v:.1f} ms" if v < 10 else f"{v:.0f} ms"


def _signed(v: float, unit: str) -> str:
    return f"{v:+.1f} {unit}".replace("-", "\u2212")


def _per(line: dict, unit: str, descriptor: str, descriptor_unit: str) -> str:
    """'and 0.5 dB more per dB of the mix's crest above 12.0 dB' for an adaptive line."""
    s = line["slope"]
    more = "more" if s >= 0 else "less"
    return f", {abs(s):.2f} {unit} {more} per {descriptor_unit} of the mix's {descriptor} above {line['x_mean']:.1f}"


def describe_lines(model: dict, check: dict | None = None) -> list[str]:
    """The settings style in an engineer's words: per group, fixed (the same on every mix) or
    adapting (following the mix, and how), with every setting in its unit."""
    from .explain import eq_moves

    g = model["groups"]
    pairs = len(model.get("pairs", []))
    lines = [
        f"your chain, read from each of {pairs} pairs; per group either fixed (the same on every mix) or "
        "adapting to the mix, whichever predicted left-out pairs better:"
    ]
    eq = g["eq"]
    moves = eq_moves(settings_of(eq["values"], model.get("sample_rate", 44100))) or ["flat"]
    if eq["mode"] == "fixed":
        lines.append("  EQ, fixed: " + ", ".join(moves))
    else:
        how = "its own" if eq["mode"] == "adaptive" else "your target balance (the character model)"
        lines.append(f"  EQ, adapting to the mix's tonal balance ({how}); on your average mix: " + ", ".join(moves))
        for f, s in zip(model["bump_hz"], eq["slopes"]):
            if abs(s) >= 0.1:
                lines.append(
                    f"    around {_hz(f)}: {abs(s):.2f} dB {'more' if s > 0 else 'less'} EQ per dB the mix has "
                    "there above your average mix"
                )
    comp = g["compressor"]
    if not comp["on"]:
        lines.append(f"  compressor, fixed: off (compression read on {comp['pairs']} of the pairs only)")
    else:
        thr, ratio = comp["threshold"], comp["log_ratio"]
        if thr["reference"] == "dBFS":
            where = f"threshold {_signed(thr['value'], 'dBFS')}"
        else:
            where = f"threshold {_signed(thr['value'], 'dB')} from the mix's loudness"
        if thr["mode"] == "adaptive":
            where += _per(thr, "dB", "crest", "dB")
        r = f"ratio {math.exp(ratio['value']):.1f}:1"
        if ratio["mode"] == "adaptive":
            r += f" ({ratio['slope'] * 100:+.0f} % per dB of the mix's crest above {ratio['x_mean']:.1f} dB)"
        timing = (
            f"attack {_ms(comp['attack_ms'])}, release {_ms(comp['release_ms'])} (read on {comp['timing_pairs']} pairs)"
            if comp["timing_pairs"]
            else "attack and release not readable from the pairs (10 ms, 150 ms used)"
        )
        state = "adapting to the mix" if comp["mode"] == "adaptive" else "fixed"
        lines.append(f"  compressor, {state}: {r}, {where}, {timing}, knee {comp['knee_db']:.0f} dB")
    w = g["width"]
    width = 10.0 ** (w["value"] / 20.0)
    text = f"  stereo width, {'fixed' if w['mode'] == 'fixed' else 'adapting to the mix'}: {width:.2f}"
    text += f" (side {_signed(w['value'], 'dB')})"
    if w["mode"] == "adaptive":
        text += _per(w, "dB", "side level over its mid", "dB")
    lines.append(text)
    loud = g["loudness"]
    text = f"  loudness, {'fixed' if loud['mode'] == 'fixed' else 'adapting to the mix'}: {loud['value']:.1f} LUFS"
    if loud["mode"] == "adaptive":
        text += _per(loud, "LU", "loudness", "LU") + " LUFS"
    lines.append(text)
    lim = g["limiter"]
    lines.append(f"  limiter, fixed: ceiling {_signed(lim['ceiling_dbtp'], 'dBTP')}, release {_ms(lim['release_ms'])}")
    if model.get("floor_db") is not None:
        lines.append(
            f"how closely this chain can reproduce your masters at all (each pair with its own settings): "
            f"{model['floor_db']:.2f} dB on average (1/3-octave levels of mid and side, frame by frame)"
        )
    if check is not None:
        text = (
            f"held-out check: spectral distance to your own masters (MR-STFT, lower is closer) "
            f"{check['style']['mrstft']:.3f} with the style, {check['generic']['mrstft']:.3f} with generic matching "
            f"({100 * check['mrstft_gain']:.0f} % closer)"
        )
        if "floor" in check:
            text += f", {check['floor']['mrstft']:.3f} with each held-out pair's own settings (the floor)"
        lines.append(
            text + f"; loudness error {check['style']['lufs_error']:.2f} LU, crest error "
            f"{check['style']['crest_error']:.2f} dB"
        )
    return lines


def render_own(mix: np.ndarray, sample_rate: int, fit: PairFit) -> np.ndarray:
    """A whole mix [C, T] rendered with its own pair's identified settings (the floor's render)."""
    from tonematch.models.chain.exact import render_array

    return render_array(mix, settings_of(fit.values, sample_rate), sample_rate)


def excerpt_mrstft(out: np.ndarray, master: np.ndarray, sample_rate: int) -> float:
    """MR-STFT (inference/quality.py) of a render against the master [C, T], on the excerpts the
    masters are analysed on, one excerpt at a time (the mean: a sixth of the memory of the joined
    excerpts, 150 MB rather than 0.9 GB)."""
    from tonematch.models import excerpts

    from . import match, quality

    a = excerpts.excerpts(out, sample_rate, match.EXCERPT_S, match.MAX_EXCERPTS)
    b = excerpts.excerpts(master, sample_rate, match.EXCERPT_S, match.MAX_EXCERPTS)
    return float(np.mean([quality.mrstft(x, y) for x, y in zip(a, b)]))
