"""A consistent, adaptive synthetic mastering engineer for the style tests (no corpus needed).

Mixes are music_like signals with varied tonal balance (random low and high shelves), level and
width. The engineer pulls every mix 70 % of the way to their own tilt (shelves from the mix's measured
bass and treble balance), compresses with a fixed habit (3:1, threshold 4 dB over
the mix's loudness, fast attack), widens to 1.25 and lands at -10 LUFS with a little per-song
variation. Each master is the exact chain render of its mix.
"""

from __future__ import annotations

import numpy as np
import soundfile as sf

from tonematch.inference import character, match
from tonematch.models.chain.exact import render_array
from tonematch.models.chain.settings import Settings

from signals import music_like

SR = 44100
TARGET_LOW_DB, TARGET_HIGH_DB, TARGET_LUFS = 3.0, 2.0, -10.0
PULL = 0.7  # the share of the way to their own balance the engineer goes (a dull mix stays a little dull)


def _bands(x: np.ndarray) -> tuple[float, float]:
    """(bass, treble) of a mix relative to its mids, dB, from its character."""
    from tonematch.inference.style import band_centres

    tone = character.character_of(character.excerpts(x, SR), SR)["tone"].numpy()
    c = band_centres(SR)
    mid = tone[(c > 300) & (c < 3000)].mean()
    return float(tone[(c > 40) & (c < 120)].mean() - mid), float(tone[(c > 6000) & (c < 14000)].mean() - mid)


def make_mix(seed: int, seconds: float = 8.0) -> np.ndarray:
    rng = np.random.default_rng(1000 + seed)
    x = music_like(seconds, SR, seed=seed, level_db=float(rng.uniform(-26, -16)))
    s = Settings.defaults(SR)
    s.bypass = frozenset(set(s.bypass) | {"loudness", "limiter"})
    s.values.update(
        {
            "eq.low_shelf.gain_db": float(rng.uniform(-8, 8)),
            "eq.low_shelf.freq_hz": 150.0,
            "eq.high_shelf.gain_db": float(rng.uniform(-8, 8)),
            "eq.high_shelf.freq_hz": 5000.0,
            "width.width": float(rng.uniform(0.8, 1.2)),
        }
    )
    return render_array(x, s, SR)


def engineer_settings(mix: np.ndarray, seed: int) -> Settings:
    rng = np.random.default_rng(2000 + seed)
    low, high = _bands(mix)
    lufs = match.analyse_array(mix, SR).lufs
    s = Settings.defaults(SR)
    s.values.update(
        {
            "eq.low_shelf.gain_db": float(np.clip(PULL * (TARGET_LOW_DB - low), -12, 12)),
            "eq.low_shelf.freq_hz": 150.0,
            "eq.high_shelf.gain_db": float(np.clip(PULL * (TARGET_HIGH_DB - high), -12, 12)),
            "eq.high_shelf.freq_hz": 5000.0,
            "compressor.threshold_db": float(lufs + 4.0),
            "compressor.ratio": 3.0,
            "compressor.attack_ms": 5.0,
            "compressor.release_ms": 80.0,
            "width.width": 1.25,
            "loudness.target_lufs": TARGET_LUFS + float(rng.normal(0, 0.3)),
            "limiter.ceiling_dbtp": -1.0,
        }
    )
    return s


def make_pairs(folder, seeds, seconds: float = 8.0) -> None:
    """folder/mix/song<seed>.wav and folder/master/song<seed>.wav (float WAV)."""
    (folder / "mix").mkdir(parents=True, exist_ok=True)
    (folder / "master").mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        mix = make_mix(seed, seconds)
        master = render_array(mix, engineer_settings(mix, seed), SR)
        sf.write(folder / "mix" / f"song{seed}.wav", mix.T, SR, subtype="FLOAT")
        sf.write(folder / "master" / f"song{seed}.wav", master.T, SR, subtype="FLOAT")
