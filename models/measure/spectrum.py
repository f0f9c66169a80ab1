"""Spectrum: the long-term average spectrum (streaming Welch), THE eight bands, centroid,
and a 1/3-octave grid.

Long-term average spectrum: Hann-windowed (periodic) frames of FRAME_S (16384 samples at 44.1
kHz, the nearest power of two at other rates: bins 2.7 Hz apart), 50 % overlap, frames
at multiples of the hop from the first sample, no detrending, power averaged over frames (a
one-sided density: mean square per Hz). Samples after the last whole frame are not counted
(as scipy's Welch); a signal shorter than one frame is one frame of its own length.
Band power = the integral of that density across the band, with the density linear between
bins. Frames fixed in samples would read a rate's low bands differently, and shorter ones let a
bass line's window leakage into the bands below it (docs/decisions.md).

The eight bands (the one definition; named as engineers say them, fixed in Hz, cut at Nyquist,
None above it): sub 20-60 Hz, bass 60-150, low-mid 150-400, mid 400-1k, upper-mid 1k-2.5k,
presence 2.5k-6k, brilliance 6k-12k, air 12k-20k.
"""

from __future__ import annotations

import numpy as np
import soxr

from .dynamics import db

BANDS: tuple[tuple[str, float, float], ...] = (
    ("sub", 20.0, 60.0),
    ("bass", 60.0, 150.0),
    ("low_mid", 150.0, 400.0),
    ("mid", 400.0, 1000.0),
    ("upper_mid", 1000.0, 2500.0),
    ("presence", 2500.0, 6000.0),
    ("brilliance", 6000.0, 12000.0),
    ("air", 12000.0, 20000.0),
)
BAND_NAMES: tuple[str, ...] = tuple(b[0] for b in BANDS)
BAND_EDGES_HZ: tuple[float, ...] = tuple([b[1] for b in BANDS] + [BANDS[-1][2]])
FRAME_S = 16384 / 44100  # the long-term spectrum's frame, seconds
LOW_PASS_FROM_HZ = 5000.0  # low-pass cliffs are looked for above this
LOW_PASS_FALL_DB = 20.0  # within a sixth of an octave, never recovered: a filter's, not music's


def hann(n: int) -> np.ndarray:
    """Periodic Hann window [n] (float64): the window of every short-time spectrum here."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def whole_frames(x: np.ndarray, n: int, hop: int) -> np.ndarray:
    """[..., T] -> [..., count, n] views of the whole frames of `x`, frame t starting at t * hop
    (T >= n)."""
    count = 1 + (x.shape[-1] - n) // hop
    return np.lib.stride_tricks.sliding_window_view(x, n, axis=-1)[..., : count * hop : hop, :]


def centred_frames(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """[..., T] -> [..., frames, n_fft] views of centred frames, the signal zero padded by n_fft // 2
    on both sides (torch.stft's center=True, pad_mode="constant"): frame t is centred on sample
    t * hop. The short-time spectra of the network's features and of the refinement's frames."""
    half = n_fft // 2
    return whole_frames(np.pad(x, [(0, 0)] * (x.ndim - 1) + [(half, half)]), n_fft, hop)


def third_octave_centres(lo_hz: float = 20.0, hi_hz: float = 20000.0) -> np.ndarray:
    """Base-2 1/3-octave centres 1000 * 2^(k/3) Hz lying in [lo_hz, hi_hz] (25 Hz .. 20 kHz)."""
    k = np.arange(-30, 31)
    c = 1000.0 * 2.0 ** (k / 3.0)
    return c[(c >= lo_hz * 2 ** (1 / 6)) & (c <= hi_hz * 2 ** (1 / 6))]


def third_octave_edges(centres: np.ndarray) -> np.ndarray:
    """[len(centres) + 1] edges: centre * 2^(-+1/6)."""
    return np.concatenate([centres * 2.0 ** (-1.0 / 6.0), centres[-1:] * 2.0 ** (1.0 / 6.0)])


def band_powers(freqs: np.ndarray, psd: np.ndarray, edges) -> np.ndarray:
    """Integral of the density psd [F] (or [C, F]), linear between bins, over each
    [edges[i], edges[i+1]]; bands are cut at the last bin (Nyquist), bands starting at or above
    it read NaN. Each band is integrated on its own (no cumulative sums: a strong tone must not
    leave rounding noise in the bands above it)."""
    freqs = np.asarray(freqs, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    psd = np.asarray(psd, dtype=np.float64)
    if psd.ndim == 2:
        return np.stack([band_powers(freqs, row, edges) for row in psd])
    top = freqs[-1]
    out = np.full(len(edges) - 1, np.nan)
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        if lo >= top:
            continue
        lo, hi = max(lo, freqs[0]), min(hi, top)
        i, j = np.searchsorted(freqs, lo, side="right"), np.searchsorted(freqs, hi, side="left")
        f = np.concatenate([[lo], freqs[i:j], [hi]])
        p = np.concatenate([[np.interp(lo, freqs, psd)], psd[i:j], [np.interp(hi, freqs, psd)]])
        out[k] = float(np.sum(0.5 * (p[1:] + p[:-1]) * np.diff(f)))
    return out


def centroid_hz(freqs: np.ndarray, power: np.ndarray) -> float | None:
    """Power-weighted mean frequency of a spectrum [F] on `freqs`; None for silence."""
    total = float(np.sum(power))
    return float(np.dot(freqs, power) / total) if total > 0 else None


def frame_samples(sample_rate: float, seconds: float = FRAME_S) -> int:
    """A frame of about `seconds` at this rate, in samples: the nearest power of two."""
    return 1 << max(1, int(round(np.log2(seconds * float(sample_rate)))))


class SpectrumMeter:
    """Streaming long-term average spectrum of [C, n] blocks (bounded memory: one frame of
    carry and [C, nperseg/2 + 1] sums). nperseg: the frame in samples (frame_samples's by default)."""

    def __init__(self, sample_rate: float, channels: int, nperseg: int | None = None):
        self.sample_rate = float(sample_rate)
        self.channels = int(channels)
        self.nperseg = int(nperseg or frame_samples(sample_rate))
        self.hop = self.nperseg // 2
        self.window = hann(self.nperseg).astype(np.float32)
        self.carry = np.zeros((self.channels, 0), dtype=np.float32)
        self.power = np.zeros((self.channels, self.nperseg // 2 + 1))
        self.frames = 0

    def add(self, block: np.ndarray) -> None:
        buf = np.concatenate([self.carry, np.asarray(block, dtype=np.float32)], axis=1)
        count = (buf.shape[1] - self.nperseg) // self.hop + 1 if buf.shape[1] >= self.nperseg else 0
        if count > 0:
            spec = np.fft.rfft(whole_frames(buf, self.nperseg, self.hop) * self.window, axis=-1)
            self.power += (spec.real.astype(np.float64) ** 2 + spec.imag.astype(np.float64) ** 2).sum(axis=1)
            self.frames += count
        self.carry = buf[:, count * self.hop :].copy()

    def psd(self) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
        """(freqs [F], one-sided density per channel [C, F]); (None, None) before any sample."""
        if self.frames:
            power, frames, window, n = self.power, self.frames, self.window, self.nperseg
        elif self.carry.shape[1] >= 2:  # shorter than one frame: one frame of its own length
            n = self.carry.shape[1]
            window = hann(n)
            spec = np.fft.rfft(self.carry * window, axis=-1)
            power, frames = np.abs(spec) ** 2, 1
        else:
            return None, None
        density = power / (frames * self.sample_rate * float(np.sum(np.square(window, dtype=np.float64))))
        density[:, 1:] *= 2.0
        if n % 2 == 0:
            density[:, -1] /= 2.0  # the Nyquist bin has no mirror image
        return np.fft.rfftfreq(n, 1.0 / self.sample_rate), density

    def band_energies(self, edges=BAND_EDGES_HZ) -> np.ndarray | None:
        """Power per band (channels averaged), NaN above Nyquist; None before any sample."""
        freqs, psd = self.psd()
        return None if freqs is None else band_powers(freqs, psd.mean(axis=0), edges)

    def band_shares_db(self) -> dict[str, float | None]:
        """The eight bands' energy relative to their total, in dB (None: above Nyquist, no energy)."""
        energy = self.band_energies()
        if energy is None:
            return {name: None for name in BAND_NAMES}
        total = float(np.nansum(energy))
        return {
            name: (db(float(e) / total, power=True) if np.isfinite(e) and total > 0 else None)
            for name, e in zip(BAND_NAMES, energy)
        }

    def centroid_hz(self) -> float | None:
        """Power-weighted mean frequency of the channel-summed spectrum; None for silence."""
        freqs, psd = self.psd()
        return None if freqs is None else centroid_hz(freqs, psd.sum(axis=0))

    def low_pass_hz(self, lowest_hz: float = LOW_PASS_FROM_HZ) -> float | None:
        """Where the spectrum ends in a cliff, a codec's or a resampler's low-pass (an MP3 cut near
        16 kHz): the lowest 1/24-octave band edge above `lowest_hz` over which the level falls by
        LOW_PASS_FALL_DB within a sixth of an octave and never comes back. Music falls off
        gradually (under 15 dB a sixth of an octave on the corpus's masters). None: no cliff."""
        freqs, psd = self.psd()
        if freqs is None:
            return None
        edges = lowest_hz * 2.0 ** (np.arange(0, 240) / 24.0)
        edges = edges[edges < 0.48 * self.sample_rate]
        if len(edges) < 6:
            return None
        with np.errstate(divide="ignore"):
            level = 10.0 * np.log10(band_powers(freqs, psd.mean(axis=0), edges))
        for b in range(len(level) - 4):
            if level[b] - np.max(level[b + 4 :]) >= LOW_PASS_FALL_DB:
                return float(edges[b + 1])
        return None

    def third_octave_db(self, lo_hz: float = 20.0, hi_hz: float = 20000.0) -> tuple[np.ndarray, np.ndarray]:
        """(centres, band power in dB re full-scale mean square) on the 1/3-octave grid, channels
        averaged; silent bands read -inf, bands above Nyquist NaN."""
        centres = third_octave_centres(lo_hz, hi_hz)
        energy = self.band_energies(third_octave_edges(centres))
        if energy is None:
            return centres, np.full(len(centres), -np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            return centres, 10.0 * np.log10(energy)


def meter_of(x: np.ndarray, sample_rate: float, block: int = 1 << 18, nperseg: int | None = None) -> SpectrumMeter:
    """The meter fed a whole array a block at a time: its frames never held all at once."""
    x = np.atleast_2d(x)
    m = SpectrumMeter(sample_rate, x.shape[0], nperseg)
    for start in range(0, x.shape[1], block):
        m.add(x[:, start : start + block])
    return m


def band_shares_db(x: np.ndarray, sample_rate: float) -> dict[str, float | None]:
    """The eight bands' shares (dB re their total) of a whole [C, T] array."""
    return meter_of(x, sample_rate).band_shares_db()


def share_below(x: np.ndarray, sample_rate: float, hz: float, nperseg: int = 32768) -> float:
    """The share (0-1) of a [C, T] array's energy below `hz`, channels averaged, on frames long
    enough (0.74 s at 44.1 kHz) that a bass line's window leakage stays above a few tens of Hz.
    The low band is read at a low rate (the same frame length in seconds): a whole-rate spectrum of
    a long mix cost a third of a second for a few bins."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float32))
    total = float(np.mean(np.square(x, dtype=np.float64))) if x.size else 0.0
    if total <= 0.0:
        return 0.0
    low_rate = min(float(sample_rate), max(20.0 * hz, 400.0))
    low = soxr.resample(x.T, sample_rate, low_rate).T if low_rate < sample_rate else x
    size = min(max(2, round(nperseg * low_rate / sample_rate)), max(2, low.shape[1]))
    m = SpectrumMeter(low_rate, low.shape[0], nperseg=size)
    m.add(low)
    freqs, psd = m.psd()
    if freqs is None:
        return 0.0
    return min(1.0, float(band_powers(freqs, psd.mean(axis=0), (0.0, hz))[0]) / total)


def spectral_centroid_hz(x: np.ndarray, sample_rate: float, nperseg: int | None = None) -> float | None:
    return meter_of(x, sample_rate, nperseg=nperseg).centroid_hz()


def third_octave_db(x: np.ndarray, sample_rate: float, nperseg: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    return meter_of(x, sample_rate, nperseg=nperseg).third_octave_db()
