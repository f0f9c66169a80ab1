"""Time alignment of a mix with its master, to a fraction of a frame.

Masters are often trimmed or padded, so the same musical moment sits at different frames. We
cross-correlate mono excerpts by FFT, find the peak of the phase-transform correlation (robust to
the master's EQ), refine it between frames by band-limited (windowed-sinc) interpolation, which
parabolic fitting alone would bias towards whole frames on sharp peaks, and score the match with
the energy-normalised plain correlation there (Pearson-like, blind to the master's gain).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft

from .errors import TonematchError


@dataclass(frozen=True)
class Alignment:
    offset_frames: float  # the master lags the mix: master[t + offset_frames] ~ mix[t]
    correlation: float  # normalised peak, 1 = identical up to gain, -1 = identical upside down

    @property
    def inverted(self) -> bool:
        """The master is the mix's recording with its polarity flipped (only `either_polarity`
        alignments can say so: the others refuse a negative peak)."""
        return self.correlation < 0.0


# a master's music may start this far from its mix's: a count-in or a pre-roll of silence of a bar
# or two at a slow tempo
MAX_OFFSET_S = 10.0
_INTERP_HALF = 32  # correlation samples each side used to interpolate between frames
_SHIFT_HALF = 16  # taps each side of the fractional-delay filter


def _kaiser(t: np.ndarray, half: float, beta: float = 8.0) -> np.ndarray:
    r = np.clip(t / half, -1.0, 1.0)
    return np.i0(beta * np.sqrt(1.0 - r * r)) / np.i0(beta)


def mono(audio: np.ndarray) -> np.ndarray:
    """[C, n] or [n] -> [n] float64 mean over channels."""
    x = np.asarray(audio, dtype=np.float64)
    return x.mean(axis=0) if x.ndim == 2 else x


def window(x: np.ndarray, start: int, length: int) -> np.ndarray:
    """x[start:start+length] along the last axis, zeros where that lies outside x."""
    out = np.zeros(x.shape[:-1] + (length,), dtype=x.dtype)
    lo, hi = max(start, 0), min(start + length, x.shape[-1])
    if hi > lo:
        out[..., lo - start : hi - start] = x[..., lo:hi]
    return out


def _interpolate(c: np.ndarray, k: int, taus: np.ndarray) -> np.ndarray:
    """Band-limited (windowed-sinc) values of the sampled curve c at positions k + taus."""
    idx = np.arange(-_INTERP_HALF, _INTERP_HALF + 1)
    vals = window(c, k - _INTERP_HALF, idx.size)
    t = np.asarray(taus, dtype=np.float64)[:, None] - idx[None, :]
    return (np.sinc(t) * _kaiser(t, _INTERP_HALF + 1)) @ vals


def _refine_peak(c: np.ndarray, k: int) -> float:
    """Fractional position (in [-1, 1]) of the maximum of the band-limited curve through c near c[k]."""
    taus = np.linspace(-1.0, 1.0, 201)
    curve = _interpolate(c, k, taus)
    j = int(np.clip(np.argmax(curve), 1, taus.size - 2))
    y0, y1, y2 = curve[j - 1], curve[j], curve[j + 1]
    denom = y0 - 2.0 * y1 + y2
    step = taus[1] - taus[0]
    return float(taus[j] + (0.5 * (y0 - y2) / denom * step if denom < 0 else 0.0))


def align_excerpts(
    mix_excerpt: np.ndarray,
    master_excerpt: np.ndarray,
    max_lag: int,
    min_correlation: float,
    name: str,
    sample_rate: int,
    either_polarity: bool = False,
) -> Alignment:
    """mix_excerpt: [L] mono; master_excerpt: [L + 2*max_lag] mono, starting max_lag frames earlier
    in track time. Returns the offset in track frames. `either_polarity`: a master whose polarity
    is flipped against the mix is the same recording too: the peak is sought in either sign and
    the correlation is returned with its sign (negative: inverted); else a negative peak is refused.

    The lag comes from the phase-transform (PHAT) correlation: every frequency weighs the same, so
    the phase of the master's EQ, which sits in a few bass or treble bins, cannot pull the peak the
    way bass-heavy music pulls a plain correlation (by ~10 frames for a 6 dB bass shelf). The score
    is the plain normalised correlation at that lag.
    """
    x = mix_excerpt - mix_excerpt.mean()
    y = master_excerpt - master_excerpt.mean()
    n, lags = x.size, 2 * max_lag + 1
    size = next_fast_len(x.size + y.size - 1)  # no circular wrap-around
    cross = rfft(y, size) * np.conj(rfft(x, size))  # c[k] pairs master[k + t] with mix[t]
    plain = irfft(cross, size)[:lags]
    magnitude = np.abs(cross)
    floor = 1e-12 * float(magnitude.max(initial=0.0)) + 1e-300
    phat = irfft(cross / np.maximum(magnitude, floor), size)[:lags]

    k = int(np.argmax(np.abs(phat) if either_polarity else phat))
    sign = -1.0 if either_polarity and phat[k] < 0.0 else 1.0  # an inverted master: its peak is a trough
    fraction = _refine_peak(sign * phat, k)
    energy_y = np.concatenate([[0.0], np.cumsum(y * y)])
    energy_y = max(float(energy_y[k + n] - energy_y[k]), 0.0)
    scale = np.sqrt(float(np.dot(x, x)) * energy_y)
    peak = float(_interpolate(plain, k, [fraction])[0] / scale) if scale > 1e-12 else 0.0
    score = abs(peak) if either_polarity else peak
    if not score >= min_correlation:
        either = " either way up" if either_polarity else ""
        raise TonematchError(
            f"pair {name} does not correlate (peak {score:.2f} < {min_correlation:.2f}{either}): "
            f"not the same recording? (or offset beyond the +-{max_lag / sample_rate:g} s searched)"
        )
    if max_lag > 0 and k in (0, lags - 1):
        raise TonematchError(
            f"pair {name}: best alignment is at the edge of the +-{max_lag / sample_rate:g} s searched: does the"
            " master start that much before or after its mix? (trim its lead-in, or raise max_offset_s)"
        )
    return Alignment(offset_frames=k - max_lag + fraction, correlation=max(min(peak, 1.0), -1.0))


def align(
    mix: np.ndarray,
    master: np.ndarray,
    sample_rate: int,
    max_offset_s: float = MAX_OFFSET_S,
    min_correlation: float = 0.5,
    name: str = "(unnamed)",
    excerpt_s: float = 30.0,
    either_polarity: bool = False,
) -> Alignment:
    """Offset of `master` relative to `mix` ([C, n] or [n] arrays at the same rate), searched
    within +-max_offset_s on an excerpt from the middle of what both files hold (the offset is
    constant over a track; 30 s of music pin it down and keep the FFT small; a master that stops
    early is aligned where it has audio). Only the two windows are made mono in float64, never the
    whole files (200 MB for five minutes of stereo). `either_polarity`: as align_excerpts (an
    inverted master aligns, with a negative correlation)."""
    max_lag = int(round(max_offset_s * sample_rate))
    both = min(mix.shape[-1], master.shape[-1])
    length = min(both, int(excerpt_s * sample_rate))
    start = (both - length) // 2
    return align_excerpts(
        mono(mix[..., start : start + length]),
        mono(window(master, start - max_lag, length + 2 * max_lag)),
        max_lag,
        min_correlation,
        name,
        sample_rate,
        either_polarity,
    )


def shift_taps(fraction: float, half: int = _SHIFT_HALF) -> np.ndarray:
    """Windowed-sinc taps h[j], j = -half..half, with sum_j x[t + j] h[j] ~ x(t + fraction).

    With half = 16 the error stays below -85 dB up to 0.8 x Nyquist; the top of the band is
    attenuated, where music has little energy.
    """
    j = np.arange(-half, half + 1) - fraction
    h = np.sinc(j) * _kaiser(j, half + 1)
    return h / h.sum()  # unity gain at DC


def read_fractional(x: np.ndarray, fraction: float, half: int = _SHIFT_HALF) -> np.ndarray:
    """x: [C, n + 2*half] -> [C, n] with out[t] ~ x(half + t + fraction) (band-limited interpolation)."""
    if abs(fraction) < 1e-4:
        return np.ascontiguousarray(x[:, half : x.shape[1] - half])
    h = shift_taps(fraction, half)
    out = np.stack([np.correlate(ch, h, mode="valid") for ch in x.astype(np.float64)])
    return out.astype(np.float32)
