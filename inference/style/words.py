"""`style show`: what a style does, in an engineer's words, every figure with its unit."""

from __future__ import annotations

import math

import numpy as np

from tonematch.models.chain.settings import Settings

from ..formatting import hz, ms
from .detector import TIMING_HEARD, TIMING_PROBES, heard
from .identify import settings_of
from .master import STYLE_LITERAL, mastering_ceiling
from .model import SCALARS, Habit, Style

FAST_ATTACK_MS, SLOW_ATTACK_MS = 5.0, 20.0  # "fast" below, "slow" above (a bus compressor's 30 ms), in `style show`


def _signed(v: float, unit: str) -> str:
    # + 0.0: a value that rounds to zero from below reads "+0.0", never "-0.0"
    return f"{round(v, 1) + 0.0:+.1f} {unit}"


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


def _unheard(comp: dict) -> str:
    """Which of the RMS search's timings the renders could not tell from a few times either side
    (detector.timing_heard), so no one reads a number the masters do not hold."""
    probes = comp.get("timing_probes", {})
    flat = []
    for _, key, factor in TIMING_PROBES:
        if not heard(probes, key):
            value = comp[key]
            name = key.split("_")[0]
            flat.append(f"{name} {ms(value / factor)} to {ms(value * factor)} ms")
    if not flat:
        return ""
    within = f"within {TIMING_HEARD * 100:g} % MR-STFT"
    return f"; renders of {' or '.join(flat)} sound nearly alike ({within}): not told apart"


def _per(line: dict, unit: str, descriptor: str, descriptor_unit: str) -> str:
    """'and 0.5 dB more per dB of the mix's crest above 12.0 dB' for an adaptive line."""
    s = line["slope"]
    more = "more" if s >= 0 else "less"
    return f", {abs(s):.2f} {unit} {more} per {descriptor_unit} of the mix's {descriptor} above {line['x_mean']:.1f}"


def _compression_words(h: Habit) -> list[str]:
    """The compression habit in an engineer's words: what is fixed and what adapts per mix."""
    over = h.threshold_rel_lufs
    where = f"{abs(over):.1f} dB {'above' if over >= 0 else 'below'} the mix's loudness"
    start = f"ratio {h.ratio:.1f}:1, threshold {where}"
    if h.threshold_db is not None:
        start += f" ({h.threshold_db:.1f} dBFS on average over the pairs)"
    reduction = h.reduction_db
    amount = "" if reduction is None else f", about {reduction:.1f} dB of gain reduction"
    if not h.timing_pairs:
        # an older style, or pairs with too little compression or music too steady to time: ratio
        # and threshold are starts that refinement sets per mix to the crest and loudness spread below
        return [
            f"compression: starts at {start}{amount}",
            "  adapts per mix: ratio and threshold, set to reach the block crest and loudness spread below",
            "  attack and release: not read from the pairs (too little compression, or music too steady to "
            "time it); refinement sets them per mix",
        ]
    attack, release = h.attack_ms, h.release_ms
    pace = "fast" if attack < FAST_ATTACK_MS else "slow" if attack > SLOW_ATTACK_MS else "medium"
    return [
        f"compression: {pace}, attack {ms(attack)} ms, release {ms(release)} ms (read from "
        f"{h.timing_pairs} of the pairs), {start}{amount}",
        "  fixed: attack and release, as read",
        "  adapts per mix: ratio and threshold, set to reach the block crest and loudness spread below",
    ]


def _ceiling_words(style: Style, own: float | None, said: str) -> str:
    """The ceiling `master` will use, then `said` (a format for the style's own reading) where that
    differs: master caps a style of character at -1 dBTP, as match does."""
    used = mastering_ceiling(style)
    text = f"ceiling {used:.1f} dBTP"
    if own is not None and round(own, 1) != round(used, 1):
        text += f" when mastering ({said.format(own)})"
    return text


def describe(style: Style) -> list[str]:
    """What the style does, in words and numbers with their units, and how it varies with the mix,
    to be read aloud: no internal identifiers (the base version is in `style show --json`)."""
    from ..explain import eq_moves

    m = style.meta
    if m.get("kind") == "pairs":
        where = f"learned from {m.get('pairs', 0)} of your mix/master pairs"
    else:
        where = f"learned from {m.get('references', 0)} reference masters"
    lines = [f"style '{style.name}': {where}"]
    if style.settings is not None:  # a settings style: the engineer's chain, group by group
        return lines + describe_lines(style.settings, m.get("check"))
    if style.from_references:
        return lines + _references_lines(style)
    h = style.habit
    if h is not None:
        s = Settings.defaults(44100)
        s.values.update(h.eq)
        eq = eq_moves(s)
        lines.append("your usual chain (each pair's settings, averaged):")
        lines.append("  EQ: " + (", ".join(eq) if eq else "flat"))
        lines.extend("  " + line for line in _compression_words(h))
        lines.append(f"  {_width_words(h.width)}")
        lines.append(
            f"  loudness {h.target_lufs:.1f} LUFS, {_ceiling_words(style, h.ceiling_dbtp, 'your pairs: {:.1f} dBTP')}"
        )
    lines.append(
        "how it follows each mix (0 %: every mix brought to the style's own value; 100 %: the mix's own value kept):"
    )
    lines.append(
        "  tonal balance, per band: the master's level there in dB relative to its average over the bands "
        "(a balance to aim for, not EQ moves):"
    )
    for f, a, c in zip(style.bump_hz, style.tone_a, style.tone_c):
        lines.append(f"    {hz(f)}: {_follows(a, c, 'balance', 'dB', _relative('the average'))}")
    pulled = [f for f, a in zip(style.bump_hz, style.tone_a) if a < 0.35]
    kept = [f for f, a in zip(style.bump_hz, style.tone_a) if a > 0.65]
    if pulled:
        lines.append(
            f"  pulls the balance to its own at {', '.join(hz(f) for f in pulled)}: a dull or bright mix "
            "there gets more EQ, one already there little"
        )
    if kept:
        lines.append(f"  leaves the mix's balance mostly as it is at {', '.join(hz(f) for f in kept)}")
    names = {
        "spread": ("loudness spread", "spread", "LU", _absolute("LU")),
        "crest": ("block crest", "crest", "dB", _absolute("dB")),
        "lufs": ("loudness", "loudness", "LU", _absolute("LUFS")),
    }
    for i, key in enumerate(SCALARS):
        label, own, change_unit, value = names[key]
        lines.append(f"  {label}: {_follows(style.scalar_a[i], style.scalar_c[i], own, change_unit, value)}")
    if style.width_a.size:
        from ..character import WIDTH_EDGES_HZ

        lines.append("  stereo width, per band: the side's level relative to the mid in dB:")
        edges = list(zip(WIDTH_EDGES_HZ[:-1], WIDTH_EDGES_HZ[1:]))
        for (lo, hi), a, c in list(zip(edges, style.width_a, style.width_c))[1:]:  # below 200 Hz: near mono
            lines.append(f"    {hz(lo)} to {hz(hi)}: {_follows(a, c, 'side level', 'dB', _relative('the mid'))}")
    if "check" in m:
        c = m["check"]
        lines.append(
            f"held-out check: spectral distance to your own masters (MR-STFT, lower is closer) "
            f"{c['style']['mrstft']:.3f} with the style, {c['generic']['mrstft']:.3f} with generic matching "
            f"({100 * c['mrstft_gain']:.0f} % closer); loudness error {c['style']['lufs_error']:.2f} LU, "
            f"crest error {c['style']['crest_error']:.2f} dB"
        )
    return lines


def _references_lines(style: Style) -> list[str]:
    """How a style from references masters (master._from_network), and the references' average
    it moves toward: per band, the balance and the width, then their dynamics."""
    from ..character import WIDTH_EDGES_HZ
    from ..match import default_model_present
    from ..refine import literal_shares

    tilt_share = literal_shares(STYLE_LITERAL)[0]
    ceiling = _ceiling_words(style, style.true_peak_dbtp, "the references peak at {:.1f} dBTP on average")
    lines = [
        f"loudness {style.scalar_c[2]:.1f} LUFS (the references' average, as they play), {ceiling}",
        "each mix: the network's settings for it as it hears it (EQ, compressor, width), then refinement moves "
        f"the master's tonal balance {100 * tilt_share:.0f} % of the way toward the references' average below, in "
        "its tilt (treble against bass); their finer balance and width are mostly their music, not copied",
        *(
            []
            if default_model_present()
            else ["  (this install lacks the shipped network: EQ and width are fitted to the whole balance and width)"]
        ),
        "the references' average tonal balance, per band (the level in dB relative to the average over the bands):",
    ]
    lines += [f"  {hz(f)}: {_relative('the average')(c)}" for f, c in zip(style.bump_hz, style.tone_c)]
    if np.any(style.width_a):  # from references the lines are flat (a = 0); a = 1: no width was read
        lines.append("their stereo width: none read (mono references)")
    elif style.width_c.size:
        lines.append("their stereo width, per band: the side's level relative to the mid in dB:")
        edges = list(zip(WIDTH_EDGES_HZ[:-1], WIDTH_EDGES_HZ[1:]))
        for (lo, hi), c in list(zip(edges, style.width_c))[1:]:  # below 200 Hz: near mono
            lines.append(f"  {hz(lo)} to {hz(hi)}: {_relative('the mid')(c)}")
    lines.append(
        f"their dynamics: block crest {style.scalar_c[1]:.1f} dB, loudness spread {style.scalar_c[0]:.1f} LU "
        "(the network reads each mix's own)"
    )
    return lines


def describe_lines(model: dict, check: dict | None = None) -> list[str]:
    """The settings style in an engineer's words: per group, fixed (the same on every mix) or
    adapting (following the mix, and how), with every setting in its unit."""
    from ..explain import eq_moves

    g = model["groups"]
    pairs = len(model.get("pairs", []))
    lines = [
        f"your chain, read from each of {pairs} pairs; per group either fixed (the same on every mix) or "
        "adapting to the mix, whichever predicted left-out pairs better:"
    ]
    eq = g["eq"]
    moves = eq_moves(settings_of(eq["values"], model.get("sample_rate", 44100))) or ["flat"]
    if eq["mode"] == "fixed":
        lines.append("  EQ, fixed: " + ", ".join(moves))
    else:
        how = "its own" if eq["mode"] == "adaptive" else "your target balance (the character model)"
        lines.append(f"  EQ, adapting to the mix's tonal balance ({how}); on your average mix: " + ", ".join(moves))
        for f, s in zip(model["bump_hz"], eq["slopes"]):
            if abs(s) >= 0.1:
                lines.append(
                    f"    around {hz(f)}: {abs(s):.2f} dB {'more' if s > 0 else 'less'} EQ per dB the mix has "
                    "there above your average mix"
                )
    comp = g["compressor"]
    if not comp["on"]:
        lines.append(f"  compressor, fixed: off (compression read on {comp['pairs']} of the pairs only)")
    else:
        thr, ratio = comp["threshold"], comp["log_ratio"]
        if thr["reference"] == "dBFS":
            where = f"threshold {_signed(thr['value'], 'dBFS')}"
        else:
            where = f"threshold {_signed(thr['value'], 'dB')} from the mix's loudness"
        if thr["mode"] == "adaptive":
            where += _per(thr, "dB", "crest", "dB")
        r = f"ratio {math.exp(ratio['value']):.1f}:1"
        if ratio["mode"] == "adaptive":
            r += f" ({ratio['slope'] * 100:+.0f} % per dB of the mix's crest above {ratio['x_mean']:.1f} dB)"
        rms = comp.get("rms_ms", 0.0)  # styles fitted before the RMS detector: peak
        timing = f"attack {ms(comp['attack_ms'])} ms, release {ms(comp['release_ms'])} ms"
        notes = []  # one line each under the settings: how the timing was found, what the masters show
        if rms > 0.0:  # the detector's search (detector.py) set the timing, not the gain traces
            notes.append("timing found on renders of your pairs, with the RMS detector" + _unheard(comp))
        elif comp["timing_pairs"]:
            notes.append(f"timing read on {comp['timing_pairs']} pairs")
        else:
            timing = "attack and release not readable from the pairs (10 ms, 150 ms used)"
        state = "adapting to the mix" if comp["mode"] == "adaptive" else "fixed"
        heard = f"RMS detector over {ms(rms)} ms" if rms > 0.0 else "peak detector"
        lines.append(f"  compressor, {state}: {r}, {where}, {timing}, knee {comp['knee_db']:.0f} dB, {heard}")
        if comp.get("reduction_db") is not None:  # older style files do not carry it
            notes.append(f"your masters show about {comp['reduction_db']:.1f} dB of gain reduction on average")
        lines += [f"    {note}" for note in notes]
    w = g["width"]
    width = 10.0 ** (w["value"] / 20.0)
    text = f"  stereo width, {'fixed' if w['mode'] == 'fixed' else 'adapting to the mix'}: {width:.2f}"
    text += f" (side {_signed(w['value'], 'dB')})"
    if w["mode"] == "adaptive":
        text += _per(w, "dB", "side level over its mid", "dB")
    lines.append(text)
    loud = g["loudness"]
    text = f"  loudness, {'fixed' if loud['mode'] == 'fixed' else 'adapting to the mix'}: {loud['value']:.1f} LUFS"
    if loud["mode"] == "adaptive":
        text += _per(loud, "LU", "loudness", "LU") + " LUFS"
    lines.append(text)
    lim = g["limiter"]
    ceiling = _signed(lim["ceiling_dbtp"], "dBTP")
    lines.append(f"  limiter, fixed: ceiling {ceiling}, release {ms(lim['release_ms'])} ms")
    if model.get("floor_db") is not None:
        lines.append(
            f"how closely each pair's own reading reproduces its master (peak detector): "
            f"{model['floor_db']:.2f} dB on average (1/3-octave levels of mid and side, frame by frame)"
        )
    if check is not None:
        text = (
            f"held-out check: spectral distance to your own masters (MR-STFT, lower is closer) "
            f"{check['style']['mrstft']:.3f} with the style, {check['generic']['mrstft']:.3f} with generic matching "
            f"({100 * check['mrstft_gain']:.0f} % closer)"
        )
        if "floor" in check:
            text += f", {check['floor']['mrstft']:.3f} with each held-out pair's own settings (the floor)"
        lines.append(
            text + f"; loudness error {check['style']['lufs_error']:.2f} LU, crest error "
            f"{check['style']['crest_error']:.2f} dB"
        )
    return lines
