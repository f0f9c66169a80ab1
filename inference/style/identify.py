"""One pair identified: the chain's settings that take the mix to the engineer's master.

The EQ's bands are fitted to the transfer's |H| up to a constant (bands.py), the width is the
transfer's, the compressor is read from the pair's gain trace (gain_trace.py; its threshold is
read on the EQ'd mix at the mix's own level, so the fitted EQ's gain on the mix is added back),
and the loudness and ceiling are the master's. The exact render of the pair's excerpts with
those settings, against the master, is the pair's floor: how close the chain gets to that
master with this reading (a peak detector; a style's consensus may choose RMS and do better).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tonematch.models.chain import TABLE

from .. import character
from ..inputs import played_lufs
from .bands import eq_response_db, fit_bands
from .distance import spectral_distance
from .model import BUMP_HZ, bump_basis, project
from .transfer import stft, transfer

CORRECTIONS = 1  # output-space corrections of the EQ and width (identify)


def mix_descriptors(mix_char: dict, mix_lufs: float | None, sample_rate: int) -> dict:
    """What the adaptive lines read off a mix: its loudness as it plays (LUFS, inputs.played_lufs:
    the compressor's linked detector hears a mono mix as a stereo one 3 LU louder), block crest (dB), loudness
    spread (LU), width (side over mid above 200 Hz, dB) and tonal balance in the style's seven
    bumps (dB, model.project)."""
    centres = character.band_centres(sample_rate)
    basis = bump_basis(centres, BUMP_HZ)
    coef, _ = project(mix_char["tone"], centres, basis, sample_rate)
    width = mix_char["width"]
    return {
        "lufs": float(mix_lufs if mix_lufs is not None else mix_char["lufs"]),
        "crest": float(mix_char["crest"]),
        "spread": float(mix_char["spread"]),
        "width_db": float(np.clip(width[1:], -40, 20).mean()) if np.size(width) else 0.0,
        "tone": [float(c) for c in coef],
    }


@dataclass
class PairFit:
    """One pair identified: the chain's settings for it (engineer's units), the fitted EQ's
    response on the grid (dB, 0 dB where it does nothing) and how much the mix says there (0..1),
    the mix's descriptors, whether the compressor's timing was read, and the floor (the
    exact render with these settings against the master: 1/3-octave distance, dB)."""

    values: dict
    curve_db: np.ndarray
    weight: np.ndarray
    descriptors: dict
    timing: bool
    compressed: bool
    floor_db: float
    eq_error_db: float
    reduction_db: float = math.nan  # the compressor's mean gain reduction read from the pair (dB)


def _eq_gain_db(values: dict, mix_clips: np.ndarray, sample_rate: int) -> float:
    """How much louder (power, dB) the mix's mid comes out of the EQ `values`."""
    n = 4096
    x = np.asarray(mix_clips, np.float64).mean(axis=1)
    power = (np.abs(stft(x, n)) ** 2).sum(axis=(0, 1))
    bins = np.maximum(np.arange(power.size) * sample_rate / n, 1.0)
    response = 10.0 ** (eq_response_db(values, bins, sample_rate) / 10.0)
    return float(10.0 * math.log10(max(np.sum(power * response), 1e-30) / max(np.sum(power), 1e-30)))


def clip_setting(key: str, value: float, sample_rate: int) -> float:
    """`value` clipped to the table's range for setting `key` at this rate."""
    low, high = TABLE.by_key[key].spec.bounds(sample_rate)
    return float(min(max(value, low), high))


def identify(
    mix, master, mix_char: dict, compressor: dict | None, master_lufs: float, floor: bool = True, eq=None
) -> PairFit:
    """The chain's settings for one aligned pair (mix, master: inputs.Analysis of the same
    excerpts; `compressor`: gain_trace.read_compressor's reading of them; `master_lufs`: the
    master's loudness as it plays, pair.PairData.played_master_lufs; `eq`: transfer.estimate of
    the excerpts' mids, when the caller has it).

    The transfer estimate has its own bias on a given piece of music (the compressor's gain
    varies inside its frames, differently at different frequencies). So the excerpts are
    rendered with the settings found and the same estimate is made of that render: where the
    estimate of the render differs from the estimate of the master, the settings differ, and the
    EQ and width are corrected by that difference (CORRECTIONS times; output space mapping)."""
    from tonematch.models.chain.settings import Settings

    sr = mix.sample_rate
    tr = transfer(mix.clips, master.clips, sr, eq)
    target_db, width = tr.curve_db, tr.width
    values = Settings.defaults(sr).values
    timing = compressed = False
    if compressor is not None and compressor.get("timing") != "no compression":
        compressed = True
        values["compressor.ratio"] = clip_setting("compressor.ratio", compressor["ratio"], sr)
        values["compressor.knee_db"] = clip_setting("compressor.knee_db", compressor.get("knee_db", 6.0), sr)
        if "attack_ms" in compressor and "release_ms" in compressor:
            timing = True
            values["compressor.attack_ms"] = clip_setting("compressor.attack_ms", compressor["attack_ms"], sr)
            values["compressor.release_ms"] = clip_setting("compressor.release_ms", compressor["release_ms"], sr)
    if compressor is not None and "limiter_release_ms" in compressor:
        values["limiter.release_ms"] = clip_setting("limiter.release_ms", compressor["limiter_release_ms"], sr)
    # as the master plays (a pair read in mono would read under it): a mix of either kind gets it
    values["loudness.target_lufs"] = clip_setting("loudness.target_lufs", master_lufs, sr)
    values["limiter.ceiling_dbtp"] = clip_setting("limiter.ceiling_dbtp", min(master.true_peak_dbtp, 0.0), sr)
    eq_error = math.nan
    for step in range(CORRECTIONS + 1):
        eq, eq_error = fit_bands(target_db, tr.weight, tr.grid_hz, sr)
        values.update(eq)
        if compressed:  # read on the EQ'd mix at the mix's own level: the EQ's gain added back
            threshold = compressor["threshold_db"] + _eq_gain_db(eq, mix.clips, sr)
            values["compressor.threshold_db"] = clip_setting("compressor.threshold_db", threshold, sr)
        values["width.width"] = clip_setting("width.width", width, sr)
        if step == CORRECTIONS:
            break
        again = transfer(mix.clips, render_excerpts(values, mix, master), sr)
        target_db = eq_response_db(eq, tr.grid_hz, sr) + (tr.curve_db - again.curve_db)
        width = width * tr.width / max(again.width, 1e-3)
    fit = PairFit(
        values,
        eq_response_db(eq, tr.grid_hz, sr),
        tr.weight,
        mix_descriptors(mix_char, played_lufs(mix), sr),
        timing,
        compressed,
        math.nan,
        eq_error,
        float(compressor.get("reduction_db", math.nan)) if compressed else math.nan,
    )
    if floor:
        out = render_excerpts(values, mix, master)
        fit.floor_db = spectral_distance(out, master.clips, sr)
    return fit


def render_excerpts(values: dict, mix, master) -> np.ndarray:
    """The mix's excerpts [N, C, L] rendered end to end with `values`, at the loudness of the
    master's excerpts (the loudness of the whole master would not be theirs)."""
    return ExcerptRenders(values, mix, master)(values)


class ExcerptRenders:
    """render_excerpts of one pair for many settings that share `values`' gain and EQ (a
    search over the dynamics): the mix's excerpts through those two stages and the master's
    excerpts' loudness are taken once. Settings whose gain or EQ differ render from the start."""

    SHARED = 2  # the first pre-limiter stages taken once: gain, EQ (exact.PRE_LIMITER)

    def __init__(self, values: dict, mix, master):
        from tonematch.models import excerpts
        from tonematch.models.chain.exact import PRE_LIMITER, first_stages
        from tonematch.models.measure.loudness import integrated_loudness

        self.sample_rate, self.clips = mix.sample_rate, mix.clips
        self.stages = PRE_LIMITER[: self.SHARED]
        s = settings_of(values, self.sample_rate)
        self.shared = self._shared(s)
        self.pre = first_stages(excerpts.joined(mix.clips), s, self.sample_rate, self.SHARED)
        target = integrated_loudness(excerpts.joined(master.clips), self.sample_rate)
        self.target = None if target is None else clip_setting("loudness.target_lufs", target, self.sample_rate)

    def _shared(self, s) -> tuple:
        """What of settings `s` the shared stages read: their values and what is switched off."""
        mine = lambda key: key.split(".")[0] in self.stages  # noqa: E731
        return (
            sorted((k, v) for k, v in s.values.items() if mine(k)),
            sorted(b for b in s.bypass if mine(b)),
        )

    def __call__(self, values: dict) -> np.ndarray:
        from dataclasses import replace

        from tonematch.models import excerpts
        from tonematch.models.chain.exact import render_array

        s = settings_of(values, self.sample_rate)
        if self.target is not None:
            s.values["loudness.target_lufs"] = self.target
        if self._shared(s) == self.shared:
            audio, s = self.pre, replace(s, bypass=s.bypass | set(self.stages))
        else:
            audio = excerpts.joined(self.clips)
        return excerpts.split(render_array(audio, s, self.sample_rate), self.clips.shape[0])


def settings_of(values: dict, sample_rate: int):
    """Settings at this rate: the table's defaults with `values` (engineer's units) over them."""
    from tonematch.models.chain.settings import Settings

    s = Settings.defaults(sample_rate)
    s.values.update(values)
    return s


def render_own(mix: np.ndarray, sample_rate: int, fit: PairFit) -> np.ndarray:
    """A whole mix [C, T] rendered with its own pair's identified settings (the floor's render)."""
    from tonematch.models.chain.exact import render_array

    return render_array(mix, settings_of(fit.values, sample_rate), sample_rate)


def identify_pair(p, eq=None) -> PairFit:
    """Identify a pair.PairData (its compressor already read): sets p.fit and p.settings. `eq`:
    transfer.estimate of its excerpts' mids, when the caller has it."""
    p.fit = identify(p.mix, p.master, p.mix_char, p.compressor, p.played_master_lufs(), eq=eq)
    p.settings = settings_of(p.fit.values, p.mix.sample_rate)
    return p.fit
