"""Differentiable integrated loudness (torch), for the chain and the training loss: the same
K-weighting, block grid and gate as the streaming meter. torch is imported only when called."""

from __future__ import annotations

from .gating import CHANNEL_WEIGHTS, MOMENTARY_S, _k_weighting, block_bounds, gated_lufs


def gated_loudness(z):
    """torch: integrated loudness from block mean squares z [..., C, J] (BS.1770-4 gating),
    floored at FLOOR_LUFS."""
    import torch

    channels = z.shape[-2]
    weights = torch.tensor(CHANNEL_WEIGHTS[:channels], dtype=z.dtype, device=z.device)[:, None]
    return gated_lufs((weights * z).sum(dim=-2), torch)


def loudness_lufs(x, sample_rate: float):
    """Differentiable integrated loudness of x [B, C, T] (torch) -> [B] (LUFS, floored)."""
    import torch

    from tonematch.models.chain import ops  # the chain's differentiable biquad (numba forward/backward)

    b, c, t = x.shape
    y = x.reshape(b * c, t)
    for coefs in _k_weighting(float(sample_rate)):
        y = ops.biquad(y, torch.as_tensor(coefs).expand(b * c, 5).to(x.device))
    energy = torch.cumsum(y.double() ** 2, dim=-1)
    energy = torch.nn.functional.pad(energy, (1, 0)).reshape(b, c, t + 1)
    lo, hi = block_bounds(t, sample_rate)
    if len(lo) == 0:
        raise ValueError(f"{t} samples is shorter than one {MOMENTARY_S * 1000:.0f} ms loudness block")
    lo_t, hi_t = torch.as_tensor(lo, device=x.device), torch.as_tensor(hi, device=x.device)
    z = (energy[..., hi_t] - energy[..., lo_t]) / (MOMENTARY_S * sample_rate)
    return gated_loudness(z)
