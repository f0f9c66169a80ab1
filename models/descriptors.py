"""Exact, cheap level/spectrum/stereo descriptors of a clip or a whole track.

The CNN embedding hears timbre and texture but is close to gain-invariant (GroupNorm), so the
absolute numbers a mastering engineer reads off meters (loudness, peak, crest, width, tonal
balance) are measured here and handed to the controller directly. Every measurement comes from
tonematch.models.measure (the one implementation `tonematch analyze` uses too); this module only
chooses them, puts them in dB or log-Hz and divides by a fixed scale so each sits around O(1).
eps floors keep silence finite. numpy in, numpy out (a torch tensor in gives a tensor back): the
descriptors are never differentiated, and the inference runtime (numpy_runtime.py) runs without torch.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft

from tonematch.models.measure import dynamics, loudness, spectrum, stereo

# The network's layout of the tonal balance, fixed in Hz so a descriptor means the same thing at
# every sample rate (bands above Nyquist are empty). Not the eight named bands of `analyze`
# (measure.spectrum.BANDS): the shipped weights were trained on these log-spaced edges.
# 8 log-spaced bands from 20 Hz to 20 kHz (ratio 1000 ** (1 / 8) ~ 2.37 per band).
BAND_EDGES_HZ: tuple[float, ...] = tuple(20.0 * 1000.0 ** (i / 8) for i in range(9))
# The EQ needs a finer view: 16 log-spaced bands from 30 Hz to 16 kHz (about 0.57 octave each),
# and 4 broad bands for the stereo image (a wide top over a mono bass is the usual master).
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


def _db(energy) -> np.ndarray:
    return 10.0 * np.log10(np.asarray(energy, dtype=np.float64) + _ENERGY_EPS)


def _shares_db(bands: np.ndarray) -> np.ndarray:
    bands = np.nan_to_num(bands, nan=0.0)  # above Nyquist: no energy
    total = bands.sum()
    # silence: every band gets an equal share rather than 0 / 0
    shares = (bands + _ENERGY_EPS) / (total + len(bands) * _ENERGY_EPS)
    return 10.0 * np.log10(shares + _BAND_EPS)


def _level(x: np.ndarray, sample_rate: float) -> tuple[float, float]:
    """Integrated loudness (LUFS, floored at -70) and the spread (std, LU) of the gated 400 ms
    block loudness, from measure.loudness's meter. Shorter than one block: the ungated mean
    K-weighted power, and no spread."""
    meter = loudness.LoudnessMeter(sample_rate, x.shape[0])
    meter.add(x)
    power = meter.momentary_power()
    if len(power) == 0:
        mean = float(np.dot(loudness.CHANNEL_WEIGHTS[: x.shape[0]], meter.total)) / max(1, x.shape[1])
        return max(-0.691 + float(_db(mean)), _LOUDNESS_FLOOR), 0.0
    gated = power[loudness.gate(power)]
    if len(gated) == 0:
        return _LOUDNESS_FLOOR, 0.0
    lufs = max(-0.691 + float(_db(gated.mean())), _LOUDNESS_FLOOR)
    # how much the level moves: a dense, compressed master has a small spread
    return lufs, float(loudness.loudness_spread(power, loudness.REL_GATE_LU, eps=_ENERGY_EPS))


def _spectral(x: np.ndarray, sample_rate: float):
    """From the full-length spectrum of [2, T] (no framing): band shares (dB), centroid (Hz),
    finer tonal shares (dB) and per-band side/mid ratio (dB)."""
    spec = scipy.fft.rfft(x, axis=-1, workers=2)
    freqs = np.fft.rfftfreq(x.shape[-1], 1.0 / sample_rate)
    power = (spec.real**2 + spec.imag**2).sum(axis=0)  # L + R = mid + side power
    band_db = _shares_db(spectrum.band_powers(freqs, power, BAND_EDGES_HZ))
    tone_db = _shares_db(spectrum.band_powers(freqs, power, TONE_EDGES_HZ))
    mid, side = 0.5 * (spec[0] + spec[1]), 0.5 * (spec[0] - spec[1])
    side_bands = np.nan_to_num(spectrum.band_powers(freqs, side.real**2 + side.imag**2, SIDE_EDGES_HZ))
    mid_bands = np.nan_to_num(spectrum.band_powers(freqs, mid.real**2 + mid.imag**2, SIDE_EDGES_HZ))
    side_db = np.clip(_db(side_bands) - _db(mid_bands), *_WIDTH_RANGE_DB)
    centroid = spectrum.centroid_hz(freqs, power)  # silence: the reference frequency
    return band_db, centroid if centroid is not None else _CENTROID_REF_HZ, tone_db, side_db


def describe_clip(x: np.ndarray, sample_rate: float) -> np.ndarray:
    """[C, T] float32 audio (C = 1 or 2) -> [len(DESCRIPTOR_NAMES)] float32 descriptors."""
    # mono is played on both speakers, exactly as the model duplicates it
    x = np.ascontiguousarray(np.broadcast_to(x, (2, x.shape[-1])), dtype=np.float32)
    rms_db = float(_db(dynamics.rms(x) ** 2))
    peak_db = float(_db(dynamics.sample_peak(x) ** 2))
    meter = stereo.StereoMeter(2)
    meter.add(x)
    mid_e, side_e = meter.mid_side_energy()
    width_db = float(np.clip(_db(side_e / x.shape[-1]) - _db(mid_e / x.shape[-1]), *_WIDTH_RANGE_DB))
    band_db, centroid, tone_db, side_band_db = _spectral(x, sample_rate)
    lufs, spread = _level(x, sample_rate)
    level = np.array([lufs, rms_db, peak_db, peak_db - rms_db, width_db])
    centroid_n = math.log(centroid / _CENTROID_REF_HZ) / math.log(20.0)
    out = np.concatenate(
        [
            level / DB_SCALE,
            band_db / DB_SCALE,
            [centroid_n, spread / DB_SCALE],
            tone_db / DB_SCALE,
            side_band_db / DB_SCALE,
        ]
    )
    return out.astype(np.float32)


def describe(x, sample_rate: float):
    """[B, C, T] audio (C = 1 or 2, float in [-1, 1]) -> [B, len(DESCRIPTOR_NAMES)] descriptors.
    numpy in, numpy out; a torch tensor in gives a float32 tensor on its device back."""
    if hasattr(x, "detach"):  # a torch tensor (torch is not imported here)
        import torch

        out = describe(x.detach().to("cpu", torch.float32).numpy(), sample_rate)
        return torch.from_numpy(out).to(x.device)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3 or x.shape[1] not in (1, 2):
        raise ValueError(f"describe expects [B, C, T] audio with C = 1 or 2, got {tuple(x.shape)}")
    if x.shape[0] == 0:
        return np.zeros((0, len(DESCRIPTOR_NAMES)), np.float32)
    return np.stack([describe_clip(clip, sample_rate) for clip in x])
