"""The measurable character of a master, and a fast differentiable model of the chain acting on it.

Refinement cannot afford full-rate audio through the whole differentiable chain at every step,
and need not: an EQ acts on a long-term spectrum through its magnitude response, a compressor on
a decimated envelope, width on mid/side band energies, and loudness and the limiter on block
energies and peaks. So a mix is analysed once into frames (per excerpt: mid and side power in
~1/12-octave bands and the sample peak of every hop, about 86 frames a second), and `render`
applies the chain's settings to those frames in closed form. `measure` reads the character the
refinement matches: tonal balance, stereo width per band, loudness spread and block crest.
The exact renderer has the last word (refine.py checks its result on an exact render).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import autograd.numpy as anp
import numpy as np
import scipy.fft
from autograd.extend import defvjp, primitive
from autograd.tracer import getval

from tonematch.models.chain import compressor, eq as eq_stage, kernels, match_eq, ops
from tonematch.models.chain.biquads import power_response
from tonematch.models.chain.loudness import k_weighting
from tonematch.models.measure import loudness as bs1770
from tonematch.models.measure.spectrum import centred_frames, hann

# the analysis frame's bin spacing at every rate (2048 samples at 44.1 kHz, ~46 ms): the bands
# are laid out on it, so a mix reads the same tonal balance at any rate below its Nyquist
FRAME_BIN_HZ = 44100.0 / 2048.0
LOW_HZ = 25.0
BAND_OCTAVES = 1.0 / 6.0
WIDTH_EDGES_HZ = (20.0, 200.0, 1000.0, 5000.0, 20000.0)  # broad bands for the stereo image
_EPS = 1e-12
_LIMITER_SETTLE = 3  # fixed-point steps: gain into the limiter until the output lands on target
# The compressor's detector follows every sample; within a hop its static gain change varies
# with the waveform. Attack and release smoothing settle on an expectile of that distribution
# (all the way down to the peak's gain change when attack is much faster than release, the mean
# when they are equal), so each hop keeps this many equal-mass quantiles of the detector level.
LEVEL_QUANTILES = 16
_EXPECTILE_STEPS = 6  # fixed-point steps of the expectile (which side of it each value lies on)


@dataclass
class Frames:
    """Per excerpt n and frame t: power of mid and side in ~1/12-octave bands [N, T, F] (scaled
    so that summed over bands mid + side is the mean square per channel), the same K-weighted
    bin by bin (mid_k, side_k: BS.1770's filter applied exactly), and the sample peak over
    channels in each hop [N, T]. The EQ acts at the bands' centres (`freqs_hz`; its narrowest
    bell spans a quarter octave); the tonal balance is read in ~1/6-octave bands (`band_of`
    [F, B]). A mono file has side = 0 and mid = the signal. numpy float64 throughout."""

    mid: np.ndarray
    side: np.ndarray
    peak: np.ndarray
    levels: np.ndarray  # [N, T, K] quantiles of the detector (max |x| over channels) in each hop
    mid_k: np.ndarray
    side_k: np.ndarray
    freqs_hz: np.ndarray  # [F] centres of the fine bands
    band_of: np.ndarray  # [F, B] 1 where fine band f lies in tonal band b
    centers_hz: np.ndarray  # [B] band centres
    sample_rate: int
    channels: int
    hop_s: float
    true_peak_ratio: float  # true peak / sample peak of the analysed audio (>= 1)


def frame_size(sample_rate: int) -> int:
    """The analysis frame in samples: the fast FFT length whose bins are FRAME_BIN_HZ apart or a
    little closer (2048 at 44.1 kHz, 2250 at 48 kHz)."""
    return scipy.fft.next_fast_len(int(math.ceil(sample_rate / FRAME_BIN_HZ - 1e-9)), real=True)


def band_edges(sample_rate: int, octaves: float = BAND_OCTAVES, min_bins: int = 2) -> np.ndarray:
    """~1/6-octave edges from 25 Hz up to Nyquist, each band at least `min_bins` bins of
    FRAME_BIN_HZ wide: the same edges at every rate, up to its Nyquist. The top reaches Nyquist
    so that loudness and peaks account for all the energy (an EQ boost up there is heard by the
    meter); the tonal balance is compared over TONE_RANGE_HZ only."""
    bin_hz = FRAME_BIN_HZ
    top = 0.5 * sample_rate
    edges = [LOW_HZ]
    while edges[-1] < top:
        edges.append(min(top, max(edges[-1] * 2.0**octaves, edges[-1] + min_bins * bin_hz)))
    if edges[-1] - edges[-2] < min_bins * bin_hz and len(edges) > 2:
        edges.pop(-2)
    return np.array(edges)


def band_centres(sample_rate: int) -> np.ndarray:
    """Centres of the tone bands at this rate (band_edges'), Hz."""
    edges = band_edges(sample_rate)
    return np.sqrt(edges[1:] * edges[:-1])


def _layout(sample_rate: int, n_fft: int):
    """Tonal band centres, the first bin of each fine band (a band runs to the next's
    first bin, the last to Nyquist), the K-weighting's power per bin, the fine bands' centres
    and the fine -> tonal band matrix."""
    edges = band_edges(sample_rate)
    centers = band_centres(sample_rate)
    bin_hz = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    fine = np.unique(np.round(band_edges(sample_rate, BAND_OCTAVES / 2, 1) * n_fft / sample_rate).astype(int))
    fine[-1] = n_fft // 2 + 1  # the top band takes the Nyquist bin too
    fine_hz = np.array([bin_hz[lo:hi].mean() for lo, hi in zip(fine[:-1], fine[1:])])
    band_of = np.zeros((len(fine_hz), len(centers)))
    tonal = np.clip(np.searchsorted(edges, fine_hz, side="right") - 1, 0, len(centers) - 1)
    band_of[np.arange(len(fine_hz)), tonal] = 1.0
    return centers, fine[:-1], _k_power_at(sample_rate, bin_hz), fine_hz, band_of


def analyse(clips: np.ndarray, sample_rate: int, true_peak_ratio: float = 1.0, levels: bool = True) -> Frames:
    """Frames of excerpts [N, C, L] float32 (C = 1 or 2; see `excerpts`). levels=False skips the
    detector quantiles, which only the compressor model needs (not a measurement).
    One excerpt at a time, in float32 until the band sums: memory stays a few MB per excerpt."""
    clips = np.asarray(clips, dtype=np.float32)
    channels = clips.shape[1]
    n_fft = frame_size(sample_rate)
    hop = max(1, n_fft // 4)
    window = hann(n_fft).astype(np.float32)
    # power per bin scaled so that summing the bins gives the frame's mean square (Parseval)
    scale = 2.0 / (n_fft * float(np.square(window, dtype=np.float64).sum()))
    centers, starts, k_power, fine_hz, band_of = _layout(sample_rate, n_fft)
    ranks = ((np.arange(LEVEL_QUANTILES) + 0.5) / LEVEL_QUANTILES * (hop - 1)).astype(np.int64)
    out = {k: [] for k in ("mid", "side", "mid_k", "side_k", "peak", "levels")}
    for x in clips:
        mid, side = (0.5 * (x[0] + x[1]), 0.5 * (x[0] - x[1])) if channels == 2 else (x[0], np.zeros_like(x[0]))
        # two workers split the frames between the cores: each frame's transform is the same
        spec = scipy.fft.rfft(centred_frames(np.stack([mid, side]), n_fft, hop) * window, axis=-1, workers=2)
        power = (spec.real**2 + spec.imag**2).astype(np.float64) * scale  # [2, T, F]
        for i, name in enumerate(("mid", "side")):
            # each fine band is a run of bins: summed in place (a 0/1 matrix product costs 2-3x)
            out[name].append(np.add.reduceat(power[i], starts, axis=-1))
            out[name + "_k"].append(np.add.reduceat(power[i] * k_power, starts, axis=-1))
        frames = power.shape[1]
        pad = frames * hop - x.shape[-1]
        peaks = np.pad(np.abs(x).max(axis=0), (hop // 2, max(0, pad - hop // 2)))
        hops = peaks[: frames * hop].reshape(frames, hop).astype(np.float64)
        out["peak"].append(hops.max(axis=-1))
        if levels:
            out["levels"].append(np.sort(hops, axis=-1)[..., ranks])
    stacked = {k: np.stack(v) for k, v in out.items() if v}
    return Frames(
        mid=stacked["mid"],
        side=stacked["side"],
        peak=stacked["peak"],
        levels=stacked.get("levels", np.zeros(0)),
        mid_k=stacked["mid_k"],
        side_k=stacked["side_k"],
        freqs_hz=fine_hz,
        band_of=band_of,
        centers_hz=centers,
        sample_rate=int(sample_rate),
        channels=channels,
        hop_s=hop / sample_rate,
        true_peak_ratio=max(1.0, float(true_peak_ratio)),
    )


# -- the chain on frames: autograd.numpy, so refinement gets exact gradients without torch --------


@primitive
def ballistics(x, att, rel, initial: float):
    """The chain's attack/release smoother (kernels.ballistics_forward) on rows x [R, T] with
    pole coefficients att, rel [R]; differentiable through its hand-written adjoint."""
    state = np.full(x.shape[0], float(initial))
    return kernels.ballistics_forward(np.ascontiguousarray(x, dtype=np.float64), att, rel, state)


def _ballistics_adjoint(which: int):
    def vjp(y, x, att, rel, initial):
        init = np.full(x.shape[0], float(initial))
        x = np.ascontiguousarray(x, dtype=np.float64)
        return lambda g: kernels.ballistics_backward(np.ascontiguousarray(g), x, y, att, rel, init)[which]

    return vjp


defvjp(ballistics, _ballistics_adjoint(0), _ballistics_adjoint(1), _ballistics_adjoint(2))


def _power_db(x):
    return 10.0 * anp.log10(x + _EPS)


def eq_power_at(p: dict, freqs_hz: np.ndarray, sample_rate: int, bypass) -> np.ndarray:
    """|H|^2 of the EQ cascade (parametric, then match EQ) at `freqs_hz`, [..., F] (1 where both are
    off); the settings may be arrays [...] (plain numpy). The frame model's EQ and the report's EQ curve."""
    parametric = np.asarray(eq_stage.power_at(p, freqs_hz, sample_rate, bypass, xp=np))
    return parametric * np.asarray(match_eq.power_at(p, freqs_hz, sample_rate, bypass, xp=np))


def eq_power(p: dict, frames: Frames, bypass) -> np.ndarray:
    """|H|^2 of the EQ cascade at every fine band [F] (1 where the EQ is off), for plain EQ settings."""
    eq = {k: float(v) for k, v in p.items() if k.startswith(("eq.", "match."))}
    return eq_power_at(eq, frames.freqs_hz, frames.sample_rate, bypass)


class _EqDesigns:
    """The EQ settings `keys` (a vector in physical units) -> |H|^2 [M, F] at the fine bands,
    every other setting as in `base`, for M vectors at once."""

    def __init__(self, keys: list[str], base: dict, frames: Frames, bypass):
        self.keys, self.base, self.bypass = keys, base, bypass
        self.freqs_hz, self.sample_rate = frames.freqs_hz, frames.sample_rate

    def __call__(self, theta: np.ndarray) -> np.ndarray:  # [M, P] -> [M, F]
        q = dict(self.base)
        q.update({k: theta[:, i] for i, k in enumerate(self.keys)})
        return eq_power_at(q, self.freqs_hz, self.sample_rate, self.bypass) * np.ones((theta.shape[0], 1))


# One primitive for every call: autograd keeps each primitive's gradient in a module-level table,
# so a primitive made per call would keep its frames alive for the life of the process.
@primitive
def _eq_power(theta, designs: _EqDesigns):
    return designs(np.asarray(theta, dtype=np.float64)[None])[0]


def _eq_power_vjp(ans, theta, designs: _EqDesigns):
    steps = 1e-6 * np.maximum(np.abs(theta), 1.0)
    shifts = np.diag(steps)
    both = designs(np.concatenate([theta + shifts, theta - shifts]))
    n = len(designs.keys)
    jacobian = (both[:n] - both[n:]) / (2.0 * steps[:, None])  # [P, F]
    return lambda g: jacobian @ g


defvjp(_eq_power, _eq_power_vjp)


def eq_power_of(keys: list[str], p: dict, frames: Frames, bypass):
    """|H|^2 [F] as a differentiable function of the EQ settings `keys` (a vector in physical
    units; every other setting as in `p`). Its Jacobian comes from central differences of the
    closed-form response, all 2 x len(keys) designs in one vectorised call: exact to ~1e-9 and far
    cheaper than tracing the biquad formulas operation by operation."""
    designs = _EqDesigns(keys, {k: float(v) for k, v in p.items()}, frames, bypass)
    return lambda theta: _eq_power(theta, designs)


def _block_index(frames_per_row: int, hop_s: float) -> np.ndarray | None:
    """[J, size] frame indices of the 400 ms blocks on the 100 ms grid (None: shorter than one)."""
    size = max(1, int(round(bs1770.MOMENTARY_S / hop_s)))
    step = max(1, int(round(bs1770.MOMENTARY_STEP_S / hop_s)))
    if frames_per_row < size:
        return None
    starts = np.arange(0, frames_per_row - size + 1, step)
    return starts[:, None] + np.arange(size)


def _blocks(z, hop_s: float):
    """[N, T] frame energies -> [N * J] 400 ms block means on the 100 ms grid."""
    index = _block_index(z.shape[1], hop_s)
    if index is None:
        return anp.mean(z, axis=1)
    return anp.reshape(anp.mean(z[:, index], axis=-1), (-1,))


@dataclass
class Rendered:
    """The chain's output, in frames: per frame [N, T] the mean square per channel, the sample
    peak and the K-weighted energy (channels summed); per band [B] mid and side power summed
    over all frames; the integrated loudness."""

    energy: np.ndarray
    peak: np.ndarray
    k_energy: np.ndarray
    band_mid: np.ndarray
    band_side: np.ndarray
    lufs: float


def _frame_pole(ms, hop_s: float):
    return ops.time_constant_to_pole(ms, 1.0 / hop_s, xp=anp)


def _k_power_at(sample_rate: int, freqs_hz: np.ndarray) -> np.ndarray:
    """|K|^2 of BS.1770's K-weighting at `freqs_hz`."""
    return np.prod(power_response(np.asarray(k_weighting(sample_rate)), freqs_hz, sample_rate), axis=0)


def _expectile(values, attack_ms, release_ms):
    """[..., K] -> [...]: where attack/release smoothing of these gain changes settles. Below
    the smoothed value attack pulls (rate 1/attack), above it release (1/release): the balance
    point is the expectile with weight tau = rate_attack / (rate_attack + rate_release)."""
    tau = release_ms / (attack_ms + release_ms)
    plain = getval(values)
    e = plain.mean(axis=-1)
    below = None
    for _ in range(_EXPECTILE_STEPS):
        below = plain < e[..., None]
        w = np.where(below, getval(tau), 1.0 - getval(tau))
        e = (w * plain).sum(-1) / w.sum(-1)
    # the last step again, differentiably: the sides each value sits on are fixed by then
    # (tau spread to full shape: autograd's `where` does not sum a broadcast operand's gradient)
    tau = tau * np.ones(plain.shape)
    w = anp.where(below, tau, 1.0 - tau)
    return anp.sum(w * values, axis=-1) / anp.sum(w, axis=-1)


def render(frames: Frames, p: dict, bypass=frozenset(), eq_response=None) -> Rendered:
    """The chain (gain, EQ, compressor, width, loudness, limiter) applied to `frames`, with
    physical settings p {key: scalar} (floats, or autograd values: differentiable in every one
    but the EQ's, whose response |H|^2 [F] comes in as `eq_response` when it is differentiated:
    see `eq_power_of`).

    Every stage after the EQ changes a frame's bands by one common factor (the compressor is
    stereo-linked, the limiter and loudness are broadband) except width, which scales side: so a
    frame is carried as a few scalars and the band powers are summed once, at the end."""
    bypass = frozenset(bypass)
    g = 10.0 ** (p["gain.gain_db"] / 10.0) if "gain" not in bypass else 1.0
    h2 = (eq_power(p, frames, bypass) if eq_response is None else eq_response) * g
    w2 = p["width.width"] ** 2 if ("width" not in bypass and frames.channels == 2) else 1.0
    before = frames.mid.sum(-1) + frames.side.sum(-1)  # mean square per channel, [N, T]
    mid_e, side_e = anp.dot(frames.mid, h2), anp.dot(frames.side, h2)
    mid_k, side_k = anp.dot(frames.mid_k, h2), anp.dot(frames.side_k, h2)
    # the peak moves with the frame's energy through the EQ
    peak = frames.peak * anp.sqrt((mid_e + side_e + _EPS) / (before + _EPS))
    c = 1.0  # per-frame power factor of the stages after the EQ
    if "compressor" not in bypass:
        if p.get("compressor.rms_ms", 0.0) > 0.0:  # RMS: the frames' mean power, over its window
            pole = _frame_pole(p["compressor.rms_ms"], frames.hop_s) * np.ones(frames.peak.shape[0])
            level = _power_db(ballistics(mid_e + side_e, pole, pole, 0.0))[..., None]
        else:
            scale = peak / (frames.peak + _EPS)  # what the gain stage and the EQ did to the level
            level = 20.0 * anp.log10(frames.levels * scale[..., None] + _EPS)
        per_sample = compressor.gain_computer(
            level, p["compressor.threshold_db"], p["compressor.ratio"], p["compressor.knee_db"], xp=anp
        )
        static = _expectile(per_sample, p["compressor.attack_ms"], p["compressor.release_ms"])
        ones = np.ones(static.shape[0])
        att = _frame_pole(p["compressor.attack_ms"], frames.hop_s) * ones
        rel = _frame_pole(p["compressor.release_ms"], frames.hop_s) * ones
        gr = ballistics(static, att, rel, 0.0)
        c = 10.0 ** (gr / 10.0)
        peak = peak * 10.0 ** (gr / 20.0)
    # L/R peaks follow mid + side: width scales the peak as it scales the frame's energy
    energy = mid_e + w2 * side_e
    peak = peak * anp.sqrt((energy + _EPS) / (mid_e + side_e + _EPS))
    k_energy = frames.channels * (mid_k + w2 * side_k) * c  # BS.1770 sums the channels
    if "loudness" in bypass:
        gain_db = 0.0
    else:
        gain_db = anp.minimum(p["loudness.target_lufs"] - bs1770.gated_lufs(_blocks(k_energy, frames.hop_s), anp), 40.0)
    limit2 = 1.0
    if "limiter" not in bypass:
        ceiling = 10.0 ** (p["limiter.ceiling_dbtp"] / 20.0)
        rel = _frame_pole(p["limiter.release_ms"], frames.hop_s) * np.ones(peak.shape[0])
        true_peak = peak * frames.true_peak_ratio
        for _ in range(_LIMITER_SETTLE if "loudness" not in bypass else 1):
            q = anp.minimum(ceiling / (true_peak * 10.0 ** (gain_db / 20.0) + _EPS), 1.0)
            limit2 = ballistics(q, 0.0 * rel, rel, 1.0) ** 2
            if "loudness" in bypass:
                break
            out_lufs = bs1770.gated_lufs(_blocks(k_energy * 10.0 ** (gain_db / 10.0) * limit2, frames.hop_s), anp)
            gain_db = gain_db + (p["loudness.target_lufs"] - out_lufs)
    total = c * 10.0 ** (gain_db / 10.0) * limit2 * np.ones(frames.peak.shape)  # [N, T]
    weights = anp.reshape(total, (-1,))
    k_out = k_energy * 10.0 ** (gain_db / 10.0) * limit2
    flat = lambda t: np.reshape(t, (-1, t.shape[-1]))  # noqa: E731
    return Rendered(
        energy=energy * total,
        peak=peak * 10.0 ** (gain_db / 20.0) * anp.sqrt(limit2),
        k_energy=k_out,
        band_mid=anp.dot(h2 * anp.dot(weights, flat(frames.mid)), frames.band_of),
        band_side=anp.dot(w2 * h2 * anp.dot(weights, flat(frames.side)), frames.band_of),
        lufs=bs1770.gated_lufs(_blocks(k_out, frames.hop_s), anp),
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
        bs1770.gated_lufs(_blocks(k_energy, frames.hop_s), anp),
    )


def _smooth(db):
    """Three-band moving average in dB (~1/2 octave): tonal balance, not single harmonics."""
    padded = anp.concatenate([db[:1], db, db[-1:]])
    return (padded[:-2] + padded[1:-1] + padded[2:]) / 3.0


def measure(r: Rendered, frames: Frames) -> dict:
    """Tonal balance (dB per band, mean removed), width (side/mid dB in 4 bands), loudness
    spread (std of gated 400 ms block loudness, LU), block crest (dB) and integrated loudness."""
    tone = _smooth(_power_db(r.band_mid + r.band_side))
    tone = tone - anp.mean(tone)
    width = []
    if frames.channels == 2:
        centres = frames.centers_hz
        for lo, hi in zip(WIDTH_EDGES_HZ[:-1], WIDTH_EDGES_HZ[1:]):
            sel = (centres >= lo) & (centres < hi)
            width.append(_power_db(anp.sum(r.band_side[sel])) - _power_db(anp.sum(r.band_mid[sel])))
    blocks = _blocks(r.k_energy, frames.hop_s)
    # EBU 3342's relative gate, under the integrated loudness
    spread = bs1770.loudness_spread(blocks, bs1770.LRA_REL_GATE_LU, r.lufs, _EPS, anp)
    size = max(1, int(round(bs1770.MOMENTARY_S / frames.hop_s)))
    n, t = frames.peak.shape
    if t >= size:
        cut = (t // size) * size
        peak_b = anp.max(anp.reshape(r.peak[:, :cut], (n, -1, size)), axis=-1)
        rms_b = anp.mean(anp.reshape(r.energy[:, :cut], (n, -1, size)), axis=-1)
    else:
        peak_b, rms_b = anp.max(r.peak, axis=-1, keepdims=True), anp.mean(r.energy, axis=-1, keepdims=True)
    loud = getval(rms_b) > getval(rms_b).max() * 1e-4  # skip near-silent blocks (-40 dB under the loudest)
    crest = anp.mean((20.0 * anp.log10(peak_b + _EPS) - _power_db(rms_b))[loud])
    out = {"tone": tone, "spread": spread, "crest": crest, "lufs": r.lufs}
    out["width"] = anp.stack(width) if width else np.zeros(0)
    return out


def character_of(clips: np.ndarray, sample_rate: int, true_peak_ratio: float = 1.0) -> dict:
    """The character of audio excerpts [N, C, L] as they are (a reference, an exact render):
    numpy arrays (tone, width) and floats (spread, crest, lufs)."""
    frames = analyse(clips, sample_rate, true_peak_ratio, levels=False)
    return plain(measure(neutral(frames), frames))


def plain(char: dict) -> dict:
    """A character with its values as plain numpy arrays and floats (no autograd boxes)."""
    out = {}
    for key, value in char.items():
        value = getval(value)
        out[key] = np.asarray(value, dtype=np.float64) if key in ("tone", "width") else float(value)
    return out


TONE_RANGE_HZ = (30.0, 16000.0)


def tone_range(centres_hz: np.ndarray, sample_rate: int) -> np.ndarray:
    """Which band centres lie in the compared tone range (TONE_RANGE_HZ, below 0.45 x the rate)."""
    lo, hi = TONE_RANGE_HZ
    return (centres_hz >= lo) & (centres_hz <= min(hi, 0.45 * sample_rate))


def terms(a: dict, b: dict, frames: Frames, weights: dict | None = None) -> dict:
    """The weighted squared differences of two characters, per measurement (dB^2 / LU^2)."""
    w = {"tone": 1.0, "width": 0.2, "spread": 1.0, "crest": 0.3, **(weights or {})}
    sel = tone_range(frames.centers_hz, frames.sample_rate)
    d_tone = a["tone"][sel] - b["tone"][sel]
    out = {"tone": w["tone"] * anp.mean((d_tone - anp.mean(d_tone)) ** 2)}
    if len(a["width"]) and len(b["width"]):
        # the chain has one width control: match the image above 200 Hz (below it, masters are
        # near mono whatever the width, and that band would pull against the others)
        out["width"] = w["width"] * anp.mean(anp.clip(a["width"][1:] - b["width"][1:], -20, 20) ** 2)
    out["spread"] = w["spread"] * (a["spread"] - b["spread"]) ** 2
    out["crest"] = w["crest"] * (a["crest"] - b["crest"]) ** 2
    return out


def distance(a: dict, b: dict, frames: Frames, weights: dict | None = None):
    """Weighted squared distance between two characters (dB^2 / LU^2 scale)."""
    return sum(terms(a, b, frames, weights).values())
