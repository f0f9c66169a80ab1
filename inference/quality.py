"""How close a render is to a target master: a plain multi-resolution STFT distance, LUFS and crest.

The training metrics (training/metrics.py) use auraloss, a training extra; the core commands
(`tonematch style fit`'s held-out check) need a distance without it, and without torch. This is the usual
MR-STFT: at each of three resolutions, spectral convergence plus the mean absolute difference of
log magnitudes, averaged over resolutions (auraloss's default resolutions and weights), so the
figures read on the same scale as the training evaluation's.
"""

from __future__ import annotations

import math

import numpy as np

RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))  # (n_fft, hop, window)
_EPS = 1e-8


def _magnitudes(x: np.ndarray, n_fft: int, hop: int, win: int, dtype=np.float64) -> np.ndarray:
    """|STFT| of rows of x as torch.stft(center=True, pad_mode="reflect") takes it, with a periodic
    Hann window of `win` samples centred in n_fft (auraloss's framing)."""
    import scipy.fft

    from tonematch.models.measure.spectrum import hann

    half = n_fft // 2
    padded = np.pad(np.asarray(x, dtype=dtype), [(0, 0), (half, half)], mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[:, ::hop]
    window = np.zeros(n_fft, dtype)
    left = (n_fft - win) // 2
    window[left : left + win] = hann(win)
    return np.maximum(np.abs(scipy.fft.rfft(frames * window, axis=-1, workers=2)), dtype(_EPS))


class MRSTFT:
    """mrstft to one target [C, T], its magnitudes taken once: a search that scores many renders
    against the same master pays for the master's transforms once. float32 (`dtype`) is ~8x
    faster and agrees to ~1e-5, for searches; the figures reported are float64."""

    def __init__(self, target: np.ndarray, dtype=np.float64):
        self.dtype, self.length = dtype, target.shape[-1]
        y = np.asarray(target).reshape(-1, self.length)
        self.target = []
        for n_fft, hop, win in RESOLUTIONS:
            my = _magnitudes(y, n_fft, hop, win, dtype)
            self.target.append((my, np.log(my), max(float(np.linalg.norm(my)), _EPS)))

    def __call__(self, output: np.ndarray) -> float:
        if output.shape[-1] != self.length:
            raise ValueError(f"a render of {output.shape[-1]} samples against a target of {self.length}")
        x = np.asarray(output).reshape(-1, self.length)
        total = 0.0
        for (n_fft, hop, win), (my, log_my, norm) in zip(RESOLUTIONS, self.target):
            mx = _magnitudes(x, n_fft, hop, win, self.dtype)
            total += float(np.linalg.norm(my - mx)) / norm + float(np.abs(log_my - np.log(mx)).mean())
        return total / len(RESOLUTIONS)


def mrstft(output: np.ndarray, target: np.ndarray) -> float:
    """Multi-resolution STFT distance of [C, T] float arrays (cut to the shorter length)."""
    n = min(output.shape[-1], target.shape[-1])
    return MRSTFT(np.asarray(target[..., :n]))(np.asarray(output[..., :n]))


def lufs(x: np.ndarray, sample_rate: int) -> float:
    from tonematch.models.measure.loudness import integrated_loudness

    value = integrated_loudness(x, sample_rate)
    return -100.0 if value is None or not math.isfinite(value) else float(value)


def crest_db(x: np.ndarray) -> float:
    from tonematch.models.measure.dynamics import crest_factor_db

    value = crest_factor_db(x)
    return 0.0 if value is None else float(value)
