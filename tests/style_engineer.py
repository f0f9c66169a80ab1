"""A consistent, adaptive synthetic mastering engineer for the style tests and benchmark.

A mix is any music (music_like signals in the tests, corpus tracks in benchmarks/bench_style.py)
given a varied tonal balance (random low and high shelves), level and width. The engineer pulls
every mix 70 % of the way to their own tilt (shelves from the mix's measured bass and treble
balance), compresses with their habit (3:1 at 4 dB over the mix's loudness, fast attack), widens
to 1.25 and lands at -10 LUFS. Per song they vary a little, as people do: the tilt they aim for
(+-0.5 dB), the threshold (+-1 dB) and the loudness (+-0.3 LU). Each master is the exact chain
render of its mix. A test may give the engineer another compression habit (FAST, SLOW).
"""

from __future__ import annotations

import numpy as np
import soundfile as sf

from tonematch.inference import character
from tonematch.inference.inputs import analyse_array
from tonematch.models import excerpts
from tonematch.models.chain.exact import render_array
from tonematch.models.chain.settings import Settings

from signals import music_like

SR = 44100
TARGET_LOW_DB, TARGET_HIGH_DB, TARGET_LUFS = 3.0, 2.0, -10.0
PULL = 0.7  # the share of the way to their own balance the engineer goes (a dull mix stays a little dull)
THRESHOLD_OVER_LUFS, RATIO, ATTACK_MS, RELEASE_MS, WIDTH = 4.0, 3.0, 5.0, 80.0, 1.25
# Two engineers who compress hard (4:1 from 8 dB under the mix's loudness), one fast, one slow.
FAST = {"threshold_over_lufs": -8.0, "ratio": 4.0, "attack_ms": 1.0, "release_ms": 40.0}
SLOW = {"threshold_over_lufs": -8.0, "ratio": 4.0, "attack_ms": 80.0, "release_ms": 1000.0}


def _bands(x: np.ndarray) -> tuple[float, float]:
    """(bass, treble) of a mix relative to its mids, dB, from its character."""
    from tonematch.inference.character import band_centres

    tone = character.character_of(excerpts.excerpts(x, SR), SR)["tone"]
    c = band_centres(SR)
    mid = tone[(c > 300) & (c < 3000)].mean()
    return float(tone[(c > 40) & (c < 120)].mean() - mid), float(tone[(c > 6000) & (c < 14000)].mean() - mid)


def as_mix(music: np.ndarray, seed: int) -> np.ndarray:
    """Music [2, T] at SR made into an unmastered mix: random shelves, width and level."""
    rng = np.random.default_rng(1000 + seed)
    rms = float(np.sqrt(np.mean(np.square(music, dtype=np.float64)))) + 1e-12
    x = (music * (10 ** (float(rng.uniform(-26, -16)) / 20) / rms)).astype(np.float32)
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


def make_mix(seed: int, seconds: float = 8.0, sections: bool = False) -> np.ndarray:
    """A mix of synthetic music; `sections`: louder and quieter passages of about 2 s (levels
    within 9 dB, 50 ms ramps), as songs have. Steady music alone cannot tell a slow compressor
    from a constant gain: its level never changes slowly enough for the release to show."""
    music = music_like(seconds, SR, seed=seed)
    if sections:
        rng = np.random.default_rng(3000 + seed)
        n, length = music.shape[1], int(2.0 * SR)
        levels = np.repeat(10.0 ** (rng.uniform(-9.0, 0.0, n // length + 1) / 20.0), length)[:n]
        ramp = int(0.05 * SR)
        music = (music * np.convolve(levels, np.ones(ramp) / ramp, "same")).astype(np.float32)
    return as_mix(music, seed)


def engineer_settings(mix: np.ndarray, seed: int, compressor: dict | None = None) -> Settings:
    """The engineer's settings for a mix; `compressor` (threshold_over_lufs, ratio, attack_ms,
    release_ms) replaces their usual habit."""
    rng = np.random.default_rng(2000 + seed)
    low, high = _bands(mix)
    lufs = analyse_array(mix, SR).lufs
    aim_low, aim_high = TARGET_LOW_DB + rng.normal(0, 0.5), TARGET_HIGH_DB + rng.normal(0, 0.5)
    s = Settings.defaults(SR)
    s.values.update(
        {
            "eq.low_shelf.gain_db": float(np.clip(PULL * (aim_low - low), -12, 12)),
            "eq.low_shelf.freq_hz": 150.0,
            "eq.high_shelf.gain_db": float(np.clip(PULL * (aim_high - high), -12, 12)),
            "eq.high_shelf.freq_hz": 5000.0,
            "compressor.threshold_db": float(lufs + THRESHOLD_OVER_LUFS + rng.normal(0, 1.0)),
            "compressor.ratio": RATIO,
            "compressor.attack_ms": ATTACK_MS,
            "compressor.release_ms": RELEASE_MS,
            "width.width": WIDTH,
            "loudness.target_lufs": TARGET_LUFS + float(rng.normal(0, 0.3)),
            "limiter.ceiling_dbtp": -1.0,
        }
    )
    if compressor is not None:
        s.values["compressor.threshold_db"] += compressor["threshold_over_lufs"] - THRESHOLD_OVER_LUFS
        s.values.update({f"compressor.{k}": float(compressor[k]) for k in ("ratio", "attack_ms", "release_ms")})
    return s


def write_pair(folder, name: str, mix: np.ndarray, seed: int, compressor: dict | None = None) -> None:
    """folder/mix/NAME.wav and folder/master/NAME.wav (float WAV): the mix and the engineer's master."""
    (folder / "mix").mkdir(parents=True, exist_ok=True)
    (folder / "master").mkdir(parents=True, exist_ok=True)
    master = render_array(mix, engineer_settings(mix, seed, compressor), SR)
    sf.write(folder / "mix" / f"{name}.wav", mix.T, SR, subtype="FLOAT")
    sf.write(folder / "master" / f"{name}.wav", master.T, SR, subtype="FLOAT")


def make_pairs(folder, seeds, seconds: float = 8.0, compressor: dict | None = None, sections: bool = False) -> None:
    """folder/mix/song<seed>.wav and folder/master/song<seed>.wav from synthetic music."""
    for seed in seeds:
        write_pair(folder, f"song{seed}", make_mix(seed, seconds, sections), seed, compressor)
