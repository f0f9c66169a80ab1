"""Every experiment and trainer config composes with the base config, resolves as it does in a
`tonematch-train` run, and builds: model (for the parameter table), loss, chain draw, optimiser,
scheduler, data module and training module; every `_target_` imports; trainer settings are
arguments Lightning's Trainer accepts."""

import functools
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


def scheduled_rates(cfg, steps: int = 100) -> list[float]:
    """The learning rate of each of `steps` optimiser steps under the config's schedule."""
    optimizer = instantiate(cfg.optimizer)(params=[torch.nn.Parameter(torch.zeros(1))])
    built = instantiate(cfg.scheduler)(optimizer=optimizer, total_steps=steps)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        built.step()
    return rates


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_scheduler_rises_to_the_configured_rate_then_falls(scheduler, tmp_path):
    # warm-up shorter than the run (the experiments' 300 of 1400), so both phases are seen
    cfg = composed(tmp_path, [f"scheduler={scheduler}", "scheduler.warmup_steps=20"])[0]
    rates = scheduled_rates(cfg)
    peak = max(rates)
    assert peak == pytest.approx(cfg.optimizer.lr, rel=0.06)  # the configured rate is the peak
    assert rates[0] < 0.2 * peak and rates[-1] < 0.2 * peak  # up from low, back down at the end
    top = rates.index(peak)
    assert 15 <= top <= 25  # the peak where the warm-up ends
    assert all(b >= a for a, b in zip(rates[:top], rates[1 : top + 1]))  # rises, then ...
    assert all(b <= a for a, b in zip(rates[top:], rates[top + 1 :]))  # ... only falls


@functools.cache
def model_of(experiment):
    """The experiment's network (the trainer and the schedule do not change it): built once."""
    cfg, _ = composed(Path("unused"), [f"experiment={experiment}"] if experiment else [])  # nothing is written
    return instantiate(cfg.model, table=TABLE)


def peak_step(scheduler_cfg, total_steps):
    """The step at which the schedule reaches optimizer.lr: the end of the warm-up."""
    if scheduler_cfg.get("warmup_steps") is not None:
        return min(scheduler_cfg.warmup_steps, total_steps - 2)
    return round(scheduler_cfg.pct_start * total_steps) - 1  # OneCycleLR's own


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("trainer", TRAINERS)
@pytest.mark.parametrize("experiment", [None, *EXPERIMENTS])
def test_experiment_trainer_scheduler_builds(experiment, trainer, scheduler, tmp_path):
    """Every combination composes and builds its optimiser and schedule as the training module
    does (total steps: Lightning's estimate, trainer.max_steps), and the learning rate rises to
    optimizer.lr at the end of the warm-up, then falls."""
    import pytorch_lightning as pl

    overrides = [f"trainer={trainer}", f"scheduler={scheduler}"] + ([f"experiment={experiment}"] if experiment else [])
    cfg, hydra_cfg = composed(tmp_path, overrides)
    choices = hydra_cfg.runtime.choices
    assert (choices.trainer, choices.scheduler) == (trainer, scheduler)
    check_targets(cfg)
    check_trainer(cfg.trainer)

    model = model_of(experiment)
    module = instantiate(
        cfg.module,
        model=model,
        loss=torch.nn.Identity(),  # built per experiment in test_experiment_composes_and_builds
        optimizer=instantiate(cfg.optimizer),
        scheduler=instantiate(cfg.scheduler),
    )
    # configure_optimizers asks the trainer for its optimiser steps; the configured trainer may
    # need GPUs or a launch, so a CPU one with the same training length stands in for it
    module.trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=cfg.trainer.max_steps,
        max_epochs=cfg.trainer.max_epochs,
        accumulate_grad_batches=cfg.trainer.accumulate_grad_batches,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    total = cfg.trainer.max_steps
    assert module.trainer.estimated_stepping_batches == total
    built = module.configure_optimizers()
    optimizer, schedule = built["optimizer"], built["lr_scheduler"]
    assert schedule["interval"] == "step"  # stepped after every optimiser step, not every epoch
    built = schedule["scheduler"]
    assert isinstance(built, torch.optim.lr_scheduler.LRScheduler)
    if scheduler == "onecycle":
        assert isinstance(built, torch.optim.lr_scheduler.OneCycleLR) and built.total_steps == total

    # the rate of each optimiser step, as Lightning steps the schedule, up to a few steps past the peak
    peak = peak_step(cfg.scheduler, total)
    assert 0 < peak < total - 1
    lrs = []
    for _ in range(min(total, peak + 4)):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # no gradients: the weights stay, the schedule's order is kept
        built.step()
    rise, fall = lrs[: peak + 1], lrs[peak:]
    assert all(a < b for a, b in zip(rise, rise[1:])), rise[-5:]
    assert all(a > b for a, b in zip(fall, fall[1:])), fall
    assert lrs[peak] == pytest.approx(cfg.optimizer.lr)
    assert lrs[0] < 0.6 * cfg.optimizer.lr


@pytest.mark.parametrize("experiment", ["smoke"])
def test_onecycle_over_a_whole_run(experiment, tmp_path):
    """The smoke run's whole one-cycle schedule (4 steps, warm-up 1): up, then down to the end."""
    cfg, _ = composed(tmp_path, ["scheduler=onecycle", f"experiment={experiment}"])
    total, lr = cfg.trainer.max_steps, cfg.optimizer.lr
    optimizer = instantiate(cfg.optimizer)(params=[torch.nn.Parameter(torch.zeros(1))])
    scheduler = instantiate(cfg.scheduler)(optimizer=optimizer, total_steps=total)
    lrs = []
    for _ in range(total):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()  # the last one too: Lightning steps after the final optimiser step
    assert lrs[0] == pytest.approx(lr / 25) and lrs[1] == pytest.approx(lr)
    assert lrs[1] > lrs[2] > lrs[3] == pytest.approx(lr / 25 / 1e4)  # the last step at the floor


@pytest.mark.parametrize("total", [1, 2, 3, 20, 100])
@pytest.mark.parametrize("warmup", [None, 0, 1, 5, 1000])
def test_onecycle_takes_any_length(total, warmup):
    """Short runs and long warm-ups are clamped, never a division by zero inside torch."""
    from tonematch.training.schedules import one_cycle

    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = one_cycle(optimizer, total, max_lr=1.0, warmup_steps=warmup, pct_start=0.05)
    lrs = []
    for _ in range(total):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    top = max(range(total), key=lrs.__getitem__)
    assert all(a < b for a, b in zip(lrs[: top + 1], lrs[1 : top + 1]))
    assert all(a > b for a, b in zip(lrs[top:], lrs[top + 1 :]))


def test_a_run_holds_out_what_tonematch_eval_tests_by_default(tmp_path):
    """The data config's split fractions are tonematch-eval's defaults (and the CPU recipe's), so
    a run without overrides never trains or picks its checkpoint on tracks the evaluation counts
    as held out."""
    from tonematch.training.eval_command import build_parser

    cfg, _ = composed(tmp_path, ["experiment=gpu_recipe"])
    recipe, _ = composed(tmp_path, ["experiment=cpu_recipe"])
    args = build_parser().parse_args(["folder"])
    for c in (cfg, recipe):
        assert (c.data.val_fraction, c.data.test_fraction) == (args.val_fraction, args.test_fraction)
