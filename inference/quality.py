"""How close a render is to a target master: a plain multi-resolution STFT distance, LUFS and crest.

The training metrics (training/metrics.py) use auraloss, a training extra; the core commands
(`tonematch style fit`'s held-out check) need a distance without it. This is the usual
MR-STFT: at each of three resolutions, spectral convergence plus the mean absolute difference of
log magnitudes, averaged over resolutions (auraloss's default resolutions and weights), so the
figures read on the same scale as the training evaluation's.
"""

from __future__ import annotations

import math

import numpy as np
import torch

RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))  # (n_fft, hop, window)
_EPS = 1e-8


def mrstft(output: np.ndarray, target: np.ndarray) -> float:
    """Multi-resolution STFT distance of [C, T] float arrays (cut to the shorter length)."""
    n = min(output.shape[-1], target.shape[-1])
    x = torch.from_numpy(np.ascontiguousarray(output[..., :n], dtype=np.float32)).reshape(-1, n)
    y = torch.from_numpy(np.ascontiguousarray(target[..., :n], dtype=np.float32)).reshape(-1, n)
    total = 0.0
    with torch.no_grad():
        for n_fft, hop, win in RESOLUTIONS:
            window = torch.hann_window(win)

            def mag(s):
                spec = torch.stft(s, n_fft, hop, win, window=window, return_complex=True)
                return spec.abs().clamp_min(_EPS)

            mx, my = mag(x), mag(y)
            convergence = torch.linalg.norm(my - mx) / torch.linalg.norm(my).clamp_min(_EPS)
            log_mag = (torch.log(my) - torch.log(mx)).abs().mean()
            total += float(convergence) + float(log_mag)
    return total / len(RESOLUTIONS)


def lufs(x: np.ndarray, sample_rate: int) -> float:
    from tonematch.models.measure.loudness import integrated_loudness

    value = integrated_loudness(x, sample_rate)
    return -100.0 if value is None or not math.isfinite(value) else float(value)


def crest_db(x: np.ndarray) -> float:
    from tonematch.models.measure.dynamics import crest_factor_db

    value = crest_factor_db(x)
    return 0.0 if value is None else float(value)
