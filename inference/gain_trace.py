"""An engineer's compressor, read from an aligned mix/master pair through its gain trace.

The chain's compressor multiplies the EQ'd mix by one broadband gain; width leaves the mid
alone, the loudness stage adds a constant and the limiter only dips at peaks. So frame by frame
the master's mid power over the mix's, every frequency bin first divided by its median ratio
(that takes out the EQ and the constants, whatever they are), is the compressor's gain in dB
plus the limiter's dips. That trace is fitted with the chain's own compressor (linked peak
detector, 6 dB soft knee, attack/release on the gain in dB), run at a decimated rate on the mix
through the estimated EQ, on the frames where the master sits clear of its ceiling: attack and
release on a grid, then all of threshold, ratio, attack, release and the offset together, by
robust least squares.

The search runs the detector on each block's peak (a quarter hop), which reads a few dB above
the chain's per-sample detector: thresholds came out 3-8 dB high on 12 corpus pairs. So the
threshold is then fitted once more with the per-sample detector, ratio and timing held: within
about 2 dB of the truth on the same pairs (1 s more per pair). Freeing the ratio there too
traded it against the threshold (ratios up to 20:1 for 4:1) at five times the cost. The style
takes threshold and ratio as starts that refinement sets per mix, and keeps the timing.

This is what the frame model of refinement (character.py) cannot do: its 11.6 ms hop and
loudness statistics tell how dense a master is, not how fast its compressor moves.
"""

from __future__ import annotations

import math

import numpy as np

from tonematch.models.chain import TABLE, kernels, ops
from tonematch.models.measure.spectrum import centred_frames

FRAME_S = 0.0116  # analysis frame (a power of two in samples: 512 at 44.1/48 kHz), hop a quarter
KNEE_DB = 6.0  # the table's default knee: the trace cannot tell knees apart, so it is held
WARMUP_S = 1.0  # per excerpt, frames before this are left out: the engineer's compressor was already moving
# Frames peaking this close to the master's highest peak count as limited (the first of these
# that leaves MIN_SHARE of the frames: a dense master peaks near its ceiling almost everywhere) ...
LIMITER_CLEAR_DB = (3.5, 3.0, 2.5, 2.0, 1.5, 1.0)
MIN_SHARE = 0.3
LIMITER_HOLD_S = 0.06  # ... and so do those this long after (the limiter's release)
MIN_FRAMES = 200  # fewer usable frames (~0.6 s): no reading
MIN_REDUCTION_DB = 0.5  # less average gain reduction than this: no compression to time
ATTACK_GRID_MS = (0.5, 2.0, 8.0, 30.0, 100.0)
RELEASE_GRID_MS = (25.0, 60.0, 150.0, 400.0, 1000.0)
ROBUST_DB = 0.5  # soft-L1 scale of the fit: the limiter's unmasked dips are outliers
DB_PER_LN = 20.0 / math.log(10.0)


def _geometry(sample_rate: int) -> tuple[int, int, int]:
    """(n_fft, hop, decimation): the search's detector runs every `decimation` samples, a quarter hop."""
    n_fft = 1 << int(round(math.log2(FRAME_S * sample_rate)))
    hop = n_fft // 4
    return n_fft, hop, hop // 4


class _Clip:
    """One excerpt: its measured trace, which frames count, and the mix through the estimated EQ
    as the compressor's detector sees it (linked peak) and as the trace weighs it (mid power),
    per sample."""

    def __init__(self, peak, power, trace, use):
        self.peak, self.power, self.trace, self.use = peak, power, trace, use


def _power_spectra(x: np.ndarray, n_fft: int, hop: int, window: np.ndarray) -> np.ndarray:
    return np.abs(np.fft.rfft(centred_frames(x, n_fft, hop) * window, axis=-1)) ** 2


def _clips(mix: np.ndarray, master: np.ndarray, sample_rate: int) -> list[_Clip]:
    """mix, master: [N, C, L] excerpts at the same places (the master aligned to the mix)."""
    n_fft, hop, dec = _geometry(sample_rate)
    window = np.hanning(n_fft + 1)[:-1]
    px = _power_spectra(mix.mean(axis=1, dtype=np.float64), n_fft, hop, window)  # [N, T, F]
    py = _power_spectra(master.mean(axis=1, dtype=np.float64), n_fft, hop, window)
    energy = px.sum(axis=-1)
    loud = energy > 1e-4 * energy.max()
    if not loud.any():
        return []
    # the EQ (with the loudness gain and the compressor's typical gain): each bin's median ratio
    eq = np.median(py[loud] / np.maximum(px[loud], 1e-30), axis=0)
    trace = 10.0 * np.log10(np.maximum(py.sum(-1), 1e-30) / np.maximum((px * eq).sum(-1), 1e-30))
    # the detector sees the mix through that EQ, at the mix's long-term level (the EQ's share of
    # the constant cannot be told from the loudness gain's, so the threshold is read against this)
    long_term = px[loud].sum(axis=0)
    eq = eq / (np.sum(eq * long_term) / np.sum(long_term))
    length = mix.shape[-1]
    eq_full = np.sqrt(
        np.interp(np.fft.rfftfreq(length, 1.0 / sample_rate), np.fft.rfftfreq(n_fft, 1.0 / sample_rate), eq)
    )
    # master peaks per frame, for the frames the limiter may have touched
    master_peak = np.abs(master).max(axis=1)
    frame_peak = centred_frames(master_peak, n_fft, hop).max(axis=-1)  # [N, T]
    ceiling = frame_peak.max()
    hold = np.ones(int(LIMITER_HOLD_S * sample_rate / hop) + 1)
    warm = np.arange(trace.shape[1]) * hop >= WARMUP_S * sample_rate
    for clear_db in LIMITER_CLEAR_DB:
        hot = (frame_peak > ceiling * 10.0 ** (-clear_db / 20.0)).astype(float)
        hot = np.apply_along_axis(lambda h: np.convolve(h, hold, "full")[: h.size] > 0, -1, hot)
        if (loud & ~hot & warm).sum() >= MIN_SHARE * (loud & warm).sum():
            break
    out = []
    blocks = length // dec
    for i in range(mix.shape[0]):
        eqd = np.fft.irfft(np.fft.rfft(mix[i], axis=-1) * eq_full, n=length, axis=-1)[:, : blocks * dec]
        peak = np.abs(eqd).max(axis=0).astype(np.float32)
        power = np.square(eqd.mean(axis=0)).astype(np.float32)
        out.append(_Clip(peak, power, trace[i], loud[i] & ~hot[i] & warm))
    return out


class _Fit:
    """The compressor's trace on every clip, aggregated to the analysis frames as measured. The
    detector runs every `step` samples on the block's peak (step = the decimation: fast, for the
    search) or on every sample (step 1: the chain's own detector, for the threshold)."""

    def __init__(self, clips: list[_Clip], sample_rate: int, step: int):
        n_fft, hop, dec = _geometry(sample_rate)
        self.clips, self.rate, self.gather = clips, sample_rate / step, dec // step
        self.levels = [np.log(c.peak.reshape(-1, step).max(axis=1) + np.float32(1e-10)) for c in clips]
        self.powers = [c.power.reshape(-1, step).sum(axis=1, dtype=np.float64) for c in clips]
        window = np.hanning(n_fft + 1)[:-1] ** 2
        self.taps = window.reshape(n_fft // dec, dec).sum(axis=1)[::-1]
        self.pad, self.hop = n_fft // (2 * dec), hop // dec
        self.denominators = [self._frames(p, c.trace.size) for p, c in zip(self.powers, clips)]
        self.measured = np.concatenate([c.trace[c.use] for c in clips])
        self.count = self.measured.size

    def _frames(self, q: np.ndarray, frames: int) -> np.ndarray:
        """Detector-rate power -> the analysis frames' windowed sums."""
        q = q.reshape(-1, self.gather).sum(axis=1)
        out = np.convolve(np.pad(q, self.pad), self.taps, "valid")[:: self.hop][:frames]
        return np.pad(out, (0, frames - out.size), constant_values=1e-30)

    def gains_ln(self, threshold_db, ratio, attack_ms, release_ms) -> list[np.ndarray]:
        """The compressor's gain (natural log) on each clip at the detector rate."""
        att = ops.time_constant_to_pole(attack_ms, self.rate)
        rel = ops.time_constant_to_pole(release_ms, self.rate)
        out = []
        for level in self.levels:
            g = np.empty_like(level)
            kernels.compress_gain(level, threshold_db, ratio, KNEE_DB, 0.0, att, rel, np.zeros(1), g)
            out.append(g)
        return out

    def traces(self, threshold_db, ratio, attack_ms, release_ms, offset_db) -> np.ndarray:
        """The fitted frames' trace (dB) of one compressor, plus an offset."""
        parts = []
        gains = self.gains_ln(threshold_db, ratio, attack_ms, release_ms)
        for clip, g, power, den in zip(self.clips, gains, self.powers, self.denominators):
            num = self._frames(power * np.exp(2.0 * g), clip.trace.size)
            parts.append((10.0 * np.log10(np.maximum(num, 1e-30) / np.maximum(den, 1e-30)))[clip.use])
        return np.concatenate(parts) + offset_db

    def reduction_db(self, threshold_db, ratio, attack_ms, release_ms) -> float:
        """The compressor's power-weighted mean gain reduction over the clips."""
        gains = self.gains_ln(threshold_db, ratio, attack_ms, release_ms)
        num = sum(float(np.sum(p * g)) for p, g in zip(self.powers, gains))
        den = sum(float(np.sum(p)) for p in self.powers)
        return -DB_PER_LN * num / max(den, 1e-30)


def read_compressor(mix: np.ndarray, master: np.ndarray, sample_rate: int) -> dict | None:
    """The compressor that explains the master's gain trace against the mix, in the table's units
    (threshold_db, ratio, attack_ms, release_ms, knee_db) plus what the reading rests on
    (reduction_db, frames, error_db); None when there is too little unlimited audio to read, and
    no timing when the engineer hardly compresses. mix, master: aligned excerpts [N, C, L]."""
    from scipy.optimize import least_squares

    clips = _clips(np.asarray(mix, np.float64), np.asarray(master, np.float64), sample_rate)
    fit = _Fit(clips, sample_rate, _geometry(sample_rate)[2]) if clips else None
    if fit is None or fit.count < MIN_FRAMES:
        return None
    levels = np.concatenate(fit.levels) * DB_PER_LN
    bounds = {
        name: TABLE.by_key[f"compressor.{name}"].spec.bounds(sample_rate)
        for name in ("threshold_db", "ratio", "attack_ms", "release_ms")
    }

    def residual(p, attack_ms=None, release_ms=None):
        if attack_ms is None:
            threshold, log_ratio, offset, log_attack, log_release = p
            attack_ms, release_ms = math.exp(log_attack), math.exp(log_release)
        else:
            threshold, log_ratio, offset = p
        return fit.traces(threshold, math.exp(log_ratio), attack_ms, release_ms, offset) - fit.measured

    low = [bounds["threshold_db"][0], 0.0, -60.0]
    high = [bounds["threshold_db"][1], math.log(bounds["ratio"][1]), 60.0]
    start = [float(np.percentile(levels, 80)), math.log(3.0), float(np.median(fit.measured))]
    best = None
    for attack_ms in ATTACK_GRID_MS:
        for release_ms in RELEASE_GRID_MS:
            r = least_squares(
                residual, start, args=(attack_ms, release_ms), bounds=(low, high), loss="soft_l1", f_scale=ROBUST_DB
            )
            if best is None or r.cost < best[0]:
                best = (r.cost, r.x, attack_ms, release_ms)
    _, x, attack_ms, release_ms = best
    log_low = [math.log(bounds["attack_ms"][0]), math.log(bounds["release_ms"][0])]
    log_high = [math.log(bounds["attack_ms"][1]), math.log(bounds["release_ms"][1])]
    r = least_squares(
        residual,
        list(x) + [math.log(attack_ms), math.log(release_ms)],
        bounds=(low + log_low, high + log_high),
        loss="soft_l1",
        f_scale=ROBUST_DB,
    )
    threshold, log_ratio, offset, log_attack, log_release = r.x
    ratio, attack_ms, release_ms = math.exp(log_ratio), math.exp(log_attack), math.exp(log_release)
    # the held block peak reads high: the threshold again on the chain's per-sample detector,
    # the rest as found (freeing the ratio there trades it against the threshold: see above)
    exact = _Fit(clips, sample_rate, 1)
    r = least_squares(
        lambda p: exact.traces(p[0], ratio, attack_ms, release_ms, p[1]) - exact.measured,
        [threshold, offset],
        bounds=([low[0], low[2]], [high[0], high[2]]),
        loss="soft_l1",
        f_scale=ROBUST_DB,
    )
    found = {
        "threshold_db": float(r.x[0]),
        "ratio": float(ratio),
        "attack_ms": float(attack_ms),
        "release_ms": float(release_ms),
        "knee_db": KNEE_DB,
    }
    found["reduction_db"] = exact.reduction_db(found["threshold_db"], ratio, attack_ms, release_ms)
    found["frames"] = int(exact.count)
    found["error_db"] = float(np.sqrt(np.mean(np.square(r.fun))))
    if found["reduction_db"] < MIN_REDUCTION_DB:  # too little compression for its timing to show
        del found["attack_ms"], found["release_ms"]
    return found
