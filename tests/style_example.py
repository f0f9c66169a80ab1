"""A small style (every tensor and a fixed habit), for the tests of style files."""

from __future__ import annotations

import numpy as np

from tonematch.inference.style import BUMP_HZ, Style


def example_style(habit: dict | None = None, **meta) -> Style:
    """`habit`: keys added to (or replacing) the habit's."""
    k = len(BUMP_HZ)
    return Style(
        np.array(BUMP_HZ),
        np.linspace(0, 0.5, k),
        np.linspace(-2, 2, k),
        np.array([1.0, 0.9, 0.8, 0.7]),
        np.array([-30.0, -10.0, 1.0, 1.5]),
        np.array([0.0, 0.4, 0.0]),
        np.array([0.5, 5.0, -9.0]),
        -1.2,
        habit={
            "threshold_rel_lufs": 4.0,
            "threshold_db": -18.0,
            "ratio": 2.5,
            "attack_ms": 10.0,
            "release_ms": 120.0,
            "knee_db": 6.0,
            "width": 1.2,
            "target_lufs": -9.0,
            "ceiling_dbtp": -1.0,
            "eq": {"eq.low_shelf.gain_db": 1.5, "eq.low_shelf.freq_hz": 90.0, "eq.low_shelf.q": 0.7},
            **(habit or {}),
        },
        meta={"name": "mine", "pairs": 6, "kind": "pairs", **meta},
    )
