"""`--report`: one picture of what a master did (OUT.png beside the output).

Six panels, readable at a glance: the EQ curve; long-term spectra of the analysed excerpts of mix and reference (a style
master's: "style target", the mix rendered as the style sets it) and the frame model's prediction
of the output's; the compressor's static curve over the range of levels it saw; the compressor's and the limiter's
gain reduction on the analysed excerpts, where they lie in the mix; loudness and true peak of mix,
output and reference, each with its number; the settings in words. matplotlib is imported here
only, with the non-interactive Agg backend. `gain_reduction` (the traces, read off the exact
renderer) is shared with the studio's page.
"""

from __future__ import annotations

import os

import numpy as np

from tonematch.data.atomic import write_atomic
from tonematch.models.chain import compressor, kernels, ops
from tonematch.models.chain.settings import Settings

from . import character, explain
from .formatting import signed

SETTLE_S = 0.5  # an excerpt's gain-reduction trace is drawn from here: the envelopes start from rest
_COLOURS = {"mix": "#8c8c8c", "output": "#d62728", "reference": "#1f77b4"}


def target_label(target) -> str:
    """What the third line and bars are called: a style master's target is the mix rendered as
    the style sets it (style.master.choose_settings), not a reference track."""
    return "style target" if target.name.startswith("style ") else "reference"


def eq_curve_db(settings: Settings, freqs: np.ndarray) -> np.ndarray:
    """The EQ's response at `freqs`, dB (parametric and match EQ together)."""
    return 10.0 * np.log10(character.eq_power_at(settings.values, freqs, settings.sample_rate, settings.bypass))


def balance_db(r: character.Rendered, frames: character.Frames) -> np.ndarray:
    """The tonal balance the refinement matches (smoothed), in dB, level-aligned over the range it
    compares (character.tone_range): what lies outside it (a reference cut at 16 kHz, a 96 kHz
    file's ultrasonics) does not move the curve."""
    tone = character.plain(character.measure(r, frames))["tone"]
    return tone - tone[character.tone_range(frames.centers_hz, frames.sample_rate)].mean()


def tone_of(clips: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(band centres, balance_db) of excerpts [N, C, L] as they are."""
    frames = character.analyse(clips, sample_rate, levels=False)
    return frames.centers_hz, balance_db(character.neutral(frames), frames)


def target_balance(target, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(band centres, balance_db) at `sample_rate` of what the master aimed at: a reference's
    audio, or the mix rendered with a style's settings, measured; a style's predicted balance
    where it has one (from references: their average, which the master moves only part of the
    way toward). The report's and the studio's third curve."""
    ref = target.at_rate(sample_rate)
    if not ref.own_clips and ref.character is not None:
        centres = character.band_centres(sample_rate)
        tone = np.asarray(ref.character["tone"], dtype=np.float64)
        return centres, tone - tone[character.tone_range(centres, sample_rate)].mean()
    return tone_of(ref.clips, sample_rate)


def _ratio_db(num: np.ndarray, den: np.ndarray, hop: int) -> np.ndarray:
    """20 log10 |num / den| per stretch of `hop` samples, at the sample (and channel) where |den|
    is largest in that stretch (0 where it is silent)."""
    channel = np.abs(den).argmax(axis=0)
    cols = np.arange(den.shape[1])
    d = den[channel, cols].astype(np.float64)
    u = num[channel, cols].astype(np.float64)
    n = len(d)
    m = np.pad(np.abs(d), (0, (-n) % hop)).reshape(-1, hop)
    at = np.minimum(m.argmax(axis=1) + np.arange(m.shape[0]) * hop, n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.abs(u[at]) / np.abs(d[at])
    return np.where(np.abs(d[at]) > 1e-6, 20.0 * np.log10(np.maximum(ratio, 1e-10)), 0.0)


def gain_reduction(source, settings: Settings, gain_db: float, hop: int, skip: int = 0, master=None, live=None):
    """The compressor's and the limiter's gain change over `source[:, skip:]` ([C, T] float32, the
    first `skip` samples a pre-roll), in dB (<= 0), one value per stretch of `hop` samples, read
    off the exact renderer's own signals: the compressor and the width act on every channel
    alike, so the pre-limiter signal with the compressor over the one without is the compressor's
    gain sample by sample (less its make-up); the master over the pre-limiter signal times the
    gain into the limiter (`gain_db`: the whole file's) is the limiter's. `master`: that region
    of the master where it is at hand, else the limiter runs here at `gain_db`. Each stretch is
    read at its loudest sample. None for a stage that is off; None in all when `live()` turns
    False between the renders."""
    from tonematch.models.chain.exact import ExactRenderer, render_array

    s, sr = settings, settings.sample_rate
    out = {"compressor": None, "limiter": None}
    if not (s.enabled("compressor") or s.enabled("limiter")):
        return out
    open_ = Settings(s.values, sr, s.bypass | {"limiter", "loudness"})
    pre = render_array(source, open_, sr)
    if live is not None and not live():
        return None
    if s.enabled("compressor"):
        before = render_array(source, Settings(s.values, sr, open_.bypass | {"compressor"}), sr)
        gain = _ratio_db(pre[:, skip:], before[:, skip:], hop) - s.values["compressor.makeup_db"]
        out["compressor"] = np.minimum(gain, 0.0)
    if s.enabled("limiter"):
        if master is None:  # the renderer's own limiter stage, at the whole file's gain
            limited = ExactRenderer(s, sr, pre.shape[0])._limited(iter([pre]), gain_db)
            master = np.concatenate(list(limited), axis=1)[:, skip:]
        scaled = pre[:, skip:] * np.float32(10.0 ** (gain_db / 20.0))
        out["limiter"] = np.minimum(_ratio_db(master, scaled, hop), 0.0)
    return out


def detector_levels(clips: np.ndarray, frames: character.Frames, settings: Settings) -> np.ndarray:
    """The levels the compressor's detector reads on the excerpts `clips` [N, C, L] (analysed as
    `frames`), in dBFS: the excerpts through the input gain and the EQ (the exact renderer's
    stages before the compressor), then each hop's sample peak, or for an RMS detector the
    channels' mean power smoothed over its window, once settled (from three windows into each
    excerpt), as the exact renderer's detector hears it."""
    from tonematch.models.chain.exact import render_array

    sr = settings.sample_rate
    heard = Settings(settings.values, sr, settings.bypass | {"compressor", "width", "limiter", "loudness"})
    rms_ms = settings.values["compressor.rms_ms"]
    hop = max(1, int(round(frames.hop_s * sr)))
    pole = ops.time_constant_to_pole(rms_ms, sr) if rms_ms > 0.0 else None
    skip = min(int(3e-3 * rms_ms * sr), clips.shape[-1] // 2)
    levels = []
    for clip in clips:
        x = np.ascontiguousarray(render_array(clip, heard, sr), dtype=np.float32)
        if pole is None:
            peak = np.abs(x).max(axis=0)
            cut = max(hop, peak.size // hop * hop)
            peak = np.pad(peak, (0, max(0, cut - peak.size)))[:cut].reshape(-1, hop).max(axis=1)
            levels.append(20.0 * np.log10(np.maximum(peak, 1e-6)))
        else:
            power = np.empty(x.shape[-1], np.float32)
            kernels.smoothed_power(x, pole, np.zeros(1), power)
            levels.append(10.0 * np.log10(np.maximum(power[skip:], 1e-12)))
    return np.concatenate(levels)


def static_curve(settings: Settings, levels_db: np.ndarray) -> np.ndarray:
    """The compressor's output level (dBFS) for a steady detector level `levels_db`: the gain
    computer's change plus the make-up gain (the levels themselves where the compressor is off)."""
    if not settings.enabled("compressor"):
        return np.asarray(levels_db, dtype=np.float64)
    v = settings.values
    gain = compressor.gain_computer(
        levels_db, v["compressor.threshold_db"], v["compressor.ratio"], v["compressor.knee_db"], xp=np
    )
    return levels_db + gain + v["compressor.makeup_db"]


def write_report(path, mix, target, settings: Settings, summary: dict) -> None:
    """Write the PNG atomically. `mix`: inputs.Analysis; `target`: match.Target; `summary`: from
    pipeline.write_master (output loudness and true peak)."""
    # a Figure of its own, not pyplot's: a batch draws on its writer thread, and pyplot's
    # figure registry and backend choice are process-wide
    from matplotlib.figure import Figure

    sr = settings.sample_rate
    frames = character.analyse(mix.clips, sr, mix.true_peak_ratio)
    p = {k: float(v) for k, v in settings.values.items()}
    out = character.render(frames, p, settings.bypass)
    mix_r = character.neutral(frames)
    ref_centres, ref_curve = target_balance(target, sr)

    fig = Figure(figsize=(13, 11.5))
    axes = fig.subplots(3, 2)
    how = f"mastered in {target.name}" if target.name.startswith("style ") else f"matched to reference {target.name}"
    fig.suptitle(f"tonematch: {summary['input']} -> {summary['output']}\n{how}", fontsize=12)
    freqs = np.geomspace(20.0, min(20000.0, 0.49 * sr), 400)

    ax = axes[0, 0]
    ax.semilogx(freqs, eq_curve_db(settings, freqs), color=_COLOURS["output"], lw=2)
    ax.axhline(0, color="k", lw=0.6)
    ax.set(title="EQ curve", xlabel="Hz", ylabel="dB", xlim=(20, freqs[-1]))
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[0, 1]
    c = frames.centers_hz
    # the output's curve is the frame model's prediction of the master (what refinement saw)
    curves = (
        ("mix", "mix", frames.centers_hz, balance_db(mix_r, frames)),
        ("output", "output (frame model)", frames.centers_hz, balance_db(out, frames)),
        ("reference", target_label(target), ref_centres, ref_curve),
    )
    for name, label, centres, curve in curves:
        ax.semilogx(centres, curve, label=label, color=_COLOURS[name], lw=1.8 if name != "mix" else 1.2)
    ax.set(
        title="tonal balance of the analysed excerpts\n(long-term spectrum, 1/2-octave smoothed, level-aligned)",
        xlabel="Hz",
        ylabel="dB",
        xlim=(25, c[-1]),
    )
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[1, 0]
    v = settings.values
    levels = np.linspace(-60.0, 0.0, 241)
    ax.plot(levels, static_curve(settings, levels), color=_COLOURS["output"], lw=2, label="compressor")
    ax.plot(levels, levels, color="k", lw=0.6, ls="--", label="1:1")
    heard = ""
    if explain.compressor_on(settings):  # a compressor that is off hears nothing
        lo, hi = np.percentile(detector_levels(mix.clips, frames, settings), [5, 99])
        ax.axvspan(lo, hi, color=_COLOURS["mix"], alpha=0.2, label="levels it sees (5-99 %)")
        heard = explain.detector(settings)
    ax.set(
        title=f"compressor static curve ({explain.compressor_title(settings)}{heard})",
        xlabel="detector level (dBFS)",
        ylabel="output level (dBFS)",
        xlim=(-60, 0),
        ylim=(-60, 0),
    )
    ax.legend(loc="lower right")
    ax.grid(True, alpha=0.3)

    ax = axes[1, 1]
    _gain_reduction_panel(ax, mix, settings, summary)

    ax = axes[2, 0]
    _levels_panel(ax, summary, target, v["limiter.ceiling_dbtp"] if settings.enabled("limiter") else None)

    ax = axes[2, 1]
    ax.axis("off")
    lines = []
    for line in explain.describe(settings, summary):
        head, _, rest = line.partition(": ")
        parts = rest.split(", ") if head == "EQ" else _wrapped(rest.split(", "), 66 - len(head))
        lines.append(f"{head}: {parts[0]}")
        lines += [" " * (len(head) + 2) + part for part in parts[1:]]
    named = summary.get("settings_path")
    ax.set_title(f"settings ({os.path.basename(named)})" if named else "settings")
    ax.text(0.0, 1.0, "\n".join(lines), va="top", family="monospace", fontsize=9.5, transform=ax.transAxes)

    fig.tight_layout(rect=(0, 0, 1, 0.97))
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=90))


def _wrapped(parts: list[str], width: int) -> list[str]:
    """Comma-separated parts joined into lines of at most `width` characters (a part stays whole)."""
    lines = [parts[0]]
    for part in parts[1:]:
        if len(lines[-1]) + 2 + len(part) <= width:
            lines[-1] += ", " + part
        else:
            lines[-1] += ","
            lines.append(part)
    return lines


def _gain_reduction_panel(ax, mix, settings: Settings, summary: dict) -> None:
    """Compressor and limiter gain reduction on each analysed excerpt, drawn where the excerpt
    lies in the mix (excerpts of a short mix overlap). Each is rendered from rest, so its first
    SETTLE_S, where the envelopes settle (up to 1.4 dB off the whole render), is not drawn."""
    from tonematch.models.excerpts import excerpt_starts

    sr = settings.sample_rate
    clips = np.asarray(mix.clips)
    length = clips.shape[-1]
    frames = int(summary.get("frames") or length * clips.shape[0])
    starts = excerpt_starts(frames, length, clips.shape[0])
    if len(starts) != clips.shape[0]:  # not the layout analyse_file made: end to end
        starts = [k * length for k in range(clips.shape[0])]
    gain_db = float(summary.get("report", {}).get("gain_db", 0.0)) if settings.enabled("loudness") else 0.0
    hop = max(1, int(0.01 * sr))
    colours = {"compressor": "#ff9f1c", "limiter": _COLOURS["output"]}
    lowest, drawn = 0.0, set()
    settle = int(SETTLE_S * sr) if length > 4 * SETTLE_S * sr else 0  # a very short mix: all of it
    for start, clip in zip(starts, clips):
        traces = gain_reduction(clip, settings, gain_db, hop, skip=settle)
        for stage in ("compressor", "limiter"):
            g = traces[stage]
            if g is None:
                continue
            t = (start + settle + np.arange(g.size) * hop) / sr
            label = stage if stage not in drawn else None
            if stage == "compressor":
                ax.fill_between(t, g, 0.0, color=colours[stage], alpha=0.45, lw=0, label=label)
            else:
                ax.plot(t, g, color=colours[stage], lw=1, label=label)
            drawn.add(stage)
            lowest = min(lowest, float(g.min()))
    for start in starts[1:]:
        ax.axvline(start / sr, color="k", lw=0.5, alpha=0.25)
    ax.set(
        title="gain reduction on the analysed excerpts (compressor, limiter)",
        xlabel="s (where each excerpt lies in the mix)",
        ylabel="dB",
        xlim=(0, frames / sr),
        ylim=(min(-1.0, lowest * 1.1), 0.5),
    )
    if drawn:
        ax.legend(loc="lower left")
    else:
        ax.text(0.5, 0.5, "compressor and limiter off", ha="center", transform=ax.transAxes)
    ax.grid(True, alpha=0.3)


def _levels_panel(ax, summary: dict, target, ceiling) -> None:
    """Integrated loudness (LUFS, left axis) and true peak (dBTP, right axis) of mix, output and
    reference (or style target), as two groups of bars, each with its number; the ceiling spans
    the peaks only."""
    names = ["mix", "output", "reference"]
    lufs = [summary.get("input_lufs"), summary.get("output_lufs"), target.lufs]
    tps = [summary.get("input_true_peak_dbtp"), summary.get("output_true_peak_dbtp"), target.true_peak_dbtp]
    colours = [_COLOURS[n] for n in names]
    floor = min(-40.0, min((v for v in lufs if v is not None), default=-40.0) - 6.0)
    x_l, x_t = np.arange(3), np.arange(3) + 4.0
    heights = [(v if v is not None else floor) - floor for v in lufs]
    ax.bar(x_l, heights, 0.7, bottom=floor, color=colours)
    # where match compared mono and stereo as they play (match.PLAYBACK_MONO_LU), the mono bars say so
    shift = (summary.get("notes") or {}).get("mono_playback_lu", 0.0)
    mono = [shift < 0.0, shift < 0.0, shift > 0.0]
    for x, v, h, m in zip(x_l, lufs, heights, mono):
        text = "-" if v is None else f"{v:.1f}" + (f"\nmono: {abs(shift):+.1f}\non 2 speakers" if m else "")
        ax.annotate(text, (x, floor + h), xytext=(0, 3), textcoords="offset points",
                    ha="center", va="bottom", fontsize=9 if not m else 7)  # fmt: skip
    ax.set(ylabel="integrated loudness (LUFS)", ylim=(floor, 0.0), xlim=(-0.6, 6.6))
    ax2 = ax.twinx()
    tp_floor = min(-24.0, min(v for v in tps if v is not None) - 6.0)
    top = max(3.0, max(tps) + 3.0)
    ax2.bar(x_t, [v - tp_floor for v in tps], 0.7, bottom=tp_floor, color=colours, alpha=0.55, hatch="//")
    for x, v in zip(x_t, tps):
        ax2.annotate(signed(v), (x, v), xytext=(0, 3), textcoords="offset points",
                     ha="center", va="bottom", fontsize=9)  # fmt: skip
    if ceiling is not None:
        ax2.hlines(ceiling, 3.4, 6.6, colors="k", linestyles=":", lw=1.2)
        ax2.annotate(f"ceiling {ceiling:.1f}", (3.4, ceiling), xytext=(1, 3), textcoords="offset points",
                     ha="left", va="bottom", fontsize=8)  # fmt: skip
    ax2.set(ylabel="true peak (dBTP)", ylim=(tp_floor, top))
    labels = ["mix", "output", target_label(target)]
    ax.set_xticks(list(x_l) + list(x_t), labels + labels, fontsize=9)
    ax.axvline(3.0, color="k", lw=0.6, alpha=0.4)
    ax.set_title("loudness (left, LUFS) and true peak (right, dBTP)")
