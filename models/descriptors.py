"""Exact, cheap level/spectrum/stereo descriptors of a clip or a whole track.

The CNN embedding hears timbre and texture but is close to gain-invariant (GroupNorm), so the
absolute numbers a mastering engineer reads off meters (loudness, peak, crest, width, tonal
balance) are measured here and handed to the controller directly. Every value is in dB or log-Hz
and divided by a fixed scale so it sits around O(1); eps floors keep silence finite.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

# 8 log-spaced bands from 20 Hz to 20 kHz (ratio 1000 ** (1 / 8) ~ 2.37 per band). Fixed in Hz
# so a descriptor means the same thing at every sample rate; bands are cut at Nyquist.
BAND_EDGES_HZ: tuple[float, ...] = tuple(20.0 * 1000.0 ** (i / 8) for i in range(9))

# The EQ needs a finer view of tonal balance than eight bands: 16 log-spaced bands from 30 Hz to
# 16 kHz (about 0.57 octave each) for the spectral shape, and 4 broad bands for the stereo image
# (a wide top over a mono bass is the usual master).
TONE_EDGES_HZ: tuple[float, ...] = tuple(30.0 * (16000.0 / 30.0) ** (i / 16) for i in range(17))
SIDE_EDGES_HZ: tuple[float, ...] = (20.0, 200.0, 1000.0, 5000.0, 20000.0)

DESCRIPTOR_NAMES: list[str] = [
    "loudness",  # integrated loudness (BS.1770), LUFS / 20
    "rms",  # RMS over both channels, dBFS / 20
    "peak",  # sample peak over both channels, dBFS / 20
    "crest",  # peak - RMS, dB / 20
    "width",  # side / mid energy, dB / 20 (clamped to [-40, +20] dB)
    *[f"band_{i}" for i in range(len(BAND_EDGES_HZ) - 1)],  # band energy / total, dB / 20
    "centroid",  # power-weighted spectral centroid, log(Hz / 1 kHz) / log(20)
    "spread",  # spread of the 400 ms block loudness (std over gated blocks), LU / 20
    *[f"tone_{i}" for i in range(len(TONE_EDGES_HZ) - 1)],  # finer tonal balance: share, dB / 20
    *[f"side_{i}" for i in range(len(SIDE_EDGES_HZ) - 1)],  # side / mid energy per band, dB / 20
]

DB_SCALE = 20.0  # every dB descriptor is divided by this
_ENERGY_EPS = 1e-10  # -100 dB floor for energies of full-scale [-1, 1] audio
_LOUDNESS_FLOOR = -70.0  # BS.1770 absolute gate: nothing quieter counts as programme
_WIDTH_RANGE_DB = (-40.0, 20.0)  # below -40 dB side/mid is mono for any practical purpose
_BAND_EPS = 1e-6  # -60 dB floor for a band's share of the total
_CENTROID_REF_HZ = 1000.0


def _db(energy: torch.Tensor) -> torch.Tensor:
    return 10.0 * torch.log10(energy + _ENERGY_EPS)


@functools.lru_cache(maxsize=16)
def _k_weighting(sample_rate: float) -> np.ndarray:
    """[2, 5] K-weighting biquads: the chain's own coefficients, so both meters agree."""
    from tonematch.models.chain.loudness import k_weighting  # lazy: the chain imports pyloudnorm

    return k_weighting(sample_rate)


def _k_response(sample_rate: float, n: int, device: torch.device) -> torch.Tensor:
    """Complex response of the K-weighting cascade at the n-point rfft bins."""
    if n <= _CACHED_RESPONSE_MAX_N:  # clip lengths repeat in training; whole tracks do not
        return _k_response_cached(sample_rate, n, device)
    return _k_response_uncached(sample_rate, n, device)


def _k_response_uncached(sample_rate: float, n: int, device: torch.device) -> torch.Tensor:
    w = torch.arange(n // 2 + 1, dtype=torch.float64) * (2.0 * math.pi / n)
    z1 = torch.exp(-1j * w)  # z^-1 on the unit circle
    h = torch.ones_like(z1)
    for b0, b1, b2, a1, a2 in _k_weighting(float(sample_rate)).tolist():
        h = h * (b0 + b1 * z1 + b2 * z1 * z1) / (1.0 + a1 * z1 + a2 * z1 * z1)
    return h.to(device=device, dtype=torch.complex64)


_k_response_cached = functools.lru_cache(maxsize=8)(_k_response_uncached)
_CACHED_RESPONSE_MAX_N = 1 << 20  # at most 4 MB per cached response


def _loudness(x: torch.Tensor, sample_rate: float, spec: torch.Tensor | None = None):
    """Integrated loudness (BS.1770) in LUFS and the spread (std, LU) of the gated 400 ms block
    loudness, [B, C, T] -> ([B], [B]); `spec` = rfft(x) if at hand.

    K-weighting is applied in the frequency domain on the full-length FFT: one irfft instead
    of a sample-by-sample IIR, which keeps `describe` within its time budget. Circular filtering
    only differs from the chain's `loudness_lufs` in the first few ms (the filter's decay), and
    blocks are the BS.1770 400 ms / 75 % overlap grid with the -70 LUFS and -10 LU gates.
    """
    n = x.shape[-1]
    if spec is None:
        spec = torch.fft.rfft(x, dim=-1)
    y = torch.fft.irfft(spec * _k_response(float(sample_rate), n, x.device), n=n, dim=-1)
    hop = max(1, int(round(0.1 * sample_rate)))
    n_sub = n // hop
    if n_sub < 4:  # shorter than one 400 ms block: ungated mean square
        block = y.square().sum(dim=1).mean(dim=-1, keepdim=True)
    else:
        # 100 ms sub-block energies summed over channels (L and R weight 1), then 4 per block
        frames = y[..., : n_sub * hop].reshape(y.shape[0], y.shape[1], n_sub, hop)
        sub = torch.linalg.vector_norm(frames, dim=-1).square().sum(dim=1) / hop  # fastest path
        block = sub.unfold(-1, 4, 1).mean(dim=-1)  # [B, n_sub - 3] block mean squares
    block_lufs = -0.691 + _db(block)
    gate = block_lufs > _LOUDNESS_FLOOR
    gated_mean = (block * gate).sum(-1) / gate.sum(-1).clamp(min=1)
    relative = -0.691 + _db(gated_mean) - 10.0
    gate = gate & (block_lufs > relative.unsqueeze(-1))
    count = gate.sum(-1).clamp(min=1)
    mean = (block * gate).sum(-1) / count
    lufs = (-0.691 + _db(mean)).clamp(min=_LOUDNESS_FLOOR)
    # how much the level moves: a dense, compressed master has a small spread
    centred = (block_lufs - (block_lufs * gate).sum(-1, keepdim=True) / count.unsqueeze(-1)) * gate
    spread = (centred.square().sum(-1) / count).sqrt()
    return lufs, spread


def _band_sums(power: torch.Tensor, edges_hz, bin_hz: float) -> torch.Tensor:
    """[B, F] power -> [B, bands] summed between edges (bands above Nyquist are empty)."""
    edges = [min(int(math.ceil(f / bin_hz)), power.shape[-1]) for f in edges_hz]
    return torch.stack([power[:, lo:hi].sum(dim=-1) for lo, hi in zip(edges[:-1], edges[1:])], dim=-1)


def _shares_db(bands: torch.Tensor) -> torch.Tensor:
    total = bands.sum(dim=-1, keepdim=True)
    # silence: every band gets an equal share rather than 0 / 0
    shares = (bands + _ENERGY_EPS) / (total + bands.shape[-1] * _ENERGY_EPS)
    return 10.0 * torch.log10(shares + _BAND_EPS)


def _spectral(spec: torch.Tensor, n: int, sample_rate: float):
    """From the full-length rfft of [B, 2, T] (no framing): band shares (dB), centroid (Hz),
    finer tonal shares (dB) and per-band side/mid ratio (dB)."""
    power = (spec.real.square() + spec.imag.square()).sum(dim=1)  # [B, F]; L+R = mid+side power
    bin_hz = sample_rate / n
    freqs = torch.arange(power.shape[-1], device=spec.device, dtype=power.dtype) * bin_hz
    band_db = _shares_db(_band_sums(power, BAND_EDGES_HZ, bin_hz))
    tone_db = _shares_db(_band_sums(power, TONE_EDGES_HZ, bin_hz))
    mid, side = 0.5 * (spec[:, 0] + spec[:, 1]), 0.5 * (spec[:, 0] - spec[:, 1])
    side_db = (
        _db(_band_sums(side.abs().square(), SIDE_EDGES_HZ, bin_hz))
        - _db(_band_sums(mid.abs().square(), SIDE_EDGES_HZ, bin_hz))
    ).clamp(*_WIDTH_RANGE_DB)
    # silence: the centroid falls back to the reference frequency
    centroid = (power @ freqs + _ENERGY_EPS * _CENTROID_REF_HZ) / (power.sum(dim=-1) + _ENERGY_EPS)
    return band_db, centroid, tone_db, side_db


@torch.no_grad()
def describe(x: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """[B, C, T] audio (C = 1 or 2, float in [-1, 1]) -> [B, len(DESCRIPTOR_NAMES)] descriptors."""
    if x.dim() != 3 or x.shape[1] not in (1, 2):
        raise ValueError(f"describe expects [B, C, T] audio with C = 1 or 2, got {tuple(x.shape)}")
    # exact float32 even inside a mixed-precision training step (mid/side cancel in bf16)
    with torch.autocast(device_type=x.device.type, enabled=False):
        return _describe(x.float(), sample_rate)


def _describe(x: torch.Tensor, sample_rate: float) -> torch.Tensor:
    # mono is played on both speakers, exactly as the model duplicates it
    x = x.expand(-1, 2, -1)
    n = x.shape[-1]
    # one pass for LL, RR and LR; mid and side energies follow algebraically
    gram = torch.bmm(x, x.transpose(1, 2)) / n  # [B, 2, 2]
    ll, rr, lr = gram[:, 0, 0], gram[:, 1, 1], gram[:, 0, 1]
    rms_db = _db(0.5 * (ll + rr))
    peak_db = _db(x.abs().amax(dim=(1, 2)).square())
    # clamp: rounding can leave a hair below zero when L = R
    mid_db, side_db = _db(0.25 * (ll + rr + 2 * lr)), _db((0.25 * (ll + rr - 2 * lr)).clamp(min=0))
    width_db = (side_db - mid_db).clamp(*_WIDTH_RANGE_DB)
    spec = torch.fft.rfft(x, dim=-1)  # shared by the loudness meter and the spectrum
    band_db, centroid, tone_db, side_band_db = _spectral(spec, x.shape[-1], sample_rate)
    loudness, spread = _loudness(x, sample_rate, spec)
    level = torch.stack([loudness, rms_db, peak_db, peak_db - rms_db, width_db], dim=-1)
    centroid_n = torch.log(centroid / _CENTROID_REF_HZ) / math.log(20.0)
    return torch.cat(
        [
            level / DB_SCALE,
            band_db / DB_SCALE,
            centroid_n.unsqueeze(-1),
            spread.unsqueeze(-1) / DB_SCALE,
            tone_db / DB_SCALE,
            side_band_db / DB_SCALE,
        ],
        dim=-1,
    )
