"""One road for every mix: decide the settings once, then render them to a file or an array.

    decision = decide(mix, aim, options)        # mix: an inputs.Analysis
    audio = render_array(x, decision)           # or write_master(path, mix, decision, out)

An aim says where the settings start: a reference (ReferenceAim: the network, or the
non-learned matcher without one), a style (style.StyleAim), or the neutral chain (NeutralAim,
tonematch-eval's "refine from neutral"). The run's loudness, ceiling, groups, refinement and
amount follow the same way for all (match.finish). The command line, the API, batches, styles,
the studio's export and tonematch-eval all master through here.

Provenance travels in the settings (`settings.source`, written into every settings JSON) with a
fingerprint of the decided values: once a person edits them, `settings.edited` says so.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from tonematch import __version__
from tonematch.data.atomic import Transaction
from tonematch.data.errors import TonematchError
from tonematch.models import excerpts
from tonematch.models.chain.settings import Settings
from tonematch.models.measure.dynamics import clipped_fraction, dc_offset
from tonematch.models.measure.spectrum import share_below

from . import match
from .inputs import Analysis, analyse_array, analyse_input, as_audio, db, label

# A mix whose mean sits less than this under its peak carries a DC offset worth removing: it
# costs the limiter ~0.15 dB of headroom (recordings sit 45-75 dB under, some synth renders 30).
# A 2nd-order high-pass at 20 Hz removes it and leaves the music's lowest octave.
DC_OFFSET_LIMIT_DB = -36.0
DC_HIGHPASS_HZ = 20.0
DC_HIGHPASS_Q = 0.707
# A mix with this share of its samples flat at its peak is clipped (music reads 0: none of the
# corpus's 116 tracks reaches 0.01 %); what the clipper cut off no chain brings back.
CLIPPED_LIMIT = 0.001
# A mix with this share of its energy below RUMBLE_HZ carries rumble the limiter would spend itself
# on (music reads less: at most 24 % among the corpus's 116 tracks, median 0.1 %). The chain's
# high-pass (12 dB/octave) is the user's to set: the run says so, and where.
RUMBLE_HZ = 30.0
RUMBLE_LIMIT = 0.5


class Aim(Protocol):
    """Where a mix's settings start, and what they are matched to."""

    def choose(self, mix: Analysis, options: match.Options) -> tuple[Settings, dict, match.Target]:
        """(settings before the render, notes on how they were reached, the target they aim at)."""

    def provenance(self) -> dict:
        """What the settings JSON records of this aim (the reference, the model, the style)."""


@dataclass
class ReferenceAim:
    """Toward a reference: the network's reading of mix and reference (or, with no network, the
    non-learned matcher's), then refinement toward the reference's character."""

    target: match.Target
    model: object | None = None  # match.load_model's network; None: the non-learned matcher
    model_name: str = "default"

    def choose(self, mix, options):
        settings, notes = match.choose_settings(mix, self.target, options, self.model)
        if mix.channels == 2 and self.target.clips.shape[1] == 1 and settings.enabled("width"):
            # a mono reference's width is its format, not its mastering: the mix keeps its own
            settings = Settings(settings.values, settings.sample_rate, settings.bypass | {"width"}, settings.source)
            notes["mono_reference"] = True
        return settings, notes, self.target

    def provenance(self) -> dict:
        return {
            "reference": os.path.basename(self.target.name),
            # by its name alone, as the reference: a shared settings file names no folders of this machine
            "model": "none" if self.model is None else os.path.basename(os.fspath(self.model_name)),
        }


@dataclass
class NeutralAim:
    """From the neutral chain (flat EQ, ratio 1, width 1), refined from the reference's
    measurements alone: no network, no matcher (tonematch-eval's baseline)."""

    target: match.Target

    def choose(self, mix, options):
        target = self.target.at_rate(mix.sample_rate)
        settings, notes = match.finish(Settings.defaults(mix.sample_rate), mix, target, options, {"start": "neutral"})
        return settings, notes, target

    def provenance(self) -> dict:
        return {"reference": os.path.basename(self.target.name), "model": "none"}


@dataclass
class Decision:
    """The settings a mix gets (at its rate, provenance in `settings.source`), the target they
    aim at (a report draws it) and the notes on how they were reached ('start', 'refined', the
    refinement's distances)."""

    settings: Settings
    target: match.Target
    notes: dict = field(default_factory=dict)

    @property
    def start(self) -> str:
        return self.notes["start"]


def decide(mix: Analysis, aim: Aim, options: match.Options, name="the mix", source: dict | None = None) -> Decision:
    """The settings for `mix` toward `aim`, checked finite (audio that gives NaN settings is
    refused, naming `name`) and stamped with their provenance (`source`: e.g. the mix's name)."""
    dc = _dc(mix, options)
    clipped = clipped_fraction(mix.clips)  # read before the offset is taken out: the flat tops are the file's
    # rumble is read without the DC offset (its own line; 0 Hz is below 30 Hz too)
    rumble = share_below(
        excerpts.joined(mix.clips - mix.clips.mean(axis=-1, keepdims=True)), mix.sample_rate, RUMBLE_HZ
    )
    if dc.get("dc_removed"):  # the settings are chosen for the mix the chain will see: without it
        mix = replace(mix, clips=mix.clips - mix.clips.mean(axis=(0, 2), keepdims=True))
    settings, notes, target = aim.choose(mix, options)
    notes.update(dc)
    if clipped >= CLIPPED_LIMIT:
        notes["clipped_fraction"] = clipped
    cut = settings.enabled("eq", "highpass") and settings.values["eq.highpass.freq_hz"] >= RUMBLE_HZ
    if rumble >= RUMBLE_LIMIT and not cut:
        notes["rumble_fraction"] = rumble
    bad = [k for k, v in settings.values.items() if not math.isfinite(v)]
    if bad:
        raise TonematchError(
            f"{label(name, 'mix')}: its audio gives no finite setting for {bad[0]} (is the file corrupt?)"
        )
    settings, _ = settings.at_rate(mix.sample_rate)
    if mix.channels == 1 and settings.enabled("width"):  # mono has no side: say so, claim no move
        settings = Settings(settings.values, settings.sample_rate, settings.bypass | {"width"}, settings.source)
    if dc.get("dc_removed"):
        settings = _with_highpass(settings)
    provenance = {
        "tonematch_version": __version__,
        **(source or {}),
        **aim.provenance(),
        "started_from": notes["start"],
        "refined": bool(notes.get("refined", False)),
        # how literally the reference (a style's references) was copied, where refinement from the network used it
        **({"literal": notes["reading"]["literal"]} if "reading" in notes else {}),
        "amount": options.amount,
        "groups": list(options.groups()),
    }
    return Decision(settings.stamped(provenance), target, notes)


def _dc(mix: Analysis, options: match.Options) -> dict:
    """Notes on the mix's DC offset, where it has one worth removing: its level, and whether the
    EQ's high-pass will remove it (not where the EQ is off or --amount is 0: a null asked for).
    The offset would eat headroom, fool the loudness stage and come out louder after the gain."""
    offset = dc_offset(mix.clips)
    if db(offset) - mix.true_peak_dbtp <= DC_OFFSET_LIMIT_DB:
        return {}
    return {"dc_offset_dbfs": db(offset), "dc_removed": "eq" in options.groups() and options.amount > 0.0}


def _with_highpass(settings: Settings) -> Settings:
    """The EQ's high-pass on (at DC_HIGHPASS_HZ, unless it is on already)."""
    if settings.enabled("eq", "highpass"):
        return settings
    values = {**settings.values, "eq.highpass.freq_hz": DC_HIGHPASS_HZ, "eq.highpass.q": DC_HIGHPASS_Q}
    return Settings(values, settings.sample_rate, settings.bypass - {"eq.highpass"}, settings.source)


def render_array(x: np.ndarray, decision: Decision) -> np.ndarray:
    """The exact render of the whole of `x` [C, T] (at the decision's rate) with the decision."""
    from tonematch.models.chain.exact import render_array as exact_render

    return exact_render(as_audio(x), decision.settings, decision.settings.sample_rate)


def master_array(x: np.ndarray, sample_rate: int, aim: Aim, options: match.Options) -> tuple[np.ndarray, Decision]:
    """Analyse, decide and render an array [C, T] in memory: (the master, the decision)."""
    x = as_audio(x)
    decision = decide(analyse_array(x, sample_rate), aim, options)
    return render_array(x, decision), decision


# -- to files ------------------------------------------------------------------------------------


def settings_path(out_path) -> Path:
    return Path(out_path).with_suffix(".json")


def report_path(out_path) -> Path:
    return Path(out_path).with_suffix(".png")


def master_file(mix_path, aim: Aim, out_path, options: match.Options, source: dict | None = None, **write) -> dict:
    """Master one file: check the paths, analyse the mix (inputs.analyse_input), decide its
    settings, then write (write_master's options). Returns write_master's summary, timed from
    the start."""
    from tonematch.data import output_paths

    started = time.perf_counter()
    output_paths.check_paths(mix_path, out_path)
    for extra in (settings_path(out_path),) + ((report_path(out_path),) if write.get("report") else ()):
        if os.path.abspath(extra) == os.path.abspath(mix_path):
            raise TonematchError(f"'{extra}' would overwrite the input; choose another output name")
    mix = analyse_input(mix_path, "mix")
    decision = decide(mix, aim, options, mix_path, {"mix": os.path.basename(os.fspath(mix_path)), **(source or {})})
    summary = write_master(mix_path, mix, decision, out_path, **write)
    summary["total_seconds"] = time.perf_counter() - started
    return summary


def write_master(
    mix_path,
    mix: Analysis,
    decision: Decision,
    out_path,
    report: bool = False,
    bit_depth=None,
    dither: bool = True,
    warn: Callable[[str], None] | None = None,
    replace: bool = True,
) -> dict:
    """Render the whole file with the decision (streaming, exact) to `out_path`, its settings to
    OUT.json and with `report` a picture to OUT.png: all three appear together or none does
    (data.atomic.Transaction); replace=False never replaces an existing one. Returns the render
    summary plus 'settings', 'notes', the output's loudness and true peak, and the paths written."""
    from tonematch.models.measure.loudness import LoudnessMeter
    from tonematch.models.measure.truepeak import TruePeakMeter

    from .render import render_file

    settings = decision.settings
    meter = tp = None

    def on_restart():
        nonlocal meter, tp
        meter, tp = LoudnessMeter(mix.sample_rate, mix.channels), TruePeakMeter(mix.channels)

    def on_block(block):
        meter.add(block)
        tp.add(block)

    on_restart()

    with Transaction(replace=replace) as files:
        summary = render_file(
            mix_path,
            settings,
            files.stage(out_path),
            bit_depth=bit_depth,
            dither=dither,
            warn=warn,
            on_block=on_block,
            on_restart=on_restart,
        )
        summary["output"] = str(out_path)
        files.write(settings_path(out_path), lambda tmp: settings.to_json(tmp))
        summary.update(
            settings=settings,
            notes=decision.notes,
            output_lufs=meter.integrated(),
            output_true_peak_dbtp=db(tp.peak()),
            input_lufs=mix.lufs,
            input_true_peak_dbtp=mix.true_peak_dbtp,
            settings_path=str(settings_path(out_path)),
        )
        if report:
            from .report import write_report

            heard, _ = settings.at_rate(mix.sample_rate)  # the report draws what the render did
            files.write(report_path(out_path), lambda tmp: write_report(tmp, mix, decision.target, heard, summary))
            summary["report_path"] = str(report_path(out_path))
        files.commit()
    return summary
