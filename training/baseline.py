"""Non-learned reference matching with the same chain: the baseline the network has to beat.

* EQ: the chain's six gain bands (low shelf, four peaks, high shelf) fitted to the difference of
  the 1/3-octave-smoothed average spectra (reference minus input) by gradient steps on the bands'
  exact biquad responses. Only the shape is matched; level is the loudness stage's job.
* Width: side/mid energy ratio of the reference.
* Loudness and ceiling: the reference's integrated loudness and true peak.
Compressor neutral (ratio 1), high-pass off.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy.signal import welch

from tonematch.models.chain import TABLE
from tonematch.models.chain.biquads import design, response
from tonematch.models.chain.settings import Settings

from . import metrics

FIT_BANDS = ("low_shelf", "peak1", "peak2", "peak3", "peak4", "high_shelf")
GRID_POINTS = 64
GRID_LOW_HZ, GRID_HIGH_HZ = 30.0, 16000.0
STEPS, LEARNING_RATE = 150, 0.1
GAIN_PENALTY = 1e-3  # per dB^2: of two equally good fits, prefer the one with smaller boosts


def _grid(sample_rate: int) -> np.ndarray:
    return np.geomspace(GRID_LOW_HZ, min(GRID_HIGH_HZ, 0.45 * sample_rate), GRID_POINTS)


def smoothed_spectrum_db(x: np.ndarray, sample_rate: int, grid: np.ndarray) -> np.ndarray:
    """Average power of the mid signal in 1/3-octave bands centred on `grid`, in dB."""
    freqs, power = welch(x.mean(axis=0), fs=sample_rate, nperseg=min(8192, x.shape[1]))
    out = np.empty(len(grid))
    for i, f in enumerate(grid):
        band = (freqs >= f * 2 ** (-1 / 6)) & (freqs <= f * 2 ** (1 / 6))
        if not band.any():  # narrower than a bin at low frequencies: the nearest bin
            band = np.abs(freqs - f) == np.abs(freqs - f).min()
        out[i] = 10.0 * math.log10(max(float(power[band].mean()), 1e-20))
    return out


def _ranges(sample_rate: int):
    """Per fitted band and (gain, freq, q): low, high, log-scale flag and start value in [0, 1]."""
    specs = [[TABLE.by_key[f"eq.{band}.{name}"].spec for name in ("gain_db", "freq_hz", "q")] for band in FIT_BANDS]
    bounds = torch.tensor([[s.bounds(sample_rate) for s in row] for row in specs], dtype=torch.float64)
    log = torch.tensor([[s.scale == "log" for s in row] for row in specs])
    start = torch.tensor([[s.to_unit(s.default_value(sample_rate), sample_rate) for s in row] for row in specs])
    return bounds[..., 0], bounds[..., 1], log, start.double()


def fit_eq(curve_db: np.ndarray, grid: np.ndarray, sample_rate: int) -> dict[str, float]:
    """EQ band values (physical) whose summed response best follows `curve_db` up to a constant."""
    low, high, log, start = _ranges(sample_rate)
    logits = torch.logit(start.clamp(0.02, 0.98)).requires_grad_()
    target = torch.as_tensor(curve_db, dtype=torch.float64)
    optimiser = torch.optim.Adam([logits], lr=LEARNING_RATE)
    peaks = slice(1, len(FIT_BANDS) - 1)

    # the log branch with harmless values on linear rows: where() would pass on their NaN gradient
    log_low = torch.where(log, low, torch.ones_like(low))
    log_ratio = torch.where(log, high / low, torch.ones_like(low))

    def physical(z):  # [bands, (gain, freq, q)], the parameter table's lin/log mapping
        u = torch.sigmoid(z)
        return torch.where(log, log_low * log_ratio**u, low + (high - low) * u)

    def response_db(v):
        coefs = torch.cat([
            design("low_shelf", v[0, 1], v[0, 2], v[0, 0], sample_rate)[None],
            design("peak", v[peaks, 1], v[peaks, 2], v[peaks, 0], sample_rate),
            design("high_shelf", v[-1, 1], v[-1, 2], v[-1, 0], sample_rate)[None],
        ])
        return 20.0 * torch.log10(response(coefs, grid, sample_rate).abs().clamp_min(1e-9)).sum(dim=0)

    for _ in range(STEPS):
        optimiser.zero_grad()
        values = physical(logits)
        residual = response_db(values) - target
        loss = (residual - residual.mean()).square().mean() + GAIN_PENALTY * values[:, 0].square().mean()
        loss.backward()
        optimiser.step()
    values = physical(logits.detach())
    return {
        f"eq.{band}.{name}": float(values[i, j])
        for i, band in enumerate(FIT_BANDS) for j, name in enumerate(("gain_db", "freq_hz", "q"))
    }


def _side_mid_ratio(x: np.ndarray) -> float | None:
    if x.shape[0] != 2:
        return None
    mid = float(np.mean((0.5 * (x[0] + x[1])) ** 2))
    side = float(np.mean((0.5 * (x[0] - x[1])) ** 2))
    return side / mid if mid > 1e-12 else None


def baseline_settings(audio: np.ndarray, reference: np.ndarray, sample_rate: int) -> Settings:
    """Settings that move `audio` [C, T] towards `reference` [C', T'] without any learning."""
    settings = Settings.defaults(sample_rate)  # neutral chain, high-pass off
    grid = _grid(sample_rate)
    curve = smoothed_spectrum_db(reference, sample_rate, grid) - smoothed_spectrum_db(audio, sample_rate, grid)
    settings.values.update(fit_eq(curve, grid, sample_rate))
    ratio_in, ratio_ref = _side_mid_ratio(audio), _side_mid_ratio(reference)
    if ratio_in and ratio_ref is not None and ratio_in > 1e-6:
        settings.values["width.width"] = float(np.clip(math.sqrt(ratio_ref / ratio_in), 0.0, 2.0))
    loudness = metrics.lufs(reference, sample_rate)
    if loudness > -70.0:  # a silent reference gives no target: keep the default
        settings.values["loudness.target_lufs"] = float(np.clip(loudness, -30.0, -6.0))
    settings.values["limiter.ceiling_dbtp"] = float(np.clip(metrics.true_peak_dbtp(reference), -6.0, 0.0))
    settings.validate()
    return settings
