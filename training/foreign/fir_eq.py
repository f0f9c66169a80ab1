"""Linear-phase FIR EQ designed by frequency sampling (evaluation only).

A move is a magnitude curve on a log-frequency axis (no analogue prototype, no biquad):

  tilt   g(f) = s * log2(f / pivot), f held inside [20 Hz, 20 kHz]  (s in dB per octave)
  shelf  g(f) = gain * (1 +- tanh(2 log2(f / f0) / octaves)) / 2   (half the gain at f0)
  bell   g(f) = gain * exp(-(log2(f / f0))^2 / (2 sigma^2)), sigma = octaves / 2.355 (FWHM)
  high-pass  |H| = 1 / sqrt(1 + (f0 / f)^(2 order))   (Butterworth magnitude, zero phase)

The curve is sampled on a dense FFT grid, taken back to a zero-phase impulse response, centred,
cut to an odd number of taps and Kaiser-windowed: a symmetric (linear-phase) FIR whose delay,
(taps - 1) / 2, is removed after the convolution, so the output lines up with the input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import oaconvolve

TAPS_S = 0.15  # filter length in seconds (6615 taps at 44.1 kHz: ~25 Hz resolution)
KAISER_BETA = 6.0
LOW_HZ, HIGH_HZ = 20.0, 20000.0  # the tilt is flat outside this range


@dataclass(frozen=True)
class Tilt:
    db_per_octave: float
    pivot_hz: float = 1000.0

    def db(self, f):
        return self.db_per_octave * np.log2(np.clip(f, LOW_HZ, HIGH_HZ) / self.pivot_hz)


@dataclass(frozen=True)
class Shelf:
    gain_db: float
    freq_hz: float
    high: bool
    octaves: float = 1.0  # width of the transition

    def db(self, f):
        x = np.log2(np.maximum(f, 1e-3) / self.freq_hz)
        step = 0.5 * (1.0 + np.tanh(2.0 * x / self.octaves))
        return self.gain_db * (step if self.high else 1.0 - step)


@dataclass(frozen=True)
class Bell:
    gain_db: float
    freq_hz: float
    octaves: float = 1.0  # full width at half the gain (in dB)

    def db(self, f):
        sigma = self.octaves / (2.0 * math.sqrt(2.0 * math.log(2.0)))
        x = np.log2(np.maximum(f, 1e-3) / self.freq_hz)
        return self.gain_db * np.exp(-0.5 * (x / sigma) ** 2)


@dataclass(frozen=True)
class HighPass:
    freq_hz: float
    order: int = 2

    def magnitude(self, f):
        ratio = self.freq_hz / np.maximum(f, 1e-3)
        return 1.0 / np.sqrt(1.0 + ratio ** (2 * self.order))


def magnitude(moves, f) -> np.ndarray:
    """Linear magnitude of the moves at frequencies f (the design target)."""
    f = np.asarray(f, dtype=np.float64)
    total_db = np.zeros_like(f)
    lin = np.ones_like(f)
    for m in moves:
        if isinstance(m, HighPass):
            lin = lin * m.magnitude(f)
        else:
            total_db = total_db + m.db(f)
    return lin * 10.0 ** (total_db / 20.0)


def is_flat(moves) -> bool:
    return all(
        (isinstance(m, Tilt) and m.db_per_octave == 0.0) or (isinstance(m, (Shelf, Bell)) and m.gain_db == 0.0)
        for m in moves
    )


def taps_for(sample_rate: int) -> int:
    n = int(round(TAPS_S * sample_rate))
    return n + 1 - n % 2  # odd: a whole-sample delay


def design(moves, sample_rate: int, taps: int | None = None) -> np.ndarray:
    """The symmetric FIR [taps] (odd) for the moves, by frequency sampling."""
    taps = taps or taps_for(sample_rate)
    if taps % 2 == 0:
        raise ValueError("a linear-phase design here needs an odd number of taps")
    n_fft = 1 << int(math.ceil(math.log2(4 * taps)))
    grid = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    impulse = np.fft.irfft(magnitude(moves, grid), n_fft)  # zero phase: symmetric around 0
    half = taps // 2
    h = np.concatenate([impulse[-half:], impulse[: half + 1]])
    return h * np.kaiser(taps, KAISER_BETA)


def response_db(h: np.ndarray, f, sample_rate: int) -> np.ndarray:
    """|H(f)| of the FIR in dB (for checks and tests)."""
    n = np.arange(len(h)) - len(h) // 2
    spectrum = np.exp(-2j * np.pi * np.outer(np.asarray(f, dtype=np.float64), n) / sample_rate) @ h
    return 20.0 * np.log10(np.maximum(np.abs(spectrum), 1e-12))


def filter_aligned(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """x [C, T] (or [T]) through the symmetric FIR h, delay removed: same length, aligned."""
    x = np.asarray(x)
    delay = len(h) // 2
    y = oaconvolve(x.astype(np.float64), h[None] if x.ndim == 2 else h, mode="full", axes=-1)
    return y[..., delay : delay + x.shape[-1]]


def equalise(x: np.ndarray, moves, sample_rate: int) -> np.ndarray:
    """x [C, T] through the moves; exactly x when every move is flat."""
    if not moves or is_flat(moves):
        return np.array(x, dtype=np.float32, copy=True)
    return filter_aligned(x, design(moves, sample_rate)).astype(np.float32)
