"""The mastering network: listen to a mix and a reference, predict the chain's [0, 1] settings."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch
from torch import nn

from tonematch.models.controller import Controller
from tonematch.models.descriptors import DESCRIPTOR_NAMES, describe
from tonematch.models.encoder import SpectrogramEncoder
from tonematch.models.excerpts import excerpt_starts


@contextlib.contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    """Deterministic analysis (no dropout) without changing the caller's train/eval state."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def _check_track(audio: torch.Tensor, what: str) -> None:
    if not isinstance(audio, torch.Tensor) or audio.dim() != 2 or audio.shape[0] not in (1, 2):
        shape = tuple(audio.shape) if isinstance(audio, torch.Tensor) else type(audio).__name__
        raise ValueError(f"{what} must be a [C, T] tensor with C = 1 or 2, got {shape}")
    if audio.shape[1] == 0:
        raise ValueError(f"{what} is empty")


class MasteringModel(nn.Module):
    """Encoder + exact descriptors + controller. Output: [B, n_params] in [0, 1]."""

    def __init__(
        self,
        n_params: int,
        sample_rate: int = 44100,
        excerpt_frames: int = 131072,
        max_excerpts: int = 8,
        default_unit: torch.Tensor | None = None,
        encoder_kwargs: dict[str, Any] | None = None,
        controller_kwargs: dict[str, Any] | None = None,
        param_names: list[str] | None = None,
    ):
        super().__init__()
        if param_names is not None and len(param_names) != n_params:
            raise ValueError(f"{len(param_names)} param_names given for {n_params} parameters")
        if excerpt_frames < 1 or max_excerpts < 1:
            raise ValueError("excerpt_frames and max_excerpts must be positive")
        self.n_params = int(n_params)
        self.sample_rate = int(sample_rate)
        self.excerpt_frames = int(excerpt_frames)
        self.max_excerpts = int(max_excerpts)
        self.param_names = list(param_names) if param_names is not None else None
        self.encoder_kwargs = dict(encoder_kwargs or {})
        self.controller_kwargs = dict(controller_kwargs or {})
        self.encoder = SpectrogramEncoder(sample_rate=self.sample_rate, **self.encoder_kwargs)
        self.controller = Controller(
            self.encoder.embed_dim,
            len(DESCRIPTOR_NAMES),
            self.n_params,
            default_unit=default_unit,
            **self.controller_kwargs,
        )

    @classmethod
    def for_table(cls, table, sample_rate: int = 44100, **kwargs: Any) -> "MasteringModel":
        """A model for a chain `ParamTable`: its learned keys as names, its defaults as the start."""
        defaults = table.defaults(sample_rate)
        default_unit = table.to_unit({k: torch.tensor(float(v)) for k, v in defaults.items()}, sample_rate)
        return cls(
            len(table),
            sample_rate=sample_rate,
            default_unit=default_unit.float(),
            param_names=list(table.learned_keys),
            **kwargs,
        )

    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this architecture (JSON-serialisable)."""
        enc = {k: list(v) if isinstance(v, tuple) else v for k, v in self.encoder_kwargs.items()}
        return {
            "n_params": self.n_params,
            "sample_rate": self.sample_rate,
            "excerpt_frames": self.excerpt_frames,
            "max_excerpts": self.max_excerpts,
            "encoder_kwargs": enc,
            "controller_kwargs": dict(self.controller_kwargs),
            "param_names": self.param_names,
            "descriptor_names": list(DESCRIPTOR_NAMES),
        }

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """x, ref: [B, C, T] clips (C = 1 or 2) -> [B, n_params] in [0, 1]."""
        if x.dim() != 3 or ref.dim() != 3 or x.shape[0] != ref.shape[0]:
            raise ValueError(f"expected two [B, C, T] batches, got {tuple(x.shape)} and {tuple(ref.shape)}")
        b = x.shape[0]
        if x.shape[1:] == ref.shape[1:]:
            emb = self.encoder(torch.cat([x, ref], dim=0))  # one pass through the CNN
            emb_in, emb_ref = emb[:b], emb[b:]
        else:
            emb_in, emb_ref = self.encoder(x), self.encoder(ref)
        desc_in, desc_ref = describe(x, self.sample_rate), describe(ref, self.sample_rate)
        return self.controller(emb_in, emb_ref, desc_in, desc_ref)

    def excerpts(self, audio: torch.Tensor) -> torch.Tensor:
        """[C, T] -> [N, C, L]: up to max_excerpts evenly spaced excerpts covering the whole track.

        A track no longer than one excerpt is returned whole, unpadded: zero padding would add
        silence the time statistics of the encoder would count as part of the music.
        """
        _check_track(audio, "audio")
        length, total = self.excerpt_frames, audio.shape[-1]
        if total <= length:
            return audio.unsqueeze(0)
        starts = excerpt_starts(total, length, self.max_excerpts)
        return torch.stack([audio[:, s : s + length] for s in starts])

    @torch.no_grad()
    def embed_track(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Whole-track analysis: [C, T] -> (embedding [E], descriptors [D]).

        The embedding is the mean over excerpts spread across the track; descriptors are exact
        over the full track (integrated loudness, overall peak, overall balance).
        """
        _check_track(audio, "audio")
        audio = audio.to(self._device(), torch.float32)
        with _eval_mode(self):
            embedding = self.encoder(self.excerpts(audio)).mean(dim=0)
        return embedding, describe(audio.unsqueeze(0), self.sample_rate)[0]

    @torch.no_grad()
    def predict_track(
        self,
        mix: torch.Tensor,
        reference: torch.Tensor | None = None,
        reference_embedding: torch.Tensor | None = None,
        reference_descriptors: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Chain settings [n_params] in [0, 1] for a whole mix.

        The target is either a reference track ([C, T]) or a precomputed (embedding, descriptors)
        pair, e.g. a stored style averaged over an engineer's masters.
        """
        given_pair = reference_embedding is not None or reference_descriptors is not None
        if (reference is None) == (not given_pair):
            raise ValueError("give either `reference` or both `reference_embedding` and `reference_descriptors`")
        if reference is not None:
            emb_ref, desc_ref = self.embed_track(reference)
        else:
            if reference_embedding is None or reference_descriptors is None:
                raise ValueError("a precomputed reference needs both an embedding and descriptors")
            emb_ref = torch.as_tensor(reference_embedding, dtype=torch.float32, device=self._device())
            desc_ref = torch.as_tensor(reference_descriptors, dtype=torch.float32, device=self._device())
            if emb_ref.shape != (self.encoder.embed_dim,) or desc_ref.shape != (len(DESCRIPTOR_NAMES),):
                raise ValueError(
                    f"reference embedding/descriptors must have shapes ({self.encoder.embed_dim},) and "
                    f"({len(DESCRIPTOR_NAMES)},), got {tuple(emb_ref.shape)} and {tuple(desc_ref.shape)}"
                )
        emb_in, desc_in = self.embed_track(mix)
        with _eval_mode(self):
            out = self.controller(emb_in[None], emb_ref[None], desc_in[None], desc_ref[None])
        return out[0]
