"""Loudness after the limiter, predicted without rendering audio.

From what the pre-limiter pass already measured, per output sample n:
  e[n]   K-weighted power summed over channels (with the BS.1770 channel weights),
  env[n] the detection envelope at unity gain (detect.py; it scales with any gain),
the limiter at input gain g outputs g x[n] G_g[n], so its gating-block energies are close to
  z_j(g) = g^2 sum over block j of e[n] G_g[n]^2
(exact but for the K-filter's short memory across changes of G, a few hundredths of a LU at
most in heavy limiting). G_g is `gain.py`'s gain computer run on env alone, no audio multiply:
one sweep per evaluation. `solve_gain_db` finds the g whose predicted loudness is the target,
so one limiter pass lands on it; both renderers use it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tonematch.data.concurrency import Lane

from .. import loudness
from .gain import GUARD

MAX_PASSES = 3  # limiter passes at most: one normally, another when the prediction missed
WARM_TIME_CONSTANTS = 25  # a split sweep's warm-up: the release state's error falls to e^-25
SPLIT_MIN_SAMPLES = 1 << 20  # shorter files are swept in one piece (a thread costs more)


@njit(cache=True, nogil=True)
def limited_energy(env, offset, e, gain, ceiling, rel, la, guard, marks, out, n_from, n_to, warm):
    """out[k] = sum of e[n] (gain G[n])^2 over n_from <= n < min(marks[k], n_to) (marks sorted).
    env[i] is the envelope at output sample i - offset (q = 1 outside env). The recursion
    starts `warm` samples before n_from with no gain reduction in its state: the window's
    minimum is complete after la + 2 guard samples and the release state's error shrinks by
    `rel` a sample, so a warm-up of a few release time constants makes a segment's result that
    of one sweep from the start (to within rel ** warm)."""
    size = 1
    while size < la + 2 * guard + 2:
        size *= 2
    mask = size - 1
    dq_i = np.zeros(size, dtype=np.int64)
    dq_v = np.ones(size)
    ring = np.ones(la + 1)
    head = 0
    tail = 0
    slot = 0
    r_prev = 1.0
    r_sum = float(la + 1)
    inv = 1.0 / (la + 1)
    ahead = la + guard
    t = e.shape[0]
    total_env = env.shape[0]
    g2 = gain * gain
    acc = 0.0
    m = 0
    while m < marks.shape[0] and marks[m] <= n_from:
        out[m] = 0.0
        m += 1
    # timeline position k (envelope index); G is needed for k = offset + n_from .. offset + n_to - 1
    start = max(-ahead, offset + n_from - warm - ahead)
    for k in range(start, offset + min(t, n_to)):
        kq = k + ahead  # the newest q entering the window
        q = 1.0
        if 0 <= kq < total_env:
            p = env[kq] * gain
            if p > 1e-12:
                q = min(1.0, ceiling / p)
        while tail > head and dq_v[(tail - 1) & mask] >= q:
            tail -= 1
        dq_i[tail & mask] = kq
        dq_v[tail & mask] = q
        tail += 1
        while dq_i[head & mask] < k - guard:
            head += 1
        h = dq_v[head & mask]
        r = h if h < r_prev else rel * r_prev + (1.0 - rel) * h
        r_prev = r
        r_sum += r - ring[slot]
        ring[slot] = r
        slot = slot + 1 if slot < la else 0
        n = k - offset
        if n >= n_from:
            g = r_sum * inv
            acc += e[n] * g * g * g2
            while m < marks.shape[0] and marks[m] == n + 1:
                out[m] = acc
                m += 1
    while m < marks.shape[0]:
        out[m] = acc
        m += 1


class Predictor:
    """Predicted integrated loudness of the limiter's output at any input gain (dB).

    env, e: per sample (decimation 1), or per segment of `decimation` samples (envelope max,
    power sum), for long files: the same recursion then runs on segments, an approximation the
    measured output corrects (exact.py)."""

    def __init__(
        self,
        env: np.ndarray,
        offset: int,
        e: np.ndarray,
        sample_rate: float,
        ceiling: float,
        rel: float,
        la: int,
        decimation: int = 1,
    ):
        d = int(decimation)
        self.env = np.ascontiguousarray(env, dtype=np.float32)
        self.e = np.ascontiguousarray(e, dtype=np.float32)
        self.offset, self.ceiling = int(offset), float(ceiling)
        self.rel = float(rel) ** d
        self.la = int(la) if d == 1 else max(1, round((la + 1) / d) - 1)
        self.guard = GUARD if d == 1 else max(1, -(-GUARD // d))
        self.norm = loudness.BLOCK_S * sample_rate
        lo, hi = loudness.block_bounds(self.e.shape[0], sample_rate / d)
        self.marks, inverse = np.unique(np.concatenate([lo, hi]), return_inverse=True)
        self.lo_k, self.hi_k = inverse[: len(lo)], inverse[len(lo) :]
        self.evaluations = 0
        # a few release time constants: the second half's state then equals one sweep's
        pole = min(max(self.rel, 1e-300), 1.0 - 1e-12) if np.isfinite(self.rel) else 0.5  # NaN: any warm-up
        self.warm = self.la + 2 * self.guard + 2 + int(np.ceil(WARM_TIME_CONSTANTS / -np.log(pole)))

    def _cumulative(self, gain: float) -> np.ndarray:
        """Cumulative limited energy at every mark: two halves of the file on two threads
        (the kernel releases the GIL) when the file is long enough to be worth it."""
        marks = self.marks.astype(np.int64)
        cum = np.empty(len(marks))
        args = (self.env, self.offset, self.e, gain, self.ceiling, self.rel, self.la, self.guard)
        t = len(self.e)
        if t < 4 * self.warm or t < SPLIT_MIN_SAMPLES:
            limited_energy(*args, marks, cum, 0, t, 0)
            return cum
        mid = t // 2
        first, second = marks <= mid, marks > mid
        part = np.empty(int(second.sum()) + 1)
        later = np.concatenate([[mid], marks[second]])  # mark `mid` reads 0: the second half starts there
        head = np.empty(int(first.sum()) + 1)
        with Lane(name="tonematch-predict") as lane:  # the kernel is serial and releases the GIL
            lane.submit(limited_energy, *args, later, part, mid, t, self.warm)
            limited_energy(*args, np.concatenate([marks[first], [mid]]), head, 0, mid, 0)
            lane.drain()
        cum[first] = head[:-1]
        cum[second] = head[-1] + part[1:]
        return cum

    def lufs(self, gain_db: float) -> float:
        if len(self.lo_k) == 0:
            return loudness.FLOOR_LUFS
        cum = self._cumulative(10.0 ** (gain_db / 20.0))
        self.evaluations += 1
        z = (cum[self.hi_k] - cum[self.lo_k]) / self.norm
        value = loudness.integrated_from_powers(z)
        return loudness.FLOOR_LUFS if value is None else max(value, loudness.FLOOR_LUFS)


def solve_gain_db(
    lufs_at, target: float, gain_db: float, offset_lu: float = 0.0, tolerance_lu: float = 0.005, max_steps: int = 8
) -> tuple[float, float]:
    """Gain whose predicted loudness (lufs_at(g) + offset_lu) is `target`, by secant steps
    (loudness.next_gain_db) from `gain_db`; returns (gain, predicted loudness there). A target
    the limiter cannot reach (its loudness-vs-gain slope near 0) stops at max_steps or at
    loudness.MAX_GAIN_DB.

    The curve can jump: when limiting pulls blocks under BS.1770's relative gate, they leave
    the average and the loudness leaps up by several LU over a fraction of a dB of gain. A
    target inside such a jump has no gain; the secant would then hop between the two branches
    and stop wherever its steps ran out (10 LU off). So once gains below and above the target
    are known, a step outside them is replaced by their midpoint (the search closes on the
    jump), and the gain returned is the one predicted closest to the target."""
    prev_g = prev_miss = None
    below = above = None  # the loudest gain predicted under the target, the quietest over it
    best = None
    g = gain_db
    for step in range(max_steps + 1):
        predicted = lufs_at(g) + offset_lu
        miss = target - predicted
        if best is None or abs(miss) < abs(target - best[1]):
            best = (g, predicted)
        if abs(miss) <= tolerance_lu or step == max_steps:
            break
        if miss > 0:
            below = g if below is None else max(below, g)
        else:
            above = g if above is None else min(above, g)
        g_next = loudness.next_gain_db(g, miss, prev_g, prev_miss)
        if below is not None and above is not None and not below < g_next < above:
            g_next = 0.5 * (below + above)
        if g_next == g:  # at the gain bound
            break
        g, prev_g, prev_miss = g_next, g, miss
    return best


def batch_gain_db(y, peak, offset: int, gain_db, p: dict, sample_rate: float, offset_lu=None):
    """Predicted gains into the limiter [B] (float64, no gradient) for the differentiable
    renderer: y [B, C, T] pre-limiter audio, peak [B, T'] its padded envelope (output sample 0
    at index `offset`), gain_db [B] the starting gains, offset_lu [B] measured minus predicted.
    Returns the gains, the loudness predicted at them (without offset_lu) and the predictors."""
    import torch

    from .. import kernels, ops
    from .gain import ceiling_gain, lookahead_samples

    b, c, t = y.shape
    la = lookahead_samples(float(p["limiter.lookahead_ms"].reshape(-1)[0]), sample_rate)
    rel = ops.time_constant_to_pole(p["limiter.release_ms"].detach(), sample_rate).double().reshape(-1).numpy()
    ceil = ceiling_gain(p["limiter.ceiling_dbtp"].detach().double()).reshape(-1).numpy()
    yn = y.detach().float().contiguous().numpy()
    env = peak.detach().float().contiguous().numpy()
    sos = np.ascontiguousarray(np.broadcast_to(loudness.k_weighting(sample_rate)[None], (c, 2, 5)))
    weights = np.array(loudness.CHANNEL_WEIGHTS[:c], dtype=np.float64)
    g0 = gain_db.detach().double().reshape(-1).numpy()
    out = np.empty(b)
    expected = np.empty(b)
    predictors = []
    for i in range(b):
        e = np.empty(t, np.float32)
        kernels.weighted_power(yn[i], sos, np.zeros((c, 2, 2)), weights, e)
        pred = Predictor(env[i], offset, e, sample_rate, ceil[i], rel[i], la)
        off = 0.0 if offset_lu is None else float(offset_lu[i])
        out[i], expected[i] = solve_gain_db(
            pred.lufs, float(p["loudness.target_lufs"].reshape(-1)[i]), float(g0[i]), off
        )
        predictors.append(pred)
    return (
        torch.from_numpy(out),
        torch.from_numpy(expected - (0.0 if offset_lu is None else np.asarray(offset_lu))),
        predictors,
    )
