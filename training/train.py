"""tonematch-train: instantiate data, network, module and trainer from the Hydra config; fit.

  tonematch-train experiment=smoke
  tonematch-train experiment=cpu_recipe data.root=/music run_id=first
  tonematch-train experiment=cpu_recipe data.root=/music run_id=first resume=last   # continue it
  tonematch-train experiment=cpu_recipe data.root=/music init_weights=models/weights/default  # fine-tune
  python -m tonematch.training.train trainer=ddp_cpu experiment=smoke

Configs: $TONEMATCH_CONFIGS or configs/ at the repository root (config_dir.py). A run writes to
runs/<name>/<run_id>/ (checkpoints/, tensorboard/, csv/, model.safetensors + model.json).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from tonematch.data.errors import TonematchError
from tonematch.inference.console import error, one_line
from tonematch.models.chain import TABLE

from .callbacks import best_checkpoint
from .config_dir import config_dir

log = logging.getLogger(__name__)


def resolve_resume(resume, checkpoint_dir, output_dir) -> str | None:
    """ckpt_path for trainer.fit: None (fresh), the newest checkpoint of this run for 'last' (the
    periodic last.ckpt, or Lightning's SLURM pre-emption checkpoint if that is newer), or a path."""
    if resume in (None, "", "none", "null"):
        return None
    if str(resume) == "last":
        candidates = [Path(checkpoint_dir) / "last.ckpt", *Path(output_dir).glob("hpc_ckpt_*.ckpt")]
        found = [p for p in candidates if p.is_file()]
        if not found:
            log.info("resume=last: no checkpoint in %s yet, starting from scratch", output_dir)
            return None
        return str(max(found, key=lambda p: p.stat().st_mtime))
    if not Path(resume).is_file():
        raise TonematchError(f"resume checkpoint not found: {resume}")
    return str(resume)


def start_from(model, stem) -> None:
    """The weights of an exported model (STEM.safetensors + STEM.json, e.g. the shipped one) into
    `model` before the run: fine-tuning rather than a fresh start (a resumed checkpoint still wins).
    The architectures must match: the config's model group is the one the file was trained with."""
    from tonematch.models.files import load_model

    start, _ = load_model(stem, expected_param_names=TABLE.learned_keys)
    try:
        model.load_state_dict(start.state_dict())
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        raise TonematchError(f"init_weights={stem}: not this config's model architecture ({first})") from None


def _instantiate_all(group) -> list:
    """Every entry of a {name: config} mapping; entries set to null are switched off."""
    return [instantiate(c) for c in (group or {}).values() if c is not None]


def train(cfg: DictConfig, callbacks: list | None = None) -> dict:
    """Fit from a composed config -> {"trainer", "module", "datamodule", "ckpt_path"}.
    `callbacks`: extra Lightning callbacks (programmatic use: tests, notebooks)."""
    pl.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    module = instantiate(
        cfg.module,
        model=instantiate(cfg.model, table=TABLE),
        loss=instantiate(cfg.loss),
        draw=instantiate(cfg.chain.draw),
        optimizer=instantiate(cfg.optimizer),
        scheduler=instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
    )
    if cfg.get("init_weights"):
        start_from(module.model, cfg.init_weights)
    loggers = _instantiate_all(cfg.get("logger"))
    callbacks = _instantiate_all(cfg.get("callbacks")) + list(callbacks or [])
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    for lg in loggers:
        lg.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    ckpt_path = resolve_resume(cfg.resume, cfg.paths.checkpoint_dir, cfg.paths.output_dir)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    if cfg.get("test_after_fit"):
        best, _ = best_checkpoint(trainer)  # None: the final weights
        trainer.test(module, datamodule=datamodule, ckpt_path=best)
    return {"trainer": trainer, "module": module, "datamodule": datamodule, "ckpt_path": ckpt_path}


def _run(cfg: DictConfig) -> None:
    try:
        train(cfg)
    except TonematchError as exc:  # a problem with the user's files or settings: one line, status 2
        error(one_line(exc), "tonematch-train")
        sys.exit(2)


def main() -> None:
    try:
        path = config_dir()
    except TonematchError as exc:
        error(one_line(exc), "tonematch-train")
        sys.exit(2)
    hydra.main(version_base="1.3", config_path=path, config_name="train")(_run)()


if __name__ == "__main__":
    main()
