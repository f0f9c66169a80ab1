"""MasteringModule: a training step moves the weights; non-finite losses and gradients never do,
and are counted; self-supervised batches get targets from the chain draw."""

import functools

import numba
import pytest
import pytorch_lightning as pl
import torch

from tonematch.data.synth import music_like
from tonematch.models.chain import TABLE
from tonematch.models.chain.loudness import loudness_lufs
from tonematch.models.model import MasteringModel
from tonematch.training.chain_draw import ChainDraw
from tonematch.training.losses import MasteringLoss, eq_curve_db
from tonematch.training.module import MasteringModule
from tonematch.training.schedules import one_cycle

SR, T = 16000, 8192
SMALL = {"n_fft": 1024, "hop": 512, "n_mels": 32, "channels": [8, 16, 16, 16], "embed_dim": 32}


@pytest.fixture(autouse=True)
def one_numba_thread():
    # torch's OpenMP pool was started before tonematch.training could ask it to sleep when idle;
    # the chain's numba threads would fight it for the cores (see training/__init__.py)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


def make_module(draw=None, scheduler=None):
    torch.manual_seed(0)
    model = MasteringModel.for_table(
        TABLE, SR, excerpt_frames=T, encoder_kwargs=SMALL, controller_kwargs={"hidden": 32}
    )
    return MasteringModule(
        model,
        MasteringLoss(SR),
        SR,
        draw=draw,
        optimizer=functools.partial(torch.optim.AdamW, lr=1e-3, weight_decay=0.1),
        scheduler=scheduler,
    )


def pair_batch(poison=False, seed=0):
    x = torch.from_numpy(music_like(seconds=T / SR, sample_rate=SR, seed=seed))[None, :, :T]
    target = 0.5 * x
    if poison:
        x = x.clone()
        x[0, 0, 100] = float("nan")
    return {"input": x, "target": target, "reference": target.clone(), "index": torch.tensor([seed])}


def fit(module, batches, callbacks=()):
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=len(batches),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        callbacks=list(callbacks),
    )
    before = {k: v.clone() for k, v in module.model.state_dict().items()}
    trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=None))
    changed = [k for k, v in module.model.state_dict().items() if not torch.equal(v, before[k])]
    return trainer, changed


def test_finite_batches_train():
    module = make_module()
    trainer, changed = fit(module, [pair_batch(seed=1), pair_batch(seed=2)])
    assert changed and int(module.skipped_steps) == 0 and trainer.global_step == 2


def test_nan_loss_leaves_weights_and_optimizer_state_alone():
    module = make_module()
    trainer, changed = fit(module, [pair_batch(poison=True, seed=1), pair_batch(poison=True, seed=2)])
    assert changed == [] and int(module.skipped_steps) == 2
    assert trainer.optimizers[0].state_dict()["state"] == {}  # AdamW never took a step
    assert float(trainer.callback_metrics["train/skipped_steps"]) == 2.0


def test_nan_gradient_with_finite_loss_is_dropped():
    module = make_module()
    weight = module.model.controller.out.weight
    weight.register_hook(lambda grad: grad * float("nan"))
    _, changed = fit(module, [pair_batch(seed=3)])
    assert changed == [] and int(module.skipped_steps) == 1


class StepRates(pl.Callback):
    """The learning rate each optimiser step trains with."""

    def __init__(self):
        self.lrs = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def test_one_cycle_schedule_is_stepped_every_optimizer_step():
    """configure_optimizers builds the schedule over the trainer's max_steps and Lightning steps
    it after every optimiser step: up to max_lr at the end of the warm-up, then down."""
    module = make_module(scheduler=functools.partial(one_cycle, max_lr=1e-3, warmup_steps=2))
    rates = StepRates()
    batches = [pair_batch(seed=s) for s in range(5)]
    trainer, _ = fit(module, batches, callbacks=[rates])
    (config,) = trainer.lr_scheduler_configs
    assert config.interval == "step" and config.scheduler.total_steps == trainer.max_steps == len(batches)
    lrs = rates.lrs
    assert len(lrs) == 5 and lrs[0] < lrs[1] < lrs[2] > lrs[3] > lrs[4]
    assert lrs[0] == pytest.approx(1e-3 / 25) and lrs[2] == pytest.approx(1e-3)


def test_self_supervised_targets_come_from_the_draw():
    draw = ChainDraw(SR, {"loudness.target_lufs": {"dist": "uniform", "low": -12.0, "high": -12.0}})
    module = make_module(draw)
    clean = torch.from_numpy(music_like(seconds=2 * T / SR, sample_rate=SR, seed=4))[None]
    degradation = {
        "tilt_db": torch.tensor([0.0]),
        "width": torch.tensor([1.0]),
        "expansion_ratio": torch.tensor([1.0]),
        "bass_db": torch.tensor([0.0]),
        "treble_db": torch.tensor([0.0]),
        "level_db": torch.tensor([-6.0]),
    }
    batch = {
        "input": 0.5 * clean[..., :T],
        "target_source": clean[..., :T],
        "reference_source": clean[..., T:],
        "degradation": degradation,
        "index": torch.tensor([0]),
    }
    target, reference, truth, known, needed = module.targets(batch, "train")
    assert needed is None  # no tone term in this loss
    assert torch.allclose(loudness_lufs(target, SR), torch.tensor([-12.0], dtype=torch.float64), atol=0.1)
    assert torch.allclose(loudness_lufs(reference, SR), torch.tensor([-12.0], dtype=torch.float64), atol=0.1)
    assert known.all()
    assert float(TABLE.from_unit(truth, SR)["gain.gain_db"]) == pytest.approx(6.0)
    terms, output, _ = module.evaluate(batch, "train")
    assert output.shape == target.shape and torch.isfinite(terms["loss"]) and float(terms["param"].detach()) > 0


def test_tone_term_needs_the_drawn_curve_less_the_degradation():
    """With a tone weight, a case needs the drawn EQ's curve less the degradation's: a +3 dB
    treble degradation on a flat draw needs a treble cut of the same size."""
    draw = ChainDraw(SR, {"eq.high_shelf.gain_db": {"dist": "const", "value": 0.0}})
    module = make_module(draw)
    module.loss.tone_weight = 0.1
    clean = torch.from_numpy(music_like(seconds=2 * T / SR, sample_rate=SR, seed=4))[None]
    zero = torch.tensor([0.0])
    degradation = {
        "tilt_db": zero,
        "width": torch.tensor([1.0]),
        "expansion_ratio": torch.tensor([1.0]),
        "bass_db": zero,
        "treble_db": torch.tensor([3.0]),
        "level_db": zero,
    }
    batch = {
        "input": clean[..., :T],
        "target_source": clean[..., :T],
        "reference_source": clean[..., T:],
        "degradation": degradation,
        "index": torch.tensor([0]),
    }
    _, _, truth, _, needed = module.targets(batch, "train")
    drawn = eq_curve_db(truth, SR)
    cut = (needed - drawn)[0]
    assert float(cut[0]) == pytest.approx(0.0, abs=0.1)
    assert float(cut[-1]) < -1.0 and float(cut[-1]) < float(cut[len(cut) // 2]) - 1.0
    terms, _, _ = module.evaluate(batch, "train")
    assert float(terms["tone"].detach()) > 0 and torch.isfinite(terms["loss"])
