"""The studio's state and work: one mix, mastered as `match` / `master` would, heard and tweaked.

A `Studio` holds the mix (its analysis, an overview of the whole file and the previewed region
in memory), the reference (its loudest stretch, or a style's target), the settings being edited
(the `base` settings at amount 1, and the `amount` that scales them toward neutral exactly as
`--amount` does: match.scaled), and the current preview. Nothing here speaks HTTP (app.py does).

The preview is the master of the region, rendered by the exact renderer:

* quick (on every change; about a third of a second of CPU for a 30 s region): the region with
  a few seconds of pre-roll for the filters' and envelopes' state. The gain into the limiter of a whole-file
  render depends on the whole file, so the region is rendered with the loudness target moved by
  the region's share of the master's loudness (`offset_lu`, read off the latest whole-file
  render): the renderer then lands on the whole file's gain. Where the region is the whole file
  the quick render *is* the export's audio.
* exact (a moment later, for files longer than the region): the whole file rendered as
  `tonematch render` renders it (same blocks, same source), and the region cut out of it: the
  samples the export will hold, before dither. It runs in a child process at a lower priority
  (exactjob.py), once the change's readouts are drawn, and any newer change kills it. It also
  measures the whole master (loudness, true peak) and updates `offset_lu`.

Every computation here that runs the chain's numba kernels holds the process's engine lock
(`_engine`, data.concurrency.ENGINE, which every kernel with parallel regions takes too): their
parallel regions must not run from two threads at once (another session, or an API call, in the
same process included), and two cores gain nothing from overlapping them.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from tonematch.data import audio
from tonematch.data.concurrency import ENGINE
from tonematch.data.errors import TonematchError
from tonematch.data.resample import resampled_frames
from tonematch.models.chain import TABLE
from tonematch.models.chain.params import describe_value
from tonematch.models.chain.settings import Settings
from tonematch.models.measure import loudness as bs1770

from .. import explain, match, pipeline
from ..batch import OUTPUT_SUFFIXES
from ..inputs import analyse_input
from ..report import target_balance, tone_of
from . import exactjob
from .readouts import eq_curve, loudest_start, measure, params_table, rounded, scan

PREVIEW_S = 30.0  # the default region: the loudest 30 s (or the whole file when shorter)
MIN_REGION_S, MAX_REGION_S = 2.0, 60.0
PREROLL_S = 4.0  # rendered before the region so the compressor and limiter arrive settled
MATCH_MAX_LUFS = -14.0  # loudness-matched playback: at most this loud...
MATCH_HEADROOM_DB = 1.0  # ...and every track's true peak this far under 0 dBTP
GR_POINTS = 1500  # points of the gain-reduction traces over the region
EXACT_DELAY_S = 0.3  # quiet time after a change before the whole-file render starts
READOUT_WAIT_S = 2.0  # ...which waits for the change's readouts, at most this long
BODY_LIMIT = 256 * 1024  # bytes of a settings or region request (app.py enforces it)


class _PreviewSettings(Settings):
    """The region's settings: the loudness target moved by the region's share of the master's
    loudness may leave the table's range (a -8 LUFS master whose chorus is 2 LU louder), which
    the renderer handles; every other value is checked as usual."""

    def validate(self, sample_rate: int | None = None) -> None:
        low, high = TABLE.by_key["loudness.target_lufs"].spec.bounds(self.sample_rate)
        values = dict(self.values)
        values["loudness.target_lufs"] = min(max(values["loudness.target_lufs"], low), high)
        TABLE.validate(values, sample_rate or self.sample_rate, self.bypass)


@dataclass
class Region:
    start: int  # frames, in the mix
    frames: int
    preroll: int  # frames rendered before `start`

    def seconds(self, sample_rate: int) -> dict:
        return {"start_s": self.start / sample_rate, "length_s": self.frames / sample_rate}


@dataclass
class Preview:
    """A rendered region: `master` the region of the master (float, before any dither), `gain_db`
    the gain into the limiter, `exact` whether these are the samples export writes (cut from a
    whole-file render, or the region is the whole file), `readouts` made on first request."""

    serial: int
    version: int
    settings: Settings  # the effective settings (amount applied), at the mix's rate
    master: np.ndarray
    gain_db: float
    exact: bool
    metrics: dict
    warnings: list[str] = field(default_factory=list)
    readouts: dict | None = None
    seconds: float = 0.0
    wav: bytes | None = None  # the master at its true level, 16-bit
    made: float = field(default_factory=time.monotonic)


class Studio:
    """One studio session. Thread-safe: the app calls it from its worker threads."""

    def __init__(
        self,
        mix_path,
        out_path=None,
        *,
        reference=None,
        style=None,
        options: match.Options | None = None,
        overwrite: bool = False,
        warn: Callable[[str], None] | None = None,
        region_s: float = PREVIEW_S,
        background: bool = True,
        say: Callable[[str], None] | None = None,
    ):
        if (reference is None) == (style is None):
            raise TonematchError("studio: give a reference (--reference) or a style (--style), not both")
        self.warn = warn or (lambda message: None)
        say = say or (lambda message: None)
        self.mix_path = Path(mix_path)
        self.out_path = Path(out_path) if out_path is not None else default_output(self.mix_path)
        self.reference_path = None if reference is None else Path(reference)
        self.style_path = None if style is None else Path(style)
        options = options or match.Options()
        self.options = options
        self.overwrite = bool(overwrite)
        self._written: dict[str, tuple] = {}  # what this session's last export left: path -> stat signature
        self._check_outputs(options)

        self._lock = threading.RLock()  # the state below
        self._engine = ENGINE  # the numba kernels (see the module's docstring)
        self._tmp = tempfile.TemporaryDirectory(prefix="tonematch-studio-")
        self.version = 0
        self._serial = 0
        self.closed = False

        say(f"analysing {self.mix_path}")
        self.mix = analyse_input(self.mix_path, "mix", warn=self.warn)
        info = audio.info(self.mix_path)
        self.sample_rate, self.channels, self.frames = info.sample_rate, info.channels, info.frames
        from ..render import BLOCK_FRAMES, input_scale

        self.block_frames = BLOCK_FRAMES
        self.scale = input_scale(self.mix_path, info.subtype, BLOCK_FRAMES, lambda message: None)
        at_one = replace(options, amount=1.0)  # the studio applies the amount itself, last, as match does
        with self._engine:
            if reference is not None:
                say(f"analysing the reference {self.reference_path}")
                ref = analyse_input(self.reference_path, "reference", warn=self.warn)
                target = match.target_from(ref, name=str(self.reference_path))
                aim = pipeline.ReferenceAim(target, match.load_model(options.model), options.model or "default")
            else:
                from ..style import load_style
                from ..style.aim import StyleAim

                aim = StyleAim(load_style(self.style_path), str(self.style_path))
            # a style fitted on pairs is the engineer's own chain: it is never refined
            refines = options.refine and (reference is not None or aim.style.settings is None)
            say("choosing the settings" + (", refining" if refines else ""))
            source = {"mix": os.path.basename(os.fspath(self.mix_path))}
            self.decision = pipeline.decide(self.mix, aim, at_one, self.mix_path, source)
            settings, self.notes, self.target = self.decision.settings, self.decision.notes, self.decision.target
            self.source = settings.source  # the decision's provenance, with its fingerprint
        self.start_settings = Settings(dict(settings.values), settings.sample_rate, settings.bypass, {})
        self.base = Settings(dict(settings.values), settings.sample_rate, settings.bypass, {})
        self.amount = float(options.amount)
        self.start_amount = self.amount

        say("scanning for the loudest passage")
        with self._engine:
            self._scan = scan(self.mix_path, self.frames, self.sample_rate, self.channels, self.scale)
            self.loudest = loudest_start(
                self._scan.powers,
                self.frames,
                int(min(region_s, self.frames / self.sample_rate) * self.sample_rate),
                self.sample_rate,
            )
            self._load_reference(region_s)
            self._static_readouts()
        self.offset_lu: float | None = None  # region loudness above the whole master's (quick renders)
        self._whole: dict | None = None
        self._exact_blocks: np.ndarray | None = None  # momentary block powers of the latest whole master
        self._worker: threading.Thread | None = None
        self._proc = None
        self._wake = threading.Condition(self._lock)
        region = self._region(self.loudest / self.sample_rate, region_s)
        with self._engine:
            self._use_region(region, self._read_region(region))
        say("rendering the preview")
        self.preview: Preview = self._render(self.version, exact_now=True)
        if background:
            self._worker = threading.Thread(target=self._exact_loop, name="tonematch-studio-exact", daemon=True)
            self._worker.start()

    # -- files -----------------------------------------------------------------------------------

    def outputs(self) -> dict:
        return {
            "audio": str(self.out_path),
            "settings": str(pipeline.settings_path(self.out_path)),
            "report": str(pipeline.report_path(self.out_path)),
        }

    def _check_outputs(self, options: match.Options, overwrite: bool | None = None) -> None:
        """Every file export writes, checked against the inputs (never written to) and each other,
        and refused where it exists (unless --overwrite, or this session wrote it)."""
        from ..cli_match import model_inputs
        from ..outputs import OutputPlan

        if self.out_path.suffix.lower() not in OUTPUT_SUFFIXES:
            raise TonematchError(f"studio: the output '{self.out_path}' must be a .wav or .flac file")
        plan = OutputPlan(self.overwrite if overwrite is None else overwrite)
        plan.add_input(self.mix_path, "mix")
        plan.add_input(self.reference_path, "reference")
        plan.add_input(self.style_path, "style")
        if self.reference_path is not None or self.style_path is not None:  # a style of pairs: harmless
            for role, path in model_inputs(options.model):
                plan.add_input(path, role)
        plan.add_output(self.out_path, "master")
        plan.add_output(pipeline.settings_path(self.out_path), "settings")
        plan.add_output(pipeline.report_path(self.out_path), "report")
        plan.check()

    def _load_reference(self, region_s: float) -> None:
        """The reference's loudest stretch as long as the region (all of it when shorter), its
        readouts; a style has no audio, only its target's tonal balance."""
        self.reference = None
        self.reference_metrics = None
        if self.reference_path is None:
            return
        from ..render import input_scale

        info = audio.info(self.reference_path)
        scale = input_scale(self.reference_path, info.subtype, self.block_frames, lambda message: None)
        s = scan(self.reference_path, info.frames, info.sample_rate, info.channels, scale, bins=8)
        length = int(min(region_s, info.frames / info.sample_rate) * info.sample_rate)
        start = loudest_start(s.powers, info.frames, length, info.sample_rate)
        # read at the mix's rate (positions at that rate), so the three play side by side
        total = resampled_frames(info.frames, info.sample_rate, self.sample_rate)
        at = min(round(start * self.sample_rate / info.sample_rate), total - 1)
        n = min(round(length * self.sample_rate / info.sample_rate), total - at)
        x = audio.read_segment(self.reference_path, at, n, sample_rate=self.sample_rate)
        if scale != 1.0:
            x = x * np.float32(scale)
        if x.shape[0] != self.channels:
            x = audio.to_channels(x, self.channels, str(self.reference_path))
        self.reference = x
        self.reference_start_s = start / info.sample_rate
        self.reference_metrics = measure(x, self.sample_rate)

    def _static_readouts(self) -> None:
        """The reference's (or style target's) tonal balance, on the excerpts the match used."""
        self.tone_hz, self.tone_reference = target_balance(self.target, self.sample_rate)

    # -- the region ------------------------------------------------------------------------------

    def _region(self, start_s, length_s) -> Region:
        sr = self.sample_rate
        duration = self.frames / sr
        for name, value in (("start_s", start_s), ("length_s", length_s)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise TonematchError(f"region: '{name}' must be a number of seconds, got {describe_value(value)}")
        low = min(MIN_REGION_S, duration)
        if not low <= length_s <= MAX_REGION_S:
            raise TonematchError(f"region: 'length_s' must lie in [{low:g}, {MAX_REGION_S:g}] s, got {length_s:g}")
        if not 0.0 <= start_s < duration:
            raise TonematchError(f"region: 'start_s' must lie in [0, {duration:.3f}) s, got {start_s:g}")
        frames = min(int(round(length_s * sr)), self.frames)
        start = min(int(round(start_s * sr)), self.frames - frames)
        preroll = min(start, int(PREROLL_S * sr))
        return Region(start, frames, preroll)

    def _read_region(self, r: Region) -> tuple[np.ndarray, dict, np.ndarray]:
        """(the mix from the pre-roll to the region's end, scaled as render_file scales its blocks;
        the region's readouts; its tonal balance). The engine lock is held by the caller."""
        x = audio.read_segment(self.mix_path, r.start - r.preroll, r.preroll + r.frames)
        if self.scale != 1.0:
            x = x * self.scale
        mix = x[:, r.preroll :]
        return x, measure(mix, self.sample_rate), tone_of(mix[None], self.sample_rate)[1]

    def _use_region(self, r: Region, loaded) -> None:
        self.region = r
        self._source, self.mix_metrics, self.tone_mix = loaded
        self.mix_region = self._source[:, r.preroll :]
        self.offset_lu = self._offset_for(r)

    def whole_file(self) -> bool:
        r = self.region
        return r.start == 0 and r.frames == self.frames

    def set_region(self, start_s, length_s) -> Preview:
        region = self._region(start_s, length_s)
        with self._lock:
            self.version += 1  # cancels a whole-file render in flight
            version = self.version
        with self._engine:
            loaded = self._read_region(region)
            with self._lock:
                if version != self.version:
                    return self.preview
                self._use_region(region, loaded)
        return self._render(version)

    # -- settings --------------------------------------------------------------------------------

    def effective(self) -> Settings:
        """What the preview plays and export writes: the base settings at the amount."""
        with self._lock:
            return match.scaled(self.base, self.amount)

    def settings_json(self, base: bool = False) -> dict:
        with self._lock:
            amount = self.amount
        return self.with_provenance(self.base if base else self.effective(), 1.0 if base else amount).to_dict()

    def with_provenance(self, s: Settings, amount: float, **extra) -> Settings:
        """`s` carrying the decision's provenance at `amount`: stamped anew while only the amount
        moved, with the decision's fingerprint (so the JSON says "edited") once a setting changed."""
        source = {**self.source, "amount": amount, **extra}
        if self.base.fingerprint() == self.start_settings.fingerprint():
            return s.stamped({k: v for k, v in source.items() if k not in ("fingerprint", "edited")})
        return Settings(dict(s.values), s.sample_rate, s.bypass, source)

    @staticmethod
    def parse_settings(d) -> Settings:
        """A render-format object -> Settings, refused with the message `tonematch render` prints
        after `settings 'P.json': `."""
        return Settings.from_dict(d)

    @staticmethod
    def check_amount(amount) -> float:
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount):
            raise TonematchError(f"amount must be a number from 0 to 1, got {describe_value(amount)}")
        if not 0.0 <= amount <= 1.0:
            raise TonematchError(f"amount must lie in 0..1, got {amount:g}")
        return float(amount)

    def set_settings(self, settings: Settings, amount: float = 1.0) -> Preview:
        """Replace the settings (already parsed: a bad body never gets here) and re-render."""
        amount = self.check_amount(amount)
        settings = Settings(dict(settings.values), settings.sample_rate, settings.bypass, {})
        with self._lock:
            self.version += 1
            version = self.version
            self.base, self.amount = settings, amount
            self._wake.notify_all()
        return self._render(version)

    def reset(self) -> Preview:
        return self.set_settings(self.start_settings, self.start_amount)

    # -- rendering -------------------------------------------------------------------------------

    def _offset_for(self, r: Region) -> float | None:
        """The rendered span's loudness above the whole master's, from the latest whole-file
        render's block powers (None before the first)."""
        if self._exact_blocks is None or self._whole is None or self._whole.get("lufs") is None:
            return None
        sr = self.sample_rate
        step = bs1770.MOMENTARY_S * (1.0 - bs1770.MOMENTARY_OVERLAP) * sr
        lo = int(math.ceil((r.start - r.preroll) / step))
        hi = int((r.start + r.frames - bs1770.MOMENTARY_S * sr) // step) + 1
        span = bs1770.integrated_from_powers(self._exact_blocks[max(lo, 0) : max(hi, lo + 1)])
        return None if span is None else span - self._whole["lufs"]

    def _render(self, version: int, exact_now: bool = False) -> Preview:
        """The preview of the region for the settings of `version`: quick (exact when the region is
        the whole file), or with `exact_now` (at start) cut from a whole-file render."""
        from tonematch.models.chain.exact import ExactRenderer

        with self._engine:
            with self._lock:
                if version != self.version:
                    return self.preview  # a newer change is on its way, and renders
                settings, moved = self.effective().at_rate(self.sample_rate)
                region, source, offset = self.region, self._source, self.offset_lu
            t0 = time.perf_counter()
            if exact_now and not self.whole_file():
                y, gain = self._render_whole(settings, version)
                exact = True
            else:
                s = settings
                if s.enabled("loudness") and not self.whole_file() and offset is not None:
                    values = dict(s.values)
                    values["loudness.target_lufs"] += offset
                    s = _PreviewSettings(values, s.sample_rate, s.bypass, {})
                renderer = ExactRenderer(s, self.sample_rate, self.channels)
                n = self.block_frames
                blocks = renderer.blocks(lambda: (source[:, i : i + n] for i in range(0, source.shape[1], n)))
                y = np.concatenate(list(blocks), axis=1)[:, region.preroll :]
                gain = float(renderer.report.get("gain_db", 0.0))
                exact = self.whole_file()
            wav: list[bytes] = []  # the page fetches it next: encoded beside the meters
            encoder = threading.Thread(target=lambda: wav.append(self._encode(y)), name="tonematch-studio-wav")
            encoder.start()
            metrics = measure(y, self.sample_rate)
            encoder.join()
            seconds = time.perf_counter() - t0
            with self._lock:
                if version != self.version:
                    return self.preview
                self._serial += 1
                self.preview = Preview(self._serial, version, settings, y, gain, exact, metrics, moved, seconds=seconds)
                self.preview.wav = wav[0] if wav else None
                if exact and self.whole_file():
                    self._whole = {k: metrics[k] for k in ("lufs", "true_peak_dbtp")}
                self._wake.notify_all()
                return self.preview

    def _render_whole(self, settings: Settings, version: int) -> tuple[np.ndarray, float]:
        """The whole file, in this process (at start; the engine lock is held by the caller)."""
        with self._lock:
            region = self.region
        result = exactjob.render_whole(
            self.mix_path,
            settings,
            self.scale,
            self.block_frames,
            region.start,
            region.frames,
            check=lambda: self.version == version and not self.closed,
        )
        with self._lock:
            if version != self.version or region != self.region:
                raise exactjob.Superseded()
            self._keep_whole(result, region)
        return result["master"], result["gain_db"]

    def _keep_whole(self, result: dict, region: Region) -> None:
        self._whole = {"lufs": result["lufs"], "true_peak_dbtp": result["true_peak_dbtp"]}
        self._exact_blocks = result["blocks"]
        self.offset_lu = self._offset_for(region)

    def _exact_loop(self) -> None:
        """Background, for files longer than the region: once a change has been heard and its
        readouts drawn (or after READOUT_WAIT_S), and after EXACT_DELAY_S of quiet, the whole
        file in a child process (exactjob), killed by any newer change; its region then
        replaces the quick preview."""
        done = None
        while True:
            with self._lock:
                while True:
                    if self.closed:
                        return
                    p = self.preview
                    todo = not self.whole_file() and p.version == self.version and not p.exact and p.version != done
                    if todo and (p.readouts is not None or time.monotonic() - p.made > READOUT_WAIT_S):
                        break
                    self._wake.wait(timeout=0.25)
                version, settings, region = p.version, p.settings, self.region
            time.sleep(EXACT_DELAY_S)
            if version != self.version:
                continue
            try:
                result = self._run_job(settings, region, version)
            except Exception as exc:  # noqa: BLE001 - the quick preview stands; say why
                self.warn(f"studio: the whole-file preview failed: {exc}")
                done = version
                continue
            if result is None:  # superseded
                continue
            with self._engine:
                metrics = measure(result["master"], self.sample_rate)
            with self._lock:
                p = self.preview
                if p.version == version == self.version and region == self.region:
                    self._keep_whole(result, region)
                    self._serial += 1
                    self.preview = Preview(
                        self._serial,
                        version,
                        p.settings,
                        result["master"],
                        result["gain_db"],
                        True,
                        metrics,
                        p.warnings,
                        seconds=p.seconds,
                    )
            done = version

    def _run_job(self, settings: Settings, region: Region, version: int) -> dict | None:
        """exactjob in a child process; None when a newer change killed it."""
        import json
        import subprocess
        import sys

        out = os.path.join(self._tmp.name, f"exact-{version}.npz")
        spec = exactjob.job(
            settings.to_dict(),
            os.path.abspath(self.mix_path),
            self.scale,
            self.block_frames,
            region.start,
            region.frames,
            out,
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "tonematch.inference.studio.exactjob"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        with self._lock:
            self._proc = proc
        try:
            proc.stdin.write(json.dumps(spec).encode())
            proc.stdin.close()
            while proc.poll() is None:
                if self.version != version or self.closed:
                    proc.kill()
                    proc.wait()
                    return None
                time.sleep(0.02)
            err = proc.stderr.read().decode(errors="replace").strip()
            if proc.returncode != 0:
                raise RuntimeError(err.splitlines()[-1] if err else f"exit status {proc.returncode}")
            try:
                return exactjob.load(out)
            finally:
                os.unlink(out)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()
            with self._lock:
                self._proc = None

    def status(self) -> dict:
        with self._lock:
            p = self.preview
            return {
                "version": self.version,
                "serial": p.serial,
                "exact": p.exact,
                "current": p.version == self.version,
                "whole": self._whole,
            }

    # -- readouts --------------------------------------------------------------------------------

    def levels(self, preview: Preview | None = None) -> dict:
        """Loudness matching: the level every track plays at (at most MATCH_MAX_LUFS, and low
        enough that every true peak stays MATCH_HEADROOM_DB under 0 dBTP) and each one's gain."""
        p = preview or self.preview
        tracks = {"mix": self.mix_metrics, "master": p.metrics}
        if self.reference_metrics is not None:
            tracks["reference"] = self.reference_metrics
        level = MATCH_MAX_LUFS
        for m in tracks.values():
            if m["lufs"] is not None:
                level = min(level, m["lufs"] - m["true_peak_dbtp"] - MATCH_HEADROOM_DB)
        gains = {k: (0.0 if m["lufs"] is None else level - m["lufs"]) for k, m in tracks.items()}
        return {"match_lufs": level, "gain_db": gains}

    def preview_json(self, preview: Preview | None = None) -> dict:
        p = preview or self.preview
        m = p.metrics
        return {
            "preview": {k: m[k] for k in ("lufs", "true_peak_dbtp", "crest_db", "width")},
            "metrics": {"mix": self.mix_metrics, "master": m, "reference": self.reference_metrics},
            "serial": p.serial,
            "version": p.version,
            "exact": p.exact,
            "gain_into_limiter_db": p.gain_db,
            "render_seconds": p.seconds,
            "warnings": p.warnings,
            "levels": self.levels(p),
            "describe": explain.describe(p.settings, {"report": {"gain_db": p.gain_db}}) + self._reading(),
            "region": self.region.seconds(self.sample_rate),
        }

    def _reading(self) -> list[str]:
        """How refinement read the reference when the studio chose its start settings (the run's
        `reference:` line), said of the start: edits move the master, not the reading."""
        if "reading" not in self.notes:
            return []
        words = explain.reference_reading(self.notes["reading"], bool(self.notes.get("refined")))
        of = "style" if self.notes["reading"].get("of") == "style" else "reference"
        return ["", f"{of}, as the start settings read it: " + words.removeprefix(f"{of}: ")]

    def readouts(self) -> dict:
        """Tonal balance (mix, master, reference), the EQ curve and the gain reduction of the
        compressor and the limiter over the region, for the current preview (cached)."""
        with self._lock:
            p = self.preview
            if p.readouts is not None:
                return p.readouts
            source, region = self._source, self.region
        live = lambda: self.version == p.version and not self.closed  # noqa: E731
        with self._engine:
            gr = self._gain_reduction(p, source, region, live) if live() else None
            if gr is None or not live():  # a newer change came: it gets the engine first
                return {"stale": True, "serial": p.serial}
            _, tone_master = tone_of(p.master[None], self.sample_rate)
        out = {
            "serial": p.serial,
            "tone": {
                "hz": self.tone_hz.tolist(),
                "mix": rounded(self.tone_mix),
                "master": rounded(tone_master),
                "reference": rounded(self.tone_reference),
                "reference_label": "reference" if self.reference_path is not None else "style target",
            },
            "eq": eq_curve(p.settings),
            "gain_reduction": gr,
            **self.preview_json(p),
        }
        with self._lock:
            p.readouts = out
            self._wake.notify_all()
        return out

    def _gain_reduction(self, p: Preview, source: np.ndarray, region: Region, live=lambda: True) -> dict | None:
        """The compressor's and the limiter's gain change over the region (report.gain_reduction,
        the report's traces), GR_POINTS values, the pre-roll rendered first."""
        from ..report import gain_reduction

        hop = max(1, -(-region.frames // GR_POINTS))
        traces = gain_reduction(source, p.settings, p.gain_db, hop, skip=region.preroll, master=p.master, live=live)
        if traces is None:
            return None
        out = {"hop_s": hop / self.sample_rate}
        out.update({k: None if v is None else rounded(v) for k, v in traces.items()})
        return out

    # -- export ----------------------------------------------------------------------------------

    def export(self) -> dict:
        """The whole file through `tonematch render`'s path (render_file, default format and
        dither) with its settings and report beside it, written together atomically
        (pipeline.write_master, as `tonematch match --report` writes them)."""
        start = time.perf_counter()
        with self._lock:
            amount = self.amount
            settings = self.with_provenance(self.effective(), amount, studio=True)
        decision = pipeline.Decision(settings, self.target, {**self.notes, "studio": True})
        options = replace(self.options, amount=amount)
        with self._engine:
            # read once the engine is ours: a second export asked while the first ran replaces it
            with self._lock:
                replace_ok = self.overwrite or self._ours()
            self._check_outputs(options, overwrite=replace_ok)
            summary = pipeline.write_master(
                self.mix_path, self.mix, decision, self.out_path, report=True, warn=self.warn, replace=replace_ok
            )
            summary["total_seconds"] = time.perf_counter() - start
            with self._lock:
                self._written = {p: _signature(p) for p in self.outputs().values()}
        return {
            **self.outputs(),
            "lufs": summary.get("output_lufs"),
            "true_peak_dbtp": summary.get("output_true_peak_dbtp"),
            "seconds": summary.get("total_seconds"),
            "warnings": summary.get("warnings", []),
        }

    def _ours(self) -> bool:
        """Whether every output on disk is still the file this session's last export wrote (so a new
        export may replace it): one put there since, by hand or by another program, is not."""
        for path in self.outputs().values():
            there = _signature(path)
            if there is not None and there != self._written.get(path):
                return False
        return True

    # -- audio -----------------------------------------------------------------------------------

    def wav(self, which: str, levels: bool = False) -> bytes:
        """The region of `which` (mix, master, reference) as a 16-bit WAV, loudness-matched
        (levels.match_lufs) unless `levels`."""
        with self._lock:
            p = self.preview
            x = {"mix": self.mix_region, "master": p.master, "reference": self.reference}.get(which)
            if x is None:
                raise KeyError(which)
            if levels and which == "master" and p.wav is not None:
                return p.wav
            gain = 0.0 if levels else self.levels(p)["gain_db"][which]
        if gain:
            x = x * np.float32(10.0 ** (gain / 20.0))
        return self._encode(x)

    def _encode(self, x: np.ndarray) -> bytes:
        """16-bit WAV bytes (the writer's TPDF dither)."""
        path = os.path.join(self._tmp.name, f"preview-{threading.get_ident()}.wav")
        audio.write(path, x, self.sample_rate, subtype="PCM_16")
        try:
            return Path(path).read_bytes()
        finally:
            os.unlink(path)

    def page_state(self) -> dict:
        """Everything the page needs at load."""
        sr = self.sample_rate
        with self._lock:
            return {
                "files": {
                    "mix": str(self.mix_path),
                    "reference": None if self.reference_path is None else str(self.reference_path),
                    "style": None if self.style_path is None else str(self.style_path),
                    "outputs": self.outputs(),
                },
                "sample_rate": sr,
                "channels": self.channels,
                "duration_s": self.frames / sr,
                "overview": {"peaks": rounded(self._scan.peaks, 4)},
                "region": self.region.seconds(sr),
                "loudest_start_s": self.loudest / sr,
                "reference_start_s": getattr(self, "reference_start_s", None),
                "params": params_table(sr),
                "settings": self.settings_json(base=True),
                "start_settings": Settings(self.start_settings.values, sr, self.start_settings.bypass, {}).to_dict(),
                "amount": self.amount,
                "start_amount": self.start_amount,
                "notes": {k: v for k, v in self.notes.items() if isinstance(v, (str, bool, int, float))},
                **self.preview_json(),
            }

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._wake.notify_all()
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
        if self._worker is not None:
            self._worker.join(timeout=10)
        self._tmp.cleanup()


def _signature(path) -> tuple | None:
    """(inode, size, mtime) of a file, None where there is none."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def default_output(mix_path) -> Path:
    """MIX_mastered.wav beside the mix."""
    p = Path(mix_path)
    return p.with_name(f"{p.stem}_mastered.wav")
