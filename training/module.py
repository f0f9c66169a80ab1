"""LightningModule: network -> chain settings -> differentiable render -> loss against the target.

Self-supervised batches get their targets here: one chain draw per item (chain_draw.py), both
clean segments rendered through it in one batched no-grad call, on the step's device. Real pairs
bring their targets and have no parameter truth.

Reproducibility: the draw is seeded per item, and dropout by a generator seeded per step
(seed, epoch, batch, rank), so a resumed run repeats an uninterrupted one exactly.
Non-finite losses or gradients never reach the weights: the step's gradients are dropped
(optimisers skip parameters without a gradient), the same way on every rank, and counted.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Callable

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger

from tonematch.data.degrade import equaliser_response_db
from tonematch.models.chain import TABLE, render_batch

from .audio_log import add_stereo_audio
from .chain_draw import ChainDraw, parameter_truth
from .datamodule import STREAMS
from .losses import eq_curve_db, tone_grid

log = logging.getLogger(__name__)


def step_seed(seed: int, *parts: int) -> int:
    return int(np.random.SeedSequence([seed, *parts]).generate_state(1, np.uint64)[0] >> 1)


class MasteringModule(pl.LightningModule):
    def __init__(
        self,
        model: torch.nn.Module,
        loss: torch.nn.Module,
        sample_rate: int,
        draw: ChainDraw | None = None,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., Any] | None = None,
        seed: int = 0,
        audio_examples: int = 2,
        audio_seconds: float = 4.0,
        audio_loss: bool = True,
    ):
        super().__init__()
        self.model = model
        self.loss = loss
        self.draw = draw
        self.sample_rate = int(sample_rate)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.seed = int(seed)
        self.audio_examples = int(audio_examples)
        self.audio_seconds = float(audio_seconds)
        # False: teach in parameter space only (self-supervised draws, where the truth is known).
        # No differentiable render and no target render: the step costs the network alone, and
        # the last mile is left to refinement at inference.
        self.audio_loss = bool(audio_loss)
        self.save_hyperparameters(ignore=["model", "loss", "draw", "optimizer", "scheduler"])
        # in the checkpoint, so the count survives a resume
        self.register_buffer("skipped_steps", torch.zeros((), dtype=torch.long))
        self._skip_pending = False

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return self.model(x, ref)

    # -- one batch -----------------------------------------------------------------------------
    def render(self, x: torch.Tensor, unit: torch.Tensor) -> torch.Tensor:
        """Differentiable chain on x [B, C, T] with unit settings [B, P] (full precision: the
        recursions and the loudness meter are float64 kernels, outside any autocast)."""
        with torch.autocast(device_type=x.device.type, enabled=False):
            params = TABLE.from_unit(unit.double(), self.sample_rate)
            return render_batch(x.float(), params, self.sample_rate)

    def needed_tone_db(self, drawn: torch.Tensor, degradation: dict | None) -> torch.Tensor:
        """[B, F] the EQ curve each case needs on tone_grid: the drawn chain's EQ, less what
        the degradation's EQ already did to the input."""
        needed = eq_curve_db(drawn, self.sample_rate)
        if degradation:
            items = drawn.shape[0]
            undo = [
                equaliser_response_db(
                    {k: float(v[i]) for k, v in degradation.items()}, tone_grid(self.sample_rate), self.sample_rate
                )
                for i in range(items)
            ]
            needed = needed - torch.as_tensor(np.stack(undo), dtype=needed.dtype, device=needed.device)
        return needed

    def targets(self, batch: dict, stage: str, with_target: bool = True):
        """(target, reference, truth, known, needed tone) for a batch of either kind; target is
        None when not asked for (parameter-space training renders the reference only)."""
        if "target" in batch:  # real pairs: no parameter truth
            if not with_target:
                raise RuntimeError("parameter-space training (audio_loss: false) needs self-supervised data")
            return batch["target"], batch["reference"], None, None, None
        if self.draw is None:
            raise RuntimeError("self-supervised batches need a ChainDraw (the `draw` argument)")
        sources = (
            torch.cat([batch["target_source"], batch["reference_source"]]) if with_target else batch["reference_source"]
        )
        unit = self.draw.draw(batch["index"], batch["target_source"], STREAMS[stage]).to(sources.device)
        with torch.no_grad():
            rendered = self.render(sources, torch.cat([unit, unit]) if with_target else unit)
        target, reference = rendered.chunk(2) if with_target else (None, rendered)
        truth, known = parameter_truth(unit, batch.get("degradation"), self.sample_rate)
        needed = self.needed_tone_db(unit, batch.get("degradation")) if self.loss.tone_weight > 0 else None
        return target, reference, truth, known, needed

    def evaluate(
        self, batch: dict, stage: str
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None, torch.Tensor | None]:
        """(loss terms, output, target); output and target are None in parameter-space training."""
        target, reference, truth, known, needed = self.targets(batch, stage, with_target=self.audio_loss)
        x = batch["input"]
        unit = self.model(x, reference)
        if not self.audio_loss:
            with torch.autocast(device_type=x.device.type, enabled=False):
                param = self.loss.parameters_l1(unit.double(), truth, known).float()
                terms = {"param": param, "loss": self.loss.param_weight * param}
                if self.loss.tone_weight > 0:
                    terms["tone"] = self.loss.tonal(unit.double(), needed).float()
                    terms["loss"] = terms["loss"] + self.loss.tone_weight * terms["tone"]
            return terms, None, None
        output = self.render(x, unit)
        with torch.autocast(device_type=x.device.type, enabled=False):
            terms = self.loss(output, target, unit.double(), truth, known, needed)
        return terms, output, target

    @contextlib.contextmanager
    def _step_rng(self, batch_idx: int):
        """Global RNG (dropout) seeded per step, restored afterwards."""
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(step_seed(self.seed, self.current_epoch, batch_idx, self.global_rank))
            yield

    # -- training ------------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int):
        with self._step_rng(batch_idx):
            terms, _, _ = self.evaluate(batch, "train")
        loss = terms["loss"]
        # one decision for all ranks: a rank returning no loss would leave the others waiting
        # in the gradient all-reduce
        bad = torch.as_tensor(float(not torch.isfinite(loss)), device=self.device)
        if float(self.trainer.strategy.reduce(bad, reduce_op="sum")) > 0:
            self._skip_pending = True
            # a finite zero that reaches every weight, so backward and DDP run as usual
            return sum((p * 0.0).sum() for p in self.model.parameters())
        batch_size = batch["input"].shape[0]
        for name, value in terms.items():
            self.log(f"train/{name}", value.detach().float(), batch_size=batch_size, prog_bar=name == "loss")
        return loss

    def on_before_optimizer_step(self, optimizer) -> None:
        grads = [p.grad.isfinite().all() for p in self.model.parameters() if p.grad is not None]
        finite = bool(torch.stack(grads).all()) if grads else True  # all-reduced: same on every rank
        if self._skip_pending or not finite:
            optimizer.zero_grad(set_to_none=True)  # no gradient: the optimiser leaves weights and state alone
            self.skipped_steps += 1
        self._skip_pending = False
        self.log("train/skipped_steps", self.skipped_steps.float())

    def on_train_end(self) -> None:
        # one line per process (Hydra writes each rank's log file): every rank really trained
        log.info(
            "rank %d of %d: %d optimiser steps, %d skipped as non-finite",
            self.global_rank,
            self.trainer.world_size,
            self.global_step,
            int(self.skipped_steps),
        )

    # -- validation / test ---------------------------------------------------------------------
    def _eval_step(self, batch: dict, batch_idx: int, stage: str) -> torch.Tensor:
        terms, output, target = self.evaluate(batch, stage)
        batch_size = batch["input"].shape[0]
        for name, value in terms.items():
            self.log(f"{stage}/{name}", value.float(), batch_size=batch_size, sync_dist=True, prog_bar=name == "loss")
        if stage == "val" and batch_idx == 0 and output is not None:
            self._log_audio(batch["input"], target, output)
        return terms["loss"]

    def validation_step(self, batch: dict, batch_idx: int):
        return self._eval_step(batch, batch_idx, "val")

    def test_step(self, batch: dict, batch_idx: int):
        return self._eval_step(batch, batch_idx, "test")

    def _log_audio(self, x: torch.Tensor, target: torch.Tensor, output: torch.Tensor) -> None:
        if not self.trainer.is_global_zero or self.trainer.sanity_checking or self.audio_examples <= 0:
            return
        tb = next((lg for lg in self.loggers if isinstance(lg, TensorBoardLogger)), None)
        if tb is None:
            return
        frames = int(self.audio_seconds * self.sample_rate)
        for i in range(min(self.audio_examples, x.shape[0])):
            for name, audio in (("input", x), ("target", target), ("output", output)):
                add_stereo_audio(
                    tb.experiment, f"audio/{i}/{name}", audio[i, :, :frames], self.sample_rate, self.global_step
                )

    # -- optimisation --------------------------------------------------------------------------
    def configure_optimizers(self):
        if self.optimizer_factory is None:
            raise RuntimeError("no optimizer configured")
        optimizer = self.optimizer_factory(params=self.model.parameters())
        if self.scheduler_factory is None:
            return optimizer
        # the schedules span the run's optimiser steps: trainer.max_steps (max_epochs is -1)
        total_steps = self.trainer.estimated_stepping_batches
        if not np.isfinite(total_steps):
            raise RuntimeError("a learning-rate schedule needs a training length: set trainer.max_steps")
        scheduler = self.scheduler_factory(optimizer=optimizer, total_steps=int(total_steps))
        # stepped after every optimiser step (OneCycleLR's and the warm-up's unit), not every epoch
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
