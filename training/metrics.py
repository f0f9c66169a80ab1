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
from tonematch.models.measure import dynamics, spectrum, truepeak

_FLOOR = 1e-10  # -100 dB: silence stays finite


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
    """Power-weighted mean frequency of the long-term average spectrum (measure.spectrum:
    4096-point Hann frames, channels summed); silence reads 0."""
    value = spectrum.spectral_centroid_hz(x, sample_rate)
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
