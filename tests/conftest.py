"""Shared fixtures: the shipped example files, a renderer whose first loudness guess misses. The
deterministic music-like test signals are functions in signals.py (`from signals import
music_like`): pytest puts this folder on sys.path."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def example_mix() -> Path:
    return EXAMPLES / "mix.flac"


@pytest.fixture(scope="session")
def example_reference() -> Path:
    return EXAMPLES / "reference.flac"


@pytest.fixture
def first_guess_off(monkeypatch):
    """Make the exact renderer's first loudness prediction miss by `miss_db` (a call), so that a
    correction pass follows; the corrected passes solve as they would."""
    from tonematch.models.chain import exact

    solve = exact.solve_gain_db

    def miss(miss_db: float) -> None:
        def solve_missing(lufs, target, gain, offset):
            g, expected = solve(lufs, target, gain, offset)
            return (g + miss_db if offset == 0.0 else g), expected

        monkeypatch.setattr(exact, "solve_gain_db", solve_missing)

    return miss
