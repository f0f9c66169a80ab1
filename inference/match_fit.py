"""How a copy sets the match EQ (models/chain/match_eq.py): the third-octave balance it reads,
what it takes of a reference's detail, and its gains fitted to a shortfall. Refinement
(refine.py) decides the goal and checks each setting on an exact render."""

from __future__ import annotations

import numpy as np

from tonematch.models import excerpts
from tonematch.models.chain import match_eq
from tonematch.models.chain.settings import Settings
from tonematch.models.measure import spectrum

FIT_PASSES = 8  # corrections of the gains for the bells' overlap (to ~0.1 dB)
LEAST_DB = 0.05  # a band moved less than this stays flat
# What a copy takes of the reference's detail, band by band: all but the first DEAD_BAND_DB
# either way (under that, two songs' fine balances differ by their music), averaged over each
# band and its neighbours (weights 1/2, 1, 1/2: single notes are music). docs/decisions.md
# ("the match EQ") has the figures these were chosen on.
DEAD_BAND_DB = 2.0
SMOOTHING_BANDS = 3


def thirds_of(clips: np.ndarray, sample_rate: int) -> np.ndarray:
    """Level (dB) of excerpts [N, C, L] in the match EQ's third-octave bands, on the project's
    third-octave reading (measure.spectrum, the evaluation's); bands it cannot read are NaN."""
    return _thirds(spectrum.meter_of(excerpts.joined(clips), sample_rate))


def reference_balance(clips: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float | None]:
    """(thirds_of, where the excerpts end in a low-pass cliff or None): what a copy reads of a
    reference. A codec's low-pass (an MP3 cut near 16 kHz) is its format, not its mastering."""
    meter = spectrum.meter_of(excerpts.joined(clips), sample_rate)
    return _thirds(meter), meter.low_pass_hz()


def _thirds(meter: spectrum.SpectrumMeter) -> np.ndarray:
    centres, level = meter.third_octave_db()
    index = np.searchsorted(centres, match_eq.CENTRES_HZ * (1.0 - 1e-9))
    found = (index < len(centres)) & np.isclose(centres[np.minimum(index, len(centres) - 1)], match_eq.CENTRES_HZ)
    out = np.full(len(match_eq.CENTRES_HZ), np.nan)
    out[found] = level[index[found]]
    return np.where(np.isfinite(out), out, np.nan)


def broad(detail: np.ndarray) -> np.ndarray:
    """A third-octave detail with its first DEAD_BAND_DB either way taken off, then averaged
    over each band and its neighbours (NaN: unread, left out)."""
    read = np.isfinite(detail)
    beyond = np.where(read, np.sign(detail) * np.maximum(np.abs(detail) - DEAD_BAND_DB, 0.0), 0.0)
    window = np.hanning(SMOOTHING_BANDS + 2)[1:-1]
    weight = np.convolve(read.astype(float), window, mode="same")
    return np.where(read, np.convolve(beyond, window, mode="same") / np.maximum(weight, 1e-9), np.nan)


def thirds_error(have: np.ndarray, goal: np.ndarray) -> float:
    """RMS over the bands both read of a render's third-octave balance against `goal`, level aside (dB)."""
    d = (have - goal)[np.isfinite(have) & np.isfinite(goal)]
    return float(np.sqrt(np.mean((d - d.mean()) ** 2))) if d.size else 0.0


def match_shortfall(settings: Settings, shortfall_db: np.ndarray, sample_rate: int) -> Settings | None:
    """`settings` with the match EQ raised by `shortfall_db` (per band: the goal less the exact
    render's balance, NaN where unread), level aside; the gains fitted to the bells' summed
    response at the centres (FIT_PASSES corrections, each band within its range). None: no
    band to move."""
    centres = match_eq.CENTRES_HZ
    rendered = np.isfinite(shortfall_db) & (centres < 0.45 * sample_rate)
    if not rendered.any():
        return None
    wanted = np.where(rendered, shortfall_db - np.mean(shortfall_db[rendered]), 0.0)
    keys = [f"{match_eq.NAME}.{label}.gain_db" for label in match_eq.LABELS]
    values = dict(settings.values)

    def response_db(gains):
        p = {**values, **dict(zip(keys, gains))}
        return 10.0 * np.log10(match_eq.power_at(p, centres, sample_rate, settings.bypass, xp=np))

    gains = np.array([values[k] for k in keys])
    goal = response_db(gains) + wanted
    for _ in range(FIT_PASSES):
        moved = np.clip(gains + goal - response_db(gains), -match_eq.GAIN_DB, match_eq.GAIN_DB)
        gains = np.where(rendered, moved, gains)
    gains = np.where(np.abs(gains) < LEAST_DB, 0.0, np.round(gains, 2))  # a flat band is not rendered
    values.update(zip(keys, (float(g) for g in gains)))
    return Settings(values, settings.sample_rate, settings.bypass, dict(settings.source))
