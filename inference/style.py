"""Your own mastering style: what an engineer does, learned from their mix/master pairs.

Matching works by refinement toward a target *character* (character.py: tonal balance, width,
loudness spread, block crest, loudness). A style is a function from the MIX's character to the
MASTER's character, fitted on the engineer's aligned pairs, one small shrunk line per feature:

* tonal balance: the tone curve is split into seven smooth bumps on a log-frequency axis
  (partition of unity, 40 Hz .. 10 kHz, 4/3 octave apart) plus a fine residual. Per bump k,
  master_k = a_k * mix_k + c_k with a_k in [0, 1], shrunk toward 0 ("pull every mix to my own
  balance"); a_k = 1 would leave the mix alone. The fine residual (single instruments, what a
  six-band EQ cannot move) is the mix's own.
* width (side/mid dB in four bands), loudness spread, block crest and integrated loudness: the
  same line, master = a * mix + c.
The shrinkage of each line is chosen by leave-one-out error over a small grid, so with a handful
of pairs the style falls back to "the engineer's average" and learns the slope only when the
pairs show it. The style also records the settings it tends toward (each pair refined toward its
own master, averaged in readable units): the compression habit starts every new master, and
`style show` prints them. The compressor's attack and release are read from each pair's gain trace
(gain_trace.py), which the character cannot see, and are kept as read when refining.

Mastering with a style (`master_with_style`): predict the target character from the mix's own,
start from settings fitted to that target (EQ by matcher.fit_eq on target-minus-mix tone, width
from the width difference, the compression habit), then the same loudness/ceiling, group,
refinement and amount steps as `match`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from tonematch.data.errors import TonematchError
from tonematch.models import excerpts
from tonematch.models.chain import TABLE
from tonematch.models.chain.settings import Settings

from . import character, match, matcher, style_settings
from .gain_trace import read_compressor

BUMP_HZ = tuple(float(40.0 * 2.0 ** (k * 4.0 / 3.0)) for k in range(7))  # 40 Hz .. 10 kHz
SCALARS = ("spread", "crest", "lufs")
SHRINK_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, math.inf)  # a = OLS slope / (1 + g); inf: a = 0
COMPRESSOR_KEYS = ("threshold_db", "ratio", "attack_ms", "release_ms", "knee_db")
# A compressor to start from where a style has no habit (from references): refinement moves it.
GENERIC_COMPRESSOR = {"threshold_rel_lufs": 6.0, "ratio": 2.0, "attack_ms": 10.0, "release_ms": 150.0, "knee_db": 6.0}
FIT_STEPS = 120  # refinement steps per pair when reading the engineer's settings
TIMING_KEYS = ("compressor.attack_ms", "compressor.release_ms")  # read from the gain trace, not refined
FAST_ATTACK_MS, SLOW_ATTACK_MS = 5.0, 20.0  # "fast" below, "slow" above (a bus compressor's 30 ms), in `style show`


@dataclass
class Style:
    bump_hz: np.ndarray  # [K]
    tone_a: np.ndarray  # [K]
    tone_c: np.ndarray  # [K] dB
    width_a: np.ndarray  # [4]
    width_c: np.ndarray  # [4] side/mid dB
    scalar_a: np.ndarray  # [3] spread, crest, lufs
    scalar_c: np.ndarray  # [3]
    true_peak_dbtp: float
    habit: dict | None = None  # average settings in readable units (None: from references)
    settings: dict | None = None  # the settings style (style_settings.fit_model); None: character only
    meta: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.meta.get("name", "style"))

    def predict(self, mix_char: dict, mix_lufs: float | None, sample_rate: int) -> dict:
        """The master character this engineer would make of a mix of character `mix_char`."""
        centres = band_centres(sample_rate)
        basis = bump_basis(centres, self.bump_hz)
        coef, residual = project(mix_char["tone"], centres, basis, sample_rate)
        tone = basis @ (self.tone_a * coef + self.tone_c) + residual
        tone = tone - tone.mean()
        width = mix_char["width"]
        if width.size:
            width = self.width_a * width + self.width_c
        mix = {
            "spread": float(mix_char["spread"]),
            "crest": float(mix_char["crest"]),
            "lufs": float(mix_lufs if mix_lufs is not None else mix_char["lufs"]),
        }
        out = {name: float(self.scalar_a[i] * mix[name] + self.scalar_c[i]) for i, name in enumerate(SCALARS)}
        out["spread"] = max(0.0, out["spread"])
        low, high = TABLE.by_key["loudness.target_lufs"].spec.bounds(sample_rate)
        out["lufs"] = float(np.clip(out["lufs"], low, high))
        return {
            "tone": np.asarray(tone, dtype=np.float64),
            "width": np.asarray(width, dtype=np.float64),
            "spread": out["spread"],
            "crest": out["crest"],
            "lufs": out["lufs"],
        }


# -- tonal balance in smooth bumps ------------------------------------------------------------------


def band_centres(sample_rate: int) -> np.ndarray:
    """Centres of character.py's tone bands at this rate."""
    n_fft = 1 << int(round(math.log2(character.N_FFT_S * sample_rate)))
    edges = character.band_edges(sample_rate, n_fft)
    return np.sqrt(edges[1:] * edges[:-1])


def bump_basis(centres_hz: np.ndarray, bump_hz) -> np.ndarray:
    """[B, K] cos^2 bumps on log2 frequency, summing to 1 everywhere (flat beyond the end bumps)."""
    x = np.log2(np.asarray(centres_hz, dtype=np.float64))
    xk = np.log2(np.asarray(bump_hz, dtype=np.float64))
    step = float(xk[1] - xk[0])
    d = (x[:, None] - xk[None, :]) / step
    basis = np.where(np.abs(d) < 1.0, np.cos(0.5 * np.pi * d) ** 2, 0.0)
    basis[x <= xk[0], 0] = 1.0
    basis[x >= xk[-1], -1] = 1.0
    return basis


def _tone_range(centres: np.ndarray, sample_rate: int) -> np.ndarray:
    lo, hi = character.TONE_RANGE_HZ
    return (centres >= lo) & (centres <= min(hi, 0.45 * sample_rate))


def project(tone: np.ndarray, centres: np.ndarray, basis: np.ndarray, sample_rate: int):
    """(bump coefficients [K], residual [B]) of a tone curve, fitted over the compared range."""
    sel = _tone_range(centres, sample_rate)
    coef = np.linalg.lstsq(basis[sel], tone[sel], rcond=None)[0]
    return coef, tone - basis @ coef


# -- fitting -----------------------------------------------------------------------------------------


def shrunk_line(x, y) -> tuple[float, float, float]:
    """(a, c, g): y ~ a x + c with a = clip(OLS slope / (1 + g), 0, 1), g by leave-one-out error."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = x.size

    def fit(xs, ys, g):
        xm, ym = xs.mean(), ys.mean()
        sxx = float(((xs - xm) ** 2).sum())
        a = (
            0.0
            if (math.isinf(g) or sxx < 1e-9)
            else float(np.clip(((xs - xm) * (ys - ym)).sum() / (sxx * (1 + g)), 0, 1))
        )
        return a, ym - a * xm

    if n < 3:
        return 0.0, float(y.mean()), math.inf
    best = None
    for g in reversed(SHRINK_GRID):  # most shrinkage first: it wins ties
        err = 0.0
        for i in range(n):
            keep = np.arange(n) != i
            a, c = fit(x[keep], y[keep], g)
            err += (a * x[i] + c - y[i]) ** 2
        if best is None or err < best[0] - 1e-12:
            best = (err, g)
    a, c = fit(x, y, best[1])
    return a, float(c), best[1]


@dataclass
class PairData:
    """One aligned pair seen through excerpts (the same positions in mix and master)."""

    name: str
    mix_path: str
    master_path: str
    mix: match.Analysis
    master: match.Analysis
    mix_char: dict
    master_char: dict
    offset_frames: int
    settings: Settings | None = None  # the pair refined toward its own master
    compressor: dict | None = None  # the compressor read from the pair's gain trace (gain_trace.py)
    fit: object | None = None  # the chain identified on the pair (style_settings.PairFit)


def aligned_master(master: np.ndarray, offset: int, frames: int) -> np.ndarray:
    """master[t + offset] for t in [0, frames), zeros outside."""
    out = np.zeros((master.shape[0], frames), dtype=np.float32)
    lo, hi = max(0, offset), min(master.shape[1], offset + frames)
    if hi > lo:
        out[:, lo - offset : hi - offset] = master[:, lo:hi]
    return out


def load_pair(pair, offset: int | None = None) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(mix, master aligned to it, rate, offset): master at the mix's rate and channel count;
    `offset`: the alignment found before (not searched again)."""
    from tonematch.data import audio
    from tonematch.data.align import align

    mix, sr = audio.load(pair.mix)
    if mix.shape[0] > 2:
        raise TonematchError(f"pair {pair.name}: the mix has {mix.shape[0]} channels, only mono or stereo")
    master, _ = audio.load(pair.master, sample_rate=sr, channels=mix.shape[0])
    if offset is None:  # on float32 mono mixes: align's float64 copy of both channels is 2 x the file
        mono = [np.mean(x, axis=0, dtype=np.float32).astype(np.float64) for x in (mix, master)]
        offset = int(round(align(mono[0], mono[1], sr, name=pair.name).offset_frames))
        del mono
    return mix, aligned_master(master, offset, mix.shape[1]), sr, offset


def read_pair(pair) -> PairData:
    mix, master, sr, offset = load_pair(pair)
    a, b = match.analyse_array(mix, sr), match.analyse_array(master, sr)
    if b.lufs is None:
        raise TonematchError(f"pair {pair.name}: the master is silent where it overlaps the mix")
    return PairData(
        pair.name,
        str(pair.mix),
        str(pair.master),
        a,
        b,
        character.character_of(a.clips, sr, a.true_peak_ratio),
        character.character_of(b.clips, sr, b.true_peak_ratio),
        offset,
        compressor=read_compressor(a.clips, b.clips, sr),
    )


def _timing(p: PairData) -> bool:
    return p.compressor is not None and "attack_ms" in p.compressor


def pair_settings(p: PairData, steps: int = FIT_STEPS) -> Settings:
    """What the engineer's chain looks like on this pair: the compressor read from its gain trace,
    the rest refined toward their own master (the timing stays as read)."""
    from . import refine

    sr = p.mix.sample_rate
    settings = start_settings(p.mix, p.mix_char, p.master_char, None)
    if p.compressor is not None:
        for name in COMPRESSOR_KEYS:
            if name in p.compressor:
                low, high = TABLE.by_key[f"compressor.{name}"].spec.bounds(sr)
                settings.values[f"compressor.{name}"] = float(np.clip(p.compressor[name], low, high))
    settings.values["loudness.target_lufs"] = float(
        np.clip(p.master.lufs, *TABLE.by_key["loudness.target_lufs"].spec.bounds(sr))
    )
    settings.values["limiter.ceiling_dbtp"] = float(
        np.clip(min(p.master.true_peak_dbtp, 0.0), *TABLE.by_key["limiter.ceiling_dbtp"].spec.bounds(sr))
    )
    if steps <= 0:
        return settings
    frames = character.analyse(p.mix.clips, sr, p.mix.true_peak_ratio)
    fixed = TIMING_KEYS if _timing(p) else ()
    return refine.refine(settings, p.mix.clips, frames, p.master_char, steps=steps, fixed=fixed).settings


def _average_habit(data: list[PairData]) -> dict | None:
    """The settings the pairs tend toward, in readable units (geometric means for log-scaled values;
    the threshold relative to the mix's loudness, since engineers set it by ear on the mix)."""
    rows = [p for p in data if p.settings is not None]
    if not rows:
        return None
    habit: dict = {}
    for name in COMPRESSOR_KEYS:
        key = f"compressor.{name}"
        vals = np.array([p.settings.values[key] for p in rows])
        if name == "threshold_db":
            rel = vals - np.array([p.mix.lufs if p.mix.lufs is not None else -20.0 for p in rows])
            habit["threshold_rel_lufs"] = float(rel.mean())
            habit["threshold_db"] = float(vals.mean())
        elif TABLE.by_key[key].spec.scale == "log":
            habit[name] = float(np.exp(np.log(vals).mean()))
        else:
            habit[name] = float(vals.mean())
    timed = [p for p in rows if _timing(p)]
    habit["timing_pairs"] = len(timed)  # pairs whose attack and release were read from the trace
    if timed:
        for name in ("attack_ms", "release_ms"):
            # the median: one pair with little compression in its unlimited frames reads off
            habit[name] = float(np.median([p.compressor[name] for p in timed]))
    read = [p.compressor["reduction_db"] for p in rows if p.compressor is not None]
    habit["reduction_db"] = float(np.mean(read)) if read else None
    habit["width"] = float(np.mean([p.settings.values["width.width"] for p in rows]))
    habit["target_lufs"] = float(np.mean([p.master.lufs for p in rows]))
    habit["ceiling_dbtp"] = float(np.mean([p.master.true_peak_dbtp for p in rows]))
    # the typical EQ: one fit to the average tone change (mix -> master)
    sr = rows[0].mix.sample_rate
    centres = band_centres(sr)
    sel = _tone_range(centres, sr)
    change = np.mean([p.master_char["tone"] - p.mix_char["tone"] for p in rows if p.mix.sample_rate == sr], axis=0)
    habit["eq"] = {k: v for k, v in matcher.fit_eq(change[sel], centres[sel], sr).items()}
    return habit


def fit_style(data: list[PairData], name: str = "style", habit: bool = True) -> Style:
    """A style from analysed pairs (their `settings` set when `habit`)."""
    if not data:
        raise TonematchError("no usable pairs to fit a style on")
    k = len(BUMP_HZ)
    tone_mix, tone_master = [], []
    for p in data:
        sr = p.mix.sample_rate
        centres = band_centres(sr)
        basis = bump_basis(centres, BUMP_HZ)
        tone_mix.append(project(p.mix_char["tone"], centres, basis, sr)[0])
        tone_master.append(project(p.master_char["tone"], centres, basis, sr)[0])
    tone_mix, tone_master = np.array(tone_mix), np.array(tone_master)
    lines = [shrunk_line(tone_mix[:, j], tone_master[:, j]) for j in range(k)]
    stereo = [p for p in data if p.mix_char["width"].size and p.master_char["width"].size]
    if stereo:
        wm = np.array([p.mix_char["width"] for p in stereo]).clip(-40, 20)
        ws = np.array([p.master_char["width"] for p in stereo]).clip(-40, 20)
        wlines = [shrunk_line(wm[:, j], ws[:, j]) for j in range(wm.shape[1])]
    else:
        wlines = [(1.0, 0.0, 0.0)] * 4
    mixes = {
        "spread": [float(p.mix_char["spread"]) for p in data],
        "crest": [float(p.mix_char["crest"]) for p in data],
        "lufs": [float(p.mix.lufs) if p.mix.lufs is not None else float(p.mix_char["lufs"]) for p in data],
    }
    masters = {
        "spread": [float(p.master_char["spread"]) for p in data],
        "crest": [float(p.master_char["crest"]) for p in data],
        "lufs": [float(p.master.lufs) for p in data],
    }
    slines = [shrunk_line(mixes[n], masters[n]) for n in SCALARS]
    return Style(
        bump_hz=np.array(BUMP_HZ),
        tone_a=np.array([a for a, _, _ in lines]),
        tone_c=np.array([c for _, c, _ in lines]),
        width_a=np.array([a for a, _, _ in wlines]),
        width_c=np.array([c for _, c, _ in wlines]),
        scalar_a=np.array([a for a, _, _ in slines]),
        scalar_c=np.array([c for _, c, _ in slines]),
        true_peak_dbtp=float(np.mean([p.master.true_peak_dbtp for p in data])),
        habit=_average_habit(data) if habit else None,
        meta={"name": name, "pairs": len(data), "kind": "pairs", "pair_names": [p.name for p in data]},
    )


def style_from_references(masters: list[match.Analysis], name: str = "style") -> Style:
    """A style from masters alone: the target is their average character (every a = 0)."""
    if not masters:
        raise TonematchError("no reference masters to make a style from")
    k = len(BUMP_HZ)
    coefs, widths = [], []
    for m in masters:
        c = character.character_of(m.clips, m.sample_rate, m.true_peak_ratio)
        centres = band_centres(m.sample_rate)
        coefs.append(project(c["tone"], centres, bump_basis(centres, BUMP_HZ), m.sample_rate)[0])
        if c["width"].size:
            widths.append(c["width"].clip(-40, 20))
        m.extra = {"spread": float(c["spread"]), "crest": float(c["crest"])}
    lufs = [m.lufs for m in masters if m.lufs is not None]
    if not lufs:
        raise TonematchError("the reference masters are silent")
    return Style(
        bump_hz=np.array(BUMP_HZ),
        tone_a=np.zeros(k),
        tone_c=np.mean(coefs, axis=0),
        width_a=np.zeros(4) if widths else np.ones(4),
        width_c=np.mean(widths, axis=0) if widths else np.zeros(4),
        scalar_a=np.zeros(3),
        scalar_c=np.array(
            [np.mean([m.extra["spread"] for m in masters]), np.mean([m.extra["crest"] for m in masters]), np.mean(lufs)]
        ),
        true_peak_dbtp=float(np.mean([m.true_peak_dbtp for m in masters])),
        habit=None,
        meta={"name": name, "pairs": 0, "references": len(masters), "kind": "references"},
    )


# -- mastering with a style ----------------------------------------------------------------------------


def start_settings(mix: match.Analysis, mix_char: dict, target_char: dict, habit: dict | None) -> Settings:
    """Settings toward a target character without reference audio: EQ fitted to the tone change,
    width from the width change above 200 Hz, the compressor from the habit (or a generic start)."""
    sr = mix.sample_rate
    s = Settings.defaults(sr)
    centres = band_centres(sr)
    sel = _tone_range(centres, sr)
    curve = (target_char["tone"] - mix_char["tone"])[sel]
    s.values.update(matcher.fit_eq(curve, centres[sel], sr))
    if mix_char["width"].size and target_char["width"].size:
        d = float(np.clip(target_char["width"][1:] - mix_char["width"][1:], -20, 20).mean())
        s.values["width.width"] = float(np.clip(10.0 ** (d / 20.0), 0.0, 2.0))
    comp = dict(GENERIC_COMPRESSOR if habit is None else habit)
    mix_lufs = mix.lufs if mix.lufs is not None else -20.0
    low, high = TABLE.by_key["compressor.threshold_db"].spec.bounds(sr)
    s.values["compressor.threshold_db"] = float(np.clip(mix_lufs + comp["threshold_rel_lufs"], low, high))
    for name in COMPRESSOR_KEYS[1:]:
        low, high = TABLE.by_key[f"compressor.{name}"].spec.bounds(sr)
        s.values[f"compressor.{name}"] = float(np.clip(comp[name], low, high))
    s.validate()
    return s


def target_for(style: Style, mix: match.Analysis) -> tuple[match.Target, dict]:
    """(the target this style sets for the mix, the mix's own character)."""
    mix_char = character.character_of(mix.clips, mix.sample_rate, mix.true_peak_ratio)
    pred = style.predict(mix_char, mix.lufs, mix.sample_rate)
    target = match.Target(
        pred, float(pred["lufs"]), float(style.true_peak_dbtp), mix.sample_rate, mix.clips, name=f"style {style.name}"
    )
    return target, mix_char


def choose_settings(mix: match.Analysis, style: Style, options: match.Options) -> tuple[Settings, dict, match.Target]:
    """The style's settings for a mix: predicted target and start, then match's own loudness,
    groups, refinement and amount (match.finish). The target's excerpts are the mix rendered
    with the start settings, so a report's "reference" curve shows what the style aims for."""
    from tonematch.models.chain.exact import render_array

    if style.settings is not None:  # a style of settings: the engineer's chain, predicted for the mix
        return style_settings.choose_settings(mix, style, options)
    target, mix_char = target_for(style, mix)
    start = start_settings(mix, mix_char, target.character, style.habit)
    rendered = render_array(excerpts.joined(mix.clips), start, mix.sample_rate)
    target.clips = excerpts.split(rendered, mix.clips.shape[0])
    timed = style.habit is not None and style.habit.get("timing_pairs", 0) > 0
    settings, notes = match.finish(
        start,
        mix,
        target,
        options,
        {"start": "style", "style": style.name, "target_lufs": float(target.lufs)},
        fixed=TIMING_KEYS if timed else (),
    )
    return settings, notes, target


def master_array(
    x: np.ndarray, sample_rate: int, style: Style, options: match.Options
) -> tuple[np.ndarray, Settings, dict]:
    from tonematch.models.chain.exact import render_array

    x = match._as_audio(x)
    settings, notes, _ = choose_settings(match.analyse_array(x, sample_rate), style, options)
    settings, _ = settings.at_rate(sample_rate)
    return render_array(x, settings, sample_rate), settings, notes


def plan_for(style: Style, options: match.Options):
    """A master.Plan: each mix gets the target and start this style sets for it."""
    return lambda mix: choose_settings(mix, style, options)


# -- the held-out check ------------------------------------------------------------------------------


def _closest(p: PairData, pool: list[PairData]) -> PairData:
    """The training pair whose mix sounds most like p's (the most generous reference for (a))."""
    frames = character.analyse(p.mix.clips[:, :, :2048], p.mix.sample_rate)
    return min(
        pool,
        key=lambda q: (
            float(character.distance(q.mix_char, p.mix_char, frames))
            if q.mix.sample_rate == p.mix.sample_rate
            else math.inf
        ),
    )


def holdout_indices(n: int) -> list[int]:
    """About a quarter of the pairs, spread over the list (1 for 4-6 pairs, 2 for 7-10, ...)."""
    if n < 4:
        return []
    k = max(1, int(round(n / 4.0)))
    return sorted({int(i) for i in np.linspace(n - 1, 0, k, endpoint=False).round()})[:k]


def heldout_check(data: list[PairData], pairs, options: match.Options, say=print) -> dict | None:
    """Fit without the held-out pairs, then master each held-out mix (a) generically, matching the
    closest training pair's master as reference, and (b) with the style; both exact renders of the
    whole mix against the engineer's true master. Returns the mean figures per path."""
    from . import api, quality

    held = holdout_indices(len(data))
    if not held:
        return None
    train = [p for i, p in enumerate(data) if i not in held]
    style = fit_style(train, "held-out", habit=False)
    style_settings.attach(style, train)
    by_name = {p.name: p for p in pairs}
    rows = {"generic": [], "style": []}
    opts = {k: getattr(options, k) for k in ("refine", "steps", "model")}
    for i in held:
        p = data[i]
        mix, master, sr, _ = load_pair(by_name[p.name], p.offset_frames)
        ref = _closest(p, train)
        lufs, crest = quality.lufs(master, sr), quality.crest_db(master)
        for key in ("generic", "style"):  # one master at a time: a 5-minute master is 100 MB
            if key == "generic":
                out = api.match(mix, ref.master_path, sample_rate=sr, **opts).audio
            else:
                out = master_array(mix, sr, style, options)[0]
            # MR-STFT on the excerpts the masters are analysed on, one at a time (the mean): over
            # the whole file it costs half a minute and 2.5 GB per pair, on the joined excerpts 0.9 GB
            rows[key].append(
                {
                    "mrstft": style_settings.excerpt_mrstft(out, master, sr),
                    "lufs_error": abs(quality.lufs(out, sr) - lufs),
                    "crest_error": abs(quality.crest_db(out) - crest),
                }
            )
            del out
            match.release_memory()
        say(
            f"  held out {p.name}: MR-STFT generic {rows['generic'][-1]['mrstft']:.3f} (reference {ref.name}), "
            f"style {rows['style'][-1]['mrstft']:.3f}"
        )
    means = {
        k: {m: float(np.mean([r[m] for r in v])) for m in ("mrstft", "lufs_error", "crest_error")}
        for k, v in rows.items()
    }
    g, s = means["generic"]["mrstft"], means["style"]["mrstft"]
    means["held_out"] = [data[i].name for i in held]
    means["mrstft_gain"] = float(1.0 - s / g) if g > 0 else 0.0
    return means


def format_check(check: dict) -> str:
    lines = [
        f"held-out check on {len(check['held_out'])} pair(s) ({', '.join(check['held_out'])}):",
        f"  {'':38s} {'MR-STFT':>8s} {'LUFS err':>9s} {'crest err':>10s}",
    ]
    for key, label in (("generic", "(a) generic, engineer's master as ref"), ("style", "(b) style")):
        m = check[key]
        lines.append(f"  {label:38s} {m['mrstft']:8.3f} {m['lufs_error']:8.2f}  {m['crest_error']:8.2f} dB")
    lines.append(f"  the style is {100 * check['mrstft_gain']:.0f} % closer (MR-STFT) than generic matching")
    return "\n".join(lines)


def fit_pairs(
    pairs,
    name: str = "style",
    steps: int = FIT_STEPS,
    check: bool = True,
    options: match.Options | None = None,
    say=print,
    error=None,
    progress: bool = True,
) -> Style:
    """Read, align and analyse every pair (a pair that fails is reported in one line and left out),
    read the engineer's settings on each, fit, and run the held-out check."""
    started = time.perf_counter()
    error = error or say
    data: list[PairData] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(pairs), unit="pair", leave=False, desc="fitting")
    for pair in pairs:
        try:
            p = read_pair(pair)
            style_settings.identify_pair(p)  # the chain's settings on the pair (sets p.settings)
            data.append(p)
        except TonematchError as exc:
            error(f"pair {pair.name} left out: {' '.join(str(exc).split())}")
        except Exception as exc:  # noqa: BLE001 - an unreadable file is one pair's problem
            error(f"pair {pair.name} left out: {type(exc).__name__}: {' '.join(str(exc).split())}")
        finally:
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    if len(data) < 2:
        raise TonematchError(f"a style needs at least 2 usable pairs, got {len(data)}")
    style = fit_style(data, name, habit=False)  # the chain is the settings style's (style_settings)
    style_settings.attach(style, data)
    if check:
        result = heldout_check(data, pairs, options or match.Options(steps=steps), say=say)
        if result is not None:
            say(format_check(result))
            style.meta["check"] = result
        else:
            say("held-out check skipped: it needs at least 4 pairs")
    style.meta["fit_seconds"] = round(time.perf_counter() - started, 1)
    return style


# -- in words ------------------------------------------------------------------------------------------


def _hz(f: float) -> str:
    return f"{f / 1000:.1f} kHz" if f >= 1000 else f"{f:.0f} Hz"


def _ms(v: float) -> str:
    return f"{v:.1f}" if v < 10 else f"{v:.0f}"


def _db_change(value: float, unit: str) -> str:
    """An offset in words that cannot be read as a negative quantity: 'plus 1.5 dB', 'less 0.8 LU'."""
    return f"plus {value:.1f} {unit}" if value >= 0.0 else f"less {-value:.1f} {unit}"


def _follows(a: float, c: float, own: str, change_unit: str, value) -> str:
    """master = a x mix + c in words: the value (worded by `value`) whatever the mix where a is
    (near) 0, else the share of the mix's own value kept and the change on top."""
    if a < 0.05:
        return f"{value(c)}, whatever the mix"
    return f"{100 * a:.0f} % of the mix's own {own}, {_db_change(c, change_unit)}"


def _relative(to: str):
    """Words for a level relative to another: '2.0 dB below the average'."""

    def words(v: float) -> str:
        if abs(v) < 0.05:
            return f"at {to}"
        return f"{abs(v):.1f} dB {'below' if v < 0 else 'above'} {to}"

    return words


def _absolute(unit: str):
    return lambda v: f"{round(v, 1) + 0.0:.1f} {unit}"  # + 0.0: never "-0.0"


def _width_words(width: float) -> str:
    if abs(width - 1.0) < 0.005:
        return "stereo width 1.00 (as the mix)"
    if width <= 0.0:
        return "stereo width 0.00 (mono)"
    return f"stereo width {width:.2f} (side {20 * math.log10(width):+.1f} dB)"


def _compression_words(h: dict) -> list[str]:
    """The compression habit in an engineer's words: what is fixed and what adapts per mix."""
    over = h["threshold_rel_lufs"]
    where = f"{abs(over):.1f} dB {'above' if over >= 0 else 'below'} the mix's loudness"
    start = f"ratio {h['ratio']:.1f}:1, threshold {where}"
    if "threshold_db" in h:
        start += f" ({h['threshold_db']:.1f} dBFS on average over the pairs)"
    reduction = h.get("reduction_db")
    amount = "" if reduction is None else f", about {reduction:.1f} dB of gain reduction"
    if not h.get("timing_pairs"):
        # an older style, or pairs with too little compression or music too steady to time: ratio
        # and threshold are starts that refinement sets per mix to the crest and loudness spread below
        return [
            f"compression: starts at {start}{amount}",
            "  adapts per mix: ratio and threshold, set to reach the block crest and loudness spread below",
            "  attack and release: not read from the pairs (too little compression, or music too steady to "
            "time it); refinement sets them per mix",
        ]
    attack, release = h["attack_ms"], h["release_ms"]
    pace = "fast" if attack < FAST_ATTACK_MS else "slow" if attack > SLOW_ATTACK_MS else "medium"
    return [
        f"compression: {pace}, attack {_ms(attack)} ms, release {_ms(release)} ms (read from "
        f"{h['timing_pairs']} of the pairs), {start}{amount}",
        "  fixed: attack and release, as read",
        "  adapts per mix: ratio and threshold, set to reach the block crest and loudness spread below",
    ]


def describe(style: Style) -> list[str]:
    """What the style does, in words and numbers with their units, and how it varies with the mix,
    to be read aloud: no internal identifiers (the base version is in `style show --json`)."""
    from .explain import eq_moves

    m = style.meta
    if m.get("kind") == "pairs":
        where = f"learned from {m.get('pairs', 0)} of your mix/master pairs"
    else:
        where = f"learned from {m.get('references', 0)} reference masters"
    lines = [f"style '{style.name}': {where}"]
    if style.settings is not None:  # a settings style: the engineer's chain, group by group
        return lines + style_settings.describe_lines(style.settings, m.get("check"))
    h = style.habit
    if h is not None:
        s = Settings.defaults(44100)
        s.values.update(h["eq"])
        eq = eq_moves(s)
        lines.append("your usual chain (each pair's settings, averaged):")
        lines.append("  EQ: " + (", ".join(eq) if eq else "flat"))
        lines.extend("  " + line for line in _compression_words(h))
        lines.append(f"  {_width_words(h['width'])}")
        lines.append(f"  loudness {h['target_lufs']:.1f} LUFS, ceiling {h['ceiling_dbtp']:.1f} dBTP")
    else:
        lines.append(
            f"target: loudness {style.scalar_c[2]:.1f} LUFS, ceiling {style.true_peak_dbtp:.1f} dBTP, block crest "
            f"{style.scalar_c[1]:.1f} dB, loudness spread {style.scalar_c[0]:.1f} LU (the references' average)"
        )
    lines.append(
        "how it follows each mix (0 %: every mix brought to the style's own value; 100 %: the mix's own value kept):"
    )
    lines.append(
        "  tonal balance, per band: the master's level there in dB relative to its average over the bands "
        "(a balance to aim for, not EQ moves):"
    )
    for f, a, c in zip(style.bump_hz, style.tone_a, style.tone_c):
        lines.append(f"    {_hz(f)}: {_follows(a, c, 'balance', 'dB', _relative('the average'))}")
    pulled = [f for f, a in zip(style.bump_hz, style.tone_a) if a < 0.35]
    kept = [f for f, a in zip(style.bump_hz, style.tone_a) if a > 0.65]
    if pulled:
        lines.append(
            f"  pulls the balance to its own at {', '.join(_hz(f) for f in pulled)}: a dull or bright mix "
            "there gets more EQ, one already there little"
        )
    if kept:
        lines.append(f"  leaves the mix's balance mostly as it is at {', '.join(_hz(f) for f in kept)}")
    names = {
        "spread": ("loudness spread", "spread", "LU", _absolute("LU")),
        "crest": ("block crest", "crest", "dB", _absolute("dB")),
        "lufs": ("loudness", "loudness", "LU", _absolute("LUFS")),
    }
    for i, key in enumerate(SCALARS):
        label, own, change_unit, value = names[key]
        lines.append(f"  {label}: {_follows(style.scalar_a[i], style.scalar_c[i], own, change_unit, value)}")
    if style.width_a.size:
        from .character import WIDTH_EDGES_HZ

        lines.append("  stereo width, per band: the side's level relative to the mid in dB:")
        edges = list(zip(WIDTH_EDGES_HZ[:-1], WIDTH_EDGES_HZ[1:]))
        for (lo, hi), a, c in list(zip(edges, style.width_a, style.width_c))[1:]:  # below 200 Hz: near mono
            lines.append(f"    {_hz(lo)} to {_hz(hi)}: {_follows(a, c, 'side level', 'dB', _relative('the mid'))}")
    if "check" in m:
        c = m["check"]
        lines.append(
            f"held-out check: spectral distance to your own masters (MR-STFT, lower is closer) "
            f"{c['style']['mrstft']:.3f} with the style, {c['generic']['mrstft']:.3f} with generic matching "
            f"({100 * c['mrstft_gain']:.0f} % closer); loudness error {c['style']['lufs_error']:.2f} LU, "
            f"crest error {c['style']['crest_error']:.2f} dB"
        )
    return lines
