"""Settings in an engineer's words: what the chain does to a mix, one short line per processor."""

from __future__ import annotations

from tonematch.models.chain import match_eq
from tonematch.models.chain.settings import Settings

from .formatting import hz, ms, signed

_BAND_NAMES = {
    "low_shelf": "low shelf",
    "peak1": "bell",
    "peak2": "bell",
    "peak3": "bell",
    "peak4": "bell",
    "high_shelf": "high shelf",
}
MIN_EQ_DB = 0.25  # moves smaller than this are not worth a word


def eq_moves(s: Settings) -> list[str]:
    v, out = s.values, []
    if not s.enabled("eq"):
        return out
    if s.enabled("eq", "highpass"):
        out.append(f"high-pass {hz(v['eq.highpass.freq_hz'])}")
    for band, name in _BAND_NAMES.items():
        g = v[f"eq.{band}.gain_db"]
        if s.enabled("eq", band) and abs(g) >= MIN_EQ_DB:
            q = f" Q {v[f'eq.{band}.q']:.1f}" if name == "bell" else ""
            out.append(f"{name} {g:+.1f} dB at {hz(v[f'eq.{band}.freq_hz'])}{q}")
    return out


def match_line(s: Settings) -> str | None:
    """'match EQ: 14 of 28 third-octave bands moved, -6.0 to +7.0 dB (largest +7.0 dB at 63 Hz)', or
    None where it is flat or off."""
    if not s.enabled("match"):
        return None
    gains = {
        nominal: s.values[f"match.{label}.gain_db"]
        for label, nominal in zip(match_eq.LABELS, match_eq.NOMINAL_HZ)
        if s.enabled("match", label)
    }
    moved = {c: g for c, g in gains.items() if abs(g) >= MIN_EQ_DB}
    if not moved:
        return None
    largest = max(moved, key=lambda c: abs(moved[c]))
    return (
        f"match EQ: {len(moved)} of {len(gains)} third-octave bands moved, {min(moved.values()):+.1f} to "
        f"{max(moved.values()):+.1f} dB (largest {moved[largest]:+.1f} dB at {match_eq.band_name(largest)})"
    )


def compressor_on(s: Settings) -> bool:
    """Switched on and compressing: a ratio within 1 % of 1:1 does nothing audible."""
    return s.enabled("compressor") and s.values["compressor.ratio"] > 1.01


def compressor_title(s: Settings) -> str:
    v = s.values
    return f"{v['compressor.ratio']:.1f}:1 at {v['compressor.threshold_db']:.1f} dB" if compressor_on(s) else "off"


def detector(s: Settings) -> str:
    """', RMS detector 20 ms' where the compressor hears RMS; nothing for the default peak."""
    rms = s.values.get("compressor.rms_ms", 0.0)
    return f", RMS detector {ms(rms)} ms" if rms > 0.0 else ""


def _small_eq_moves(s: Settings) -> int:
    """Bands switched on whose move is audible in a render but not worth a word (under MIN_EQ_DB)."""
    if not s.enabled("eq"):
        return 0
    gains = [s.values[f"eq.{band}.gain_db"] for band in _BAND_NAMES if s.enabled("eq", band)]
    return sum(0.01 <= abs(g) < MIN_EQ_DB for g in gains)


def describe(s: Settings, report: dict | None = None) -> list[str]:
    """Lines such as 'EQ: low shelf +1.5 dB at 90 Hz, ...', 'compressor: 2.5:1 at -18 dB, ...'."""
    v, lines = s.values, []
    moves = eq_moves(s)
    small = _small_eq_moves(s)
    if small:  # rendered all the same: say they are there
        moves.append(f"{small} more under {MIN_EQ_DB:g} dB")
    lines.append("EQ: " + (", ".join(moves) if moves else "flat"))
    if graphic := match_line(s):
        lines.append(graphic)
    if compressor_on(s):
        drive = (
            f", input gain {v['gain.gain_db']:+.1f} dB" if s.enabled("gain") and abs(v["gain.gain_db"]) >= 0.1 else ""
        )
        lines.append(
            f"compressor: {v['compressor.ratio']:.1f}:1 at {v['compressor.threshold_db']:.1f} dB, "
            f"attack {v['compressor.attack_ms']:.1f} ms, release {v['compressor.release_ms']:.0f} ms, "
            f"knee {round(v['compressor.knee_db'], 1):g} dB{detector(s)}{drive}"
        )
    else:
        lines.append("compressor: off")
    if s.enabled("width") and abs(v["width.width"] - 1.0) >= 0.01:
        lines.append(f"width: {v['width.width']:.2f} ({'wider' if v['width.width'] > 1 else 'narrower'})")
    elif (report or {}).get("channels") == 1:
        lines.append("width: unchanged (mono)")
    else:
        lines.append("width: unchanged")
    if s.enabled("loudness"):
        line = f"loudness: {v['loudness.target_lufs']:.1f} LUFS"
        rep = (report or {}).get("report", {})
        if "gain_db" in rep:
            line += f" ({rep['gain_db']:+.1f} dB into the limiter)"
        lines.append(line)
    else:
        lines.append("loudness: unchanged")
    if s.enabled("limiter"):
        lines.append(f"limiter: ceiling {v['limiter.ceiling_dbtp']:.1f} dBTP, release {v['limiter.release_ms']:.0f} ms")
    return lines


def _percent(share: float) -> str:
    return f"{round(100 * share)} %"


def reference_reading(reading: dict, refined: bool, api: bool = False) -> str:
    """How refinement read the reference's tonal balance (a style from references: its masters'
    average) and what `--literal` (a style: its own fixed share) took of it (match.finish's
    notes['reading']), so a listener knows which way the option moves. `api`: the options as
    the Python API spells them (literal=0.4), not as the command line does (--literal 0.4)."""

    def option(name: str, value: float) -> str:
        return f"{name}={value:g}" if api else f"--{name} {value:g}"

    tilt, lit = reading["reference_tilt_db"], reading["literal"]
    style = reading.get("of") == "style"
    line, its = ("style: its references' average balance", "their") if style else ("reference: its mastering", "its")
    # the reading depends on `literal`: above 0.5 less of the reference's balance counts as music
    if abs(tilt) < 0.5:
        line += " reads as bright as the network's (treble against bass, within 0.5 dB)"
    else:
        line += (
            f" reads {abs(tilt):.1f} dB {'brighter' if tilt > 0 else 'darker'} than the network's (treble against bass)"
        )
    # the part of the balance that --literal copies from 0.5 up
    line += f", {its} finer balance {reading['reference_detail_db']:.1f} dB RMS apart"
    amount = reading.get("amount", 1.0)
    if refined:  # the amount scales every EQ gain, so the move about as much
        line += f"; the master moved {signed(reading['moved_tilt_db'] * amount)} dB"
    tilt_share, detail_share = reading["tilt_share"], reading["detail_share"]
    if not reading.get("eq", True):
        width = f" and {_percent(detail_share)} of the width" if detail_share > 0.0 else ""
        takes = f"takes none of the balance (the EQ is skipped){width}"
    elif tilt_share <= 0.0:
        takes = "takes none of it"
    elif detail_share <= 0.0:
        takes = f"takes {_percent(tilt_share)} of the tilt, none of the finer balance or the width"
    elif detail_share < 1.0:
        takes = f"takes all of the tilt and {_percent(detail_share)} of the finer balance and the width"
    else:
        takes = "copies the tilt, the finer balance and the width"
    if amount < 1.0:
        takes += f"; {option('amount', amount)} scales the move"
    return f"{line} ({'the style' if style else option('literal', lit)} {takes}){_held(reading, its)}"


def _held(reading: dict, its: str) -> str:
    """Where the tilt taken was held to the reference's own balance against the network's master
    (refine.tilt_taken): never past the reference, never away from it. Empty where it was not."""
    if "taken_tilt_db" not in reading or not reading.get("eq", True):
        return ""
    wanted = reading["tilt_share"] * reading["reference_tilt_db"]
    own, taken = reading["own_tilt_db"], reading["taken_tilt_db"]
    if abs(wanted - taken) < 0.5:
        return ""
    heard = f"{abs(own):.1f} dB {'brighter' if own > 0 else 'darker'} than" if abs(own) >= 0.5 else "as bright as"
    if taken == 0.0:
        return f"; none taken: {its} own balance reads {heard} the network's master"
    return f"; held at {its} own balance, {heard} the network's master"
