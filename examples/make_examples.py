"""Regenerate examples/mix.flac and examples/reference.flac from the local music corpus.

  python examples/make_examples.py [--corpus /root/.cache/tonematch-corpus/music]

Not run in CI (the corpus is not there); the excerpts it wrote are committed. What it does, and
nothing else (see CREDITS.md):
  mix.flac        "Breaking the Chains" (wesnoth-1.16-music), 72.0 s to 84.0 s: a high shelf of
                  -4 dB at 5 kHz (Q 0.707) to dull it, then a plain gain to -23 LUFS (no limiting,
                  no compression), both with tonematch's own exact chain; 20 ms fades.
  reference.flac  "hr3-jungle" (hyperrogue-music), 45.0 s to 54.0 s at its native level; 20 ms fades.
Both: 44.1 kHz stereo, 16-bit FLAC with TPDF dither. Excerpts are as long as fits in 1 MB: FLAC of
dense music takes about 100 kB/s, so 30 s would be ~3 MB.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from tonematch.data import audio
from tonematch.models.chain.exact import render_array
from tonematch.models.chain.settings import Settings

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_BYTES = 1_000_000
FADE_S = 0.02  # long enough to hide the cut's click, too short to change any measurement

EXCERPTS = {
    "mix.flac": dict(source="wesnoth-1.16-music/breaking_the_chains.ogg", start_s=72.0, seconds=12.0, unmaster=True),
    "reference.flac": dict(source="hyperrogue-music/hr3-jungle.ogg", start_s=45.0, seconds=9.0, unmaster=False),
}


def make_unmastered(x: np.ndarray, sr: int) -> np.ndarray:
    """Dull and quieten: only the high shelf and the loudness stage of the chain are on."""
    s = Settings.defaults(sr)
    s.bypass = frozenset(
        {
            "gain",
            "eq.highpass",
            "eq.low_shelf",
            "eq.peak1",
            "eq.peak2",
            "eq.peak3",
            "eq.peak4",
            "compressor",
            "width",
            "limiter",
        }
    )
    s.values.update(
        {
            "eq.high_shelf.gain_db": -4.0,
            "eq.high_shelf.freq_hz": 5000.0,
            "eq.high_shelf.q": 0.707,
            "loudness.target_lufs": -23.0,
        }
    )
    return render_array(x, s, sr)


def fade(x: np.ndarray, sr: int) -> np.ndarray:
    n = int(FADE_S * sr)
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(np.float32)  # raised cosine
    y = x.copy()
    y[:, :n] *= ramp
    y[:, -n:] *= ramp[::-1]
    return y


def make(name: str, corpus: str, source: str, start_s: float, seconds: float, unmaster: bool) -> None:
    path = os.path.join(corpus, source)
    sr = audio.info(path).sample_rate
    x = audio.read_segment(path, int(start_s * sr), int(seconds * sr))
    if unmaster:
        x = make_unmastered(x, sr)
    if np.abs(x).max() >= 1.0:
        sys.exit(f"{name}: the excerpt would clip at 16 bits; pick another one")
    out = os.path.join(HERE, name)
    audio.write(out, fade(x, sr), sr, subtype="PCM_16", dither=True, seed=0)
    size = os.path.getsize(out)
    print(f"{name}: {source} {start_s:g}-{start_s + seconds:g} s, {size / 1e6:.2f} MB")
    if size > MAX_BYTES:
        sys.exit(f"{name} is {size} bytes, over the {MAX_BYTES} byte budget: use a shorter excerpt")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=os.path.expanduser("~/.cache/tonematch-corpus/music"))
    args = ap.parse_args()
    for name, spec in EXCERPTS.items():
        make(name, args.corpus, **spec)


if __name__ == "__main__":
    main()
