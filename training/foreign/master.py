"""The foreign mastering chain: settings in engineer units, the render, random draws and
single-axis variants (evaluation only).

Chain: input staged to STAGE_LUFS -> linear-phase EQ -> feedback RMS compressor -> M/S width ->
gain -> soft clipper (relative to the ceiling) -> lookahead limiter -> trim. The gain before the
clipper is solved (secant steps on the shared BS.1770 meter) so that the limited output lands
on target_lufs: a louder target drives the clipper and limiter harder, as in a real master.
`drive_db` then pushes them that much harder still and the trim turns the output back down to
target_lufs: a denser master at the same loudness (peak-to-loudness ratio falls, the peaks sit
below the ceiling). Staging the input first means a threshold means the same on any song: the
same settings on two songs compress them alike, which is what "the same mastering on another
song" needs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from tonematch.models.measure.loudness import integrated_loudness

from .clipper import soft_clip
from .compressor import compress
from .fir_eq import Bell, Shelf, Tilt, equalise
from .limiter import limit, peak_envelope
from .width import width

STAGE_LUFS = -18.0  # the level the chain's input is trimmed to before the EQ and compressor
LOUDNESS_TOLERANCE_LU = 0.02
LOUDNESS_STEPS = 8
MAX_LIMITING_DB = 12.0  # the loudness solve stops here (drive_db may add to it)


@dataclass(frozen=True)
class ForeignSettings:
    # EQ (linear-phase FIR, both channels alike)
    tilt_db_per_oct: float = 0.0  # pivot 1 kHz, flat outside 20 Hz .. 20 kHz
    low_shelf_db: float = 0.0
    low_shelf_hz: float = 120.0
    high_shelf_db: float = 0.0
    high_shelf_hz: float = 6000.0
    bell_db: float = 0.0
    bell_hz: float = 1000.0
    bell_octaves: float = 1.5
    # compressor (feedback RMS); threshold in dBFS of the input staged to STAGE_LUFS
    comp_threshold_db: float = 0.0
    comp_ratio: float = 1.0  # 1: off
    comp_attack_ms: float = 10.0
    comp_release_ms: float = 150.0
    comp_rms_ms: float = 10.0
    comp_knee_db: float = 6.0
    comp_auto_release: float = 5.0  # slow release / fast release (1: one release time)
    # width (mid / side)
    side_gain: float = 1.0
    side_lowcut_hz: float = 0.0  # 0: off
    # soft clipper: its level in dB relative to the limiter's ceiling; None: off
    clip_db: float | None = None
    clip_knee_db: float = 3.0
    # limiter and loudness
    ceiling_dbtp: float = -1.0
    limiter_release_ms: float = 80.0
    lookahead_ms: float = 3.0
    drive_db: float = 0.0  # into clipper + limiter beyond what target_lufs needs, trimmed back after
    target_lufs: float = -14.0

    def eq_moves(self) -> list:
        return [
            Tilt(self.tilt_db_per_oct),
            Shelf(self.low_shelf_db, self.low_shelf_hz, high=False),
            Shelf(self.high_shelf_db, self.high_shelf_hz, high=True),
            Bell(self.bell_db, self.bell_hz, self.bell_octaves),
        ]

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        clip = "off" if self.clip_db is None else f"{self.clip_db:+.1f} dB re ceiling"
        return (
            f"EQ: tilt {self.tilt_db_per_oct:+.2f} dB/oct, low shelf {self.low_shelf_db:+.1f} dB at "
            f"{self.low_shelf_hz:.0f} Hz, high shelf {self.high_shelf_db:+.1f} dB at {self.high_shelf_hz:.0f} Hz, "
            f"bell {self.bell_db:+.1f} dB at {self.bell_hz:.0f} Hz ({self.bell_octaves:.1f} oct); "
            f"compressor {self.comp_ratio:.2f}:1 at {self.comp_threshold_db:.1f} dB; side x{self.side_gain:.2f}"
            f" (low-cut {self.side_lowcut_hz:.0f} Hz); clipper {clip}; limiter {self.ceiling_dbtp:.1f} dBTP; "
            f"drive {self.drive_db:+.1f} dB; {self.target_lufs:.1f} LUFS"
        )


class ForeignMaster:
    """`ForeignMaster(settings).apply(audio, sample_rate)` -> mastered audio [C, T] float32."""

    def __init__(self, settings: ForeignSettings | None = None):
        self.settings = settings or ForeignSettings()

    def __repr__(self) -> str:
        return f"ForeignMaster({self.settings.describe()})"

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return self.render(audio, sample_rate)[0]

    def render(self, audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, dict]:
        """(output, report): the report has the compressor's gain reduction (max, mean and 95th
        percentile over the clip, dB),
        the gain into the clipper (gain_db), the limiter's deepest reduction and the output's
        loudness."""
        s = self.settings
        x = np.asarray(audio, dtype=np.float32)
        if x.ndim == 1:
            x = x[None]
        loudness = integrated_loudness(x, sample_rate)
        stage_db = 0.0 if loudness is None else STAGE_LUFS - loudness
        x = x * np.float32(10.0 ** (stage_db / 20.0))
        x = equalise(x, s.eq_moves(), sample_rate)
        x, reduction = compress(
            x,
            sample_rate,
            s.comp_threshold_db,
            s.comp_ratio,
            s.comp_attack_ms,
            s.comp_release_ms,
            s.comp_rms_ms,
            s.comp_knee_db,
            s.comp_auto_release,
        )
        x = width(x, sample_rate, s.side_gain, s.side_lowcut_hz)
        y, gain_db, limiter_db, lufs = self._to_loudness(x, sample_rate)
        report = {
            "stage_db": stage_db,
            "compressor_max_db": float(reduction.max()) if reduction.size else 0.0,
            "compressor_mean_db": float(reduction.mean()) if reduction.size else 0.0,
            "compressor_p95_db": float(np.percentile(reduction, 95)) if reduction.size else 0.0,
            "gain_db": gain_db,
            "limiter_max_db": limiter_db,
            "lufs": lufs,
        }
        return y, report

    def _finish(
        self, x: np.ndarray, gain_db: float, sample_rate: int, envelope: np.ndarray | None
    ) -> tuple[np.ndarray, float]:
        """(x through gain, clipper and limiter, the limiter's deepest reduction in dB);
        `envelope`: x's peak envelope, used when no clipper changes the shape."""
        s = self.settings
        linear = 10.0 ** (gain_db / 20.0)
        y = x * np.float32(linear)
        if s.clip_db is not None:
            y = soft_clip(y, s.ceiling_dbtp + s.clip_db, s.clip_knee_db)
        scaled = envelope * linear if envelope is not None and s.clip_db is None else None
        y, gain = limit(y, sample_rate, s.ceiling_dbtp, s.limiter_release_ms, s.lookahead_ms, scaled)
        return y, -20.0 * math.log10(max(float(gain.min()), 1e-12))

    def _to_loudness(self, x: np.ndarray, sample_rate: int):
        """(output, gain into the clipper dB, limiter's deepest reduction dB, output LUFS): the
        gain found by secant steps on the measured loudness of the clipped, limited output, plus
        drive_db, the output trimmed down to the target. Where the target would need more than
        MAX_LIMITING_DB of limiting, the output stays as loud as that makes it (below target)."""
        target = self.settings.target_lufs
        start = integrated_loudness(x, sample_rate)
        envelope = peak_envelope(x) if self.settings.clip_db is None else None
        if start is None:  # silence: nothing to normalise
            y, limited = self._finish(x, 0.0, sample_rate, envelope)
            return y, 0.0, limited, None
        gain, previous, cap = target - start, None, math.inf
        best = None
        for _ in range(LOUDNESS_STEPS):
            y, limited = self._finish(x, gain, sample_rate, envelope)
            measured = integrated_loudness(y, sample_rate)
            error = target - measured
            if best is None or abs(error) < abs(best[3]):
                best = (y, gain, limited, error)
            if abs(error) <= LOUDNESS_TOLERANCE_LU:
                break
            if limited > MAX_LIMITING_DB:  # the deepest reduction follows the gain dB for dB
                cap = min(cap, gain - (limited - MAX_LIMITING_DB))
            if error > 0.0 and gain >= cap:
                break  # as loud as MAX_LIMITING_DB makes it: the target is out of reach
            slope = 1.0
            if previous is not None and gain != previous[0]:
                slope = float(np.clip((measured - previous[1]) / (gain - previous[0]), 0.05, 1.0))
            previous = (gain, measured)
            gain = min(gain + error / slope, cap)
        y, gain, limited, error = best
        if self.settings.drive_db > 0.0:
            gain += self.settings.drive_db
            y, limited = self._finish(x, gain, sample_rate, envelope)
            error = target - integrated_loudness(y, sample_rate)
        if error < 0.0:  # too loud: turning down keeps the ceiling
            y = y * np.float32(10.0 ** (error / 20.0))
        return y, gain, limited, integrated_loudness(y, sample_rate)


# -- random masterings and single-axis variants ------------------------------------------------------

AXES = {  # axis -> (the + variant, the - variant)
    "tone": ("brighter", "darker"),
    "dynamics": ("denser", "more open"),
    "width": ("wider", "narrower"),
    "loudness": ("louder", "quieter"),
}
TILT_STEP = 0.6  # dB/octave per step: 3.4 dB more at 10 kHz than at 200 Hz
THRESHOLD_STEP_DB = 6.0
RATIO_STEP = 1.5  # factor
CLIP_STEP_DB = 1.0
DRIVE_STEP_DB = 2.0
SIDE_STEP = 1.4  # factor: +-2.9 dB side / mid
LOUDNESS_STEP_LU = 3.0


def draw(rng: np.random.Generator | int) -> ForeignSettings:
    """A random, plausible base mastering (every processor on except, at times, the clipper and
    the side low-cut)."""
    rng = np.random.default_rng(rng)

    def normal(std, bound):
        return float(np.clip(rng.normal(0.0, std), -bound, bound))

    def loguniform(low, high):
        return float(low * (high / low) ** rng.uniform())

    return ForeignSettings(
        tilt_db_per_oct=float(rng.uniform(-0.5, 0.5)),
        low_shelf_db=normal(2.0, 6.0),
        low_shelf_hz=loguniform(60.0, 250.0),
        high_shelf_db=normal(2.0, 6.0),
        high_shelf_hz=loguniform(3000.0, 12000.0),
        bell_db=normal(2.0, 6.0),
        bell_hz=loguniform(200.0, 5000.0),
        bell_octaves=float(rng.uniform(0.7, 2.5)),
        comp_threshold_db=float(rng.uniform(-32.0, -16.0)),
        comp_ratio=loguniform(1.3, 6.0),
        comp_attack_ms=loguniform(1.0, 40.0),
        comp_release_ms=loguniform(60.0, 500.0),
        comp_rms_ms=loguniform(3.0, 30.0),
        comp_knee_db=float(rng.uniform(0.0, 10.0)),
        comp_auto_release=float(rng.uniform(2.0, 8.0)),
        side_gain=float(rng.uniform(0.75, 1.35)),
        side_lowcut_hz=0.0 if rng.uniform() < 0.5 else loguniform(60.0, 200.0),
        clip_db=None if rng.uniform() < 0.3 else float(rng.uniform(0.0, 3.0)),
        clip_knee_db=float(rng.uniform(1.0, 3.0)),
        ceiling_dbtp=float(rng.uniform(-1.5, -0.3)),
        limiter_release_ms=loguniform(30.0, 300.0),
        lookahead_ms=float(rng.uniform(1.0, 5.0)),
        drive_db=float(rng.uniform(2.0, 5.0)),
        target_lufs=float(rng.uniform(-16.0, -10.0)),
    )


def step(base: ForeignSettings, axis: str, amount: float) -> ForeignSettings:
    """base moved `amount` steps along one axis (+: brighter, denser, wider, louder)."""
    if axis == "tone":
        return replace(base, tilt_db_per_oct=base.tilt_db_per_oct + TILT_STEP * amount)
    if axis == "dynamics":
        clip = base.clip_db if base.clip_db is None else base.clip_db - CLIP_STEP_DB * amount
        return replace(
            base,
            comp_threshold_db=base.comp_threshold_db - THRESHOLD_STEP_DB * amount,
            comp_ratio=max(1.0, base.comp_ratio * RATIO_STEP**amount),
            clip_db=clip,
            drive_db=max(0.0, base.drive_db + DRIVE_STEP_DB * amount),
        )
    if axis == "width":
        return replace(base, side_gain=base.side_gain * SIDE_STEP**amount)
    if axis == "loudness":
        return replace(base, target_lufs=base.target_lufs + LOUDNESS_STEP_LU * amount)
    raise ValueError(f"unknown axis '{axis}' (axes: {', '.join(AXES)})")


def variants(base: ForeignSettings, axes=tuple(AXES), scales=(1.0,)) -> list[tuple[str, str, float, ForeignSettings]]:
    """[(axis, label, signed amount, settings)]: for each axis and scale, the + and - variant
    (with scales (1,): brighter, darker, denser, more open, wider, narrower, louder, quieter)."""
    out = []
    for axis in axes:
        up, down = AXES[axis]
        for scale in scales:
            suffix = "" if scale == 1.0 else f" x{scale:g}"
            out.append((axis, up + suffix, float(scale), step(base, axis, scale)))
            out.append((axis, down + suffix, -float(scale), step(base, axis, -scale)))
    return out
