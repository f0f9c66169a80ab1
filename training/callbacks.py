"""Export of the trained network as safetensors + JSON card at the end of fit."""

from __future__ import annotations

import copy
import datetime
import math
import os
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from tonematch.models.files import save_model


def best_checkpoint(trainer: pl.Trainer) -> tuple[str | None, float | None]:
    """Best checkpoint of the first monitoring ModelCheckpoint, with its score."""
    for cb in trainer.checkpoint_callbacks:
        if isinstance(cb, ModelCheckpoint) and cb.monitor and cb.best_model_path and os.path.isfile(cb.best_model_path):
            score = None if cb.best_model_score is None else float(cb.best_model_score)
            return cb.best_model_path, (score if score is not None and math.isfinite(score) else None)
    return None, None


class ExportBestModel(pl.Callback):
    """Writes `<path>.safetensors` + `<path>.json` (models.files.save_model) from the best
    checkpoint by the monitored validation loss, or the final weights when there is none.
    `card`: extra fields for the JSON card (name, data description, ...)."""

    def __init__(self, path: str, card: dict | None = None):
        self.path = str(path)
        self.card = dict(card or {})

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        model = copy.deepcopy(pl_module.model).cpu()
        ckpt_path, score = best_checkpoint(trainer)
        # the step and epoch of the weights written (tonematch-export's card says the same of them)
        step, epoch = int(trainer.global_step), int(trainer.current_epoch)
        if ckpt_path is not None:
            # our own checkpoint from this run: trusted, and it holds non-tensor training state
            ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
            state = ckpt["state_dict"]
            model.load_state_dict({k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")})
            step, epoch = int(ckpt.get("global_step", -1)), int(ckpt.get("epoch", -1))
        card = {
            **self.card,
            "training": {
                "source": "best checkpoint" if ckpt_path else "final weights",
                "checkpoint": ckpt_path,
                "best_val_loss": score,
                "global_step": step,
                "epochs": epoch,
                "run_steps": int(trainer.global_step),  # how far the run went, past its best where it did
                "world_size": int(trainer.world_size),
                "sample_rate": int(pl_module.sample_rate),
                "exported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            },
        }
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        save_model(model.eval(), self.path, card)
        # print, not pl_module.print: with the progress bar on, that goes to the bar, and at fit end
        # there is none left to write it, so the line was lost
        print(f"exported model: {self.path}.safetensors / .json ({card['training']['source']})", flush=True)
