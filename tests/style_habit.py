"""An engineer with a fixed habit, for the settings-style tests: one settings file on every mix.

The habit of issue 17: a low shelf +3 dB at 100 Hz, a bell -2 dB at 3 kHz, 3:1 from -22 dBFS
with a 10 ms attack and 150 ms release, width 1, -10 LUFS at a -1 dBTP ceiling, the same on
every mix. The mixes are synthetic music broad enough for an EQ to be heard everywhere (the
bass-and-drums music of signals.py with data.synth's chords on top), in louder and quieter
sections (a compressor's timing shows only where the level changes slowly), at random levels,
tonal balances and widths (style_engineer.as_mix). Each master is the exact chain's render.
"""

from __future__ import annotations

import numpy as np
import soundfile as sf

from tonematch.data import synth
from tonematch.models.chain.exact import render_array
from tonematch.models.chain.settings import Settings

from signals import music_like

SR = 44100
HABIT = {
    "eq.low_shelf.gain_db": 3.0,
    "eq.low_shelf.freq_hz": 100.0,
    "eq.peak3.gain_db": -2.0,
    "eq.peak3.freq_hz": 3000.0,
    "eq.peak3.q": 1.0,
    "compressor.threshold_db": -22.0,
    "compressor.ratio": 3.0,
    "compressor.attack_ms": 10.0,
    "compressor.release_ms": 150.0,
    "width.width": 1.0,
    "loudness.target_lufs": -10.0,
    "limiter.ceiling_dbtp": -1.0,
}


def habit_settings() -> Settings:
    s = Settings.defaults(SR)
    s.values.update(HABIT)
    return s


def broadband_mix(seed: int, seconds: float = 6.0) -> np.ndarray:
    """A mix [2, T] at SR: music in sections of about 1.5 s (levels within 9 dB), through
    style_engineer.as_mix (a random level, shelves and width)."""
    from style_engineer import as_mix

    music = music_like(seconds, SR, seed=seed).astype(np.float64)
    chords = synth.music_like(seconds=seconds, sample_rate=SR, seed=seed)[:, : music.shape[1]].astype(np.float64)
    rms = lambda x: float(np.sqrt(np.mean(x**2)))  # noqa: E731
    music += chords * (0.7 * rms(music) / max(rms(chords), 1e-9))
    rng = np.random.default_rng(3000 + seed)
    n, length = music.shape[1], int(1.5 * SR)
    levels = np.repeat(10.0 ** (rng.uniform(-9.0, 0.0, n // length + 1) / 20.0), length)[:n]
    ramp = int(0.05 * SR)
    music = music * np.convolve(levels, np.ones(ramp) / ramp, "same")
    return as_mix(music.astype(np.float32), seed)


def make_habit_pairs(folder, seeds, seconds: float = 6.0) -> None:
    """folder/mix/song<seed>.wav and folder/master/song<seed>.wav (float WAV)."""
    (folder / "mix").mkdir(parents=True, exist_ok=True)
    (folder / "master").mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        mix = broadband_mix(seed, seconds)
        sf.write(folder / "mix" / f"song{seed}.wav", mix.T, SR, subtype="FLOAT")
        sf.write(folder / "master" / f"song{seed}.wav", render_array(mix, habit_settings(), SR).T, SR, subtype="FLOAT")
