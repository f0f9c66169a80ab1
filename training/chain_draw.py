"""Random mastering-chain settings for self-supervised targets, and what of them is ground truth.

A self-supervised batch carries clean segments (target_source, reference_source); the training
step draws one chain setting per item, renders the reference through it (and the target too when
it trains with an audio loss; batched, on the step's device) and asks the network to recover it
from the degraded input. The draw follows a realistic
distribution given per parameter in physical units (configs/chain/default.yaml), not uniform over
the table's ranges: a 12 dB EQ boost or a 20:1 ratio is possible but not what masters sound like.

Each item's draw comes from its own generator seeded by (seed, stream, item id), so it does not
depend on batch composition, worker count, world size or a resume.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch

from tonematch.models.chain import TABLE

_DISTS = ("const", "uniform", "loguniform", "normal")
_RELATIVE = (None, "peak", "rms")


@dataclass(frozen=True)
class ParamDraw:
    """How one parameter is drawn. `relative_to`: the value is added to the clip's level (dBFS)."""

    dist: str
    low: float = 0.0
    high: float = 0.0
    mean: float = 0.0
    std: float = 1.0
    value: float = 0.0
    p_default: float = 0.0  # probability of the table's neutral default instead (e.g. high-pass off)
    relative_to: str | None = None

    def __post_init__(self):
        if self.dist not in _DISTS:
            raise ValueError(f"unknown distribution {self.dist!r} (known: {', '.join(_DISTS)})")
        if self.relative_to not in _RELATIVE:
            raise ValueError(f"relative_to must be one of {_RELATIVE}, got {self.relative_to!r}")
        if self.dist in ("uniform", "loguniform", "normal") and self.high < self.low:
            raise ValueError(f"empty range [{self.low}, {self.high}]")
        if self.dist == "loguniform" and self.low <= 0:
            raise ValueError("loguniform needs a positive lower bound")
        if not 0.0 <= self.p_default <= 1.0:
            raise ValueError(f"p_default must lie in [0, 1], got {self.p_default}")

    def sample(self, u: torch.Tensor) -> torch.Tensor:
        """Physical values from uniforms u [B] in (0, 1)."""
        if self.dist == "const":
            return torch.full_like(u, self.value)
        if self.dist == "uniform":
            return self.low + (self.high - self.low) * u
        if self.dist == "loguniform":
            return self.low * (self.high / self.low) ** u
        # normal by inverse CDF, clipped to [low, high]
        return (self.mean + self.std * torch.special.ndtri(u)).clamp(self.low, self.high)


def _level_db(x: torch.Tensor, kind: str) -> torch.Tensor:
    """[B, C, T] -> [B] dBFS (sample peak over channels, or RMS)."""
    x = x.double()
    if kind == "peak":
        energy = x.abs().amax(dim=(1, 2)).square()
    else:
        energy = x.square().mean(dim=(1, 2))
    return 10.0 * torch.log10(energy.clamp_min(1e-10))


def _item_seed(seed: int, stream: int, item: int) -> int:
    return int(np.random.SeedSequence([seed, stream, item]).generate_state(1, np.uint64)[0] >> 1)


class ChainDraw:
    """Draws [B, P] unit vectors (the parameter targets) for a batch of clean clips.

    distribution: {parameter key: {dist, low, high, mean, std, value, p_default, relative_to}}.
    Learned parameters not listed keep the table's neutral default: gain and make-up, because the
    loudness stage cancels any overall level, so only their drive into the compressor is audible
    and the threshold already covers that.
    """

    def __init__(self, sample_rate: int, distribution: Mapping[str, Mapping] | None = None, seed: int = 0):
        self.sample_rate = int(sample_rate)
        self.seed = int(seed)
        self.keys = TABLE.learned_keys
        unknown = set(distribution or {}) - set(self.keys)
        if unknown:
            raise ValueError(f"draw distribution names unknown or fixed parameters: {sorted(unknown)}")
        self.specs = {k: ParamDraw(**dict(v)) for k, v in (distribution or {}).items()}
        self.defaults = TABLE.defaults(self.sample_rate)

    def uniforms(self, item_ids, stream: int = 0) -> torch.Tensor:
        """[B, P, 2] uniforms in (0, 1): one for 'use the default?', one for the value."""
        rows = []
        for item in torch.as_tensor(item_ids).reshape(-1).tolist():
            g = torch.Generator().manual_seed(_item_seed(self.seed, stream, int(item)))
            rows.append(torch.rand(len(self.keys), 2, generator=g, dtype=torch.float64))
        # (0, 1) open: the normal's inverse CDF is infinite at 0
        return torch.stack(rows).clamp(1e-9, 1.0 - 1e-9)

    def physical(self, item_ids, source: torch.Tensor, stream: int = 0) -> dict[str, torch.Tensor]:
        """{key: [B] float64} physical values for clips `source` [B, C, T], within table bounds."""
        u = self.uniforms(item_ids, stream)
        b = u.shape[0]
        levels = {kind: _level_db(source.detach().cpu(), kind) for kind in ("peak", "rms")}
        out = {}
        for i, key in enumerate(self.keys):
            default = torch.full((b,), float(self.defaults[key]), dtype=torch.float64)
            spec = self.specs.get(key)
            if spec is None:
                out[key] = default
                continue
            value = spec.sample(u[:, i, 1])
            if spec.relative_to is not None:
                value = value + levels[spec.relative_to]
            if spec.p_default > 0:
                value = torch.where(u[:, i, 0] < spec.p_default, default, value)
            low, high = TABLE.by_key[key].spec.bounds(self.sample_rate)
            out[key] = value.clamp(low, high)
        return out

    def draw(self, item_ids, source: torch.Tensor, stream: int = 0) -> torch.Tensor:
        """[B, P] float64 unit vector; render with TABLE.from_unit of exactly this vector."""
        return TABLE.to_unit(self.physical(item_ids, source, stream), self.sample_rate).double()


# Parameter truth for a degraded input. The draw maps clean A to the target; the network sees
# degraded A. Where a degradation touched what a parameter controls, the drawn value is no longer
# the right answer for the input (an EQ tilt changes which EQ recovers the target), so those
# entries are masked out of the parameter loss. Interactions between groups (an EQ tilt slightly
# changes what the compressor hears) are second order and left to the audio loss.
_SPOILED_BY = {
    "eq.": ("tilt_db", "bass_db", "treble_db"),
    "compressor.": ("expansion_ratio",),
}
_NEUTRAL = {"tilt_db": 0.0, "bass_db": 0.0, "treble_db": 0.0, "width": 1.0, "expansion_ratio": 1.0}
_NEVER_SPOILED = ("compressor.makeup_db",)  # cancelled by the loudness stage: always the drawn 0 dB


def parameter_truth(unit: torch.Tensor, degradation: Mapping[str, torch.Tensor] | None, sample_rate: int):
    """(truth [B, P], known [B, P] bool) for the parameter loss.

    The level degradation is undone exactly by the gain stage (the loudness stage removes any other
    level change), so its truth is gain = -level_db: the gain that gives the compressor the level
    the draw's threshold was set for.
    """
    truth = unit.clone()
    known = torch.ones_like(unit, dtype=torch.bool)
    if degradation is None:
        return truth, known
    keys = TABLE.learned_keys

    def col(name):
        return torch.as_tensor(degradation[name], dtype=torch.float64, device=unit.device).reshape(-1)

    for i, key in enumerate(keys):
        if key in _NEVER_SPOILED:
            continue
        for prefix, names in _SPOILED_BY.items():
            if key.startswith(prefix):
                spoiled = torch.zeros(unit.shape[0], dtype=torch.bool, device=unit.device)
                for name in names:
                    spoiled |= (col(name) - _NEUTRAL[name]).abs() > 1e-9
                known[:, i] &= ~spoiled
    if "width" in degradation:
        # the side gain multiplies: the width that turns the degraded input into the target is the
        # drawn one over the degradation's, exact wherever it lies inside the table's range
        w = keys.index("width.width")
        spec = TABLE.by_key["width.width"].spec
        needed = spec.from_unit(unit[:, w], sample_rate) / col("width").clamp_min(1e-6)
        low, high = spec.bounds(sample_rate)
        truth[:, w] = torch.as_tensor(spec.to_unit(needed.clamp(low, high), sample_rate), dtype=truth.dtype)
        known[:, w] = (needed >= low) & (needed <= high)
    if "level_db" in degradation:
        g = keys.index("gain.gain_db")
        spec = TABLE.by_key["gain.gain_db"].spec
        truth[:, g] = torch.as_tensor(spec.to_unit(-col("level_db"), sample_rate)).clamp(0.0, 1.0)
    return truth, known
