"""Every experiment and trainer config composes with the base config, resolves as it does in a
`tonematch-train` run, and builds: model (for the parameter table), loss, chain draw, optimiser,
scheduler, data module and training module; every `_target_` imports; trainer settings are
arguments Lightning's Trainer accepts."""

import inspect
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_object, instantiate
from omegaconf import OmegaConf, open_dict

from tonematch.models.chain import TABLE
from tonematch.training.config_dir import config_dir

CONFIGS = Path(config_dir())
EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))
TRAINERS = sorted(p.stem for p in (CONFIGS / "trainer").glob("*.yaml"))
SCHEDULERS = sorted(p.stem for p in (CONFIGS / "scheduler").glob("*.yaml"))


def test_the_config_folders_are_found():
    assert {"smoke", "cpu_recipe", "gpu_recipe"} <= set(EXPERIMENTS)
    assert {"cpu", "gpu", "ddp", "ddp_cpu"} <= set(TRAINERS)


def composed(tmp_path, overrides):
    """(job config, hydra config) resolved the way a Hydra run resolves them: the run folder is
    hydra.run.dir (under tmp_path here), and ${hydra:runtime.output_dir} points at it."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, f"paths.log_dir={tmp_path}"], return_hydra_config=True)
    hydra_cfg = cfg.hydra
    hydra_cfg.runtime.output_dir = str(Path(hydra_cfg.run.dir).absolute())
    HydraConfig.instance().set_config(cfg)
    try:
        with open_dict(cfg):
            del cfg["hydra"]
        OmegaConf.resolve(cfg)  # raises on an interpolation that points nowhere
    finally:
        HydraConfig.instance().cfg = None
    return cfg, hydra_cfg


def targets(node, where=""):
    """(path, _target_) of every instantiable node."""
    if isinstance(node, dict):
        if "_target_" in node:
            yield where, node["_target_"]
        for key, value in node.items():
            yield from targets(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from targets(value, f"{where}[{i}]")


def check_targets(cfg):
    for where, target in targets(OmegaConf.to_container(cfg)):
        assert callable(get_object(target)), f"{where}: {target}"


def check_trainer(trainer_cfg):
    import pytorch_lightning as pl

    assert get_object(trainer_cfg._target_) is pl.Trainer
    accepted = set(inspect.signature(pl.Trainer.__init__).parameters)
    given = {k for k in trainer_cfg if not k.startswith("_")}
    assert given <= accepted, f"not Trainer arguments: {sorted(given - accepted)}"


@pytest.mark.parametrize("experiment", [None, *EXPERIMENTS])
def test_experiment_composes_and_builds(experiment, tmp_path):
    overrides = [f"experiment={experiment}"] if experiment else []
    cfg, hydra_cfg = composed(tmp_path, overrides)
    name = experiment or "default"
    assert cfg.name == name
    run_dir = Path(hydra_cfg.runtime.output_dir)
    assert run_dir.parent == tmp_path / name
    assert Path(cfg.paths.output_dir) == run_dir and Path(cfg.paths.checkpoint_dir) == run_dir / "checkpoints"
    assert Path(cfg.callbacks.export.path) == run_dir / "model"
    # one rate throughout: the chain's is the data's, the model's, the loss's, the module's, the draw's
    sr = cfg.chain.sample_rate
    assert cfg.data.sample_rate == cfg.model.sample_rate == cfg.loss.sample_rate == cfg.module.sample_rate == sr
    assert cfg.chain.draw.sample_rate == sr and cfg.model.excerpt_frames == cfg.data.segment_frames
    check_targets(cfg)
    check_trainer(cfg.trainer)

    model = instantiate(cfg.model, table=TABLE)
    loss = instantiate(cfg.loss)
    draw = instantiate(cfg.chain.draw)
    optimizer = instantiate(cfg.optimizer)(params=model.parameters())
    # as MasteringModule.configure_optimizers calls it
    scheduler = instantiate(cfg.scheduler)(optimizer=optimizer, total_steps=cfg.trainer.max_steps)
    assert isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler)
    module = instantiate(
        cfg.module,
        model=model,
        loss=loss,
        draw=draw,
        optimizer=instantiate(cfg.optimizer),
        scheduler=instantiate(cfg.scheduler),
    )
    datamodule = instantiate(cfg.data)
    assert module.sample_rate == sr and datamodule.sample_rate == sr

    clips = torch.zeros(3, 2, 4096).uniform_(-0.5, 0.5)
    unit = draw.draw(torch.arange(3), clips)
    assert unit.shape == (3, len(TABLE.learned_keys)) and bool(((unit >= 0) & (unit <= 1)).all())
    assert torch.equal(unit, draw.draw(torch.arange(3), clips))  # seeded per item


@pytest.mark.parametrize("trainer", TRAINERS)
def test_trainer_composes(trainer, tmp_path):
    cfg, hydra_cfg = composed(tmp_path, [f"trainer={trainer}", "experiment=smoke"])
    assert hydra_cfg.runtime.choices.trainer == trainer
    assert cfg.trainer.default_root_dir == hydra_cfg.runtime.output_dir
    check_targets(cfg.trainer)
    check_trainer(cfg.trainer)
    if trainer == "cpu":  # the only one this machine can build (the others need GPUs or a launch)
        built = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
        assert built.max_steps == cfg.trainer.max_steps


def build_scheduler(cfg):
    optimizer = instantiate(cfg.optimizer)(params=[torch.nn.Parameter(torch.zeros(1))])
    built = instantiate(cfg.scheduler)(optimizer=optimizer, total_steps=100)
    for _ in range(100):
        optimizer.step()
        built.step()


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_scheduler_builds(scheduler, tmp_path):
    build_scheduler(composed(tmp_path, [f"scheduler={scheduler}"])[0])


@pytest.mark.xfail(
    strict=True, raises=TypeError, reason="every experiment sets scheduler.warmup_steps, which OneCycleLR does not take"
)
def test_onecycle_with_an_experiment(tmp_path):
    build_scheduler(composed(tmp_path, ["scheduler=onecycle", "experiment=smoke"])[0])
