"""Evaluation metrics of a rendered clip against its target ([C, T] float32 numpy arrays).

Errors are absolute differences; every metric is 0 for an output identical to the target except
the true peak, which is a property of the output alone (it should sit under the ceiling).
"""

from __future__ import annotations

import functools
import math

import auraloss
import librosa
import numpy as np
import torch

from tonematch.inference.quality import crest_db, lufs  # one floored BS.1770 reading and crest factor
from tonematch.models.measure import dynamics, loudness, spectrum, stereo, truepeak

_FLOOR = 1e-10  # -100 dB: silence stays finite
FLOOR_DB = -100.0
# 1/3-octave descriptors (the follow evaluation): band centres 1000 * 2^(k/3) Hz, measure.spectrum
TILT_LOW_HZ = (30.0, 205.0)  # centres 31 .. 198 Hz
TILT_HIGH_HZ = (1950.0, 16500.0)  # centres 2 .. 16 kHz
SHAPE_HZ = (30.0, 16500.0)  # centres 31 Hz .. 16 kHz
SHAPE_RANGE_DB = 60.0  # a band more than this below the loudest reads as this far below it


@functools.lru_cache(maxsize=1)
def _mrstft() -> torch.nn.Module:
    return auraloss.freq.MultiResolutionSTFTLoss()  # auraloss's defaults: the usual reference point


def mrstft(output: np.ndarray, target: np.ndarray) -> float:
    with torch.no_grad():
        return float(_mrstft()(torch.from_numpy(output)[None], torch.from_numpy(target)[None]))


@functools.lru_cache(maxsize=8)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels)


def mel_distance_db(output: np.ndarray, target: np.ndarray, sample_rate: int, n_mels: int = 64) -> float:
    """Mean |log-mel(output) - log-mel(target)| in dB (2048-point frames, hop 512, per channel)."""
    basis = _mel_basis(sample_rate, 2048, n_mels)

    def logmel(x):
        power = np.abs(librosa.stft(x, n_fft=2048, hop_length=512)) ** 2  # [C, F, frames]
        return 10.0 * np.log10(np.maximum(basis @ power, _FLOOR))

    return float(np.mean(np.abs(logmel(output) - logmel(target))))


def spectral_centroid_hz(x: np.ndarray, sample_rate: int) -> float:
    """Power-weighted mean frequency of the long-term average spectrum (measure.spectrum on the
    evaluation's frames, channels summed); silence reads 0."""
    value = spectrum.spectral_centroid_hz(x, sample_rate, _frames(sample_rate))
    return 0.0 if value is None else value


def rms_db(x: np.ndarray) -> float:
    return 20.0 * math.log10(max(dynamics.rms(x), math.sqrt(_FLOOR)))


def true_peak_dbtp(x: np.ndarray) -> float:
    """Peak of the 4x oversampled signal (the one interpolator, measure.truepeak), dBTP."""
    return truepeak.true_peak_dbtp(x, floor=_FLOOR)


def compare(output: np.ndarray, target: np.ndarray, sample_rate: int) -> dict[str, float]:
    """All metrics of one output against its target."""
    return {
        "mrstft": mrstft(output, target),
        "mel_db": mel_distance_db(output, target, sample_rate),
        "centroid_hz": abs(spectral_centroid_hz(output, sample_rate) - spectral_centroid_hz(target, sample_rate)),
        "rms_db": abs(rms_db(output) - rms_db(target)),
        "lufs_lu": abs(lufs(output, sample_rate) - lufs(target, sample_rate)),
        "crest_db": abs(crest_db(output) - crest_db(target)),
        "true_peak_dbtp": true_peak_dbtp(output),
    }


# The evaluation's spectra keep the 93 ms frames (4096 samples at 44.1 kHz) every table in the
# model card was measured with; the product's meter reads on longer ones (docs/decisions.md)
EVAL_FRAME_S = 4096 / 44100


def _frames(sample_rate: int) -> int:
    return spectrum.frame_samples(sample_rate, EVAL_FRAME_S)


def _third_octave_power(x: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(centres, band power re full-scale mean square) of measure.spectrum's 1/3-octave reading;
    bands above Nyquist are dropped."""
    centres, level = spectrum.third_octave_db(x, sample_rate, _frames(sample_rate))
    keep = ~np.isnan(level)
    with np.errstate(over="ignore"):
        return centres[keep], 10.0 ** (level[keep] / 10.0)


def tilt_db(x: np.ndarray, sample_rate: int) -> float:
    """High versus low: energy in the 1/3-octave bands of 2-16 kHz over that of 31-198 Hz, in dB
    (the bands that lie under Nyquist)."""
    centres, power = _third_octave_power(x, sample_rate)

    def level(lo, hi):
        return 10.0 * math.log10(max(float(power[(centres >= lo) & (centres <= hi)].sum()), _FLOOR))

    return level(*TILT_HIGH_HZ) - level(*TILT_LOW_HZ)


def third_octave_shape_db(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Tonal shape: the 1/3-octave band levels (dB) from 31 Hz to 16 kHz (or Nyquist), each held
    at most SHAPE_RANGE_DB below the loudest, their mean removed (level aside)."""
    centres, power = _third_octave_power(x, sample_rate)
    level = 10.0 * np.log10(np.maximum(power[(centres >= SHAPE_HZ[0]) & (centres <= SHAPE_HZ[1])], _FLOOR))
    level = np.maximum(level, level.max() - SHAPE_RANGE_DB)
    return level - level.mean()


def shape_distance_db(a: np.ndarray, b: np.ndarray) -> float:
    """RMS difference of two tonal shapes (third_octave_shape_db at one rate), dB."""
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def side_mid_db(x: np.ndarray) -> float:
    """Width as side / mid energy in dB (measure.stereo); mono or no side reads FLOOR_DB."""
    value = stereo.stereo_image(x)["side_mid_db"]
    return FLOOR_DB if value is None else max(float(value), FLOOR_DB)


def plr_db(x: np.ndarray, sample_rate: int) -> float:
    """Peak-to-loudness ratio: true peak (dBTP) minus integrated loudness (LUFS)."""
    return true_peak_dbtp(x) - lufs(x, sample_rate)


def momentary_spread_lu(x: np.ndarray, sample_rate: int) -> float:
    """Macro-dynamics that the last limiter does not set: the spread (95th - 10th percentile, LU)
    of the 400 ms momentary loudness over the blocks above -70 LUFS (the loudness range's
    percentiles without its relative gate); 0 for silence."""
    meter = loudness.LoudnessMeter(sample_rate, np.atleast_2d(x).shape[0])
    meter.add(np.atleast_2d(x))
    value = loudness.loudness_range(meter.momentary(), relative_lu=None)
    return 0.0 if value is None else value
