"""Refinement: inference-time optimisation of chain settings against a target character.

Starting from the network's prediction (or any settings), a bounded quasi-Newton descent
(scipy's L-BFGS-B; gradients of the frame model from autograd, no torch) moves the settings, in
the parameter table's [0, 1] space, so that the chain's output (modelled on frames,
character.py) has the reference's tonal balance, stereo width, loudness spread and block crest.
Loudness and the ceiling are not optimised: the loudness stage lands on its target and the
limiter holds the ceiling. The result is then checked on an exact render of the excerpts and
kept only if it measures closer to the target than the start.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import autograd
import autograd.numpy as anp
import numba
import numpy as np
from scipy.optimize import minimize

from tonematch.models import excerpts
from tonematch.models.chain import TABLE, match_eq
from tonematch.models.chain.exact import render_array
from tonematch.models.chain.params import unit_mapping
from tonematch.models.chain.settings import Settings

from . import character
from .match_fit import broad, match_shortfall, thirds_error, thirds_of

# The settings refinement may move, by group (the match command's --only/--skip groups).
GROUP_KEYS = {
    "eq": [k for k in TABLE.learned_keys if k.startswith("eq.") and not k.startswith("eq.highpass.")],
    "dynamics": [f"compressor.{n}" for n in ("threshold_db", "ratio", "attack_ms", "release_ms", "knee_db")],
    "width": ["width.width"],
}
# L-BFGS-B iterations of a descent (from a start that is not the network's, the second,
# bias-corrected one takes half); converged by then on the held-out evaluation (docs/decisions.md).
STEPS = 8
# The frame model is piecewise smooth (gates, knees, clamps), so a line search can take many
# evaluations for little gain: each step gets at most this many.
MAX_EVALUATIONS_PER_STEP = 2
# per unit^2 of the [0, 1] settings: refine()'s default trust region around the start, for a
# caller that names none (match passes PULL_BLENDED or PULL_MEASURED); figures: docs/decisions.md.
PULL = 100.0
# From a start that is not learned (neutral, the non-learned matcher) the measurements are all
# there is to go on: a light pull, only to break ties.
PULL_MEASURED = 1.0
GAIN_PENALTY = 2e-4  # per dB^2 of EQ gain: no boosts that buy nothing
# With a raw reference as the target, the spectral terms count as s * log(1 + d / s): like d
# while small, only logarithmically once the reference's balance is far from the start's (its
# music, not its mastering), where the pull should win. s in dB^2.
ROBUST_SCALE = {"tone": 5.0, "width": 5.0}
# From the network's start refinement moves the EQ and the width toward a blend of two
# characters: the network's reading (what it expects this mix to sound like, mastered as the
# reference is) and the reference's own. `literal` sets the blend: 0 keeps the network's reading,
# 1 copies the reference's tonal balance and width. The dynamics stay as the network read them:
# a reference's crest factor and loudness spread depend on its music as much as on its mastering.
NETWORK_GROUPS = ("eq", "width")
NETWORK_WEIGHTS = {"spread": 0.0, "crest": 0.0}
# per unit^2 of the [0, 1] settings, toward a blended target: the blend already says how far to
# trust the reference, so the pull only breaks ties between settings that sound alike
PULL_BLENDED = 2.0


# Where refinement may take a setting, inside the table's range: a reference far wider than the
# mix (its music, not its mastering) must not drive the side gain to the table's x2.
BOUNDS = {"width.width": (0.6, 1.6)}

# The tonal move taken from the reference is smoothed over about an octave (the tonal bands are
# 1/6 octave): a reference's narrow peaks are its instruments, a mastering EQ moves broad regions.
TONE_MOVE_SMOOTHING_BANDS = 7
MATCH_PASSES = 2  # exact renders of the match EQ, each correcting the last one's shortfall
TILT_REGIONS_HZ = ((40.0, 250.0), (2000.0, 12000.0))  # bass and treble
TILT_CLIP_DB = 12.0
# What the reference's balance is compared with, to tell its mastering from its music: the
# start's balance less this share of the mix's own departure from typical music (the model's
# `typical_balance`), for `literal` up to this value; above it the share falls to 0 at literal 1,
# where the reference's balance is copied. Another song differs from the mix by two songs' worth
# of music and from typical music by one; the mix is the better guess for the same song. Half
# and half was closest to the true master on both (docs/decisions.md).
TYPICAL_SHARE = 0.5


def literal_shares(literal: float) -> tuple[float, float]:
    """(tilt share, detail share) of the reference's tonal move that `literal` copies: the broad
    tilt first (all of it at 0.5), then the detail (all of it at 1), whose shape is mostly the
    reference's music rather than its mastering. The width follows the detail's share: a song's
    width is mostly its music, and a partial copy only pinned the side gain at its bound (model card)."""
    return min(1.0, 2.0 * literal), max(0.0, 2.0 * literal - 1.0)


def tone_anchor(start: dict, mix: dict | None, typical: dict | None, literal: float, centres_hz) -> np.ndarray:
    """The tonal balance the reference's is compared with (blended_target's `anchor`): the
    start's, less a share of the mix's departure from `typical` ({"centres_hz", "tone_db"}: the
    mean balance of the model's training music), TYPICAL_SHARE up to literal TYPICAL_SHARE and
    falling to 0 at literal 1. Without `typical`, the start's."""
    start_tone = np.asarray(start["tone"], dtype=np.float64)
    share = TYPICAL_SHARE * min(1.0, (1.0 - literal) / (1.0 - TYPICAL_SHARE)) if literal < 1.0 else 0.0
    if typical is None or share <= 0.0:
        return start_tone
    log_hz = np.log(np.asarray(typical["centres_hz"], dtype=np.float64))
    typical_tone = np.interp(np.log(centres_hz), log_hz, np.asarray(typical["tone_db"], dtype=np.float64))
    departure = np.asarray(mix["tone"], dtype=np.float64) - typical_tone
    return start_tone - share * (departure - departure.mean())


def blended_target(start: dict, reference: dict, literal: float, centres_hz: np.ndarray, anchor=None) -> dict:
    """The character refinement aims at from the network's start (the exact render of the
    network's settings): its tone moved toward the reference's by literal_shares of the move's
    straight-line tilt over log frequency and of the rest (the move smoothed over an octave), its
    width by the detail's share; the dynamics and loudness are the start's. The move is the
    reference's balance less `anchor` (tone_anchor; None: the start's balance); its tilt is held
    between the start's and the reference's own (tilt_taken). The detail finer than an octave is
    the match EQ's (thirds_goal)."""
    out = dict(start)
    move = np.asarray(reference["tone"]) - np.asarray(start["tone"] if anchor is None else anchor)
    smooth = _smoothed(move)
    tilt = _tilt(smooth, centres_hz)
    tilt_share, detail_share = literal_shares(literal)
    wanted, _, taken = tilt_taken(start, reference, literal, centres_hz, anchor)
    held = tilt * (taken / wanted) if wanted != 0.0 else tilt
    out["tone"] = start["tone"] + tilt_share * held + detail_share * (smooth - tilt)
    if np.shape(start["width"]) == np.shape(reference["width"]):
        out["width"] = start["width"] + detail_share * (reference["width"] - start["width"])
    return out


def tilt_taken(start: dict, reference: dict, literal: float, centres_hz, anchor=None) -> tuple[float, float, float]:
    """(wanted, own, taken), treble against bass in dB: the tilt `literal` asks of the reference's
    move against `anchor`, the reference's own balance against the start, and what the blend
    takes: the wanted tilt held to the own, so the master never tilts past the reference or away
    from it. Against an anchor, another song's music can ask for the opposite of what the
    reference sounds like (a bright mix, a reference brighter still, read darker)."""
    centres_hz = np.asarray(centres_hz, dtype=np.float64)
    base = start["tone"] if anchor is None else anchor
    wanted = literal_shares(literal)[0] * treble_over_bass_db(np.asarray(reference["tone"]) - base, centres_hz)
    own = treble_over_bass_db(np.asarray(reference["tone"]) - np.asarray(start["tone"]), centres_hz)
    if wanted * own <= 0.0:
        return wanted, own, 0.0
    return wanted, own, math.copysign(min(abs(wanted), abs(own)), wanted)


def _smoothed(move: np.ndarray) -> np.ndarray:
    window = np.hanning(TONE_MOVE_SMOOTHING_BANDS + 2)[1:-1]
    # normalised by the window's weight inside the range, so the ends are not pulled toward 0
    return np.convolve(move, window, mode="same") / np.convolve(np.ones_like(move), window, mode="same")


def _region_means(smooth: np.ndarray, centres_hz: np.ndarray) -> list[tuple[float, float]]:
    """(mean octave, mean dB) of a smoothed tonal move over the bass and over the treble
    (TILT_REGIONS_HZ; what a listener calls darker or brighter), the move clipped to what one EQ
    region does; a region the bands miss is left out."""
    octaves = np.log2(np.maximum(centres_hz, 1.0))
    fitted = np.clip(smooth, -TILT_CLIP_DB, TILT_CLIP_DB)
    means = []
    for low, high in TILT_REGIONS_HZ:
        sel = (centres_hz >= low) & (centres_hz <= high)
        if sel.any():
            means.append((float(np.mean(octaves[sel])), float(np.mean(fitted[sel]))))
    return means


def _tilt(smooth: np.ndarray, centres_hz: np.ndarray) -> np.ndarray:
    """The tilt of a smoothed tonal move at each band, dB: the line over log frequency through
    the bass's and the treble's means (a least-squares line over all bands is steered by the mids
    and by a sparse mix's empty ends); 0 where the bands miss a region."""
    means = _region_means(smooth, centres_hz)
    if len(means) != 2:
        return np.zeros_like(smooth)
    (x0, y0), (x1, y1) = means
    slope = (y1 - y0) / (x1 - x0)
    return slope * np.log2(np.maximum(centres_hz, 1.0)) + (y0 - slope * x0)


def treble_over_bass_db(move, centres_hz) -> float:
    """A tonal move's tilt as a listener hears it: the treble's level against the bass's, dB, as
    blended_target reads it (smoothed, clipped); 0 where the bands miss a region."""
    means = _region_means(_smoothed(np.asarray(move, np.float64)), np.asarray(centres_hz, np.float64))
    return means[1][1] - means[0][1] if len(means) == 2 else 0.0


def detail_db(move, centres_hz) -> float:
    """RMS over the bands, dB, of what a tonal move holds beyond its tilt: the finer balance
    blended_target copies from `literal` 0.5 up (the smoothed move less its tilt line)."""
    smooth = _smoothed(np.asarray(move, np.float64))
    rest = smooth - _tilt(smooth, np.asarray(centres_hz, np.float64))
    return float(np.sqrt(np.mean(rest**2)))


@dataclass
class Reading:
    """How refinement from the network read the reference (the run's `reference:` line): the
    reference's tilt and finer balance against what it was compared with (tone_anchor), the
    shares `literal` takes, and how far the exact render of the result tilted from the network's."""

    reference_tilt_db: float
    reference_detail_db: float
    tilt_share: float
    detail_share: float
    moved_tilt_db: float
    own_tilt_db: float  # the reference's balance against the network's master as rendered
    taken_tilt_db: float  # what the blend aimed at: the share, held between the two (tilt_taken)


@dataclass
class Refined:
    settings: Settings
    start_distance: float  # exact render of the excerpts, character distance to the target
    distance: float
    kept: bool  # False: the refined settings measured no better and the start was kept
    steps: int
    reading: Reading | None = None  # from a network's start (refine's `literal`)


@contextlib.contextmanager
def single_thread():
    """One numba thread: the steps work on small arrays, where a thread pool's hand-offs cost
    more than they save (ten times more on a busy machine)."""
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(threads)


class _Problem:
    """The settings being refined, as their [0, 1] values, and the loss on frames."""

    def __init__(
        self,
        settings: Settings,
        frames: character.Frames,
        target: dict,
        keys: list[str],
        pull: float,
        weights: dict | None = None,
        robust: bool = True,
    ):
        self.settings, self.frames, self.target, self.keys, self.pull = settings, frames, target, keys, pull
        self.weights, self.robust = weights, robust
        self.specs = [TABLE.by_key[k].spec for k in keys]
        sr = frames.sample_rate
        self.u0 = np.array(
            [min(max(float(s.to_unit(settings.values[k], sr)), 0.0), 1.0) for k, s in zip(keys, self.specs)]
        )
        self.fixed = {k: float(v) for k, v in settings.values.items()}
        self.physical = unit_mapping(self.specs, sr, anp)  # [0, 1] -> engineer's units, as the table maps
        self.gains = [i for i, k in enumerate(keys) if k.endswith(".gain_db")]
        self.eq_index = [i for i, k in enumerate(keys) if k.startswith("eq.")]
        self.others = [i for i, k in enumerate(keys) if not k.startswith("eq.")]
        self.eq_power = character.eq_power_of([keys[i] for i in self.eq_index], self.fixed, frames, settings.bypass)

    def loss(self, u):
        values = self.physical(u)
        p = dict(self.fixed)
        for i in self.others:
            p[self.keys[i]] = values[i]
        eq_response = self.eq_power(values[self.eq_index]) if self.eq_index else None
        out = character.measure(character.render(self.frames, p, self.settings.bypass, eq_response), self.frames)
        loss = robust_distance(out, self.target, self.frames, self.weights, self.robust)
        loss = loss + self.pull * anp.sum((u - self.u0) ** 2)
        if self.gains:
            loss = loss + GAIN_PENALTY * anp.sum(values[self.gains] ** 2)
        return loss

    def unit_bounds(self, key: str) -> tuple[float, float]:
        """[0, 1] bounds of `key` for the optimiser (BOUNDS, widened to hold the start)."""
        if key not in BOUNDS:
            return 0.0, 1.0
        spec, u0 = TABLE.by_key[key].spec, self.u0[self.keys.index(key)]
        low, high = (float(np.clip(spec.to_unit(v, self.frames.sample_rate), 0.0, 1.0)) for v in BOUNDS[key])
        return min(low, u0), max(high, u0)

    def value_and_grad(self, u: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = autograd.value_and_grad(self.loss)(np.asarray(u, dtype=np.float64))
        return float(value), np.asarray(grad, dtype=np.float64)

    def settings_at(self, u: np.ndarray) -> Settings:
        values = dict(self.settings.values)
        for i, (k, s) in enumerate(zip(self.keys, self.specs)):
            if abs(float(u[i] - self.u0[i])) > 1e-4:  # untouched values keep their exact start
                values[k] = float(s.from_unit(float(u[i]), self.frames.sample_rate))
        s = self.settings
        return Settings(values, s.sample_rate, s.bypass, dict(s.source))


def robust_distance(a: dict, b: dict, frames: character.Frames, weights: dict | None = None, robust: bool = True):
    """character.distance with the spectral terms made robust (ROBUST_SCALE) unless `robust` is
    False (a blended target: it already says how far to trust the reference)."""
    total = 0.0
    for name, term in character.terms(a, b, frames, weights).items():
        scale = ROBUST_SCALE.get(name) if robust else None
        total = total + (scale * anp.log1p(term / scale) if scale else term)
    return total


def refinable_keys(settings: Settings, groups, fixed=()) -> list[str]:
    """The keys of `groups` whose processor (and EQ band) is switched on, less those `fixed`."""
    keys = []
    for group in groups:
        for key in GROUP_KEYS[group]:
            if key in fixed:
                continue
            parts = key.split(".")
            if settings.enabled(parts[0]) and (len(parts) < 3 or settings.enabled(parts[0], parts[1])):
                keys.append(key)
    return keys


def optimise(
    settings: Settings,
    frames: character.Frames,
    target: dict,
    groups=("eq", "dynamics", "width"),
    steps: int = STEPS,
    pull: float = PULL,
    weights: dict | None = None,
    fixed=(),
    robust: bool = True,
) -> Settings:
    """Settings after at most `steps` L-BFGS-B iterations on the frame model (no exact check);
    `weights` of the character's terms as in character.terms; `fixed` keys stay as they are."""
    keys = refinable_keys(settings, groups, fixed)
    if not keys or steps <= 0:
        return settings
    problem = _Problem(settings, frames, target, keys, pull, weights, robust)
    with single_thread():
        result = minimize(
            problem.value_and_grad,
            problem.u0,
            jac=True,
            method="L-BFGS-B",
            bounds=[problem.unit_bounds(k) for k in keys],
            options={"maxiter": int(steps), "maxfun": MAX_EVALUATIONS_PER_STEP * int(steps)},
        )
    return problem.settings_at(result.x)


def exact_render(settings: Settings, clips: np.ndarray, sample_rate: int) -> np.ndarray:
    """The exact render of the excerpts [N, C, L] (rendered end to end, then split again)."""
    return excerpts.split(render_array(excerpts.joined(clips), settings, sample_rate), clips.shape[0])


def exact_character(
    settings: Settings, clips: np.ndarray, sample_rate: int, true_peak_ratio: float = 1.0, thirds: dict | None = None
):
    """Character of the exact render of the excerpts [N, C, L]; where `thirds` is given, the
    render's third-octave balance too, under id(settings) (what the match EQ reads)."""
    out = exact_render(settings, clips, sample_rate)
    if thirds is not None:
        thirds[id(settings)] = thirds_of(out, sample_rate)
    return character.character_of(out, sample_rate, true_peak_ratio)


def refine(
    settings: Settings,
    clips: np.ndarray,
    frames: character.Frames,
    target: dict,
    groups=("eq", "dynamics", "width"),
    steps: int = STEPS,
    pull: float = PULL,
    weights: dict | None = None,
    fixed=(),
    literal: float | None = None,
    typical: dict | None = None,
    reach_hz: float | None = None,
) -> Refined:
    """Refine `settings` for the excerpts `clips` [N, C, L] (analysed as `frames`) towards the
    `target` character (its terms weighted by `weights`, e.g. NETWORK_WEIGHTS), and check on
    exact renders.

    The frame model is close to the exact chain but not equal (a limiter on frame peaks, a
    compressor on hop statistics). So after the first descent the exact render's character is
    measured and the model's bias there is taken off the target for a second, shorter descent
    (output space mapping); the best of start, first and second by the exact render wins. From a
    network's start (`literal` given) the start's exact render, which the blend needs anyway,
    gives the bias, and one descent follows: the blend stays near the start, and the second
    render and descent bought nothing measurable (docs/decisions.md).
    `fixed` keys are not moved (e.g. a compressor timing read from an engineer's pairs, which the
    frame model cannot see). With `literal` (a network's start) the target is the blend of the
    start's exact character and `target` (blended_target), matched without the robust terms;
    `typical` (the model's typical_balance) sets what the reference is compared with (tone_anchor).
    `reach_hz`: the top of what the target's audio holds (a reference at a lower rate; reached).
    """
    sr = frames.sample_rate
    tp = frames.true_peak_ratio
    robust = literal is None

    # a copy from the network's start (literal above 0.5) sets the match EQ, where it may
    copying = literal is not None and literal_shares(literal)[1] > 0.0 and "eq" in groups and "thirds" in target
    copying = copying and _match_free(settings, fixed)
    balances = {} if copying else None  # id(settings) -> the exact render's third-octave balance

    def exact(s):
        got = exact_character(s, clips, sr, tp, balances)
        return got, float(robust_distance(got, target, frames, weights, robust))

    if literal is None:
        start_char, start_d = exact(settings)
    else:
        start_char = exact_character(settings, clips, sr, tp, balances)
        # the mix as it is, only where a typical balance asks how far it departs from it
        mix_char = None if typical is None else character.plain(character.measure(character.neutral(frames), frames))
        anchor = tone_anchor(start_char, mix_char, typical, literal, frames.centers_hz)
        reference = target = reached(target, anchor, frames.centers_hz, reach_hz)
        move = np.asarray(target["tone"]) - anchor
        reference_move = (treble_over_bass_db(move, frames.centers_hz), detail_db(move, frames.centers_hz))
        _, own, taken = tilt_taken(start_char, target, literal, frames.centers_hz, anchor)
        target = blended_target(start_char, target, literal, frames.centers_hz, anchor)
        start_d = float(robust_distance(start_char, target, frames, weights, robust))
        unbiased = _unbiased(target, start_char, settings, frames)
        one = optimise(settings, frames, unbiased, groups, steps, pull, weights, fixed, robust)
        reading = Reading(*reference_move, *literal_shares(literal), 0.0, own, taken)
        if one is settings:  # nothing to move: the start stands, unrefined
            return Refined(settings, start_d, start_d, False, 0, reading)
        one_char, one_d = exact(one)
        best = min([(start_d, 0, settings), (one_d, 1, one)], key=lambda t: (t[0], -t[1]))
        if copying:
            # the detail a copy asks for, finer than seven bands follow: the match EQ, set from the
            # exact render's third-octave shortfall and kept where the render of it lands closer
            base = one if best[1] else settings
            goal = thirds_goal(balances[id(settings)], start_char, reference, target, literal, anchor, frames)
            for _ in range(MATCH_PASSES):
                have = balances[id(base)]
                matched = match_shortfall(base, goal - have, sr)
                if matched is None:
                    break
                matched_char, matched_d = exact(matched)
                if thirds_error(balances[id(matched)], goal) >= thirds_error(have, goal):
                    break
                best, one_char, base = (matched_d, 2, matched), matched_char, matched
        if best[1] > 0:
            moved = np.asarray(one_char["tone"]) - np.asarray(start_char["tone"])
            reading.moved_tilt_db = treble_over_bass_db(moved, frames.centers_hz)
        return Refined(best[2], start_d, best[0], best[1] > 0, steps, reading)
    first = optimise(settings, frames, target, groups, steps, pull, weights, fixed, robust)
    if first is settings:
        return Refined(settings, start_d, start_d, False, 0)
    first_char, first_d = exact(first)
    shifted = _unbiased(target, first_char, first, frames)
    second = optimise(first, frames, shifted, groups, steps // 2, pull, weights, fixed, robust)
    _, second_d = exact(second)
    best = min([(start_d, 0, settings), (first_d, 1, first), (second_d, 2, second)], key=lambda t: (t[0], -t[1]))
    return Refined(best[2], start_d, best[0], best[1] > 0, steps + steps // 2)


def thirds_goal(start_thirds, start: dict, reference: dict, target: dict, literal: float, anchor, frames) -> np.ndarray:
    """The third-octave balance (dB) the match EQ aims a render at: the start's, moved as the blend
    (`target`, blended_target) moves the smoothed balance, plus the detail's share of what the
    reference holds finer than the blend's octave-smoothed move. At literal 1: the reference's."""
    log_hz, at = np.log(frames.centers_hz), np.log(match_eq.CENTRES_HZ)

    def thirds(tone):
        return np.interp(at, log_hz, np.asarray(tone, dtype=np.float64))

    start_tone = np.asarray(start["tone"])
    base = start_tone if anchor is None else np.asarray(anchor)
    finer = (np.asarray(reference["thirds"]) - start_thirds - thirds(base - start_tone)) - thirds(
        _smoothed(np.asarray(reference["tone"]) - base)
    )
    return start_thirds + thirds(np.asarray(target["tone"]) - start_tone) + literal_shares(literal)[1] * broad(finer)


def _match_free(settings: Settings, fixed) -> bool:
    return settings.enabled("match") and not any(k.startswith(f"{match_eq.NAME}.") for k in fixed)


def reached(target: dict, anchor, centres_hz: np.ndarray, reach_hz: float | None) -> dict:
    """`target` with its tone above `reach_hz` (a reference at a lower rate has nothing there:
    its format, not its mastering) following `anchor` from the last band within reach."""
    above = np.asarray(centres_hz) > (reach_hz or np.inf)
    above[:-1] |= above[1:]  # the tone's three-band smoothing carries an empty band into the one below
    if not above.any() or above.all():
        return target
    tone, anchor = np.array(target["tone"], dtype=np.float64), np.asarray(anchor, dtype=np.float64)
    last = np.flatnonzero(~above)[-1]
    tone[above] = anchor[above] + (tone[last] - anchor[last])
    out = {**target, "tone": tone}
    if "thirds" in target:  # nothing above the reach to copy: the match EQ leaves those bands
        thirds = np.array(target["thirds"], dtype=np.float64)
        thirds[match_eq.CENTRES_HZ > reach_hz] = np.nan
        out["thirds"] = thirds
    return out


def _unbiased(target: dict, exact_char: dict, settings: Settings, frames: character.Frames) -> dict:
    """`target` less the frame model's bias at `settings` (its character there minus the exact
    render's, `exact_char`): what the model must reach for the exact chain to land on target."""
    p = {k: float(v) for k, v in settings.values.items()}
    model_char = character.plain(character.measure(character.render(frames, p, settings.bypass), frames))
    shifted = dict(target)
    for k in ("tone", "width", "spread", "crest"):
        if np.shape(exact_char[k]) == np.shape(target[k]):  # a mono mix has no width to correct
            shifted[k] = target[k] - (exact_char[k] - model_char[k])
    return shifted
