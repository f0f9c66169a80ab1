"""What one aligned pair says about the chain's EQ and width: the transfer function mix -> master.

Mix and master are aligned (data/align.py), and the chain (EQ -> compressor -> width ->
loudness -> limiter) multiplies the EQ'd mix by broadband gains only, so, frame by frame, the
master's mid spectrum is H(f) g(t) times the mix's: H the EQ and g the compressor, loudness and
limiter gains. H is estimated from the mids' cross-spectra with g taken out (alternating least
squares, float64); the width is the side's transfer over the mid's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FRAME_S = 0.093  # the transfer estimate's frames (4096 samples at 44.1 kHz), hop a quarter
SHORT_S = 0.0116  # the gain trace's frames (512 samples at 44.1 kHz), hop a quarter
GRID_OCTAVES = 1.0 / 12.0  # the EQ curve's grid
GRID_LOW_HZ, GRID_HIGH_HZ = 30.0, 16000.0
PASSES = 3  # estimates of the transfer after the first, each with the master divided by the last gain trace
QUIET_DB = 70.0  # grid bands this far under the loudest (in the mix) say too little about the EQ
WIDTH_LOW_HZ = 200.0  # the width is read above this (below, masters are near mono whatever the width)


def grid_hz() -> np.ndarray:
    """Centres of the EQ curve's 1/12-octave grid, 30 Hz .. 16 kHz (the same at every rate: a
    rate's top, 0.45 x rate, bounds what a pair says, by its weights)."""
    n = int(math.floor(math.log2(GRID_HIGH_HZ / GRID_LOW_HZ) / GRID_OCTAVES + 1e-9)) + 1
    return GRID_LOW_HZ * 2.0 ** (np.arange(n) * GRID_OCTAVES)


def stft(x: np.ndarray, n: int) -> np.ndarray:
    """[N, L] -> [N, T, n // 2 + 1] Hann-windowed spectra, hop n // 4 (float64 in, complex128 out)."""
    from tonematch.models.measure.spectrum import centred_frames, hann

    return np.fft.rfft(centred_frames(np.asarray(x, np.float64), n, n // 4) * hann(n), axis=-1)


@dataclass
class Transfer:
    """What one aligned pair says about the chain, on the grid (grid_hz): the EQ curve |H| in dB
    (up to a constant), how much the mix says there (weight, 0..1) and the width."""

    grid_hz: np.ndarray
    curve_db: np.ndarray
    weight: np.ndarray
    width: float


def _gain_trace(y: np.ndarray, xe: np.ndarray, short: int) -> np.ndarray:
    """Per sample, the master's level over the EQ'd mix's [N, L] (linear): power ratios on short
    Hann frames (hop a quarter), interpolated; silence says nothing (held within 30 dB)."""
    hop = short // 4
    from tonematch.models.measure.spectrum import centred_frames, hann

    window = hann(short) ** 2

    py = (centred_frames(y, short, hop) ** 2 * window).sum(-1)
    px = (centred_frames(xe, short, hop) ** 2 * window).sum(-1)
    trace = 10.0 * np.log10(np.maximum(py, 1e-30) / np.maximum(px, 1e-30))
    middle = np.median(trace)
    trace = np.clip(trace, middle - 30.0, middle + 30.0)
    centres = np.arange(trace.shape[-1]) * hop
    samples = np.arange(y.shape[-1])
    return np.stack([10.0 ** (np.interp(samples, centres, t) / 20.0) for t in trace])


@dataclass
class Estimate:
    """The filter mix -> master on the mids of aligned excerpts [N, L] (an H1 estimate on the
    loud frames, the master divided by the gain trace the previous estimate gives): its impulse
    response `h` (centred at n // 2), the master's level over the filtered mix per sample
    (`gain`, linear [N, L]: the compressor's, loudness and limiter gains) and what the last
    estimate rests on (the mix's spectra `fx`, their power `px`, the loud frames, sxx)."""

    n: int
    h: np.ndarray
    gain: np.ndarray
    fx: np.ndarray
    px: np.ndarray
    loud: np.ndarray
    sxx: np.ndarray


def estimate(xm: np.ndarray, ym: np.ndarray, sample_rate: int) -> Estimate:
    """The EQ filter and the gain trace of mids xm -> ym ([N, L] float64, aligned); PASSES
    estimates of the filter, each with the master divided by the last gain trace."""
    from scipy.signal import fftconvolve
    from scipy.signal.windows import tukey

    n = 1 << int(round(math.log2(FRAME_S * sample_rate)))
    short = 1 << int(round(math.log2(SHORT_S * sample_rate)))
    length = xm.shape[-1]
    fx = stft(xm, n)
    px = np.abs(fx) ** 2
    energy = px.sum(-1)
    loud = energy > 1e-4 * energy.max()
    sxx = np.maximum(px[loud].sum(0), 1e-30)
    taper = tukey(n, 0.5)
    gain = np.ones_like(ym)
    h = np.zeros(n)
    for _ in range(PASSES):
        fy = stft(ym / gain, n)
        sxy = (np.conj(fx[loud]) * fy[loud]).sum(0)
        h = np.roll(np.fft.irfft(sxy / sxx, n=n), n // 2) * taper
        xe = fftconvolve(xm, h[None], axes=-1)[:, n // 2 : n // 2 + length]
        gain = _gain_trace(ym, xe, short)
    return Estimate(n, h, gain, fx, px, loud, sxx)


def mids(clips: np.ndarray) -> np.ndarray:
    """The mid of excerpts [N, C, L] in float64 [N, L] (what `estimate` reads)."""
    return np.asarray(clips, np.float64).mean(axis=1)


def transfer(mix: np.ndarray, master: np.ndarray, sample_rate: int, e: Estimate | None = None) -> Transfer:
    """Estimate the EQ and the width from aligned excerpts [N, C, L] (mix and master); `e`: the
    estimate of these excerpts' mids when the caller has it (gain_trace reads the same)."""
    mix, master = np.asarray(mix, np.float64), np.asarray(master, np.float64)
    ym = mids(master)
    e = e if e is not None else estimate(mids(mix), ym, sample_rate)
    n, h, gain, fx, px, loud, sxx = e.n, e.h, e.gain, e.fx, e.px, e.loud, e.sxx
    fy = stft(ym / gain, n)
    sxy = (np.conj(fx[loud]) * fy[loud]).sum(0)
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
        fxs = stft(xs, n)[loud][:, above] * hf[above]
        fys = stft(ys / gain, n)[loud][:, above]
        side = float(np.sum(np.abs(fxs) ** 2))
        if side > 1e-6 * float(np.sum(sxx[above] * np.abs(hf[above]) ** 2)):
            width = float(np.clip((np.conj(fxs) * fys).real.sum() / side, 0.0, 2.0))
    return Transfer(grid, curve, weight, width)
