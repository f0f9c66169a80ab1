"""The Python API behind `import tonematch`: the same jobs and options as the command line.

Every refusal is a `tonematch.TonematchError` with the command line's message: a bad path or
file, an array that is not float [channels, frames] audio (integer samples, [frames, channels],
NaN, peaks above +24 dBFS), a sample rate that is not a whole number of Hz from 8 to 384 kHz, an
unknown option or one of the wrong type, audio too short or silent to master. Options that
contradict each other are named in a UserWarning, as the command line warns.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from dataclasses import dataclass, field, fields

import numpy as np

from tonematch.data import audio as _audio
from tonematch.data.errors import TonematchError
from tonematch.models.chain.settings import Settings

from . import inputs as _inputs, match as _match


@dataclass
class MasterResult:
    """A master: the audio [channels, frames] float32 at `sample_rate`, the `settings` that made
    it (render them again, edit them, save them with `settings.to_json(path)`: their `source`
    says where they came from, and `settings.edited` whether they were changed since), and notes."""

    audio: np.ndarray
    sample_rate: int
    settings: Settings
    notes: dict = field(default_factory=dict)
    mix_path: str | None = None  # the file it was made from, never written over

    def describe(self) -> str:
        """The settings in words, and how the reference was read where refinement read it."""
        from .explain import describe, reference_reading

        lines = describe(self.settings)
        if "reading" in self.notes:
            lines.append(reference_reading(self.notes["reading"], bool(self.notes.get("refined")), api=True))
        if self.settings.edited:  # the words follow the edit; the audio here does not
            lines.append(
                "these settings were edited after the master was made: `audio` is the master as made "
                "(tonematch.render(mix, result.settings) renders the edit)"
            )
        return "\n".join(lines)

    def write(self, path, bit_depth=None, dither: bool = True) -> None:
        """Write the audio atomically (.wav or .flac; default 24-bit), replacing a file there but
        never the mix it was made from."""
        from .outputs import same_file

        if not _is_path(path):
            raise TonematchError(f"write() takes a file path (str or Path), not {type(path).__name__}")
        if self.mix_path is not None and same_file(path, self.mix_path):
            raise TonematchError(
                f"'{os.fspath(path)}' is the mix this master was made from: an input is never written to; "
                "choose another name"
            )
        subtype = _audio.parse_subtype(bit_depth) or "PCM_24"
        with _audio.AudioWriter(path, self.sample_rate, self.audio.shape[0], subtype=subtype, dither=dither) as w:
            w.write(self.audio)


def _rate(sample_rate, what: str) -> int:
    if sample_rate is None:
        raise TonematchError(f"{what} given as an array needs sample_rate=")
    return _audio.check_sample_rate(sample_rate, f"sample_rate of the {what}")


def _is_path(x) -> bool:
    # bytes are not taken as a path: raw file contents passed by mistake must not read as one
    return isinstance(x, (str, os.PathLike))


def _file_rate(sample_rate, path, rate: int | None = None) -> None:
    """A file is read at its own rate: a `sample_rate` that says otherwise is a mistake, not a
    resampling request (resample the array yourself, or give the array)."""
    if sample_rate is None:
        return
    if rate is None:
        rate = _audio.info(os.fspath(path)).sample_rate
    if int(sample_rate) != rate:
        raise TonematchError(
            f"sample_rate={sample_rate} does not apply to '{os.fspath(path)}': a file is read at its own "
            f"rate ({rate} Hz); sample_rate= is for arrays"
        )


def _load(x, sample_rate, what: str) -> tuple[np.ndarray, int]:
    """A path (read, checked as the command line checks it) or a [C, T] float array + its rate."""
    if _is_path(x):
        arr, sr = _audio.load(os.fspath(x))
        _file_rate(sample_rate, x, sr)
        return arr, sr
    arr = _audio.check_array(x, f"the {what} array")
    return arr, _rate(sample_rate, what)


def _analysis(x, sample_rate, what: str) -> tuple[np.ndarray, int, _inputs.Analysis]:
    """(the audio, its rate, its analysis), refused as the command line refuses a file too short,
    silent or at an unsupported rate (master.analyse_input). A float file peaking above +24 dBFS
    is turned down by the power of two the render uses, with a warning; an array is refused."""
    from .inputs import analyse_array, check_format, check_length, check_measured
    from .render import HOT_PEAK

    if _is_path(x):
        name = os.fspath(x)
        arr, sr = _audio.load(name)
        _file_rate(sample_rate, name, sr)
        check_format(sr, arr.shape[0], name, what)
        peak = float(np.abs(arr).max())
        if peak > HOT_PEAK:
            k = math.ceil(math.log2(peak))
            warnings.warn(f"'{name}' peaks at {20 * math.log10(peak):+.1f} dBFS: turned down 2^-{k}", stacklevel=3)
            arr = arr * np.float32(2.0**-k)
    else:
        arr, sr = _load(x, sample_rate, what)
        name = f"the {what} array"
    check_length(arr.shape[1], sr, name, what)
    a = analyse_array(arr, sr)
    check_measured(a, name, what)
    return arr, sr, a


_OPTION_NAMES = tuple(f.name for f in fields(_match.Options))


def _groups(value, name: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):  # "eq,width" as on the command line, or one group
        return tuple(part.strip() for part in value.split(",") if part.strip())
    try:
        items = tuple(value)
    except TypeError:
        raise TonematchError(f"{name} must be a group name or a list of them, got {value!r}") from None
    if not all(isinstance(g, str) for g in items):
        raise TonematchError(f"{name} must list group names (strings), got {value!r}")
    return items


def _number(value, name: str, integer: bool = False):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TonematchError(f"{name} must be a number, got {value!r}")
    if integer:  # numpy's floats too (np.float32 is no float): 3.5 is refused, not cut to 3
        if not isinstance(value, numbers.Integral) and not float(value).is_integer():
            raise TonematchError(f"{name} must be a whole number, got {value!r}")
        return int(value)
    value = float(value)
    if not math.isfinite(value):
        raise TonematchError(f"{name} must be a finite number, got {value!r}")
    return value


def options_of(options: dict) -> _match.Options:
    """The API's keyword options -> match.Options, checked as the command line checks its flags
    (`skip="width"` means the group, not its letters); conflicts are named in a UserWarning."""
    unknown = sorted(set(options) - set(_OPTION_NAMES))
    if unknown:
        raise TonematchError(f"unknown option '{unknown[0]}' (options: {', '.join(_OPTION_NAMES)})")
    o = dict(options)
    if "only" in o:
        o["only"] = _groups(o["only"], "only")
    if "skip" in o:
        o["skip"] = _groups(o["skip"], "skip") or ()
    for name in ("amount", "literal", "target_lufs", "ceiling_dbtp"):
        if name in o:
            o[name] = _number(o[name], name)
    for name in ("amount", "literal"):
        if name in o and o[name] is None:
            raise TonematchError(f"{name} must be a number from 0 to 1, got None")
    if "steps" in o:
        o["steps"] = _number(o["steps"], "steps", integer=True)
    if "refine" in o and not isinstance(o["refine"], (bool, np.bool_)):
        raise TonematchError(f"refine must be True or False, got {o['refine']!r}")
    for name in ("platform", "model"):
        value = o.get(name)
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise TonematchError(f"{name} must be a name or path, got {value!r}")
        if isinstance(value, os.PathLike):
            o[name] = os.fspath(value)
    opts = _match.Options(**o)
    opts.check()
    from .cli_match import conflicts

    for note in conflicts(opts, literal_given="literal" in options):
        warnings.warn(note, UserWarning, stacklevel=3)
    return opts


def _target_of(reference, sample_rate, reference_sample_rate) -> _match.Target:
    if isinstance(reference, _match.Target):
        return reference
    # a reference file has its own rate: only an explicit reference_sample_rate is checked against it
    rate = reference_sample_rate if _is_path(reference) else reference_sample_rate or sample_rate
    _, _, a = _analysis(reference, rate, "reference")
    return _match.target_from(a, name=os.fspath(reference) if _is_path(reference) else "array")


def _master(mix, aim, sample_rate, opts: _match.Options) -> MasterResult:
    """Through the pipeline: the checks of the mix, the decision, the exact render."""
    from . import pipeline

    x, sr, analysis = _analysis(mix, sample_rate, "mix")
    name = os.fspath(mix) if _is_path(mix) else "the mix array"
    source = {"mix": os.path.basename(name)} if _is_path(mix) else {}
    decision = pipeline.decide(analysis, aim, opts, name, source)
    made_from = name if _is_path(mix) else None
    return MasterResult(pipeline.render_array(x, decision), sr, decision.settings, decision.notes, made_from)


def match(
    mix, reference, sample_rate: int | None = None, reference_sample_rate: int | None = None, **options
) -> MasterResult:
    """Master `mix` the way `reference` sounds. Both may be paths or [C, T] float arrays (give
    `sample_rate`, and `reference_sample_rate` when it differs; a file is read at its own rate).
    Options as the command's: refine=True, steps=None, amount=1.0, literal=0.4 (0: the network's
    reading, 1: the reference's balance and width copied), only=None, skip=(), target_lufs=None,
    platform=None, ceiling_dbtp=None, model=None ('none': the non-learned matcher)."""
    from .pipeline import ReferenceAim

    opts = options_of(options)  # refused before the reference is read
    if reference is None:
        raise TonematchError("match needs a reference: a path, or a [channels, frames] float array")
    if sample_rate is not None and not _is_path(mix):  # the mix's rate, named as such, before the reference's use of it
        _audio.check_sample_rate(sample_rate, "sample_rate")
    target = _target_of(reference, sample_rate, reference_sample_rate)
    return _master(mix, ReferenceAim(target, _match.load_model(opts.model), opts.model or "default"), sample_rate, opts)


def master(mix, style, sample_rate: int | None = None, **options) -> MasterResult:
    """Master `mix` (path or [C, T] array) in a style (a .tmstyle path or a loaded Style), with no
    reference: the same options as `match`."""
    from . import style as _style
    from .cli_style import MODEL_UNUSED
    from .style.aim import StyleAim

    if "literal" in options:  # as `tonematch master` has no --literal
        raise TonematchError(
            "literal= is for matching a reference (tonematch.match): a style of pairs copies "
            "nothing, one from references a fixed share of its masters' balance"
        )
    opts = options_of(options)
    if opts.model is not None:
        raise TonematchError(MODEL_UNUSED.replace("--model", "model="))
    if not isinstance(mix, (str, os.PathLike)):
        _load(mix, sample_rate, "mix")  # the cheap checks of an array and its rate come first
    path = None
    if not isinstance(style, _style.Style):
        if not isinstance(style, (str, os.PathLike)):
            raise TonematchError(f"style must be a .tmstyle path or a loaded Style, got {type(style).__name__}")
        from .style import load_style

        path, style = os.fspath(style), load_style(style)
    else:  # a Style edited in Python is checked as its file would be: never a master of garbage
        from .style.file import style_object_problem

        problem = style_object_problem(style)
        if problem is not None:
            raise TonematchError(f"style '{style.name}' is not a usable style: {problem}")
    aim = StyleAim(style, path)
    for note in aim.conflicts(opts):
        warnings.warn(note, UserWarning, stacklevel=2)
    return _master(mix, aim, sample_rate, opts)


def render(mix, settings, out_path=None, sample_rate: int | None = None, bit_depth=None, dither: bool = True):
    """Render `mix` (path or array) with `settings` (a Settings or a settings JSON path), as
    `tonematch render` does: a frequency above what the mix's rate allows moves to its limit with
    a UserWarning, and so does an output that goes over full scale.
    With `out_path` (mix a path): streams the file to disk (`bit_depth` 16, 24 or "float": as the
    input where it is 16/24-bit, else 24; TPDF `dither` unless False) and returns the render
    summary; otherwise returns the rendered [C, T] float32 array."""
    if not isinstance(settings, Settings):
        if not _is_path(settings):
            raise TonematchError(f"settings must be a Settings or a settings JSON path, got {type(settings).__name__}")
        settings = Settings.from_json(os.fspath(settings))
    settings.check()  # the user's values as a file's are checked: the mix's rate is applied below

    def warn(note: str) -> None:
        warnings.warn(note, UserWarning, stacklevel=3)

    if out_path is not None:
        if not _is_path(mix):
            raise TonematchError("render to a file needs the mix as a path")
        _file_rate(sample_rate, mix)
        from .render import render_file

        return render_file(os.fspath(mix), settings, out_path, bit_depth=bit_depth, dither=dither, warn=warn)
    if bit_depth is not None:
        raise TonematchError("bit_depth= applies to a file written (out_path=); the array is float32")
    from tonematch.models.chain.exact import render_array

    from .inputs import as_audio

    x, sr = _load(mix, sample_rate, "mix")
    from .render import check_format, check_length, over_full_scale

    name = f"'{os.fspath(mix)}'" if _is_path(mix) else "the mix array"
    check_format(sr, x.shape[0], name)
    settings, moved = settings.at_rate(sr)
    check_length(x.shape[1], sr, settings, name, lambda: x)
    for note in moved:
        warn(note)
    y = render_array(as_audio(x), settings, sr)
    peak = float(np.abs(y).max(initial=0.0))
    if peak > 1.0:
        warn(over_full_scale(peak, "FLOAT", settings))
    return y


def analyze(x, sample_rate: int | None = None) -> dict:
    """The measurements `tonematch analyze` prints, for a path (streamed) or a [C, T] array."""
    from . import analyze as _analyze

    if _is_path(x):
        _file_rate(sample_rate, x)
        return _analyze.analyze_file(os.fspath(x))
    if sample_rate is None:
        raise TonematchError("analyze of an array needs sample_rate=")
    arr = _audio.check_array(x, "the array to analyze", max_peak=None)
    return _analyze.analyze(arr, _audio.check_sample_rate(sample_rate, "sample_rate"))
