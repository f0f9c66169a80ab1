"""The Python API behind `import tonematch`: the same jobs and options as the command line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from tonematch.data import audio as _audio
from tonematch.data.errors import TonematchError
from tonematch.models.chain.settings import Settings

from . import match as _match


@dataclass
class MasterResult:
    """A master: the audio [channels, frames] float32 at `sample_rate`, the `settings` that made
    it (render them again, edit them, save them with `settings.to_json(path)`), and notes."""

    audio: np.ndarray
    sample_rate: int
    settings: Settings
    notes: dict = field(default_factory=dict)

    def describe(self) -> str:
        from .explain import describe

        return "\n".join(describe(self.settings))

    def write(self, path, bit_depth=None, dither: bool = True) -> None:
        """Write the audio atomically (.wav or .flac; default 24-bit)."""
        subtype = _audio.parse_subtype(bit_depth) or "PCM_24"
        with _audio.AudioWriter(path, self.sample_rate, self.audio.shape[0], subtype=subtype, dither=dither) as w:
            w.write(self.audio)


def _load(x, sample_rate: int | None, what: str) -> tuple[np.ndarray, int]:
    if isinstance(x, (str, os.PathLike)):
        return _audio.load(x)
    if sample_rate is None:
        raise TonematchError(f"{what} given as an array needs sample_rate=")
    arr = np.asarray(x, dtype=np.float32)
    return (arr[None] if arr.ndim == 1 else arr), int(sample_rate)


def _target_of(reference, sample_rate, reference_sample_rate) -> _match.Target:
    if isinstance(reference, _match.Target):
        return reference
    ref, ref_sr = _load(reference, reference_sample_rate or sample_rate, "reference")
    return _match.target_from(
        _match.analyse_array(ref, ref_sr), name=str(reference) if isinstance(reference, str) else "array"
    )


def master_to(mix, target: _match.Target, sample_rate: int | None = None, **options) -> MasterResult:
    """Master `mix` (path or [C, T] array) toward a prepared target (a reference's or a style's)."""
    from tonematch.models.chain.exact import render_array

    opts = _match.Options(**options)
    opts.check()
    x, sr = _load(mix, sample_rate, "mix")
    analysis = _match.analyse_array(x, sr)
    settings, notes = _match.choose_settings(analysis, target, opts, _match.load_model(opts.model))
    settings, _ = settings.at_rate(sr)
    return MasterResult(render_array(_match._as_audio(x), settings, sr), sr, settings, notes)


def match(
    mix, reference, sample_rate: int | None = None, reference_sample_rate: int | None = None, **options
) -> MasterResult:
    """Master `mix` the way `reference` sounds. Both may be paths or [C, T] float arrays (give
    `sample_rate`, and `reference_sample_rate` when it differs). Options as the command's:
    refine=True, steps=None, amount=1.0, only=None, skip=(), target_lufs=None, platform=None,
    ceiling_dbtp=None, model=None ('none': the non-learned matcher)."""
    return master_to(mix, _target_of(reference, sample_rate, reference_sample_rate), sample_rate, **options)


def master(mix, style, sample_rate: int | None = None, **options) -> MasterResult:
    """Master `mix` (path or [C, T] array) in a style (a .tmstyle path or a loaded Style), with no
    reference: the same options as `match`."""
    from . import style as _style

    if not isinstance(style, _style.Style):
        from tonematch.models.style_file import load_style

        style = load_style(style)
    opts = _match.Options(**options)
    opts.check()
    x, sr = _load(mix, sample_rate, "mix")
    audio, settings, notes = _style.master_array(x, sr, style, opts)
    return MasterResult(audio, sr, settings, notes)


def render(mix, settings, out_path=None, sample_rate: int | None = None, **kwargs):
    """Render `mix` (path or array) with `settings` (a Settings or a settings JSON path).
    With `out_path` (mix a path): streams the file to disk and returns the render summary;
    otherwise returns the rendered [C, T] array."""
    if not isinstance(settings, Settings):
        settings = Settings.from_json(os.fspath(settings))
    if out_path is not None:
        if not isinstance(mix, (str, os.PathLike)):
            raise TonematchError("render to a file needs the mix as a path")
        from .render import render_file

        return render_file(mix, settings, out_path, **kwargs)
    from tonematch.models.chain.exact import render_array

    x, sr = _load(mix, sample_rate, "mix")
    settings, _ = settings.at_rate(sr)
    return render_array(_match._as_audio(x), settings, sr)


def analyze(x, sample_rate: int | None = None) -> dict:
    """The measurements `tonematch analyze` prints, for a path (streamed) or a [C, T] array."""
    from . import analyze as _analyze

    if isinstance(x, (str, os.PathLike)):
        return _analyze.analyze_file(os.fspath(x))
    if sample_rate is None:
        raise TonematchError("analyze of an array needs sample_rate=")
    return _analyze.analyze(_match._as_audio(x), int(sample_rate))
