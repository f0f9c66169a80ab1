"""The held-out check of a fit: the style against generic matching on pairs it did not see."""

from __future__ import annotations

import math

import numpy as np

from tonematch.data import heap
from tonematch.data.pairs import read_aligned

from .. import character, inputs, match
from .aim import master_array
from .character_fit import fit_style
from .distance import excerpt_mrstft
from .pair import PairData
from .settings_fit import attach


def closest_pair(p: PairData, pool: list[PairData]) -> PairData:
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


def _matched(mix: np.ndarray, sample_rate: int, reference_path: str, options: match.Options) -> np.ndarray:
    """The whole mix matched to a reference file as `tonematch match` decides it, rendered."""
    from tonematch.data import audio

    from .. import pipeline

    ref, ref_rate = audio.load(reference_path)
    target = match.target_from(inputs.analyse_array(ref, ref_rate), name=str(reference_path))
    del ref
    aim = pipeline.ReferenceAim(target, match.load_model(options.model), options.model or "default")
    return pipeline.render_array(mix, pipeline.decide(inputs.analyse_array(mix, sample_rate), aim, options))


def _read_as_fitted(p: PairData, pair) -> tuple[np.ndarray, np.ndarray, int]:
    """(mix, master, rate) as the pair was read for fitting: aligned as it was, the master the
    right way up, and only the stretch read (a fade or a cut of the master left out: the check
    judges mastering, not the master's edits)."""
    a = read_aligned(pair, p.offset_frames, p.inverted)
    lo, hi = p.span if p.span is not None else (0, a.mix.shape[1])
    return a.mix[:, lo:hi], a.master[:, lo:hi], a.sample_rate


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
    from .. import quality

    held = holdout_indices(len(data))
    if not held:
        return None
    train = [p for i, p in enumerate(data) if i not in held]
    style = fit_style(train, "held-out")
    attach(style, train, probe=False)  # a style never shown: no renders for what show reads
    by_name = {p.name: p for p in pairs}
    rows = {"generic": [], "style": []}
    generic = match.Options(refine=options.refine, steps=options.steps, model=options.model)
    for i in held:
        p = data[i]
        mix, master, sr = _read_as_fitted(p, by_name[p.name])
        ref = closest_pair(p, train)
        lufs, crest = quality.lufs(master, sr), quality.crest_db(master)
        for key in ("generic", "style"):  # one master at a time: a 5-minute master is 100 MB
            if key == "generic":
                out = _matched(mix, sr, ref.master_path, generic)
            else:
                out = master_array(mix, sr, style, options)[0]
            # MR-STFT on the excerpts the masters are analysed on, one at a time (the mean): over
            # the whole file it costs half a minute and 2.5 GB per pair, on the joined excerpts 0.9 GB
            rows[key].append(
                {
                    "mrstft": excerpt_mrstft(out, master, sr),
                    "lufs_error": abs(quality.lufs(out, sr) - lufs),
                    "crest_error": abs(quality.crest_db(out) - crest),
                }
            )
            del out
            heap.release()
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
