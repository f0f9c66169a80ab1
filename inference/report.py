"""`--report`: one picture of what a master did (OUT.png beside the output).

Six panels, readable at a glance: the EQ curve; long-term spectra of mix, output and reference;
the compressor's static curve over the range of levels it saw; gain reduction over time on the
analysed excerpts; loudness and true peak before and after (with the reference's); the settings
in words. matplotlib is imported here only, with the non-interactive Agg backend.
"""

from __future__ import annotations

import os

import numpy as np

from tonematch.data.atomic import write_atomic
from tonematch.models.chain import compressor
from tonematch.models.chain.settings import Settings

from . import character, explain

_COLOURS = {"mix": "#8c8c8c", "output": "#d62728", "reference": "#1f77b4"}


def _eq_curve(settings: Settings, freqs: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(character.eq_power_at(settings.values, freqs, settings.sample_rate, settings.bypass))


def _spectrum_db(r: character.Rendered, frames: character.Frames) -> np.ndarray:
    """The tonal balance the refinement matches (smoothed, level-aligned), in dB."""
    return character.plain(character.measure(r, frames))["tone"]


def write_report(path, mix, target, settings: Settings, summary: dict) -> None:
    """Write the PNG atomically. `mix`: match.Analysis; `target`: match.Target; `summary`: from
    master.master_file (output loudness and true peak)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sr = settings.sample_rate
    frames = character.analyse(mix.clips, sr, mix.true_peak_ratio)
    p = {k: float(v) for k, v in settings.values.items()}
    out = character.render(frames, p, settings.bypass)
    ref = target.at_rate(sr)
    ref_frames = character.analyse(ref.clips, sr)
    ref_r = character.neutral(ref_frames)
    mix_r = character.neutral(frames)

    fig, axes = plt.subplots(3, 2, figsize=(13, 11))
    fig.suptitle(
        f"tonematch: {os.path.basename(summary['input'])} -> {os.path.basename(summary['output'])}", fontsize=13
    )
    freqs = np.geomspace(20.0, min(20000.0, 0.49 * sr), 400)

    ax = axes[0, 0]
    ax.semilogx(freqs, _eq_curve(settings, freqs), color=_COLOURS["output"], lw=2)
    ax.axhline(0, color="k", lw=0.6)
    ax.set(title="EQ curve", xlabel="Hz", ylabel="dB", xlim=(20, freqs[-1]))
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[0, 1]
    c = frames.centers_hz
    for name, r, fr in (("mix", mix_r, frames), ("output", out, frames), ("reference", ref_r, ref_frames)):
        ax.semilogx(
            fr.centers_hz, _spectrum_db(r, fr), label=name, color=_COLOURS[name], lw=1.8 if name != "mix" else 1.2
        )
    ax.set(
        title="tonal balance: long-term spectrum, 1/2-octave smoothed, level-aligned",
        xlabel="Hz",
        ylabel="dB",
        xlim=(25, c[-1]),
    )
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[1, 0]
    v = settings.values
    levels = np.linspace(-60.0, 0.0, 241)
    if settings.enabled("compressor"):
        gain = compressor.gain_computer(
            levels, v["compressor.threshold_db"], v["compressor.ratio"], v["compressor.knee_db"], xp=np
        )
    else:
        gain = np.zeros_like(levels)
    ax.plot(levels, levels + gain, color=_COLOURS["output"], lw=2, label="compressor")
    ax.plot(levels, levels, color="k", lw=0.6, ls="--", label="1:1")
    drive = v["gain.gain_db"] if settings.enabled("gain") else 0.0
    seen = 20.0 * np.log10(np.maximum(frames.peak.ravel() * 10 ** (drive / 20), 1e-6))
    lo, hi = np.percentile(seen, [5, 99])
    ax.axvspan(lo, hi, color=_COLOURS["mix"], alpha=0.2, label="levels it sees (5-99 %)")
    ax.set(
        title=f"compressor static curve ({v['compressor.ratio']:.1f}:1 at {v['compressor.threshold_db']:.1f} dB)",
        xlabel="detector level (dBFS)",
        ylabel="output level (dBFS)",
        xlim=(-60, 0),
        ylim=(-60, 0),
    )
    ax.legend(loc="lower right")
    ax.grid(True, alpha=0.3)

    ax = axes[1, 1]
    gr = np.asarray(out.gain_reduction_db)
    t = np.arange(gr.size) * frames.hop_s
    ax.plot(t, gr.ravel(), color=_COLOURS["output"], lw=1)
    for k in range(1, gr.shape[0]):
        ax.axvline(k * gr.shape[1] * frames.hop_s, color="k", lw=0.5, alpha=0.4)
    ax.set(
        title="compressor gain reduction over the analysed excerpts",
        xlabel="s (excerpts end to end)",
        ylabel="dB",
        ylim=(min(-1.0, float(gr.min()) * 1.1), 0.5),
    )
    ax.grid(True, alpha=0.3)

    ax = axes[2, 0]
    names = ["mix", "output", "reference"]
    lufs = [summary.get("input_lufs"), summary.get("output_lufs"), target.lufs]
    tps = [summary.get("input_true_peak_dbtp"), summary.get("output_true_peak_dbtp"), target.true_peak_dbtp]
    x = np.arange(3)
    bars = ax.bar(
        x - 0.2,
        [val if val is not None else -70 for val in lufs],
        0.4,
        label="integrated LUFS",
        color=[_COLOURS[n] for n in names],
    )
    ax2 = ax.twinx()
    ax2.plot(x + 0.2, tps, "kD", label="true peak dBTP")
    ax2.axhline(v["limiter.ceiling_dbtp"], color="k", ls=":", lw=1, label="ceiling")
    for b, val in zip(bars, lufs):
        if val is not None:
            ax.annotate(f"{val:.1f}", (b.get_x() + b.get_width() / 2, val), ha="center", va="top", color="white")
    for xi, val in zip(x, tps):
        ax2.annotate(f"{val:+.1f}", (xi + 0.2, val), textcoords="offset points", xytext=(0, 6), ha="center")
    ax.set_xticks(x, names)
    ax.set(
        title="loudness and true peak", ylabel="LUFS", ylim=(min(-40, min(l_ for l_ in lufs if l_ is not None) - 3), 0)
    )
    ax2.set(ylabel="dBTP", ylim=(-24, 3))
    ax.legend(loc="lower left")
    ax2.legend(loc="lower right")

    ax = axes[2, 1]
    ax.axis("off")
    lines = []
    for line in explain.describe(settings, summary):
        head, _, rest = line.partition(": ")
        parts = rest.split(", ") if head == "EQ" else [rest]
        lines.append(f"{head}: {parts[0]}")
        lines += [" " * (len(head) + 2) + part for part in parts[1:]]
    ax.set_title("settings (OUT.json)")
    ax.text(0.0, 1.0, "\n".join(lines), va="top", family="monospace", fontsize=9.5, transform=ax.transAxes)

    fig.tight_layout()
    try:
        write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=90))
    finally:
        plt.close(fig)
