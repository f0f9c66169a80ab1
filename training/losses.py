"""Training loss: multi-resolution STFT + loudness + parameter terms, weights from the config.

* MR-STFT (auraloss): spectral convergence + log magnitude at a few resolutions. auraloss's
  default resolutions cost ~12 s fwd+bwd for 16 x 2 x 131072 on 2 cores, so the resolutions are
  configurable (configs/loss/cpu.yaml is a cheap two-resolution preset). Stereo is analysed as
  mid/side (with a weight on the side, so width errors count), mono sum, or left/right; `decimate` > 1 analyses a
  band-limited, decimated copy (cheaper; the band above the new Nyquist no longer counts).
* Loudness: |LUFS(output) - LUFS(target)| with the chain's differentiable BS.1770 meter.
* Parameters: L1 in the network's unit space, only where the truth is known (`known` mask:
  self-supervised draws, minus what a degradation spoiled; nothing for real pairs).
* Tone: L1 in dB between the EQ curve the network sets and the curve the case needs (the drawn
  EQ minus the degradation's), level removed, on 1/3-octave points. It judges the sound of the EQ,
  not its settings: the many settings that draw one curve cost the same, and every case counts,
  degraded inputs included (where the parameter truth of the EQ is unknown).
"""

from __future__ import annotations

from typing import Sequence

import auraloss
import numpy as np
import torch
from torch import nn

from tonematch.models.chain import TABLE, eq as eq_stage
from tonematch.models.chain.loudness import loudness_lufs

STEREO_MODES = ("mid_side", "mono", "left_right")
# 1/3-octave points from 30 Hz to 9.6 kHz, those below 0.45 x the training rate (all from 24 kHz)
TONE_GRID_HZ = 30.0 * 2.0 ** (np.arange(26) / 3.0)


def tone_grid(sample_rate: int) -> np.ndarray:
    return TONE_GRID_HZ[TONE_GRID_HZ < 0.45 * sample_rate]


def eq_curve_db(unit: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """[B, P] unit settings -> [B, F] the EQ's gain in dB on tone_grid (differentiable)."""
    params = TABLE.from_unit(unit.double(), sample_rate)
    power = eq_stage.power_at(params, tone_grid(sample_rate), sample_rate)
    return 10.0 * torch.log10(torch.as_tensor(power).clamp_min(1e-12))


def band_limited_decimate(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Band-limited decimation by an integer factor through the spectrum (differentiable, no
    aliasing): keep the bins below the new Nyquist, inverse FFT at the shorter length."""
    if factor == 1:
        return x
    n = x.shape[-1] - x.shape[-1] % factor
    m = n // factor
    spec = torch.fft.rfft(x[..., :n], dim=-1)[..., : m // 2 + 1]
    return torch.fft.irfft(spec, n=m, dim=-1) / factor


def _stereo_view(x: torch.Tensor, mode: str) -> torch.Tensor:
    """[B, C, T] -> [B, C', T] in the analysed representation (mono input stays mono)."""
    if mode == "left_right" or x.shape[1] == 1:
        return x
    if mode == "mono":
        return x.mean(dim=1, keepdim=True)
    return torch.stack([0.5 * (x[:, 0] + x[:, 1]), 0.5 * (x[:, 0] - x[:, 1])], dim=1)


class MasteringLoss(nn.Module):
    def __init__(
        self,
        sample_rate: int,
        fft_sizes: Sequence[int] = (512, 2048),
        hop_sizes: Sequence[int] = (256, 1024),
        win_lengths: Sequence[int] | None = None,
        window: str = "hann_window",
        stereo: str = "mid_side",
        side_weight: float = 1.0,
        decimate: int = 1,
        w_sc: float = 1.0,
        w_log_mag: float = 1.0,
        w_lin_mag: float = 0.0,
        stft_weight: float = 1.0,
        loudness_weight: float = 0.1,
        param_weight: float = 1.0,
        tone_weight: float = 0.0,
    ):
        super().__init__()
        if stereo not in STEREO_MODES:
            raise ValueError(f"stereo must be one of {STEREO_MODES}, got {stereo!r}")
        if int(decimate) < 1:
            raise ValueError(f"decimate must be a positive integer, got {decimate}")
        self.sample_rate = int(sample_rate)
        self.stereo = stereo
        self.side_weight = float(side_weight)
        self.decimate = int(decimate)
        self.stft_weight = float(stft_weight)
        self.loudness_weight = float(loudness_weight)
        self.param_weight = float(param_weight)
        self.tone_weight = float(tone_weight)
        self.stft = auraloss.freq.MultiResolutionSTFTLoss(
            fft_sizes=list(fft_sizes),
            hop_sizes=list(hop_sizes),
            win_lengths=list(win_lengths or fft_sizes),
            window=window,
            w_sc=w_sc,
            w_log_mag=w_log_mag,
            w_lin_mag=w_lin_mag,
        )

    def spectral(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """MR-STFT distance of [B, C, T] signals (0 for identical signals)."""
        out = band_limited_decimate(_stereo_view(output.float(), self.stereo), self.decimate)
        tgt = band_limited_decimate(_stereo_view(target.float(), self.stereo), self.decimate)
        if self.stereo != "mid_side" or out.shape[1] == 1:
            return self.stft(out, tgt)
        mid = self.stft(out[:, :1], tgt[:, :1])
        side = self.stft(out[:, 1:], tgt[:, 1:])
        return (mid + self.side_weight * side) / (1.0 + self.side_weight)

    def loudness(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (loudness_lufs(output, self.sample_rate) - loudness_lufs(target, self.sample_rate)).abs().mean()

    @staticmethod
    def parameters_l1(unit: torch.Tensor, truth: torch.Tensor | None, known: torch.Tensor | None) -> torch.Tensor:
        """Mean |unit - truth| over known entries; 0 (still in the graph) when none are known."""
        if truth is None or known is None:
            return unit.sum() * 0.0
        mask = known.to(unit.dtype)
        return ((unit - truth.to(unit.dtype)).abs() * mask).sum() / mask.sum().clamp_min(1.0)

    def tonal(self, unit: torch.Tensor, needed_db: torch.Tensor | None) -> torch.Tensor:
        """Mean |EQ curve - needed curve| in dB, each curve's mean level removed (the loudness
        stage cancels level); 0 (still in the graph) without a needed curve."""
        if needed_db is None:
            return unit.sum() * 0.0
        error = eq_curve_db(unit, self.sample_rate) - needed_db.to(unit.device, torch.float64)
        return (error - error.mean(dim=-1, keepdim=True)).abs().mean()

    def forward(self, output, target, unit=None, truth=None, known=None, needed_db=None) -> dict[str, torch.Tensor]:
        """Terms and their weighted sum ('loss'). output/target: [B, C, T]; unit/truth/known: [B, P];
        needed_db: [B, F] the EQ curve each case needs (on tone_grid), or None."""
        terms = {"stft": self.spectral(output, target)}
        terms["loudness"] = self.loudness(output, target).to(terms["stft"].dtype)
        terms["param"] = (
            self.parameters_l1(unit, truth, known).to(terms["stft"].dtype)
            if unit is not None
            else torch.zeros((), device=output.device)
        )
        terms["tone"] = (
            self.tonal(unit, needed_db).to(terms["stft"].dtype)
            if unit is not None and self.tone_weight > 0
            else torch.zeros((), device=output.device)
        )
        terms["loss"] = (
            self.stft_weight * terms["stft"]
            + self.loudness_weight * terms["loudness"]
            + self.param_weight * terms["param"]
            + self.tone_weight * terms["tone"]
        )
        return terms
