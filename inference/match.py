"""Matching a reference: the options of a run, the target, the network's or the matcher's start
settings, and how every start is finished (the run's loudness and ceiling, groups, refinement
toward the target's character, amount). inference/pipeline.py runs it for every mix."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from tonematch.data import heap
from tonematch.data.errors import TonematchError
from tonematch.data.resample import resample
from tonematch.models import excerpts, numpy_runtime
from tonematch.models.chain import TABLE
from tonematch.models.chain.settings import Settings

from .inputs import PLAYBACK_MONO_LU, Analysis

# Streaming targets: (integrated loudness LUFS, true-peak ceiling dBTP), as the services publish.
PLATFORMS = {
    "spotify": (-14.0, -1.0),
    "apple": (-16.0, -1.0),
    "youtube": (-14.0, -1.0),
    "tidal": (-14.0, -1.0),
    "amazon": (-14.0, -2.0),
    "deezer": (-15.0, -1.0),
}
GROUPS = ("eq", "dynamics", "width", "loudness")
PROCESSORS_OF = {
    "eq": ("eq", "match"),
    "dynamics": ("gain", "compressor"),
    "width": ("width",),
    "loudness": ("loudness",),
}
DEFAULT_CEILING_DBTP = -1.0  # the true-peak ceiling unless the reference peaks lower or the user says
HIGHPASS_MIN_HZ = 20.0  # a predicted high-pass below this is left off (it would only turn phase)
# How literally the reference's tonal balance and width are copied, from the network's reading
# (0: only what it reads as mastering) to the reference's own balance (1); 0.4 copies 80 % of its
# tilt and none of its detail or width (refine.literal_shares). Chosen on the follow evaluation
# and the foreign-chain tables: model card.
LITERAL = 0.4


@dataclass(frozen=True)
class Options:
    """What `tonematch match` / `master` take; every field has the command's default."""

    refine: bool = True
    steps: int | None = None  # refinement steps (None: refine.STEPS)
    amount: float = 1.0
    only: tuple[str, ...] | None = None
    skip: tuple[str, ...] = ()
    target_lufs: float | None = None
    platform: str | None = None
    ceiling_dbtp: float | None = None  # None: -1 dBTP, or lower where the reference peaks lower
    model: str | None = None  # model stem; None: the shipped default; "none": no network
    literal: float = LITERAL  # 0..1: the reference's tone and width copied (1) or read (0)

    def groups(self) -> tuple[str, ...]:
        chosen = tuple(self.only) if self.only else GROUPS
        return tuple(g for g in chosen if g not in self.skip)

    def check(self) -> None:
        if self.only is not None and not self.only:  # `--only ""` would otherwise mean every group
            raise TonematchError(f"--only names no group (groups: {', '.join(GROUPS)})")
        for name in (self.only or ()) + tuple(self.skip):
            if name not in GROUPS:
                raise TonematchError(f"unknown group '{name}' (groups: {', '.join(GROUPS)})")
        if not (0.0 <= self.amount <= 1.0) or not math.isfinite(self.amount):
            raise TonematchError(f"--amount must lie in 0..1, got {self.amount:g}")
        if not (0.0 <= self.literal <= 1.0) or not math.isfinite(self.literal):
            raise TonematchError(f"--literal must lie in 0..1, got {self.literal:g}")
        if self.platform is not None and self.platform not in PLATFORMS:
            raise TonematchError(f"unknown platform '{self.platform}' (known: {', '.join(PLATFORMS)})")
        for key, value in (("loudness.target_lufs", self.target_lufs), ("limiter.ceiling_dbtp", self.ceiling_dbtp)):
            if value is not None:
                low, high = TABLE.by_key[key].spec.bounds(44100)
                if not (math.isfinite(value) and low <= value <= high):
                    flag = "--target-lufs" if key.startswith("loudness") else "--ceiling"
                    raise TonematchError(f"{flag} must lie in [{low:g}, {high:g}], got {value:g}")
        if self.steps is not None and self.steps < 0:
            raise TonematchError("refinement steps must be >= 0")


@dataclass
class Target:
    """What the mix is matched to: a reference's character, loudness and peak."""

    character: dict | None  # None: measured from `clips` when refinement first asks (measured())
    lufs: float | None
    true_peak_dbtp: float
    sample_rate: int
    clips: np.ndarray  # the excerpts it was measured on, at `sample_rate`
    name: str = "reference"
    model_input: np.ndarray | None = None  # joined excerpts at the network's rate
    true_peak_ratio: float = 1.0  # true peak / sample peak of the source
    # a batch reads its one reference once: the numpy network's (embedding, descriptors) per
    # model, and the target at each other mix rate met (with its own character and reading)
    readings: dict = field(default_factory=dict, repr=False, compare=False)
    rates: dict = field(default_factory=dict, repr=False, compare=False)
    played: bool = False  # `lufs` is already as played on two speakers (a style's), whatever the clips'
    # the top of what the audio can hold (0.45 x its own rate): resampled up, it has nothing above
    reach_hz: float | None = None
    own_clips: bool = True  # False: `clips` are the mix's (a style's target), not this target's audio

    def playback_shift_lu(self, mix: Analysis) -> float:
        """LU added to this target's loudness for `mix`, so that the master and the target are as
        loud as they play: a mono file plays on both speakers (PLAYBACK_MONO_LU)."""
        mono_target = self.clips.shape[1] == 1 and not self.played
        return PLAYBACK_MONO_LU * (int(mono_target) - int(mix.channels == 1))

    def measured(self, thirds: bool = False) -> dict:
        """The character refinement matches; measured on first use (only refinement pays). With
        `thirds`, also its third-octave balance and where it ends in a low-pass (`low_pass_hz`,
        None: nowhere): what a copy reads (match_fit.reference_balance)."""
        if self.character is None:
            from . import character

            self.character = character.character_of(self.clips, self.sample_rate, self.true_peak_ratio)
        if thirds and self.own_clips and "thirds" not in self.character:
            from .match_fit import reference_balance

            self.character["thirds"], self.character["low_pass_hz"] = reference_balance(self.clips, self.sample_rate)
        return self.character

    def at_rate(self, sample_rate: int) -> "Target":
        """The same target measured on the excerpts resampled to `sample_rate` (band layout follows the rate)."""
        if sample_rate == self.sample_rate:
            return self
        if sample_rate not in self.rates:
            clips = np.stack([resample(c, self.sample_rate, sample_rate) for c in self.clips])
            self.rates[sample_rate] = replace(
                self,
                character=None,
                sample_rate=sample_rate,
                clips=clips,
                reach_hz=min(self.reach_hz or np.inf, 0.45 * self.sample_rate)
                if sample_rate > self.sample_rate
                else self.reach_hz,
                true_peak_ratio=1.0,
                model_input=None,
                readings={},
                rates={},
            )
        return self.rates[sample_rate]


def target_from(a: Analysis, name: str = "reference") -> Target:
    return Target(None, a.lufs, a.true_peak_dbtp, a.sample_rate, a.clips, name, true_peak_ratio=a.true_peak_ratio)


# -- settings --------------------------------------------------------------------------------------


def loudness_and_ceiling(options: Options, target: Target) -> tuple[float, float]:
    """The loudness target and true-peak ceiling for this run: the user's (or the platform's)
    when given, else the reference's loudness, and -1 dBTP or lower where the reference peaks lower."""
    lufs_low, lufs_high = TABLE.by_key["loudness.target_lufs"].spec.bounds(44100)
    plat = PLATFORMS.get(options.platform) if options.platform else None
    if options.target_lufs is not None:
        lufs = options.target_lufs
    elif plat is not None:
        lufs = plat[0]
    elif target.lufs is not None:
        lufs = float(np.clip(target.lufs, lufs_low, lufs_high))
    else:
        lufs = TABLE.by_key["loudness.target_lufs"].spec.default
    if options.ceiling_dbtp is not None:
        ceiling = options.ceiling_dbtp
    elif plat is not None:
        ceiling = plat[1]
    else:
        ceiling = default_ceiling(target.true_peak_dbtp)
    return float(lufs), float(ceiling)


def default_ceiling(true_peak_dbtp: float) -> float:
    """The ceiling where the run names none: -1 dBTP, or lower where the reference (or a style's
    masters) peaks lower, inside what the limiter takes."""
    low, high = TABLE.by_key["limiter.ceiling_dbtp"].spec.bounds(44100)
    return float(np.clip(min(DEFAULT_CEILING_DBTP, true_peak_dbtp), low, high))


def network_reading(model, clips: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(embedding, descriptors): the numpy network's reading of a track's excerpts [N, C, T] at
    `sample_rate`, as it reads a reference."""
    return model.embed_track(resample(excerpts.joined(clips), sample_rate, model.sample_rate))


def predicted_settings(model, mix: Analysis, target: Target | None = None, itself: bool = False) -> Settings:
    """The network's settings for the mix at its native rate (analysis at the model's rate),
    against `target`'s audio, or (`itself`: a style from references) against the mix itself.
    `model`: the numpy runtime (models.numpy_runtime; what load_model returns) or the torch model."""
    rate = model.sample_rate
    x = resample(excerpts.joined(mix.clips), mix.sample_rate, rate)
    if itself:  # the numpy runtime: the mix read once, as mix and as reference
        embedding, descriptors = model.embed_track(x)
        unit = model.control(embedding, embedding, descriptors, descriptors)
    elif isinstance(model, numpy_runtime.NumpyModel):
        if id(model) not in target.readings:
            target.readings[id(model)] = (model, *network_reading(model, target.clips, target.sample_rate))
        _, embedding, descriptors = target.readings[id(model)]
        unit = model.predict_track(x, reference_embedding=embedding, reference_descriptors=descriptors)
    else:  # a torch MasteringModel (training's evaluation hands one in)
        import torch

        if target.model_input is None:
            target.model_input = resample(excerpts.joined(target.clips), target.sample_rate, rate)
        with torch.no_grad():
            ref = torch.from_numpy(target.model_input)
            unit = model.predict_track(torch.from_numpy(x), reference=ref).double().numpy()
    settings = Settings.from_unit(unit, rate)
    settings = Settings(settings.values, mix.sample_rate, settings.bypass, settings.source)
    settings, _ = settings.at_rate(mix.sample_rate)
    # from_unit switches every band on; the high-pass stays on only where the network asks for one
    on = settings.values["eq.highpass.freq_hz"] >= HIGHPASS_MIN_HZ
    bypass = settings.bypass - {"eq.highpass"} if on else settings.bypass | {"eq.highpass"}
    return Settings(settings.values, settings.sample_rate, frozenset(bypass), settings.source)


def with_groups(settings: Settings, groups: tuple[str, ...]) -> Settings:
    """Processors of the groups not chosen are switched off (neutral means off)."""
    off = set(settings.bypass)
    for group, procs in PROCESSORS_OF.items():
        if group not in groups:
            off.update(procs)
    return Settings(dict(settings.values), settings.sample_rate, frozenset(off), dict(settings.source))


def scaled(settings: Settings, amount: float) -> Settings:
    """Every EQ, dynamics and width move scaled toward neutral by `amount` (0: neutral, 1: as is).
    Gains in dB and width scale linearly, the ratio geometrically; the high-pass slides down to
    the bottom of its range and is off at 0."""
    if amount >= 1.0:
        return settings
    v = dict(settings.values)
    for e in TABLE.entries:
        if e.spec.name == "gain_db" and e.processor in ("gain", "eq", "match"):
            v[e.key] *= amount
    v["compressor.ratio"] = v["compressor.ratio"] ** amount
    v["compressor.makeup_db"] *= amount  # at 0 the compressor is a wire, its make-up gain too
    v["width.width"] = 1.0 + (v["width.width"] - 1.0) * amount
    bypass = set(settings.bypass)
    low = TABLE.by_key["eq.highpass.freq_hz"].spec.bounds(settings.sample_rate)[0]
    v["eq.highpass.freq_hz"] = low * (v["eq.highpass.freq_hz"] / low) ** amount
    if amount <= 0.0:
        bypass.add("eq.highpass")
    return Settings(v, settings.sample_rate, frozenset(bypass), dict(settings.source))


def choose_settings(mix: Analysis, target: Target, options: Options, model=None) -> tuple[Settings, dict]:
    """The settings for a mix (before the render) and notes on how they were reached."""
    target = target.at_rate(mix.sample_rate)
    if model is not None:
        settings, start = predicted_settings(model, mix, target), "network"
        heap.release()  # the network's activations: freed, handed back before the render
    else:
        from . import matcher

        x, ref = excerpts.joined(mix.clips), excerpts.joined(target.clips)
        settings, start = matcher.matcher_settings(x, ref, mix.sample_rate), "matcher"
    typical = getattr(model, "typical_balance", None)
    return finish(settings, mix, target, options, {"start": start}, typical=typical)


def finish(
    settings: Settings,
    mix: Analysis,
    target: Target,
    options: Options,
    notes: dict,
    fixed=(),
    typical=None,
    from_network: bool | None = None,
) -> tuple[Settings, dict]:
    """From start settings to the final ones: the run's loudness and ceiling, the chosen groups,
    refinement toward the target's character (from a network's start, `from_network`, by default
    where notes['start'] says 'network': toward a blend of the two at options.literal, the
    network's groups only; `fixed` keys are not refined; `typical`: the network's typical_balance,
    refine.tone_anchor), amount."""
    lufs, ceiling = loudness_and_ceiling(options, target)
    if options.target_lufs is None and not options.platform and target.lufs is not None:
        # "as loud as the reference" is heard on two speakers, where a mono file plays twice
        shift = target.playback_shift_lu(mix)
        if shift:
            notes["mono_playback_lu"] = shift
        low, high = TABLE.by_key["loudness.target_lufs"].spec.bounds(44100)
        wanted = target.lufs + shift  # clamped once, after the shift, so a mono mix keeps its 3 LU
        lufs = float(np.clip(wanted, low, high))
        if not low <= wanted <= high:
            notes["reference_lufs"] = wanted  # as played, out of the loudness stage's range: said, not followed
    if options.ceiling_dbtp is None and not options.platform and target.true_peak_dbtp < ceiling - 0.05:
        notes["reference_peak_dbtp"] = target.true_peak_dbtp  # under the lowest ceiling: said, not followed
    settings.values["loudness.target_lufs"] = lufs
    settings.values["limiter.ceiling_dbtp"] = ceiling
    groups = options.groups()
    settings = with_groups(settings, groups)
    # only a refining run imports the frame model and the optimiser; --steps 0 refines nothing
    if options.refine and options.steps != 0:
        from . import character, refine

        if from_network is None:
            from_network = notes["start"] == "network"
        refinable = tuple(
            g for g in groups if g in refine.GROUP_KEYS and (g in refine.NETWORK_GROUPS or not from_network)
        )
        if refinable:
            frames = character.analyse(mix.clips, mix.sample_rate, mix.true_peak_ratio)
            # a copy (from the network's start, literal above 0.5) also reads where the reference ends
            copying = bool(from_network and refine.literal_shares(options.literal)[1] > 0)
            reference = target.measured(thirds=copying)
            low_pass = reference.get("low_pass_hz") if copying else None
            if low_pass is not None:  # a codec's cut: nothing above it to copy
                notes["reference_low_pass_hz"] = low_pass
            reach = min(target.reach_hz or np.inf, low_pass or np.inf)
            result = refine.refine(
                settings,
                mix.clips,
                frames,
                reference,
                groups=refinable,
                steps=refine.STEPS if options.steps is None else options.steps,
                pull=refine.PULL_BLENDED if from_network else refine.PULL_MEASURED,
                weights=refine.NETWORK_WEIGHTS if from_network else None,
                fixed=fixed,
                literal=options.literal if from_network else None,
                typical=typical if from_network else None,
                reach_hz=None if reach == np.inf else reach,
            )
            settings = result.settings
            notes.update(refined=result.kept, distance_before=result.start_distance, distance_after=result.distance)
            if result.reading is not None:
                # what the master took: the EQ carries the tone, and the amount scales the move
                notes["reading"] = {
                    "literal": options.literal,
                    **asdict(result.reading),
                    "amount": options.amount,
                    "eq": "eq" in refinable,
                    "of": "style" if notes["start"] == "style" else "reference",
                }
            del frames, result
            heap.release()
    return scaled(settings, options.amount), notes


# -- the default model -------------------------------------------------------------------------------

_MODELS: dict = {}


def default_model_present() -> bool:
    """Whether the shipped network's weights are here (a source tree may lack them)."""
    from tonematch.models.files import DEFAULT_MODEL

    return Path(str(DEFAULT_MODEL) + ".safetensors").is_file()


def load_model(stem: str | None):
    """The network for `stem` (None: the shipped default; 'none': no network), cached, in the
    numpy runtime (models.numpy_runtime: no torch import, a second and ~200 MB saved per run)."""
    if stem == "none":
        return None
    from tonematch.models.files import DEFAULT_MODEL

    key = str(stem or DEFAULT_MODEL)
    if key not in _MODELS:
        if stem is None and not default_model_present():
            return None  # a source tree without the shipped weights: the matcher starts
        _MODELS[key] = numpy_runtime.load(key, expected_param_names=TABLE.learned_keys)
    return _MODELS[key]
