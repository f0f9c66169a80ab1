"""An engineer's compressor, read from an aligned mix/master pair through its gain trace.

The chain's compressor multiplies the EQ'd mix by one broadband gain; width leaves the mid
alone, the loudness stage adds a constant and the limiter only dips at peaks. So frame by frame
the master's mid power over the EQ'd mix's is the compressor's gain in dB plus the limiter's
dips: the gain trace. Everything here is float64.

The EQ (with the constants) is the filter mix -> master that identify reads too
(transfer.estimate: an H1 estimate from the mids' cross-spectra on 93 ms frames, the master
first divided by the gain trace the previous estimate gives, three estimates): the compressor's
gain follows the music, so a first estimate takes some of it for EQ (a per-bin median ratio
left 0.5 dB of error in the trace where the engineer's chain left none). The mix through that
filter, at the mix's own level, is what the compressor's detector sees (linked peak, the side
through the same filter); the master's side over its mid gives the width, and the EQ'd mix at
that width, 4x oversampled, is what the limiter sees.

The trace is fitted on every loud frame after the first second, by robust least squares with
analytic Jacobians, with the chain's compressor (6 dB soft knee, attack/release on the gain in
dB) followed by a lookahead peak limiter at the master's highest peak: threshold, ratio,
attack, release, an offset, the limiter's input level and its release. A master at -10 LUFS is
limited in most of its frames, and the limiter's dips after each transient are what made a
slow compressor read fast when limited frames were guessed away by their peaks: here they are
modelled. The search runs the detectors on each block's peak (a quarter hop): three fits from a
fast, a medium and a slow start, then a profile along each timing axis (the cost with that
timing held at each point of a log grid over the table's range, everything else refitted). The
profile decides whether the timing is readable: every timing READ_FACTOR or further from the
reading must cost READ_MARGIN more, else the timing is "not readable" (steady music, where a
slow compressor is a constant gain) and none is given. The reading is then refined with the
chain's own per-sample detector (block peaks read ratios low). The reading is a continuous
optimum, not a grid point: BLAS kernels and input noise of 1e-7 move it by well under 1 %.

This is what the frame model of refinement (character.py) cannot do: its 11.6 ms hop and
loudness statistics tell how dense a master is, not how fast its compressor moves.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from tonematch.models.chain import TABLE
from tonematch.models.measure.spectrum import hann

from .transfer import Estimate, estimate, mids

FRAME_S = 0.0116  # analysis frame (a power of two in samples: 512 at 44.1/48 kHz), hop a quarter
KNEE_DB = 6.0  # the table's default knee: the trace cannot tell knees apart, so it is held
WARMUP_S = 1.0  # per excerpt, frames before this are left out: the engineer's compressor was already moving
LOOKAHEAD_MS = 2.0  # the limiter model's lookahead (the table's default)
MIN_FRAMES = 200  # fewer usable frames (~0.6 s): no reading
MIN_REDUCTION_DB = 0.5  # less average gain reduction than this: no compression to time
ROBUST_DB = 0.5  # soft-L1 scale of the fit: what the models leave (a limiter's true-peak detail) are outliers
STARTS_MS = ((2.0, 50.0), (15.0, 250.0), (60.0, 1000.0))  # (attack, release) the search starts from
PROFILE_STEPS = 15  # the profile's grid: this many steps per axis, log spaced over the table's range
READ_FACTOR = 4.0  # a timing is read when every timing this far off or further costs ...
READ_MARGIN = 0.05  # ... at least this much more (relative)
MAX_EVALUATIONS = 200  # per least-squares fit
TOLERANCE = 1e-6  # the fits' ftol, xtol and gtol (a reading to 1e-6 of its log)
# the profile's fits only compare costs against READ_MARGIN: 1e-4 leaves them within 0.2 % of
# the 1e-6 fits' and takes a fifth off a pair's reading (docs/decisions.md)
PROFILE_TOLERANCE = 1e-4
DB_PER_LN = 20.0 / math.log(10.0)
# parameters: threshold dB, ln ratio, offset dB, ln attack ms, ln release ms, limiter level dB, ln limiter release ms
THRESHOLD, LOG_RATIO, OFFSET, LOG_ATTACK, LOG_RELEASE, LIMITER_LEVEL, LOG_LIMITER_RELEASE = range(7)


def _geometry(sample_rate: int) -> tuple[int, int, int]:
    """(n_fft, hop, decimation): the search's detector runs every `decimation` samples, a quarter hop."""
    n_fft = 1 << int(round(math.log2(FRAME_S * sample_rate)))
    hop = n_fft // 4
    return n_fft, hop, hop // 4


def _bounds(sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The parameters' bounds (low, high): the table's, in the fit's units; offsets within 60 dB."""

    def table(key):
        return TABLE.by_key[key].spec.bounds(sample_rate)

    threshold, ratio = table("compressor.threshold_db"), table("compressor.ratio")
    attack, release, limiter = (
        table("compressor.attack_ms"),
        table("compressor.release_ms"),
        table("limiter.release_ms"),
    )
    low = [threshold[0], 0.0, -60.0, math.log(attack[0]), math.log(release[0]), -60.0, math.log(limiter[0])]
    high = [
        threshold[1],
        math.log(ratio[1]),
        60.0,
        math.log(attack[1]),
        math.log(release[1]),
        60.0,
        math.log(limiter[1]),
    ]
    return np.array(low), np.array(high)


class _Framer:
    """Power at the detector's rate (every `step` samples) -> the analysis frames' sums under the
    squared Hann window (the frames' power, as their spectra would measure it), over the last axis."""

    def __init__(self, sample_rate: int, step: int, frames: int):
        n_fft, hop, dec = _geometry(sample_rate)
        self.gather, self.frames = dec // step, frames
        self.taps = (hann(n_fft) ** 2).reshape(n_fft // dec, dec).sum(axis=1)
        self.pad, self.hop = n_fft // (2 * dec), hop // dec

    def __call__(self, q: np.ndarray) -> np.ndarray:
        q = q.reshape(*q.shape[:-1], -1, self.gather).sum(axis=-1)
        q = np.pad(q, [(0, 0)] * (q.ndim - 1) + [(self.pad, self.pad)])
        n = q.shape[-1] - self.taps.size + 1
        out = np.zeros(q.shape[:-1] + (n,))
        for k, tap in enumerate(self.taps):
            out += tap * q[..., k : k + n]
        out = out[..., :: self.hop][..., : self.frames]
        missing = self.frames - out.shape[-1]
        return np.pad(out, [(0, 0)] * (out.ndim - 1) + [(0, missing)]) if missing > 0 else out

    def matrix(self, length: int, rows: np.ndarray):
        """The same as a sparse matrix [len(rows), length] (length: samples at the detector's
        rate), for the frames `rows` only: q @ matrix.T == self(q)[..., rows]."""
        from scipy.sparse import csr_matrix

        blocks = length // self.gather
        taps = self.taps.size
        starts = rows * self.hop - self.pad  # the first block under each frame
        block = starts[:, None] + np.arange(taps)[None, :]
        weight = np.broadcast_to(self.taps, block.shape)
        keep = (block >= 0) & (block < blocks)
        r = np.broadcast_to(np.arange(rows.size)[:, None], block.shape)[keep]
        cols = block[keep][:, None] * self.gather + np.arange(self.gather)[None, :]
        return csr_matrix(
            (np.repeat(weight[keep], self.gather), (np.repeat(r, self.gather), cols.ravel())),
            shape=(rows.size, length),
        )


def _trace_db(master_power: np.ndarray, mix_power: np.ndarray, framer: _Framer) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(framer(master_power), 1e-30) / np.maximum(framer(mix_power), 1e-30))


class _Clip:
    """One excerpt, per sample: what the compressor's detector sees (linked peak of the EQ'd mix),
    what the limiter sees (true peak of the EQ'd mix at the master's width) and the EQ'd mid's
    power; per frame: the measured trace (dB) and which frames are fitted."""

    def __init__(self, detector, limiter, power, trace, use):
        self.detector, self.limiter, self.power, self.trace, self.use = detector, limiter, power, trace, use


def _clips(mix: np.ndarray, master: np.ndarray, sample_rate: int, eq: Estimate | None) -> tuple[list[_Clip], float]:
    """mix, master: [N, C, L] float64 excerpts at the same places (the master aligned to the mix);
    eq: the EQ estimate of their mids (None: made here). Returns the clips and the master's
    highest true peak (dB), or ([], 0.0) for silence."""
    from scipy.signal import fftconvolve, resample_poly

    n_fft, hop, dec = _geometry(sample_rate)
    length = mix.shape[-1] // dec * dec
    whole = mix, master
    mix, master = mix[..., :length], master[..., :length]
    xm, ym = mix.mean(axis=1), master.mean(axis=1)
    frames = 1 + length // hop
    framer = _Framer(sample_rate, 1, frames)
    energy = framer(xm**2)
    loud = energy > 1e-4 * energy.max()
    if not loud.any():
        return [], 0.0
    # the EQ as identify reads it (transfer.py), on the whole excerpts; the trace's blocks end at `length`
    eq = eq if eq is not None else estimate(mids(whole[0]), mids(whole[1]), sample_rate)
    h, gain = eq.h, eq.gain[:, :length]

    def through(x):
        return fftconvolve(x, h[None], axes=-1)[:, h.size // 2 : h.size // 2 + length]

    xe = through(xm)
    scale = math.sqrt(np.sum(xm**2) / max(np.sum(xe**2), 1e-30))  # at the mix's long-term level
    xe *= scale
    if mix.shape[1] == 2:
        xs = through(0.5 * (mix[:, 0] - mix[:, 1])) * scale
        ys = 0.5 * (master[:, 0] - master[:, 1]) / gain
        mid_ratio = np.sum((ym / gain) ** 2) / max(np.sum(xe**2), 1e-30)
        width = math.sqrt(np.sum(ys**2) / max(np.sum(xs**2), 1e-30) / max(mid_ratio, 1e-30))
        width = width if np.sum(xs**2) > 1e-6 * np.sum(xe**2) else 1.0
        pre, post = np.stack([xe + xs, xe - xs], axis=1), np.stack([xe + width * xs, xe - width * xs], axis=1)
    else:
        pre = post = xe[:, None]
    trace = _trace_db(ym**2, xe**2, framer)
    warm = np.arange(frames) * hop >= WARMUP_S * sample_rate
    out, ceiling = [], 1e-10
    for i in range(mix.shape[0]):
        true_peak = np.abs(resample_poly(post[i], 4, 1, axis=-1)).max(axis=0).reshape(-1, 4).max(axis=1)
        ceiling = max(ceiling, float(np.abs(master[i]).max()))  # sample peak: the limiter's level absorbs the rest
        out.append(_Clip(np.abs(pre[i]).max(axis=0), true_peak, xe[i] ** 2, trace[i], loud[i] & warm))
    return out, DB_PER_LN * math.log(ceiling)


@njit(cache=True)
def _chain_gain(
    detector_db, limiter_db, power, gather, threshold, slope, knee, att, rel, level, ceiling_db, lim_rel, ahead, out
):
    """The compressor's gain (from its detector's level, dB) followed by the limiter's (on the
    limiter's view of the signal raised by that gain and `level`, against `ceiling_db`), in dB,
    applied to `power` and summed over blocks of `gather` samples, with its derivatives in
    (threshold, slope, attack pole, release pole, level, limiter release pole): out [8, blocks],
    row 0 the gained power, rows 1-6 its derivatives divided by ln(10) / 10 (so, per dB of gain),
    row 7 the power times the compressor's gain alone (dB). The compressor is the chain's
    (kernels.compress_gain); the limiter takes the least required gain over [n - 1, n + ahead + 1]
    with an instant attack and a one-pole release (the chain's, in dB rather than linear gain)."""
    n = detector_db.shape[0]
    half = 0.5 * knee
    prev = 0.0
    d_thr = 0.0
    d_slope = 0.0
    d_att = 0.0
    d_rel = 0.0
    comp = np.empty(n)
    d_comp = np.empty((4, n))
    need = np.empty(n)  # the limiter's required gain (dB, <= 0)
    for i in range(n):
        over = detector_db[i] - threshold
        if over <= -half:
            static, s_thr, s_slope = 0.0, 0.0, 0.0
        elif over >= half:
            static, s_thr, s_slope = slope * over, -slope, over
        else:
            u = over + half
            static, s_thr, s_slope = slope * u * u / (2.0 * knee), -slope * u / knee, u * u / (2.0 * knee)
        change = prev - static
        if static < prev:
            a = att
            d_att = a * d_att + change
            d_rel = a * d_rel
        else:
            a = rel
            d_att = a * d_att
            d_rel = a * d_rel + change
        d_thr = a * d_thr + (1.0 - a) * s_thr
        d_slope = a * d_slope + (1.0 - a) * s_slope
        prev = a * prev + (1.0 - a) * static
        comp[i] = prev
        d_comp[0, i] = d_thr
        d_comp[1, i] = d_slope
        d_comp[2, i] = d_att
        d_comp[3, i] = d_rel
        need[i] = min(ceiling_db - (limiter_db[i] + prev + level), 0.0)
    out[:] = 0.0
    to_power = np.log(10.0) / 10.0
    # the limiter: sliding minimum of `need` over [i - 1, i + ahead + 1] (a monotonic deque)
    queue = np.empty(n, dtype=np.int64)
    head, tail, filled = 0, 0, 0
    r = 0.0
    d_r = np.zeros(6)
    for i in range(n):
        while filled < n and filled <= i + ahead + 1:
            while tail > head and need[queue[tail - 1]] >= need[filled]:
                tail -= 1
            queue[tail] = filled
            tail += 1
            filled += 1
        while queue[head] < i - 1:
            head += 1
        j = queue[head]
        h = need[j]
        active = 1.0 if h < 0.0 else 0.0  # d need / d (gain, level) = -1 where the limiter must act
        if h < r:
            r = h
            for k in range(4):
                d_r[k] = -active * d_comp[k, j]
            d_r[4] = -active
            d_r[5] = 0.0
        else:
            change = r - h
            r = lim_rel * r + (1.0 - lim_rel) * h
            for k in range(4):
                d_r[k] = lim_rel * d_r[k] - (1.0 - lim_rel) * active * d_comp[k, j]
            d_r[4] = lim_rel * d_r[4] - (1.0 - lim_rel) * active
            d_r[5] = lim_rel * d_r[5] + change
        w = power[i] * np.exp(to_power * (comp[i] + r))
        b = i // gather
        out[0, b] += w
        for k in range(4):
            out[1 + k, b] += w * (d_comp[k, i] + d_r[k])
        out[5, b] += w * d_r[4]
        out[6, b] += w * d_r[5]
        out[7, b] += power[i] * comp[i]


def _pole(log_ms: float, rate: float) -> tuple[float, float]:
    """(one-pole coefficient for a time constant of exp(log_ms) ms, its derivative in log_ms)."""
    a = math.exp(-1000.0 / (math.exp(log_ms) * rate))
    return a, (-a * math.log(a) if a > 0.0 else 0.0)


class _Fit:
    """The modelled trace on every clip, aggregated to the fitted analysis frames as measured. The
    detectors run every `step` samples on the block's peak (step = the decimation: the search) or
    on every sample (step 1: the chain's own detector)."""

    def __init__(self, clips: list[_Clip], ceiling_db: float, sample_rate: int, step: int):
        self.clips, self.rate, self.ceiling_db = clips, sample_rate / step, ceiling_db
        dec = _geometry(sample_rate)[2]
        self.gather = dec // step  # detector samples per block of the frames' sums
        framer = _Framer(sample_rate, dec, clips[0].trace.size)

        def blocks(x, reduce):
            return reduce(x[: x.size // dec * dec].reshape(-1, step), axis=1)

        self.levels = [DB_PER_LN * np.log(blocks(c.detector, np.max) + 1e-10) for c in clips]
        self.limits = [DB_PER_LN * np.log(blocks(c.limiter, np.max) + 1e-10) for c in clips]
        self.powers = [blocks(c.power, np.sum) for c in clips]
        self.frames = [framer.matrix(p.size // self.gather, np.flatnonzero(c.use)) for p, c in zip(self.powers, clips)]
        block_power = [p.reshape(-1, self.gather).sum(axis=1) for p in self.powers]
        self.denominators = [np.maximum(m @ p, 1e-30) for m, p in zip(self.frames, block_power)]
        self.ahead = max(1, int(round(LOOKAHEAD_MS * 1e-3 * self.rate)))
        self.measured = np.concatenate([c.trace[c.use] for c in clips])
        self.count = self.measured.size
        self._memo = None

    def _forward(self, theta):
        """(theta, per clip: the fitted frames' modelled power [frames] and its derivatives
        [frames, 6], per dB of gain), kept for the Jacobian at the same theta."""
        theta = np.array(theta, dtype=np.float64)
        if self._memo is None or not np.array_equal(self._memo[0], theta):
            sums = self._sums(theta)
            power = [np.maximum(m @ s[0], 1e-30) for m, s in zip(self.frames, sums)]
            derivatives = [m @ s[1:7].T for m, s in zip(self.frames, sums)]
            self._memo = (theta, power, derivatives)
        return self._memo

    def _sums(self, theta) -> list[np.ndarray]:
        att, rel, lim = (_pole(theta[k], self.rate)[0] for k in (LOG_ATTACK, LOG_RELEASE, LOG_LIMITER_RELEASE))
        slope = math.exp(-theta[LOG_RATIO]) - 1.0
        out = []
        for level, limit, power in zip(self.levels, self.limits, self.powers):
            sums = np.empty((8, level.size // self.gather))
            _chain_gain(
                level, limit, power, self.gather, theta[THRESHOLD], slope, KNEE_DB, att, rel,
                theta[LIMITER_LEVEL], self.ceiling_db, lim, self.ahead, sums,
            )  # fmt: skip
            out.append(sums)
        return out

    def residual(self, theta) -> np.ndarray:
        theta, power, _ = self._forward(theta)
        model = np.concatenate([10.0 * np.log10(p / d) for p, d in zip(power, self.denominators)])
        return model + theta[OFFSET] - self.measured

    def jacobian(self, theta) -> np.ndarray:
        theta, power, derivatives = self._forward(theta)
        chain = -math.exp(-theta[LOG_RATIO])  # d slope / d ln ratio
        poles = [_pole(theta[k], self.rate)[1] for k in (LOG_ATTACK, LOG_RELEASE, LOG_LIMITER_RELEASE)]
        parts = []
        for p, dp in zip(power, derivatives):
            d = dp / p[:, None]  # d trace (dB) / d each of the six, per fitted frame
            j = np.empty((d.shape[0], 7))
            j[:, THRESHOLD], j[:, LOG_RATIO], j[:, OFFSET] = d[:, 0], d[:, 1] * chain, 1.0
            j[:, LOG_ATTACK], j[:, LOG_RELEASE] = d[:, 2] * poles[0], d[:, 3] * poles[1]
            j[:, LIMITER_LEVEL], j[:, LOG_LIMITER_RELEASE] = d[:, 4], d[:, 5] * poles[2]
            parts.append(j)
        return np.concatenate(parts)

    def solve(self, theta, free, low, high, tolerance: float = TOLERANCE):
        """Robust least squares over the `free` parameters from theta: (cost, theta)."""
        from scipy.optimize import least_squares

        theta = np.array(theta, dtype=np.float64)
        free = np.asarray(list(free))
        start = np.clip(theta[free], low[free], high[free])

        def full(p):
            x = theta.copy()
            x[free] = p
            return x

        with _one_thread():
            r = least_squares(
                lambda p: self.residual(full(p)),
                start,
                jac=lambda p: self.jacobian(full(p))[:, free],
                bounds=(low[free], high[free]),
                loss="soft_l1",
                f_scale=ROBUST_DB,
                ftol=tolerance,
                xtol=tolerance,
                gtol=tolerance,
                max_nfev=MAX_EVALUATIONS,
            )
        return float(r.cost), full(r.x)

    def reduction_db(self, theta) -> float:
        """The compressor's power-weighted mean gain reduction over the clips (the limiter left out)."""
        sums = self._sums(theta)
        weighted = sum(float(s[7].sum()) for s in sums) / max(sum(float(p.sum()) for p in self.powers), 1e-30)
        return max(0.0, -weighted)


def _one_thread():
    """BLAS on one thread for the fits' small products (3000 x 7): on a busy machine a thread pool
    makes each far slower, and the result does not depend on it."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a core dependency (pyproject); a bare source tree may lack it
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _profile(fit: _Fit, theta, axis: int, grid: np.ndarray, low, high):
    """The cost with parameter `axis` held at each grid value (log ms) and the other six refitted,
    walking out from the value nearest theta's, each fit starting from its neighbour's."""
    free = [k for k in range(7) if k != axis]
    costs, thetas = np.empty(grid.size), [None] * grid.size
    centre = int(np.argmin(np.abs(grid - theta[axis])))
    for order in (range(centre, grid.size), range(centre - 1, -1, -1)):
        start = np.array(theta)
        for i in order:
            start[axis] = grid[i]
            costs[i], thetas[i] = fit.solve(start, free, low, high, PROFILE_TOLERANCE)
            start = thetas[i]
    return costs, thetas


def _rise(grid: np.ndarray, costs: np.ndarray, best: float, best_cost: float) -> float:
    """The least relative rise in cost over the best, READ_FACTOR or further from the best (log grid)."""
    far = np.abs(grid - best) >= math.log(READ_FACTOR) - 1e-9
    return float(np.min(costs[far]) / max(best_cost, 1e-30) - 1.0) if far.any() else math.inf


def read_compressor(
    mix: np.ndarray, master: np.ndarray, sample_rate: int, profile: bool = False, eq: Estimate | None = None
) -> dict | None:
    """The compressor that explains the master's gain trace against the mix, in the table's units
    (threshold_db, ratio, attack_ms, release_ms, knee_db) plus what the reading rests on
    (reduction_db, frames, error_db, the limiter's release_ms as limiter_release_ms, and
    "timing": "read", "not readable" (the cost hardly changes with it) or "no compression" (less
    than MIN_REDUCTION_DB to time); attack and release only when "read"). None when there is too
    little music to read. `profile`: also the search's profiles ({"attack_ms", "attack_cost",
    "release_ms", "release_cost", "cost"}: the best cost, the grids and the profile's cost at
    each). mix, master: aligned excerpts [N, C, L]; `eq`: transfer.estimate of their mids, when
    the caller has it (identify reads the same)."""
    mix, master = np.asarray(mix, np.float64), np.asarray(master, np.float64)
    clips, ceiling_db = _clips(mix, master, sample_rate, eq)
    search = _Fit(clips, ceiling_db, sample_rate, _geometry(sample_rate)[2]) if clips else None
    if search is None or search.count < MIN_FRAMES:
        return None
    low, high = _bounds(sample_rate)
    levels = np.concatenate(search.levels)
    offset = float(np.median(search.measured))
    # the limiter's input level starts where the limiter would be with the mix's true peaks as is
    start = np.array([np.percentile(levels, 80), math.log(3.0), offset, 0.0, 0.0, offset, math.log(60.0)])
    best = None
    for attack_ms, release_ms in STARTS_MS:
        start[LOG_ATTACK], start[LOG_RELEASE] = math.log(attack_ms), math.log(release_ms)
        found = search.solve(start, range(7), low, high)
        if best is None or found[0] < best[0]:
            best = found
    grids = {axis: np.linspace(low[axis], high[axis], PROFILE_STEPS + 1) for axis in (LOG_ATTACK, LOG_RELEASE)}
    profiles = None
    if search.reduction_db(best[1]) >= MIN_REDUCTION_DB:  # else there is no compression to time
        for attempt in range(2):
            profiles = {axis: _profile(search, best[1], axis, grid, low, high) for axis, grid in grids.items()}
            lowest = min((min(zip(c, t), key=lambda ct: ct[0]) for c, t in profiles.values()), key=lambda ct: ct[0])
            if attempt == 1 or lowest[0] >= best[0] * (1.0 - 1e-6):
                break
            best = search.solve(lowest[1], range(7), low, high)  # the profile found a lower valley: from there
    # the chain's own per-sample detector, from the search's reading
    exact = _Fit(clips, ceiling_db, sample_rate, 1)
    _, theta = exact.solve(best[1], range(7), low, high)
    found = {
        "threshold_db": float(theta[THRESHOLD]),
        "ratio": float(math.exp(theta[LOG_RATIO])),
        "attack_ms": float(math.exp(theta[LOG_ATTACK])),
        "release_ms": float(math.exp(theta[LOG_RELEASE])),
        "knee_db": KNEE_DB,
        "limiter_release_ms": float(math.exp(theta[LOG_LIMITER_RELEASE])),
        "reduction_db": exact.reduction_db(theta),
        "frames": int(exact.count),
        "error_db": float(np.sqrt(np.mean(np.square(exact.residual(theta))))),
    }
    if profiles is None or found["reduction_db"] < MIN_REDUCTION_DB:
        found["timing"] = "no compression"
    elif all(_rise(grids[a], profiles[a][0], best[1][a], best[0]) >= READ_MARGIN for a in (LOG_ATTACK, LOG_RELEASE)):
        found["timing"] = "read"
    else:
        found["timing"] = "not readable"
    if found["timing"] != "read":
        del found["attack_ms"], found["release_ms"]
    if profile and profiles is not None:
        found["profile"] = {
            "cost": float(best[0]),
            "attack_ms": np.exp(grids[LOG_ATTACK]),
            "attack_cost": profiles[LOG_ATTACK][0],
            "release_ms": np.exp(grids[LOG_RELEASE]),
            "release_cost": profiles[LOG_RELEASE][0],
        }
    return found
