"""The EQ's bands fitted to a curve known up to a constant (bounded least squares, float64)."""

from __future__ import annotations

import math

import numpy as np

from tonematch.models.chain import TABLE
from tonematch.models.chain.biquads import design, power_response
from tonematch.models.chain.params import unit_mapping

EQ_BANDS = ("low_shelf", "peak1", "peak2", "peak3", "peak4", "high_shelf")
EQ_NAMES = ("gain_db", "freq_hz", "q")
EQ_STEPS = 100  # evaluations of the band fit's least squares
EQ_GAIN_PENALTY = 2e-3  # per dB^2 of band gain: of two equal fits, the smaller boosts
PRUNE_DB = 0.08  # a band whose removal raises the fit's RMS error by less than this (dB) is left out


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
