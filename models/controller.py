"""MLP from (input, reference) analysis to the chain's [0, 1] parameter vector."""

from __future__ import annotations

import torch
from torch import nn

# the last layer starts this small so the initial output sits at the bias (the neutral chain)
# while gradients still reach every earlier layer from the first step
_LAST_LAYER_GAIN = 0.01
# Defaults at the end of a range (ratio 1:1, threshold 0 dB) start this far inside it: logit
# stays finite and the sigmoid's slope (~0.01) still lets training move them off the end.
_UNIT_CLAMP = 0.01


class Controller(nn.Module):
    """[emb_in, emb_ref, desc_in, desc_ref, desc_ref - desc_in] -> [B, n_params] in [0, 1]."""

    def __init__(
        self,
        embed_dim: int,
        n_descriptors: int,
        n_params: int,
        hidden: int = 512,
        dropout: float = 0.1,
        default_unit: torch.Tensor | None = None,
    ):
        super().__init__()
        self.embed_dim = embed_dim
        self.n_params = n_params
        self.net = nn.Sequential(
            nn.Linear(2 * embed_dim + 3 * n_descriptors, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
        )
        self.out = nn.Linear(hidden, n_params)
        with torch.no_grad():
            self.out.weight.mul_(_LAST_LAYER_GAIN)
            if default_unit is None:
                self.out.bias.zero_()  # mid-range
            else:
                default_unit = torch.as_tensor(default_unit, dtype=torch.float32).flatten()
                if default_unit.numel() != n_params:
                    raise ValueError(f"default_unit has {default_unit.numel()} values, expected {n_params}")
                self.out.bias.copy_(torch.logit(default_unit.clamp(_UNIT_CLAMP, 1.0 - _UNIT_CLAMP)))

    def forward(
        self,
        emb_in: torch.Tensor,
        emb_ref: torch.Tensor,
        desc_in: torch.Tensor,
        desc_ref: torch.Tensor,
    ) -> torch.Tensor:
        features = torch.cat([emb_in, emb_ref, desc_in, desc_ref, desc_ref - desc_in], dim=-1)
        return torch.sigmoid(self.out(self.net(features)))
