"""The encoder's frame geometry, one rule for the torch encoder (encoder.py) and the numpy
runtime (numpy_runtime.py): n_fft and hop are given in samples at 44.1 kHz and scaled to the rate, so a
frame lasts the same time at every rate; the shortest input leaves one frame after every one of
the `blocks` pooling steps. numpy-free and torch-free."""

from __future__ import annotations

REFERENCE_RATE = 44100.0  # n_fft and hop are given in samples at this rate


def encoder_geometry(sample_rate: float, n_fft: int = 2048, hop: int = 512, blocks: int = 4) -> tuple[int, int, int]:
    """(n_fft, hop, min_samples) at `sample_rate`."""
    n = max(16, int(round(n_fft * sample_rate / REFERENCE_RATE)))
    h = max(1, int(round(hop * sample_rate / REFERENCE_RATE)))
    return n, h, n + (2**blocks - 1) * h
