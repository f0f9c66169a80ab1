"""Random "unmastering": undo what mastering typically does to a finished track.

The self-supervised task takes a mastered track, degrades it, and asks the model to get back to
the original. Each degradation is a named physical value so results can be inspected:

  tilt_db                 spectral tilt: -tilt/2 dB at the lows, +tilt/2 dB at the highs (1 kHz pivot)
  bass_db, treble_db      first-order low shelf (150 Hz) and high shelf (6 kHz) gains
  width                   side-signal gain (0 = mono, 1 = unchanged)
  expansion_ratio         downward expander ratio (1 = off): undoes dynamics control
  expansion_threshold_db  expander threshold relative to the input's RMS level
  level_db                overall gain, applied last so it is exactly the RMS change

Order: EQ, width, expansion, level.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy.signal import freqz, lfilter

NEUTRAL = {
    "tilt_db": 0.0,
    "bass_db": 0.0,
    "treble_db": 0.0,
    "width": 1.0,
    "expansion_ratio": 1.0,
    "expansion_threshold_db": -12.0,
    "level_db": 0.0,
}

TILT_PIVOT_HZ = 1000.0
BASS_HZ = 150.0
TREBLE_HZ = 6000.0
# Expander timing: RMS detector, then the gain opens fast (transients pass) and closes slowly.
DETECTOR_MS = 10.0
OPEN_MS = 2.0
CLOSE_MS = 80.0
MAX_EXPANSION_DB = 40.0  # deepest attenuation, so silence does not become -inf dB

# Probability that a group of parameters is left neutral, so the model also sees untouched inputs.
P_NEUTRAL = 0.2


def sample_degradation(rng: np.random.Generator) -> dict[str, float]:
    """Draw one random set of degradation parameters (plain floats, see NEUTRAL for the keys)."""
    p = dict(NEUTRAL)
    if rng.random() >= P_NEUTRAL:
        p["tilt_db"] = rng.uniform(-6.0, 6.0)
        p["bass_db"] = rng.uniform(-6.0, 6.0)
        p["treble_db"] = rng.uniform(-6.0, 6.0)
    if rng.random() >= P_NEUTRAL:
        p["width"] = rng.uniform(0.5, 1.5)
    if rng.random() >= P_NEUTRAL:
        p["expansion_ratio"] = rng.uniform(1.0, 2.5)
        p["expansion_threshold_db"] = rng.uniform(-24.0, -3.0)
    if rng.random() >= P_NEUTRAL:
        # Mixes usually sit well below their masters; a little louder is allowed too.
        p["level_db"] = rng.uniform(-15.0, 3.0)
    return {k: float(v) for k, v in p.items()}


def _shelf_coefficients(gain_db: float, corner_hz: float, sample_rate: int, high: bool):
    """First-order shelf by the bilinear transform with the corner prewarped.

    High shelf H(s) = (G s + wc sqrt(G)) / (s + wc sqrt(G)): 1 at DC, G at Nyquist, sqrt(G) at wc.
    A low shelf is G times the high shelf of 1/G.
    """
    g = 10.0 ** (gain_db / 20.0)
    gh = g if high else 1.0 / g
    k = math.tan(math.pi * min(corner_hz, 0.45 * sample_rate) / sample_rate)
    r = k * math.sqrt(gh)
    b = np.array([gh + r, r - gh])
    a = np.array([1.0 + r, r - 1.0])
    if not high:
        b = b * g
    return b / a[0], a / a[0]


def _equaliser_sections(sample_rate: int, p: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """(b, a) per active shelf of the EQ degradation, in cascade order."""
    sections = []
    if p["tilt_db"]:
        tb, ta = _shelf_coefficients(p["tilt_db"], TILT_PIVOT_HZ, sample_rate, high=True)
        sections.append((tb * 10.0 ** (-p["tilt_db"] / 40.0), ta))  # pivot stays at 0 dB
    if p["bass_db"]:
        sections.append(_shelf_coefficients(p["bass_db"], BASS_HZ, sample_rate, high=False))
    if p["treble_db"]:
        sections.append(_shelf_coefficients(p["treble_db"], TREBLE_HZ, sample_rate, high=True))
    return sections


def _equalise(x: np.ndarray, sample_rate: int, p: dict) -> np.ndarray:
    """All shelves as one cascade: multiplying the transfer functions costs one pass over the audio."""
    sections = _equaliser_sections(sample_rate, p)
    if not sections:
        return x
    b, a = np.array([1.0]), np.array([1.0])
    for sb, sa in sections:
        b, a = np.convolve(b, sb), np.convolve(a, sa)
    return lfilter(b, a, x, axis=-1)


def equaliser_response_db(params: dict, freqs_hz, sample_rate: int) -> np.ndarray:
    """The EQ degradation's magnitude response in dB at `freqs_hz`: what an EQ must take back.

    The training step adds it to the drawn chain's EQ curve to get the curve the network should
    apply to the degraded input (the tonal half of the self-supervised truth)."""
    p = {**NEUTRAL, **{k: float(v) for k, v in params.items()}}
    freqs = np.asarray(freqs_hz, dtype=np.float64)
    out = np.zeros(freqs.shape)
    for b, a in _equaliser_sections(sample_rate, p):
        _, h = freqz(b, a, worN=freqs, fs=sample_rate)
        out += 20.0 * np.log10(np.maximum(np.abs(h), 1e-12))
    return out


def _widen(x: np.ndarray, width: float) -> np.ndarray:
    if x.shape[0] != 2 or width == 1.0:
        return x  # mono (or multichannel) input: width does not apply
    mid = 0.5 * (x[0] + x[1])
    side = 0.5 * (x[0] - x[1]) * width
    return np.stack([mid + side, mid - side])


@numba.njit(cache=True)
def _expander_kernel(x, detector_coef, open_coef, close_coef, threshold_db, ratio, floor_db, initial_power):
    """Stereo-linked downward expander, one pass: RMS detector, gain computer, gain smoothing.

    The smoothing switches between opening (gain rising) and closing speeds, a nonlinear recursion
    that no lfilter can express; fusing the detector in saves passes over the audio.
    Returns the linear gain per frame. Starting from the level of the first few milliseconds
    (not from silence) keeps the segment's first frames from being pulled down.
    """
    channels, frames = x.shape
    gain = np.empty(frames)
    envelope = initial_power
    start_db = 10.0 * math.log10(initial_power + 1e-20)
    smoothed_db = max((ratio - 1.0) * min(start_db - threshold_db, 0.0), floor_db)
    for i in range(frames):
        power = 0.0
        for c in range(channels):
            power += x[c, i] * x[c, i]
        power /= channels
        envelope = power + detector_coef * (envelope - power)
        level_db = 10.0 * math.log10(envelope + 1e-20)
        target_db = max((ratio - 1.0) * min(level_db - threshold_db, 0.0), floor_db)
        coef = open_coef if target_db > smoothed_db else close_coef
        smoothed_db = target_db + coef * (smoothed_db - target_db)
        gain[i] = 10.0 ** (smoothed_db / 20.0)
    return gain


def _coef(ms: float, sample_rate: int) -> float:
    return math.exp(-1000.0 / (ms * sample_rate))


def expander_gain(x: np.ndarray, sample_rate: int, ratio: float, threshold_db: float) -> np.ndarray:
    """Linear gain per frame (<= 1) of the expander; threshold in dB relative to x's RMS level."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    rms_db = 10.0 * math.log10(float(np.mean(np.square(x))) + 1e-20)
    head = x[:, : max(1, int(DETECTOR_MS * sample_rate / 1000))]
    return _expander_kernel(
        x,
        _coef(DETECTOR_MS, sample_rate),
        _coef(OPEN_MS, sample_rate),
        _coef(CLOSE_MS, sample_rate),
        rms_db + threshold_db,
        float(ratio),
        -MAX_EXPANSION_DB,
        float(np.mean(np.square(head))),
    )


def apply_degradation(audio: np.ndarray, sample_rate: int, params: dict) -> np.ndarray:
    """[C, n] float32 -> degraded [C, n] float32. Missing keys are neutral; unknown keys are refused."""
    unknown = set(params) - set(NEUTRAL)
    if unknown:
        raise ValueError(f"unknown degradation parameters: {sorted(unknown)}")
    p = {**NEUTRAL, **{k: float(v) for k, v in params.items()}}
    if audio.ndim != 2:
        raise ValueError(f"expected [channels, frames], got shape {audio.shape}")
    x = audio.astype(np.float64)
    x = _equalise(x, sample_rate, p)
    x = _widen(x, p["width"])
    if p["expansion_ratio"] > 1.0:
        x = x * expander_gain(x, sample_rate, p["expansion_ratio"], p["expansion_threshold_db"])
    if p["level_db"]:
        x = x * 10.0 ** (p["level_db"] / 20.0)
    return x.astype(np.float32)
