"""tonematch-train end to end: the smoke experiment through the Hydra entry point, an exact resume,
and a real two-process DDP fit on CPU (gloo)."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

from tonematch.models.chain import TABLE
from tonematch.models.files import load_model
from tonematch.training.datamodule import write_synthetic_tracks

SR = 16000


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    folder = tmp_path_factory.mktemp("music")
    write_synthetic_tracks(folder, 4, 3.0, SR)
    return folder


def run_cli(args, cwd, timeout=240):
    env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_RANK", "WORLD_SIZE", "RANK")}
    proc = subprocess.run(
        [sys.executable, "-m", "tonematch.training.train", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_smoke_experiment_via_the_cli(music, tmp_path):
    run_cli(["experiment=smoke", f"data.root={music}", f"paths.log_dir={tmp_path}", "run_id=cli"], cwd=tmp_path)
    run = tmp_path / "smoke" / "cli"
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert list((run / "checkpoints").glob("best-step*.ckpt"))
    audio = {
        (v.tag, v.audio.num_channels)
        for f in (run / "tensorboard").rglob("events.out.tfevents.*")
        for event in LegacyEventFileLoader(str(f)).Load()
        if event.HasField("summary")
        for v in event.summary.value
        if v.HasField("audio")
    }
    assert {("audio/0/input", 2), ("audio/0/target", 2), ("audio/0/output", 2)} <= audio  # stereo examples
    with open(next((run / "csv").rglob("metrics.csv"))) as f:
        rows = list(csv.DictReader(f))
    steps = {int(r["step"]) for r in rows if r.get("train/loss")}
    assert steps == {0, 1, 2, 3} and any(r.get("val/loss") for r in rows)
    model, card = load_model(run / "model", expected_param_names=TABLE.learned_keys)
    assert card["training"]["run_steps"] == 4 and card["training"]["source"] == "best checkpoint"
    # the step of the weights written, as tonematch-export's card says it (it said the run's last)
    best = Path(card["training"]["checkpoint"]).name
    assert card["training"]["global_step"] == int(best[len("best-step") : -len(".ckpt")])
    assert card["name"] == "smoke" and model.sample_rate == SR
    with torch.no_grad():
        mix, ref = torch.zeros(2, SR).uniform_(-0.1, 0.1), torch.zeros(2, SR).uniform_(-0.2, 0.2)
        unit = model.predict_track(mix, reference=ref)
    assert unit.shape == (len(TABLE),) and torch.all((unit >= 0) & (unit <= 1))


RESUME_SCRIPT = """
import json, sys
import tonematch.training  # first, as the entry points do (OpenMP wait policy before torch loads)
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from tonematch.training.config_dir import config_dir
from tonematch.training.train import train

music, tmp = sys.argv[1], sys.argv[2]


class StopAt(pl.Callback):  # ends fit after 2 steps, as a kill right after a checkpoint would
    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step >= 2:
            trainer.should_stop = True


def fit(output, extra=(), callbacks=()):
    overrides = ["experiment=smoke", f"data.root={music}", f"paths.output_dir={tmp}/{output}",
                 "data.examples_per_epoch=6", "trainer.max_steps=5", "data.num_workers=1", *extra]
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return train(compose("train", overrides=overrides), callbacks=list(callbacks))


whole = fit("whole")
fit("parts", callbacks=[StopAt()])  # mid-epoch: 3 batches per epoch
stopped = torch.load(f"{tmp}/parts/checkpoints/last.ckpt", weights_only=False)["global_step"]
resumed = fit("parts", extra=["resume=last"])
a, b = whole["module"].state_dict(), resumed["module"].state_dict()
opt_a, opt_b = (r["trainer"].optimizers[0].state_dict()["state"] for r in (whole, resumed))
print("RESULT " + json.dumps({
    "stopped_at": stopped,
    "resumed_from": resumed["ckpt_path"],
    "steps": [whole["trainer"].global_step, resumed["trainer"].global_step],
    "weights_equal": all(torch.equal(a[k], b[k]) for k in a),
    "adam_equal": all(torch.equal(opt_a[i]["exp_avg_sq"], opt_b[i]["exp_avg_sq"]) for i in opt_a),
}))
"""


def test_resumed_run_equals_uninterrupted_run(music, tmp_path):
    script = tmp_path / "resume.py"
    script.write_text(RESUME_SCRIPT)
    cmd = [sys.executable, str(script), str(music), str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert result["stopped_at"] == 2 and result["resumed_from"].endswith("last.ckpt")
    assert result["steps"] == [5, 5]
    assert result["weights_equal"] and result["adam_equal"]


EPOCH_END_SCRIPT = """
import json, sys
import tonematch.training
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from tonematch.training.config_dir import config_dir
from tonematch.training.train import train

music, tmp = sys.argv[1], sys.argv[2]


class SaveMidStep(pl.Callback):  # as SLURM's SIGUSR1 handler does: a checkpoint inside a step
    def on_before_backward(self, trainer, *args):
        if trainer.global_step == 4:
            trainer.save_checkpoint(f"{tmp}/mid_step.ckpt")


def fit(output, extra=(), callbacks=()):
    overrides = ["experiment=smoke", f"data.root={music}", f"paths.output_dir={tmp}/{output}",
                 "data.examples_per_epoch=4", "trainer.max_steps=6", "callbacks.best_checkpoint.save_top_k=-1", *extra]
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return train(compose("train", overrides=overrides), callbacks=list(callbacks))


whole = fit("whole", callbacks=[SaveMidStep()])  # 2 batches per epoch, validation after each
a = whole["module"].state_dict()
result = {}
for name, ckpt in (("from_best", f"{tmp}/whole/checkpoints/best-step0000002.ckpt"),
                   ("mid_step", f"{tmp}/mid_step.ckpt")):
    b = fit(name, extra=[f"resume={ckpt}"])["module"].state_dict()
    result[name] = all(torch.equal(a[k], b[k]) for k in a)
print("RESULT " + json.dumps(result))
"""


def test_resume_from_a_checkpoint_saved_at_validation_end_or_inside_a_step(music, tmp_path):
    # best-step*.ckpt (and SLURM's hpc_ckpt) are saved at an epoch's end: the epochs after the
    # resumed one took the data of the epoch after theirs (Lightning's set_epoch ran one ahead);
    # an hpc_ckpt saved inside a step skipped that step's batch (counted as trained when fetched)
    script = tmp_path / "epoch_end.py"
    script.write_text(EPOCH_END_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script), str(music), str(tmp_path)], capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert result == {"from_best": True, "mid_step": True}


def test_ddp_on_two_cpu_processes(music, tmp_path):
    overrides = ["experiment=smoke", "trainer=ddp_cpu", f"data.root={music}", f"paths.log_dir={tmp_path}", "run_id=ddp"]
    run_cli(overrides, cwd=tmp_path)
    run = tmp_path / "smoke" / "ddp"
    card = json.loads((run / "model.json").read_text())
    assert card["training"]["world_size"] == 2 and card["training"]["run_steps"] == 4
    # each rank logs its own line to its own Hydra log file
    assert "rank 0 of 2: 4 optimiser steps" in (run / "train.log").read_text()
    assert "rank 1 of 2: 4 optimiser steps" in (run / "train_ddp_process_1.log").read_text()


def test_init_weights_start_a_run_from_an_exported_model(tmp_path):
    """init_weights= loads an exported model's weights into the config's network (fine-tuning);
    another architecture is one clear error, not a half-loaded network."""
    from tonematch.data.errors import TonematchError
    from tonematch.models.files import save_model
    from tonematch.models.model import MasteringModel
    from tonematch.training.train import start_from

    names = TABLE.learned_keys
    torch.manual_seed(1)
    trained = MasteringModel(len(names), sample_rate=24000, excerpt_frames=16384, param_names=names)
    save_model(trained.eval(), tmp_path / "m", {"name": "small"})
    torch.manual_seed(2)
    fresh = MasteringModel(len(names), sample_rate=24000, excerpt_frames=16384, param_names=names)
    assert any(not torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), trained.state_dict().values()))
    start_from(fresh, tmp_path / "m")
    for key, value in trained.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key
    other = MasteringModel(
        len(names), sample_rate=24000, excerpt_frames=16384, param_names=names, controller_kwargs={"hidden": 64}
    )
    with pytest.raises(TonematchError, match="not this config's model architecture"):
        start_from(other, tmp_path / "m")


def test_init_weights_at_another_sample_rate_is_said(tmp_path, capsys):
    """A model trained at another rate loads (same shapes) but its features meant other frequencies:
    one warning line, where the fine-tuning started silently."""
    from tonematch.models.files import save_model
    from tonematch.models.model import MasteringModel
    from tonematch.training.train import start_from

    names = TABLE.learned_keys
    save_model(MasteringModel(len(names), sample_rate=24000, param_names=names).eval(), tmp_path / "m", {})
    start_from(MasteringModel(len(names), sample_rate=24000, param_names=names), tmp_path / "m")
    assert "warning" not in capsys.readouterr().err
    start_from(MasteringModel(len(names), sample_rate=16000, param_names=names), tmp_path / "m")
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "trained at 24000 Hz" in lines[0] and "16000 Hz" in lines[0], lines
