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
import re
import shutil
import sys
from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.errors import HydraException, InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from tonematch.data.errors import TonematchError
from tonematch.inference.console import error, one_line, warn
from tonematch.models.chain import TABLE

from .callbacks import best_checkpoint
from .config_dir import config_dir

log = logging.getLogger(__name__)
PROG = "tonematch-train"


def resolve_resume(resume, checkpoint_dir, output_dir) -> str | None:
    """ckpt_path for trainer.fit: None (fresh), the newest checkpoint of this run for 'last' (the
    periodic last.ckpt, or Lightning's SLURM pre-emption checkpoint if that is newer), or a path.
    The checkpoint is read once here, as tonematch-export reads one: a truncated or foreign file
    is refused in one line before anything is built, not deep inside Lightning's restore."""
    if resume in (None, "", "none", "null"):
        return None
    if str(resume) == "last":
        candidates = [Path(checkpoint_dir) / "last.ckpt", *Path(output_dir).glob("hpc_ckpt_*.ckpt")]
        found = [p for p in candidates if p.is_file()]
        if not found:
            log.info("resume=last: no checkpoint in %s yet, starting from scratch", output_dir)
            return None
        path = max(found, key=lambda p: p.stat().st_mtime)
    else:
        path = Path(resume)
        if not path.is_file():
            raise TonematchError(f"resume checkpoint not found: {resume}")
    from .export import load_checkpoint

    try:
        load_checkpoint(path)
    except TonematchError as exc:
        if str(resume) != "last":
            raise TonematchError(f"resume: {exc}") from None
        raise TonematchError(f"resume=last: {exc} (remove it, or give resume=PATH of another checkpoint)") from None
    return str(path)


def start_from(model, stem) -> None:
    """The weights of an exported model (STEM.safetensors + STEM.json, e.g. the shipped one) into
    `model` before the run: fine-tuning rather than a fresh start (a resumed checkpoint still wins).
    The architectures must match: the config's model group is the one the file was trained with."""
    from tonematch.models.files import load_model

    start, _ = load_model(stem, expected_param_names=TABLE.learned_keys)
    if int(start.sample_rate) != int(model.sample_rate):  # its mel bands and descriptors meant other frequencies
        warn(
            f"init_weights={stem} was trained at {int(start.sample_rate)} Hz, this run's chain.sample_rate is "
            f"{int(model.sample_rate)} Hz: its weights start from features read at another rate",
            PROG,
        )
    try:
        model.load_state_dict(start.state_dict())
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        raise TonematchError(f"init_weights={stem}: not this config's model architecture ({first})") from None


def _instantiate_all(group) -> list:
    """Every entry of a {name: config} mapping; entries set to null are switched off."""
    return [instantiate(c) for c in (group or {}).values() if c is not None]


def check_sources(cfg: DictConfig, datamodule) -> None:
    """The data's split, before anything is built: a folder with no audio or an empty training
    split is refused; an empty validation split trains on, with a warning (no best checkpoint)."""
    if datamodule.root is None:  # synthetic tracks: written by prepare_data, within fit
        return
    split, what = datamodule.sources()
    from lightning_fabric.utilities.rank_zero import rank_zero_only

    if not split["val"] and rank_zero_only.rank == 0:  # said once, not by every DDP process
        total = sum(len(files) for files in split.values())
        ending = "; the final weights are exported" if (cfg.get("callbacks") or {}).get("export") else ""
        warn(
            f"the validation split of {datamodule.root} is empty ({total} {what}s, val_fraction "
            f"{datamodule.val_fraction:g}): no best checkpoint will be kept{ending}",
            PROG,
        )


def check_architecture(module, ckpt_path: str) -> None:
    """The checkpoint to resume holds this config's network (same model group): a run resumed with
    another model=... is one line, not Lightning's page of size mismatches from inside fit."""
    from .export import load_checkpoint

    saved = {k: v for k, v in load_checkpoint(Path(ckpt_path))["state_dict"].items() if k.startswith("model.")}
    own = {k: v for k, v in module.state_dict().items() if k.startswith("model.")}
    differ = sorted(set(saved) ^ set(own)) or [k for k in own if tuple(own[k].shape) != tuple(saved[k].shape)]
    if differ:
        raise TonematchError(
            f"resume: {ckpt_path} holds another model architecture than this config's ({differ[0]} differs): "
            f"resume with the run's own model group"
        )


def check_optimizer(module, trainer_cfg) -> None:
    """The optimizer and schedule built once, thrown away, before fit: a bad setting (optimizer.lr=-1,
    scheduler.warmup_steps=abc, no training length) is refused in one line, not a traceback from fit."""
    if module.optimizer_factory is None:
        return
    steps, epochs = int(trainer_cfg.get("max_steps", -1)), int(trainer_cfg.get("max_epochs") or -1)
    if module.scheduler_factory is not None and steps < 0 and epochs < 1:
        raise TonematchError("a learning-rate schedule needs a training length: set trainer.max_steps")
    try:
        optimizer = module.optimizer_factory(params=module.model.parameters())
        if module.scheduler_factory is not None:  # an epoch-bounded run's length is known in fit only
            module.scheduler_factory(optimizer=optimizer, total_steps=max(1, steps if steps >= 0 else 1000))
    except (TypeError, ValueError) as exc:
        raise TonematchError(f"optimizer or scheduler: {' '.join(str(exc).split())}") from None


def check_numbers(cfg: DictConfig) -> None:
    """The settings Lightning or the data would only trip over inside the fit loop, with a
    traceback: the training length, the rate and the segment's length."""
    from tonematch.data.audio import check_sample_rate
    from tonematch.models.measure.loudness import MOMENTARY_S

    for key in ("max_steps", "max_epochs"):
        value = cfg.trainer.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TonematchError(f"trainer.{key}={value!r}: give a whole number of {key[4:]} (-1: no limit)")
    rate = check_sample_rate(cfg.chain.sample_rate, "chain.sample_rate")
    frames = cfg.data.get("segment_frames")
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < MOMENTARY_S * rate:
        raise TonematchError(
            f"data.segment_frames={frames!r}: a segment needs at least one {MOMENTARY_S * 1000:.0f} ms loudness block "
            f"({int(MOMENTARY_S * rate)} samples at {rate} Hz)"
        )


def prepare(cfg: DictConfig, callbacks: list | None = None) -> dict:
    """Everything fit needs, built from a composed config, the user's files checked first (the
    checkpoint to resume, the data folder): {"trainer", "module", "datamodule", "ckpt_path"}."""
    check_numbers(cfg)
    ckpt_path = resolve_resume(cfg.resume, cfg.paths.checkpoint_dir, cfg.paths.output_dir)
    datamodule = instantiate(cfg.data)
    check_sources(cfg, datamodule)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)  # its line on stderr came before a refusal's one line
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
    if ckpt_path is not None:
        check_architecture(module, ckpt_path)
    check_optimizer(module, cfg.trainer)
    loggers = _instantiate_all(cfg.get("logger"))
    callbacks = _instantiate_all(cfg.get("callbacks")) + list(callbacks or [])
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    for lg in loggers:
        lg.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    return {"trainer": trainer, "module": module, "datamodule": datamodule, "ckpt_path": ckpt_path}


def fit(cfg: DictConfig, run: dict) -> dict:
    trainer, module, datamodule = run["trainer"], run["module"], run["datamodule"]
    trainer.fit(module, datamodule=datamodule, ckpt_path=run["ckpt_path"])
    if cfg.get("test_after_fit"):
        best, _ = best_checkpoint(trainer)  # None: the final weights
        trainer.test(module, datamodule=datamodule, ckpt_path=best)
    return run


def train(cfg: DictConfig, callbacks: list | None = None) -> dict:
    """Fit from a composed config -> {"trainer", "module", "datamodule", "ckpt_path"}.
    `callbacks`: extra Lightning callbacks (programmatic use: tests, notebooks)."""
    return fit(cfg, prepare(cfg, callbacks))


# -- the command ----------------------------------------------------------------------------------

CONFIG_ERRORS = (TonematchError, HydraException, OmegaConfBaseException)


def config_line(exc: BaseException) -> str:
    """One line for a refused config: Hydra's composition and instantiation errors and OmegaConf's
    come as several lines (an options list, a search path, 'full_key: ...'); this keeps the gist."""
    if isinstance(exc, InstantiationException) and exc.__cause__ is not None:
        cause = exc.__cause__
        if isinstance(cause, TonematchError):
            return one_line(cause)
        target = re.search(r"target '([^']+)'", str(exc))
        key = re.search(r"full_key: (\S+)", str(exc))
        where = (key.group(1) if key else "config") + (f" ({target.group(1)})" if target else "")
        return f"cannot build {where}: {type(cause).__name__}: {' '.join(str(cause).split())}"
    if isinstance(exc, OmegaConfBaseException) and not isinstance(exc, HydraException):
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        key = getattr(exc, "full_key", None)
        return f"{key}: {first}" if key else first
    parts: list[str] = []
    for line in str(exc).splitlines():
        if line.startswith("Config search path"):  # where Hydra looked: not the user's mistake
            break
        if line[:1].isspace() and line.strip() and parts:  # an item of the list the line above opens
            parts[-1] += (" " if parts[-1].endswith(":") else ", ") + line.strip()
        elif line.strip():
            parts.append(line.strip())
    return " ".join(p if p.endswith((".", ":")) else p + ";" for p in parts).rstrip(";") or one_line(exc)


def _refuse(exc: BaseException) -> None:
    error(config_line(exc) if isinstance(exc, CONFIG_ERRORS) else one_line(exc), PROG)
    sys.exit(2)


def _fresh_top(run_dir: Path) -> Path | None:
    """The outermost folder of `run_dir` that does not exist yet (what this run will create), or
    None where the run folder is there already (a resumed run's)."""
    top = None
    for folder in (run_dir, *run_dir.parents):
        if folder.exists():
            return top
        top = folder
    return top


def check_overrides(path: str, overrides: list[str]) -> tuple[list[str], Path | None, Path | None]:
    """Compose and resolve the config as Hydra will, before Hydra makes the run folder: a missing
    group option, an unknown key or a broken interpolation is refused with nothing written.
    -> (the overrides, with run_id pinned when the default timestamp is used, so Hydra makes the
    folder checked here; the run folder; the outermost folder the run will create, or None)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    with initialize_config_dir(config_dir=path, version_base="1.3", job_name="train"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    if not any(re.match(r"[+~]*run_id(=|$)", o) for o in overrides):
        overrides = [*overrides, f"run_id={cfg.run_id}"]
    run_dir = Path(str(cfg.hydra.run.dir)).absolute()
    cfg.hydra.runtime.output_dir = str(run_dir)
    HydraConfig.instance().set_config(cfg)  # ${hydra:...} resolves as in the run
    OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True)
    return overrides, run_dir, _fresh_top(run_dir)


def sweep_variants(overrides: list[str]) -> list[list[str]]:
    """Plain runs that, together, hold every value of a multirun's sweeps (a=1,2 b=3,4 -> a=1 b=3,
    a=2 b=3, a=1 b=4): each is checked as a plain run is, so a typo is one line, not Hydra's
    multi-line error (status 1) or a traceback after part of the sweep has run. A sweep this cannot
    list without Hydra's loader (glob, interval) -> [] (nothing checked here: Hydra says it)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Transformer

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
        if any(o.is_sweep_override() and not o.is_discrete_sweep() for o in parsed):
            return []
        # encoded: a quoted value ('a b', 'a,b') stays one value when the override is parsed again
        values = [
            [str(v) for v in o.sweep_iterator(transformer=Transformer.encode)] if o.is_sweep_override() else [None]
            for o in parsed
        ]
    except HydraException:
        return []

    def variant(index: int, value) -> list[str]:
        return [
            o.input_line if v[0] is None else f"{o.get_key_element()}={value if i == index else v[0]}"
            for i, (o, v) in enumerate(zip(parsed, values))
        ]

    return [variant(-1, None)] + [variant(i, value) for i, v in enumerate(values) for value in v[1:]]


def _remove_refused_run(run_dir: Path | None, top: Path | None) -> None:
    """A run refused before training leaves no folder behind: Hydra made it (its .hydra/ and an
    empty train.log), and it did not exist before this command, so nothing of the user's is in it."""
    from hydra.core.hydra_config import HydraConfig

    if top is None or run_dir is None or Path(HydraConfig.get().runtime.output_dir).absolute() != run_dir:
        return
    shutil.rmtree(run_dir, ignore_errors=True)
    for folder in run_dir.parents:  # up to `top`, each only if empty
        if not folder.is_relative_to(top):
            break
        try:
            folder.rmdir()
        except OSError:
            break


def _run(cfg: DictConfig, run_dir: Path | None = None, fresh: Path | None = None, kept: dict | None = None) -> None:
    try:
        run = prepare(cfg)
    except CONFIG_ERRORS as exc:  # the user's files or settings: one line, status 2, no run folder
        _remove_refused_run(run_dir, fresh)
        for path, text in (kept or {}).items():  # a run's own config, which tonematch-export reads
            path.write_bytes(text)
        _refuse(exc)
    try:
        fit(cfg, run)
    except TonematchError as exc:
        _refuse(exc)


def main() -> None:
    run_dir = fresh = None
    kept: dict = {}
    try:
        path = config_dir()
        # a plain run or a multirun (-m) is checked here; Hydra's other flags (--cfg, --help, ...) go to it
        if not any(arg.startswith("-") for arg in sys.argv[1:]):
            sys.argv[1:], run_dir, fresh = check_overrides(path, sys.argv[1:])
            # Hydra rewrites an existing run's .hydra/ before the task runs: put it back if refused
            kept = {p: p.read_bytes() for p in (run_dir / ".hydra").glob("*.yaml")}
        elif sys.argv[1] in ("-m", "--multirun") and not any(a.startswith("-") for a in sys.argv[2:]):
            for overrides in sweep_variants(sys.argv[2:]):
                check_overrides(path, overrides)
    except CONFIG_ERRORS as exc:
        _refuse(exc)

    def task(cfg: DictConfig) -> None:
        _run(cfg, run_dir, fresh, kept)

    hydra.main(version_base="1.3", config_path=path, config_name="train")(task)()


if __name__ == "__main__":
    main()
