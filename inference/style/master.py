"""The start settings and target a style sets for a mix.

A style of settings predicts the engineer's chain for the mix (settings_model.predict) and keeps
it (no refinement: the settings are the engineer's own). A style of character (from reference
masters, or a file from before the settings style) predicts the target character from the mix's
own. From references, with the network, the network reads the mix against itself and refinement
moves its tonal balance STYLE_LITERAL of the way toward that target (_from_network); otherwise
(a format-2 pair style, or a source tree without the shipped network) settings fitted to the
whole target are the start (start_settings). Both then take match's loudness/ceiling, group,
refinement and amount steps. The style as the pipeline's aim, and mastering an array with it,
are in aim.py.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tonematch.models import excerpts
from tonematch.models.chain import TABLE
from tonematch.models.chain.settings import Settings

from .. import character, match, matcher
from ..inputs import Analysis, played_lufs
from .identify import clip_setting, mix_descriptors, settings_of
from .model import COMPRESSOR_KEYS, Habit, Style
from .settings_model import beyond_rate, predict

# A compressor to start from where a style has no habit (from references): refinement moves it.
GENERIC_COMPRESSOR = {"threshold_rel_lufs": 6.0, "ratio": 2.0, "attack_ms": 10.0, "release_ms": 150.0, "knee_db": 6.0}
TIMING_KEYS = ("compressor.attack_ms", "compressor.release_ms")  # read from the gain trace, not refined
# How literally a style from references copies its masters' average balance from the network's
# start (match's --literal, refine.literal_shares): 0.2 takes 40 % of its tilt, none of its detail
# or width (masters of other songs carry their music in both). Chosen on bench_style's foreign
# engineers, where it measured closest on the adaptive one (docs/decisions.md).
STYLE_LITERAL = 0.2


def start_settings(mix: Analysis, mix_char: dict, target_char: dict, habit: Habit | None) -> Settings:
    """Settings toward a target character without reference audio: EQ fitted to the tone change,
    width from the width change above 200 Hz, the compressor from the habit (or a generic start)."""
    sr = mix.sample_rate
    s = Settings.defaults(sr)
    centres = character.band_centres(sr)
    sel = character.tone_range(centres, sr)
    curve = (target_char["tone"] - mix_char["tone"])[sel]
    s.values.update(matcher.fit_eq(curve, centres[sel], sr))
    if mix_char["width"].size and target_char["width"].size:
        d = float(np.clip(target_char["width"][1:] - mix_char["width"][1:], -20, 20).mean())
        s.values["width.width"] = float(np.clip(10.0 ** (d / 20.0), 0.0, 2.0))
    comp = GENERIC_COMPRESSOR if habit is None else habit.compressor()
    mix_lufs = played_lufs(mix) if mix.lufs is not None else -20.0
    low, high = TABLE.by_key["compressor.threshold_db"].spec.bounds(sr)
    s.values["compressor.threshold_db"] = float(np.clip(mix_lufs + comp["threshold_rel_lufs"], low, high))
    for name in COMPRESSOR_KEYS[1:]:
        low, high = TABLE.by_key[f"compressor.{name}"].spec.bounds(sr)
        s.values[f"compressor.{name}"] = float(np.clip(comp[name], low, high))
    s.validate()
    return s


def target_for(style: Style, mix: Analysis) -> tuple[match.Target, dict]:
    """(the target this style sets for the mix, the mix's own character)."""
    mix_char = character.character_of(mix.clips, mix.sample_rate, mix.true_peak_ratio)
    pred = style.predict(mix_char, played_lufs(mix), mix.sample_rate)
    # the style's loudness is its masters' as they play: match.finish lowers it for a mono mix
    target = match.Target(
        pred,
        float(pred["lufs"]),
        float(style.true_peak_dbtp),
        mix.sample_rate,
        mix.clips,
        name=f"style {style.name}",
        played=True,
        own_clips=False,
    )
    return target, mix_char


def mastering_ceiling(style: Style) -> float:
    """The true-peak ceiling `master` uses with this style where the run sets none: a style of
    settings its limiter's own; a style of character match's rule (-1 dBTP, or lower where the
    style's masters peak lower), so that `style show` says what mastering will do."""
    if style.settings is not None:
        return float(style.settings["groups"]["limiter"]["ceiling_dbtp"])
    return match.default_ceiling(float(style.true_peak_dbtp))


def choose_settings(mix: Analysis, style: Style, options: match.Options) -> tuple[Settings, dict, match.Target]:
    """(settings, notes, target) the style gives a mix: a style of settings its predicted chain
    (_from_settings); a style from references the network's start (_from_network); else
    settings fitted to the style's predicted target (start_settings); then match's own
    loudness, groups, refinement and amount (match.finish). The target's excerpts are the mix
    rendered with the style's settings (from its fitted start, that start: the whole target), so
    a report's style-target curve shows what the style does."""
    if style.settings is not None:  # a style of settings: the engineer's chain, predicted for the mix
        return _from_settings(mix, style, options)
    from tonematch.models.chain.exact import render_array

    # a character style fitted on pairs (format 2) keeps its own start
    model = match.load_model(options.model) if style.from_references else None
    target, mix_char = target_for(style, mix)
    notes = {"start": "style", "style": style.name, "target_lufs": float(target.lufs)}
    if model is not None:
        settings, notes = _from_network(mix, target, options, notes, model)
        shown = settings
    else:
        start = start_settings(mix, mix_char, target.character, style.habit)
        timed = style.habit is not None and style.habit.timing_pairs > 0
        settings, notes = match.finish(start, mix, target, options, notes, fixed=TIMING_KEYS if timed else ())
        shown = start  # the whole target's settings: what the style aims for
    rendered = render_array(excerpts.joined(mix.clips), shown, mix.sample_rate)
    target.clips = excerpts.split(rendered, mix.clips.shape[0])
    return settings, notes, target


def _from_network(mix: Analysis, target: match.Target, options: match.Options, notes: dict, model):
    """(settings, notes): the network's settings for the mix read against the mix itself (what it
    hears this mix needs, with no other song's music in the way), then match.finish: refinement
    from the network's start moves the balance STYLE_LITERAL of the way toward the style's target.
    The style's masters were other songs: their balance is as much their music as their mastering."""
    from tonematch.data import heap

    notes["settings_from"] = "network"
    start = match.predicted_settings(model, mix, itself=True)
    heap.release()  # the network's activations, handed back before refinement
    return match.finish(
        start,
        mix,
        target,
        replace(options, literal=STYLE_LITERAL),
        notes,
        typical=model.typical_balance,
        from_network=True,
    )


def _from_settings(mix: Analysis, fitted: Style, options: match.Options) -> tuple[Settings, dict, match.Target]:
    """(settings, notes, target) for a mix: the settings the style predicts for it, then the
    run's loudness and ceiling where the user sets them, groups and amount (no refinement: the
    style's settings are the engineer's own). The target's excerpts are the mix rendered with
    them, so a report's style-target curve shows what the style does."""
    from tonematch.models.chain.exact import render_array

    sr = mix.sample_rate
    mix_char = character.character_of(mix.clips, sr, mix.true_peak_ratio)
    values = predict(fitted.settings, mix_descriptors(mix_char, played_lufs(mix), sr), sr)
    settings = settings_of(values, sr)
    if not fitted.settings["groups"]["compressor"]["on"]:
        settings.values["compressor.ratio"] = 1.0
    target = match.Target(
        None,
        values["loudness.target_lufs"],
        values["limiter.ceiling_dbtp"],
        sr,
        mix.clips,
        name=f"style {fitted.name}",
        played=True,
        own_clips=False,
    )
    lufs, ceiling = match.loudness_and_ceiling(options, target)
    if options.target_lufs is None and options.platform is None:
        lufs = values["loudness.target_lufs"]
    if options.ceiling_dbtp is None and options.platform is None:
        ceiling = values["limiter.ceiling_dbtp"]
    notes = {"start": "style", "style": fitted.name, "target_lufs": float(lufs), "settings_from": "style settings"}
    eq = fitted.settings["groups"]["eq"]
    if eq["mode"] == "fixed" and beyond_rate(eq["values"], sr):  # settings_model.predict refitted it
        notes["style_eq_refitted_below_hz"] = 0.45 * sr
    settings, notes = match.finish(settings, mix, target, replace(options, refine=False), notes)
    # a mono mix plays on both speakers: its file sits under the style's loudness (finish's note)
    lufs_file = clip_setting("loudness.target_lufs", lufs + notes.get("mono_playback_lu", 0.0), sr)
    settings.values["loudness.target_lufs"] = lufs_file
    settings.values["limiter.ceiling_dbtp"] = float(ceiling)
    target.lufs, target.true_peak_dbtp = float(lufs), float(ceiling)
    rendered = render_array(excerpts.joined(mix.clips), settings, sr)
    target.clips = excerpts.split(rendered, mix.clips.shape[0])
    return settings, notes, target
