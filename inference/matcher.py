"""The non-learned reference matcher: the same chain, set from measurements alone.

The baseline the network has to beat, and the fallback when no model is at hand.
* EQ: the chain's six gain bands (low shelf, four peaks, high shelf) fitted by bounded L-BFGS-B
  on their exact biquad responses (autograd gradients) to the difference of tonal balance
  (reference minus mix, the refinement's own measurement, character.py). Only the shape is
  matched; level is the loudness stage's job.
* Width: the side/mid energy ratio of the reference.
Compressor neutral (ratio 1), high-pass off; loudness and ceiling are the run's (match.finish sets
them for every start alike).
"""

from __future__ import annotations

import math

import autograd
import autograd.numpy as anp
import numpy as np
from scipy.optimize import minimize

from tonematch.models import excerpts
from tonematch.models.chain import TABLE
from tonematch.models.chain.biquads import design, power_response
from tonematch.models.chain.params import unit_mapping
from tonematch.models.chain.settings import Settings
from tonematch.models.measure.stereo import width as side_mid_ratio

from . import character

FIT_BANDS = ("low_shelf", "peak1", "peak2", "peak3", "peak4", "high_shelf")
STEPS = 100  # L-BFGS-B iterations
GAIN_PENALTY = 1e-3  # per dB^2: of two equally good fits, prefer the one with smaller boosts


def _specs(sample_rate: int):
    """Per fitted band, the (gain, freq, q) specs, and their start values in [0, 1]."""
    specs = [[TABLE.by_key[f"eq.{band}.{name}"].spec for name in ("gain_db", "freq_hz", "q")] for band in FIT_BANDS]
    start = np.array([[s.to_unit(s.default_value(sample_rate), sample_rate) for s in row] for row in specs])
    return specs, start.astype(np.float64)


def fit_eq(curve_db: np.ndarray, grid: np.ndarray, sample_rate: int) -> dict[str, float]:
    """EQ band values (physical) whose summed response best follows `curve_db` up to a constant
    (bounded L-BFGS-B in the table's [0, 1] space, gradients of the exact biquad responses from
    autograd)."""
    specs, start = _specs(sample_rate)
    target = np.asarray(curve_db, dtype=np.float64)
    peaks = slice(1, len(FIT_BANDS) - 1)
    physical = unit_mapping(specs, sample_rate, anp)  # [bands, (gain, freq, q)], as the table maps

    def response_db(v):
        coefs = anp.concatenate(
            [
                design("low_shelf", v[:1, 1], v[:1, 2], v[:1, 0], sample_rate, anp),
                design("peak", v[peaks, 1], v[peaks, 2], v[peaks, 0], sample_rate, anp),
                design("high_shelf", v[-1:, 1], v[-1:, 2], v[-1:, 0], sample_rate, anp),
            ]
        )
        power = power_response(coefs, grid, sample_rate)
        return 10.0 * anp.sum(anp.log10(anp.maximum(power, 1e-18)), axis=0)

    def loss(flat):
        values = physical(anp.reshape(flat, start.shape))
        residual = response_db(values) - target
        return anp.mean((residual - anp.mean(residual)) ** 2) + GAIN_PENALTY * anp.mean(values[:, 0] ** 2)

    def value_and_grad(flat):
        value, grad = autograd.value_and_grad(loss)(np.asarray(flat, dtype=np.float64))
        return float(value), np.asarray(grad, dtype=np.float64)

    result = minimize(
        value_and_grad,
        start.ravel(),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, 1.0)] * start.size,
        options={"maxiter": STEPS},
    )
    values = physical(result.x.reshape(start.shape))
    return {
        f"eq.{band}.{name}": float(values[i, j])
        for i, band in enumerate(FIT_BANDS)
        for j, name in enumerate(("gain_db", "freq_hz", "q"))
    }


def tone_curve(mix_clips: np.ndarray, ref_clips: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(band centres in Hz, reference minus mix tonal balance in dB) over the matched range."""
    mix = character.character_of(mix_clips, sample_rate)["tone"]
    ref = character.character_of(ref_clips, sample_rate)["tone"]
    frames_hz = character.analyse(mix_clips[:, :, :1024], sample_rate).centers_hz
    keep = character.tone_range(frames_hz, sample_rate)
    return frames_hz[keep], (ref - mix)[keep]


def matcher_settings(audio: np.ndarray, reference: np.ndarray, sample_rate: int) -> Settings:
    """Settings that move `audio` [C, T] towards `reference` [C', T'] (same rate) without learning."""
    settings = Settings.defaults(sample_rate)  # neutral chain, high-pass off
    grid, curve = tone_curve(
        excerpts.excerpts(audio, sample_rate), excerpts.excerpts(reference, sample_rate), sample_rate
    )
    settings.values.update(fit_eq(curve, grid, sample_rate))
    ratio_in = side_mid_ratio(audio) if audio.shape[0] == 2 else None
    ratio_ref = side_mid_ratio(reference) if reference.shape[0] == 2 else None
    if ratio_in and ratio_ref is not None and ratio_in > 1e-6:
        settings.values["width.width"] = float(np.clip(math.sqrt(ratio_ref / ratio_in), 0.0, 2.0))
    settings.validate()
    return settings
