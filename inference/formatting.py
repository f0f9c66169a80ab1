"""Frequencies as the reports and explanations print them."""

from __future__ import annotations


def hz(f: float) -> str:
    """'90 Hz', '2.5 kHz': a frequency in a sentence."""
    return f"{f / 1000:.1f} kHz" if f >= 1000 else f"{f:.0f} Hz"


def hz_short(f: float) -> str:
    """'90', '2.5k': a frequency in a band label (unit implied)."""
    return f"{f / 1000:g}k" if f >= 1000 else f"{f:g}"
