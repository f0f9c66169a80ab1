"""A style: lines from a mix's character to its master's, the habit, and the settings model.

Matching refines toward a target *character* (character.py: tonal balance, width, loudness
spread, block crest, loudness). This style is a function from the MIX's character to the
MASTER's, fitted on the engineer's aligned pairs (character_fit.py), one small shrunk line per
feature:

* tonal balance: the tone curve is split into seven smooth bumps on a log-frequency axis
  (partition of unity, 40 Hz .. 10 kHz, 4/3 octave apart) plus a fine residual. Per bump k,
  master_k = a_k * mix_k + c_k with a_k in [0, 1], shrunk toward 0 ("pull every mix to my own
  balance"); a_k = 1 would leave the mix alone. The fine residual (single instruments, what a
  six-band EQ cannot move) is the mix's own.
* width (side/mid dB in four bands), loudness spread, block crest and integrated loudness: the
  same line, master = a * mix + c.

A style of settings (the default since issue 17) carries its settings model in `settings`
(settings_model.py) beside these lines.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numpy as np

from tonematch.models.chain import TABLE

from .. import character

BUMP_HZ = tuple(float(40.0 * 2.0 ** (k * 4.0 / 3.0)) for k in range(7))  # 40 Hz .. 10 kHz
SCALARS = ("spread", "crest", "lufs")
COMPRESSOR_KEYS = ("threshold_db", "ratio", "attack_ms", "release_ms", "knee_db")


@dataclass
class Habit:
    """The settings an engineer's pairs tended toward (each pair's settings averaged, in readable
    units), as styles of character fitted before the settings style recorded them: the compressor
    that starts every new master, and what `style show` prints. A .tmstyle card holds it as a
    JSON object of these fields; such files still load and master with it."""

    threshold_rel_lufs: float  # the threshold relative to the mix's loudness (dB)
    ratio: float
    attack_ms: float
    release_ms: float
    knee_db: float
    width: float
    target_lufs: float
    threshold_db: float | None = None  # the threshold's average in dBFS over the pairs
    ceiling_dbtp: float | None = None
    timing_pairs: int = 0  # pairs whose attack and release were read from the gain trace
    reduction_db: float | None = None  # the average gain reduction read (None: none read)
    eq: dict = field(default_factory=dict)  # the typical EQ, settings keys "eq.*"

    def compressor(self) -> dict:
        """The compressor to start from: threshold relative to the mix's loudness, ratio, timing, knee."""
        return {"threshold_rel_lufs": self.threshold_rel_lufs, **{k: getattr(self, k) for k in COMPRESSOR_KEYS[1:]}}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Habit:
        """A card's habit object (validate.habit_problem has checked it); keys it lacks take defaults."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class Style:
    """A fitted style: the character lines (tensors in a .tmstyle file), the habit, the settings
    model, and its card (`meta`: name, pairs, fit figures)."""

    bump_hz: np.ndarray  # [K]
    tone_a: np.ndarray  # [K]
    tone_c: np.ndarray  # [K] dB
    width_a: np.ndarray  # [4]
    width_c: np.ndarray  # [4] side/mid dB
    scalar_a: np.ndarray  # [3] spread, crest, lufs
    scalar_c: np.ndarray  # [3]
    true_peak_dbtp: float
    habit: Habit | None = None  # average settings in readable units (None: from references)
    settings: dict | None = None  # the settings style (settings_fit.fit_model); None: character only
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if isinstance(self.habit, dict):  # a habit given as its card's object
            self.habit = Habit.from_dict(self.habit)

    @property
    def name(self) -> str:
        return str(self.meta.get("name", "style"))

    @property
    def from_references(self) -> bool:
        """Made from finished masters alone (`style from-references`): no pairs, no settings."""
        return self.settings is None and self.meta.get("kind") == "references"

    def predict(self, mix_char: dict, mix_lufs: float | None, sample_rate: int) -> dict:
        """The master character this engineer would make of a mix of character `mix_char`."""
        centres = character.band_centres(sample_rate)
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


def project(tone: np.ndarray, centres: np.ndarray, basis: np.ndarray, sample_rate: int):
    """(bump coefficients [K], residual [B]) of a tone curve, fitted over the compared range."""
    sel = character.tone_range(centres, sample_rate)
    coef = np.linalg.lstsq(basis[sel], tone[sel], rcond=None)[0]
    return coef, tone - basis @ coef
