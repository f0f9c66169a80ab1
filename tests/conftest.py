"""Shared fixtures: the shipped example files. The deterministic music-like test signals are
functions in signals.py (`from signals import music_like`): pytest puts this folder on sys.path."""

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
