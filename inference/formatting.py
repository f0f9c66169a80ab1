"""Frequencies and times as the reports and explanations print them."""

from __future__ import annotations


def hz(f: float) -> str:
    """'90 Hz', '2.5 kHz': a frequency in a sentence."""
    return f"{f / 1000:.1f} kHz" if f >= 1000 else f"{f:.0f} Hz"


def hz_short(f: float) -> str:
    """'90', '2.5k': a frequency in a band label (unit implied)."""
    return f"{f / 1000:g}k" if f >= 1000 else f"{f:g}"


def signed(v: float) -> str:
    """'+0.4', '-1.0', '+0.0' (never '-0.0'): a level to a tenth, with its sign."""
    return f"{round(v, 1) + 0.0:+.1f}"


def ms(v: float) -> str:
    """A time in ms to the precision it is read at (the unit written after it): '7.3', '150'."""
    return f"{v:.1f}" if v < 10 else f"{v:.0f}"
