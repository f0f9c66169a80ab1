"""The measurable character of a master, and a fast differentiable model of the chain acting on it.

Refinement cannot afford full-rate audio through the whole differentiable chain at every step,
and need not: an EQ acts on a long-term spectrum through its magnitude response, a compressor on
a decimated envelope, width on mid/side band energies, and loudness and the limiter on block
energies and peaks. So a mix is analysed once into frames (per excerpt: mid and side power in
~1/6-octave bands and the sample peak of every hop, about 86 frames a second), and `render`
applies the chain's settings to those frames in closed form. `measure` reads the character the
refinement matches: tonal balance, stereo width per band, loudness spread and block crest.
The exact renderer has the last word (refine.py checks its result on an exact render).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from tonematch.models.chain import compressor, eq as eq_stage, ops
from tonematch.models.chain.biquads import response
from tonematch.models.chain.loudness import gated_loudness, k_weighting

N_FFT_S = 0.046  # analysis window (~2048 samples at 44.1 kHz)
HOP_S = 0.0116  # frame hop (~512 samples at 44.1 kHz)
LOW_HZ = 25.0
BAND_OCTAVES = 1.0 / 6.0
WIDTH_EDGES_HZ = (20.0, 200.0, 1000.0, 5000.0, 20000.0)  # broad bands for the stereo image
BLOCK_S, BLOCK_STEP_S = 0.4, 0.1  # BS.1770 gating blocks
_EPS = 1e-12
_LIMITER_SETTLE = 3
# The compressor's detector follows every sample; within a hop its static gain change varies
# with the waveform. Attack and release smoothing settle on an expectile of that distribution
# (all the way down to the peak's gain change when attack is much faster than release, the mean
# when they are equal), so each hop keeps this many equal-mass quantiles of the detector level.
LEVEL_QUANTILES = 16
_EXPECTILE_STEPS = 6  # fixed-point steps: gain into the limiter until the output lands on target


@dataclass
class Frames:
    """Per excerpt n and frame t: power of mid and side in ~1/12-octave bands [N, T, F] (scaled
    so that summed over bands mid + side is the mean square per channel), the same K-weighted
    bin by bin (mid_k, side_k: BS.1770's filter applied exactly), and the sample peak over
    channels in each hop [N, T]. The EQ acts at the bands' centres (`freqs_hz`; its narrowest
    bell spans a quarter octave); the tonal balance is read in ~1/6-octave bands (`band_of`
    [F, B]). A mono file has side = 0 and mid = the signal."""

    mid: torch.Tensor
    side: torch.Tensor
    peak: torch.Tensor
    levels: torch.Tensor  # [N, T, K] quantiles of the detector (max |x| over channels) in each hop
    mid_k: torch.Tensor
    side_k: torch.Tensor
    freqs_hz: np.ndarray  # [F] centres of the fine bands
    band_of: torch.Tensor  # [F, B] 1 where fine band f lies in tonal band b
    centers_hz: np.ndarray  # [B] band centres
    edges_hz: np.ndarray
    sample_rate: int
    channels: int
    hop_s: float
    true_peak_ratio: float  # true peak / sample peak of the analysed audio (>= 1)


def band_edges(sample_rate: int, n_fft: int, octaves: float = BAND_OCTAVES, min_bins: int = 2) -> np.ndarray:
    """~1/6-octave edges from 25 Hz up to Nyquist; every band holds at least `min_bins` bins. The top
    reaches Nyquist so that loudness and peaks account for all the energy (an EQ boost up
    there is heard by the meter); the tonal balance is compared over TONE_RANGE_HZ only."""
    bin_hz = sample_rate / n_fft
    top = 0.5 * sample_rate
    edges = [LOW_HZ]
    while edges[-1] < top:
        edges.append(min(top, max(edges[-1] * 2.0**octaves, edges[-1] + min_bins * bin_hz)))
    if edges[-1] - edges[-2] < min_bins * bin_hz and len(edges) > 2:
        edges.pop(-2)
    return np.array(edges)


def _layout(sample_rate: int, n_fft: int):
    """Tonal band edges and centres, the bin -> fine band matrix (plain and K-weighted), the
    fine bands' centres and the fine -> tonal band matrix."""
    edges = band_edges(sample_rate, n_fft)
    centers = np.sqrt(edges[1:] * edges[:-1])
    bin_hz = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    fine = np.unique(np.round(band_edges(sample_rate, n_fft, BAND_OCTAVES / 2, 1) * n_fft / sample_rate).astype(int))
    fine[-1] = n_fft // 2 + 1  # the top band takes the Nyquist bin too
    to_fine = torch.zeros(n_fft // 2 + 1, len(fine) - 1, dtype=torch.float64)
    for b, (lo, hi) in enumerate(zip(fine[:-1], fine[1:])):
        to_fine[lo:hi, b] = 1.0
    fine_hz = np.array([bin_hz[lo:hi].mean() for lo, hi in zip(fine[:-1], fine[1:])])
    band_of = torch.zeros(len(fine_hz), len(centers), dtype=torch.float64)
    tonal = np.clip(np.searchsorted(edges, fine_hz, side="right") - 1, 0, len(centers) - 1)
    band_of[np.arange(len(fine_hz)), tonal] = 1.0
    to_fine_k = to_fine * _k_power_at(sample_rate, bin_hz)[:, None]
    return edges, centers, to_fine, to_fine_k, fine_hz, band_of


def analyse(clips: np.ndarray, sample_rate: int, true_peak_ratio: float = 1.0, levels: bool = True) -> Frames:
    """Frames of excerpts [N, C, L] float32 (C = 1 or 2; see `excerpts`). levels=False skips the
    detector quantiles, which only the compressor model needs (not a measurement).
    One excerpt at a time, in float32 until the band sums: memory stays a few MB per excerpt."""
    clips = np.asarray(clips, dtype=np.float32)
    channels = clips.shape[1]
    n_fft = 1 << int(round(math.log2(N_FFT_S * sample_rate)))
    hop = max(1, n_fft // 4)
    window = torch.hann_window(n_fft, dtype=torch.float32)
    # power per bin scaled so that summing the bins gives the frame's mean square (Parseval)
    scale = 2.0 / (n_fft * float(window.double().square().sum()))
    edges, centers, to_fine, to_fine_k, fine_hz, band_of = _layout(sample_rate, n_fft)
    ranks = ((torch.arange(LEVEL_QUANTILES, dtype=torch.float64) + 0.5) / LEVEL_QUANTILES * (hop - 1)).long()
    out = {k: [] for k in ("mid", "side", "mid_k", "side_k", "peak", "levels")}
    for clip in clips:
        x = torch.from_numpy(clip)
        mid, side = (0.5 * (x[0] + x[1]), 0.5 * (x[0] - x[1])) if channels == 2 else (x[0], torch.zeros_like(x[0]))
        for name, sig in (("mid", mid), ("side", side)):
            spec = torch.stft(sig, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True)
            power = ((spec.real.square() + spec.imag.square()).double() * scale).T  # [T, F]
            out[name].append(power @ to_fine)
            out[name + "_k"].append(power @ to_fine_k)
        frames = out["mid"][-1].shape[0]
        pad = frames * hop - x.shape[-1]
        peaks = torch.nn.functional.pad(x.abs().amax(dim=0), (hop // 2, max(0, pad - hop // 2)))
        hops = peaks[: frames * hop].reshape(frames, hop).double()
        out["peak"].append(hops.amax(dim=-1))
        if levels:
            out["levels"].append(hops.sort(dim=-1).values[..., ranks])
    stacked = {k: torch.stack(v) for k, v in out.items() if v}
    return Frames(
        mid=stacked["mid"],
        side=stacked["side"],
        peak=stacked["peak"],
        levels=stacked.get("levels", torch.zeros(0)),
        mid_k=stacked["mid_k"],
        side_k=stacked["side_k"],
        freqs_hz=fine_hz,
        band_of=band_of,
        centers_hz=centers,
        edges_hz=edges,
        sample_rate=int(sample_rate),
        channels=channels,
        hop_s=hop / sample_rate,
        true_peak_ratio=max(1.0, float(true_peak_ratio)),
    )


def _power_db(x: torch.Tensor) -> torch.Tensor:
    return 10.0 * torch.log10(x + _EPS)


def eq_power(p: dict, frames: Frames, bypass) -> torch.Tensor:
    """|H|^2 of the EQ cascade at every bin [F] (1 where the EQ is off)."""
    ones = torch.ones(len(frames.freqs_hz), dtype=torch.float64)
    if "eq" in bypass:
        return ones
    coefs = eq_stage.coefficients(p, frames.sample_rate, bypass)
    if not coefs:
        return ones
    h = response(torch.cat([c.reshape(-1, 5) for c in coefs]), frames.freqs_hz, frames.sample_rate)
    return (h.real.square() + h.imag.square()).prod(dim=0)


def _blocks(z: torch.Tensor, hop_s: float) -> torch.Tensor:
    """[N, T] frame energies -> [N * J] 400 ms block means on the 100 ms grid."""
    size = max(1, int(round(BLOCK_S / hop_s)))
    step = max(1, int(round(BLOCK_STEP_S / hop_s)))
    if z.shape[1] < size:
        return z.mean(dim=1)
    return z.unfold(1, size, step).mean(dim=-1).reshape(-1)


def _lufs(blocks: torch.Tensor) -> torch.Tensor:
    return gated_loudness(blocks[None, :])


@dataclass
class Rendered:
    """The chain's output, in frames: per frame [N, T] the mean square per channel, the sample
    peak and the K-weighted energy (channels summed); per band [B] mid and side power summed
    over all frames; the integrated loudness and the compressor's gain change per frame."""

    energy: torch.Tensor
    peak: torch.Tensor
    k_energy: torch.Tensor
    band_mid: torch.Tensor
    band_side: torch.Tensor
    lufs: torch.Tensor
    gain_reduction_db: torch.Tensor  # (<= 0)


def _frame_pole(ms, hop_s: float):
    return ops.time_constant_to_pole(ms, 1.0 / hop_s)


def _k_power_at(sample_rate: int, freqs_hz: np.ndarray) -> torch.Tensor:
    """|K|^2 of BS.1770's K-weighting at `freqs_hz`."""
    coefs = torch.as_tensor(k_weighting(sample_rate))
    h = response(coefs, freqs_hz, sample_rate)
    return (h.real.square() + h.imag.square()).prod(dim=0)


def _expectile(values: torch.Tensor, attack_ms, release_ms) -> torch.Tensor:
    """[..., K] -> [...]: where attack/release smoothing of these gain changes settles. Below
    the smoothed value attack pulls (rate 1/attack), above it release (1/release): the balance
    point is the expectile with weight tau = rate_attack / (rate_attack + rate_release)."""
    tau = release_ms / (attack_ms + release_ms)
    e = values.mean(dim=-1)
    for _ in range(_EXPECTILE_STEPS):
        w = torch.where(values < e[..., None], tau, 1.0 - tau)
        e = (w * values).sum(-1) / w.sum(-1)
    return e


def render(frames: Frames, p: dict, bypass=frozenset()) -> Rendered:
    """The chain (gain, EQ, compressor, width, loudness, limiter) applied to `frames`, with
    physical settings p {key: scalar tensor}. Differentiable in every setting.

    Every stage after the EQ changes a frame's bands by one common factor (the compressor is
    stereo-linked, the limiter and loudness are broadband) except width, which scales side: so a
    frame is carried as a few scalars and the band powers are summed once, at the end."""
    bypass = frozenset(bypass)
    one = torch.ones((), dtype=torch.float64)
    g = 10.0 ** (p["gain.gain_db"] / 10.0) if "gain" not in bypass else one
    h2 = eq_power(p, frames, bypass) * g
    w2 = p["width.width"].square() if ("width" not in bypass and frames.channels == 2) else one
    before = frames.mid.sum(-1) + frames.side.sum(-1)  # mean square per channel, [N, T]
    mid_e, side_e = frames.mid @ h2, frames.side @ h2
    mid_k, side_k = frames.mid_k @ h2, frames.side_k @ h2
    # the detector is a peak detector: the peak moves with the frame's energy through the EQ
    peak = frames.peak * torch.sqrt((mid_e + side_e + _EPS) / (before + _EPS))
    gr = torch.zeros_like(peak)
    c = torch.ones_like(peak)  # per-frame power factor of the stages after the EQ
    if "compressor" not in bypass:
        scale = peak / (frames.peak + _EPS)  # what the gain stage and the EQ did to the level
        level = 20.0 * torch.log10(frames.levels * scale[..., None] + _EPS)
        per_sample = compressor.gain_computer(
            level, p["compressor.threshold_db"], p["compressor.ratio"], p["compressor.knee_db"]
        )
        static = _expectile(per_sample, p["compressor.attack_ms"], p["compressor.release_ms"])
        rows = static.shape[0]
        att = _frame_pole(p["compressor.attack_ms"], frames.hop_s).reshape(1).expand(rows)
        rel = _frame_pole(p["compressor.release_ms"], frames.hop_s).reshape(1).expand(rows)
        gr = ops.ballistics(static.contiguous(), att.contiguous(), rel.contiguous(), 0.0)
        c = 10.0 ** (gr / 10.0)
        peak = peak * 10.0 ** (gr / 20.0)
    # L/R peaks follow mid + side: width scales the peak as it scales the frame's energy
    energy = mid_e + w2 * side_e
    peak = peak * torch.sqrt((energy + _EPS) / (mid_e + side_e + _EPS))
    k_energy = frames.channels * (mid_k + w2 * side_k) * c  # BS.1770 sums the channels
    if "loudness" in bypass:
        gain_db = torch.zeros((), dtype=torch.float64)
    else:
        pre_lufs = _lufs(_blocks(k_energy, frames.hop_s))
        gain_db = (p["loudness.target_lufs"] - pre_lufs).clamp(max=40.0)
    limit2 = torch.ones_like(peak)
    if "limiter" not in bypass:
        ceiling = 10.0 ** (p["limiter.ceiling_dbtp"] / 20.0)
        rel = _frame_pole(p["limiter.release_ms"], frames.hop_s).reshape(1).expand(peak.shape[0])
        true_peak = peak * frames.true_peak_ratio
        for _ in range(_LIMITER_SETTLE if "loudness" not in bypass else 1):
            q = torch.clamp(ceiling / (true_peak * 10.0 ** (gain_db / 20.0) + _EPS), max=1.0)
            limit2 = ops.ballistics(q.contiguous(), torch.zeros_like(rel), rel.contiguous(), 1.0).square()
            if "loudness" in bypass:
                break
            out_lufs = _lufs(_blocks(k_energy * 10.0 ** (gain_db / 10.0) * limit2, frames.hop_s))
            gain_db = gain_db + (p["loudness.target_lufs"] - out_lufs)
    total = c * 10.0 ** (gain_db / 10.0) * limit2  # [N, T]
    weights = total.reshape(-1)
    k_out = k_energy * 10.0 ** (gain_db / 10.0) * limit2
    return Rendered(
        energy=energy * total,
        peak=peak * 10.0 ** (gain_db / 20.0) * limit2.sqrt(),
        k_energy=k_out,
        band_mid=(h2 * (weights @ frames.mid.reshape(-1, frames.mid.shape[-1]))) @ frames.band_of,
        band_side=(w2 * h2 * (weights @ frames.side.reshape(-1, frames.side.shape[-1]))) @ frames.band_of,
        lufs=_lufs(_blocks(k_out, frames.hop_s)),
        gain_reduction_db=gr,
    )


def neutral(frames: Frames) -> Rendered:
    """The frames as they are (no processing), for measuring a reference."""
    k_energy = frames.channels * (frames.mid_k + frames.side_k).sum(-1)
    flat = lambda t: t.reshape(-1, t.shape[-1]).sum(0) @ frames.band_of  # noqa: E731
    return Rendered(
        frames.mid.sum(-1) + frames.side.sum(-1),
        frames.peak,
        k_energy,
        flat(frames.mid),
        flat(frames.side),
        _lufs(_blocks(k_energy, frames.hop_s)),
        torch.zeros_like(frames.peak),
    )


def _smooth(db: torch.Tensor) -> torch.Tensor:
    """Three-band moving average in dB (~1/2 octave): tonal balance, not single harmonics."""
    padded = torch.cat([db[:1], db, db[-1:]])
    return (padded[:-2] + padded[1:-1] + padded[2:]) / 3.0


def measure(r: Rendered, frames: Frames) -> dict[str, torch.Tensor]:
    """Tonal balance (dB per band, mean removed), width (side/mid dB in 4 bands), loudness
    spread (std of gated 400 ms block loudness, LU), block crest (dB) and integrated loudness."""
    tone = _smooth(_power_db(r.band_mid + r.band_side))
    tone = tone - tone.mean()
    width = []
    if frames.channels == 2:
        centres = frames.centers_hz
        for lo, hi in zip(WIDTH_EDGES_HZ[:-1], WIDTH_EDGES_HZ[1:]):
            sel = torch.from_numpy((centres >= lo) & (centres < hi))
            width.append(_power_db(r.band_side[sel].sum()) - _power_db(r.band_mid[sel].sum()))
    blocks = _blocks(r.k_energy, frames.hop_s)
    block_lufs = -0.691 + _power_db(blocks)
    gate = (block_lufs > -70.0) & (block_lufs > r.lufs - 20.0)  # EBU 3342's relative gate
    gated = block_lufs[gate] if bool(gate.any()) else block_lufs
    spread = gated.std(unbiased=False) if gated.numel() > 1 else torch.zeros((), dtype=torch.float64)
    size = max(1, int(round(BLOCK_S / frames.hop_s)))
    if r.energy.shape[1] >= size:
        peak_b = r.peak.unfold(1, size, size).amax(-1)
        rms_b = r.energy.unfold(1, size, size).mean(-1)
    else:
        peak_b, rms_b = r.peak.amax(-1, keepdim=True), r.energy.mean(-1, keepdim=True)
    loud = rms_b > rms_b.amax() * 1e-4  # skip near-silent blocks (-40 dB under the loudest)
    crest = (20.0 * torch.log10(peak_b + _EPS) - _power_db(rms_b))[loud].mean()
    out = {"tone": tone, "spread": spread, "crest": crest, "lufs": r.lufs}
    out["width"] = torch.stack(width) if width else torch.zeros(0, dtype=torch.float64)
    return out


@torch.no_grad()
def character_of(clips: np.ndarray, sample_rate: int, true_peak_ratio: float = 1.0) -> dict[str, torch.Tensor]:
    """The character of audio excerpts [N, C, L] as they are (a reference, an exact render)."""
    frames = analyse(clips, sample_rate, true_peak_ratio, levels=False)
    return measure(neutral(frames), frames)


TONE_RANGE_HZ = (30.0, 16000.0)


def terms(a: dict, b: dict, frames: Frames, weights: dict | None = None) -> dict[str, torch.Tensor]:
    """The weighted squared differences of two characters, per measurement (dB^2 / LU^2)."""
    w = {"tone": 1.0, "width": 0.2, "spread": 1.0, "crest": 0.3, **(weights or {})}
    c = frames.centers_hz
    sel = torch.from_numpy((c >= TONE_RANGE_HZ[0]) & (c <= min(TONE_RANGE_HZ[1], 0.45 * frames.sample_rate)))
    d_tone = a["tone"][sel] - b["tone"][sel]
    out = {"tone": w["tone"] * (d_tone - d_tone.mean()).square().mean()}
    if a["width"].numel() and b["width"].numel():
        # the chain has one width control: match the image above 200 Hz (below it, masters are
        # near mono whatever the width, and that band would pull against the others)
        out["width"] = w["width"] * (a["width"][1:] - b["width"][1:]).clamp(-20, 20).square().mean()
    out["spread"] = w["spread"] * (a["spread"] - b["spread"]).square()
    out["crest"] = w["crest"] * (a["crest"] - b["crest"]).square()
    return out


def distance(a: dict, b: dict, frames: Frames, weights: dict | None = None) -> torch.Tensor:
    """Weighted squared distance between two characters (dB^2 / LU^2 scale)."""
    return sum(terms(a, b, frames, weights).values())
