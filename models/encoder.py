"""Log-mel CNN that turns a stereo clip into one embedding vector.

Mid and side are analysed as two planes so the stereo image is visible to the network (a mono
track has an empty side plane). GroupNorm instead of BatchNorm: the same weights behave the same
in training and when a single track's excerpts are analysed, and absolute level is left to the
exact descriptors anyway.
"""

from __future__ import annotations

import math

import librosa
import torch
from torch import nn

from .geometry import encoder_geometry

_POWER_EPS = 1e-10  # -100 dB floor before the log


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.GroupNorm(math.gcd(8, c_out), c_out),  # 8 groups where the width allows
        nn.GELU(),
        nn.AvgPool2d(2),
    )


class SpectrogramEncoder(nn.Module):
    """[B, C, T] audio (C = 1 or 2) -> [B, embed_dim].

    `n_fft` and `hop` are in samples at 44.1 kHz and scaled to `sample_rate`, so a frame lasts the
    same time at every rate; the mel bands span 20 Hz to min(20 kHz, Nyquist).
    """

    def __init__(
        self,
        sample_rate: int = 44100,
        n_fft: int = 2048,
        hop: int = 512,
        n_mels: int = 96,
        channels: tuple[int, ...] | list[int] = (32, 64, 128, 128),
        embed_dim: int = 256,
    ):
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if n_mels < 2 ** len(channels):
            raise ValueError(f"n_mels={n_mels} is too few for {len(channels)} pooling blocks")
        self.sample_rate = int(sample_rate)
        self.n_fft, self.hop, self.min_samples = encoder_geometry(sample_rate, n_fft, hop, len(channels))
        self.n_mels = n_mels
        self.embed_dim = embed_dim

        window = torch.hann_window(self.n_fft, periodic=True)
        self.register_buffer("window", window, persistent=False)
        mel = librosa.filters.mel(
            sr=sample_rate,
            n_fft=self.n_fft,
            n_mels=n_mels,
            fmin=20.0,
            fmax=min(20000.0, sample_rate / 2.0),
            htk=False,
            norm="slaney",
        )
        # each band reads the weighted mean power of its bins, scaled so a full-scale sine's bin
        # is 0 dB at any n_fft: the log values keep one range across sample rates
        mel = torch.from_numpy(mel).float()
        mel = mel / mel.sum(dim=1, keepdim=True).clamp(min=1e-12) * (4.0 / float(window.sum()) ** 2)
        self.register_buffer("mel", mel, persistent=False)

        blocks, c_in = [], 2
        for c_out in channels:
            blocks.append(_block(c_in, c_out))
            c_in = c_out
        self.cnn = nn.Sequential(*blocks)
        rows = n_mels // 2 ** len(channels)
        # mean and std over time of every (channel, frequency row) feature
        self.head = nn.Sequential(nn.Linear(2 * c_in * rows, embed_dim), nn.LayerNorm(embed_dim))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, T] -> [B, 2, n_mels, frames] log-mel of mid and side (dB / 20)."""
        if x.dim() != 3 or x.shape[1] not in (1, 2):
            raise ValueError(f"expected [B, C, T] audio with C = 1 or 2, got {tuple(x.shape)}")
        x = x.float().expand(-1, 2, -1)
        if x.shape[-1] < self.min_samples:
            x = nn.functional.pad(x, (0, self.min_samples - x.shape[-1]))
        ms = torch.stack([0.5 * (x[:, 0] + x[:, 1]), 0.5 * (x[:, 0] - x[:, 1])], dim=1)
        b = ms.shape[0]
        spec = torch.stft(
            ms.reshape(2 * b, -1),
            self.n_fft,
            self.hop,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        power = spec.real.square() + spec.imag.square()  # [2B, F, frames]
        mel = torch.matmul(self.mel, power)  # [2B, n_mels, frames]
        return (0.5 * torch.log10(mel + _POWER_EPS)).reshape(b, 2, self.n_mels, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.cnn(self.features(x))  # [B, ch, rows, frames']
        h = h.flatten(1, 2)
        mean = h.mean(dim=-1)
        # sqrt(var + eps): finite gradient even for a constant (silent) input
        std = (h.var(dim=-1, unbiased=False) + 1e-5).sqrt()
        return self.head(torch.cat([mean, std], dim=-1))
