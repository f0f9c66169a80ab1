"""The researcher commands on bad input: tonematch-train, tonematch-eval and tonematch-export refuse
in one line `<prog>: error: ...` with status 2, before any long work and with nothing written; and
what a run on too few tracks says (an empty validation split, the exported model's line)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tonematch.data.errors import TonematchError
from tonematch.training.datamodule import write_synthetic_tracks

SR = 16000


def command(module, args, cwd, timeout=240):
    env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_RANK", "WORLD_SIZE", "RANK")}
    cmd = [sys.executable, "-m", f"tonematch.training.{module}", *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def refused(proc, prog, *words):
    """Status 2 and exactly one line on stderr, the error naming `words`."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), proc.stderr[-3000:]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def two_tracks(tmp_path_factory):
    """A smoke run on two tracks whose validation split is empty (val_fraction 0.05), with the
    progress bar on: its stdout/stderr, the run folder."""
    root = tmp_path_factory.mktemp("few")
    write_synthetic_tracks(root / "music", 2, 3.0, SR)
    args = ["experiment=smoke", f"data.root={root / 'music'}", "data.val_fraction=0.05", "data.test_fraction=0.05"]
    args += [f"paths.log_dir={root / 'runs'}", "run_id=few", "trainer.enable_progress_bar=true"]
    proc = command("train", args, cwd=root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, root / "runs" / "smoke" / "few", root


def test_empty_validation_split_is_said_at_the_start_and_the_export_line_is_printed(two_tracks):
    proc, run, root = two_tracks
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("tonematch-train: warning:")]
    assert warnings == [
        f"tonematch-train: warning: the validation split of {root / 'music'} is empty (2 tracks, val_fraction "
        "0.05): no best checkpoint will be kept; the final weights are exported"
    ]
    # said before training starts, not after it
    assert proc.stderr.index(warnings[0]) < proc.stderr.index("max_steps=4")
    assert not list((run / "checkpoints").glob("best-step*.ckpt"))
    # with the progress bar on, the line used to go to a bar that was gone by then
    assert f"exported model: {run / 'model'}.safetensors / .json (final weights)" in proc.stdout
    assert json.loads((run / "model.json").read_text())["training"]["source"] == "final weights"


def test_resume_from_a_truncated_checkpoint_is_one_line(two_tracks, tmp_path):
    _, run, root = two_tracks
    whole = (run / "checkpoints" / "last.ckpt").read_bytes()
    folder = tmp_path / "runs" / "smoke" / "corrupt" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "last.ckpt").write_bytes(whole[:20000])  # a copy cut short
    args = ["experiment=smoke", f"data.root={root / 'music'}", f"paths.log_dir={tmp_path / 'runs'}"]
    proc = command("train", [*args, "run_id=corrupt", "resume=last"], cwd=tmp_path)
    line = refused(proc, "tonematch-train", "resume=last", str(folder / "last.ckpt"), "not a readable checkpoint")
    assert "Traceback" not in proc.stderr and line
    assert sorted(p.name for p in folder.iterdir()) == ["last.ckpt"]  # nothing trained or written
    # a path given outright: the same check, and no run folder is left behind for the refused run
    proc = command("train", [*args, "run_id=other", f"resume={folder / 'last.ckpt'}"], cwd=tmp_path)
    refused(proc, "tonematch-train", "not a readable checkpoint")
    assert not (tmp_path / "runs" / "smoke" / "other").exists()


def test_resume_with_another_model_group_is_one_line_and_keeps_the_run_config(two_tracks, tmp_path):
    import shutil

    _, run, root = two_tracks
    copy = tmp_path / "runs" / "smoke" / "few"
    shutil.copytree(run, copy)
    config = (copy / ".hydra" / "config.yaml").read_text()
    args = ["experiment=smoke", f"data.root={root / 'music'}", f"paths.log_dir={tmp_path / 'runs'}", "run_id=few"]
    proc = command("train", [*args, "resume=last", "model=medium"], cwd=tmp_path)  # was Lightning's traceback
    refused(proc, "tonematch-train", "another model architecture", "resume with the run's own model group")
    # Hydra had rewritten the run's config with model=medium: the run's checkpoints then no longer exported
    assert (copy / ".hydra" / "config.yaml").read_text() == config
    proc = command("export", [copy / "checkpoints" / "last.ckpt", "-o", tmp_path / "m"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (copy / ".hydra" / "config.yaml").write_text(config.replace("hidden: 64", "hidden: 96"))
    proc = command("export", [copy / "checkpoints" / "last.ckpt", "-o", tmp_path / "m", "-f"], cwd=tmp_path)
    refused(proc, "tonematch-export", "does not fit the model of its run's .hydra/config.yaml")


def test_resolve_resume_reads_the_checkpoint(two_tracks, tmp_path):
    from tonematch.training.train import resolve_resume

    _, run, _ = two_tracks
    good = run / "checkpoints" / "last.ckpt"
    assert resolve_resume("last", run / "checkpoints", run) == str(good)
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(good.read_bytes()[:20000])
    with pytest.raises(TonematchError, match="not a readable checkpoint"):
        resolve_resume(str(bad), tmp_path, tmp_path)


CONFIG_ERRORS = {
    "experiment=nope": ["Could not find 'experiment/nope'", "cpu_recipe, gpu_recipe, smoke"],
    "trainer.max_stepz=3": ["trainer.max_stepz", "+trainer.max_stepz=3"],
    "data.batch_size=abc": ["data", "invalid literal for int()", "'abc'"],
    "seed=${nope}": ["seed", "'nope'"],
    "data.root=": ["data.root is empty"],  # an unset $VARIABLE: not the current folder's audio
    "optimizer.lr=-1": ["optimizer", "Invalid learning rate: -1"],  # was a traceback from inside fit
    "scheduler.warmup_steps=abc": ["scheduler", "'abc'"],
    "data.batch_size=0": ["data.batch_size must be >= 1"],
    # were tracebacks from inside Lightning or the fit loop (status 1, a run folder left), or an
    # unrelated refusal ("no track is long enough: each needs at least 4681 s" at 7 Hz)
    "trainer.max_steps=abc": ["trainer.max_steps='abc'", "whole number"],
    "data.segment_frames=10": ["data.segment_frames=10", "400 ms loudness block"],
    "chain.sample_rate=7": ["chain.sample_rate 7 Hz", "8000 to 384000"],
}

# tonematch-train's own main() on each override in turn, in one interpreter: the command's status
# and stderr without paying torch's and Lightning's imports once per case
REFUSALS = """
import contextlib, io, json, sys
from hydra.core.global_hydra import GlobalHydra
from tonematch.training.train import main
results = []
for override, log_dir in json.loads(sys.argv[1]):
    sys.argv = ["tonematch-train", "experiment=smoke", override, "paths.log_dir=" + log_dir]
    err, status = io.StringIO(), 0
    with contextlib.redirect_stderr(err):
        try:
            main()
        except SystemExit as exc:
            status = exc.code
    GlobalHydra.instance().clear()
    results.append({"returncode": status, "stderr": err.getvalue()})
print("\\n" + json.dumps(results))
"""


@pytest.fixture(scope="module")
def config_refusals(tmp_path_factory):
    root = tmp_path_factory.mktemp("refusals")
    cases = [[override, str(root / str(i) / "runs")] for i, override in enumerate(CONFIG_ERRORS)]
    env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_RANK", "WORLD_SIZE", "RANK")}
    cmd = [sys.executable, "-c", REFUSALS, json.dumps(cases)]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    return {override: (result, Path(log_dir)) for (override, log_dir), result in zip(cases, results)}


@pytest.mark.parametrize("override", list(CONFIG_ERRORS))
def test_config_errors_are_one_line_and_write_nothing(config_refusals, override):
    result, log_dir = config_refusals[override]
    refused(
        subprocess.CompletedProcess([], result["returncode"], "", result["stderr"]),
        "tonematch-train",
        *CONFIG_ERRORS[override],
    )
    assert not log_dir.exists()  # no empty run folder (nor its parents) left behind


def test_eval_refuses_an_unwritable_out_before_any_case(tmp_path):
    write_synthetic_tracks(tmp_path / "music", 2, 2.0, SR)
    common = [tmp_path / "music", "--cases", "1", "--sample-rate", SR, "--seconds", "1", "--methods", "input"]
    proc = command("eval_command", [*common, "--out", tmp_path / "missing" / "r.md"], cwd=tmp_path)
    refused(proc, "tonematch-eval", str(tmp_path / "missing"), "does not exist")
    assert proc.stdout == ""  # refused before the cases ran and the tables were printed
    proc = command("eval_command", [*common, "--out", tmp_path], cwd=tmp_path)
    refused(proc, "tonematch-eval", "is a folder")


def test_eval_refuses_a_bad_chain_config_and_seed_in_one_line(tmp_path):
    write_synthetic_tracks(tmp_path / "music", 2, 2.0, SR)
    common = [tmp_path / "music", "--cases", "1", "--sample-rate", SR, "--seconds", "1", "--methods", "input"]
    (tmp_path / "no_draw.yaml").write_text("sample_rate: 44100\n")
    for extra, words in (  # were tracebacks (status 1)
        (["--chain-config", tmp_path / "nope.yaml"], ["--chain-config", "no such file"]),
        (["--chain-config", tmp_path / "no_draw.yaml"], ["no 'draw:' section"]),
        (["--methods", "input,network"], ["--methods network", "give --model"]),  # was an empty row, status 0
    ):
        refused(command("eval_command", [*common, *extra], cwd=tmp_path), "tonematch-eval", *words)
    # were argparse's usage block, then the error; the rate 7 Hz was refused as a high-pass out of range
    refused(command("eval_command", [*common, "--seed", "-1"], cwd=tmp_path), "tonematch-eval", "--seed >= 0")
    bad_rate = [*common[:3], "--sample-rate", "7", *common[5:]]
    refused(command("eval_command", bad_rate, cwd=tmp_path), "tonematch-eval", "--sample-rate 7 Hz", "8000 to 384000")
    (tmp_path / "table.md").write_text("an earlier table\n")
    proc = command("eval_command", [*common, "--out", tmp_path / "table.md"], cwd=tmp_path)
    refused(proc, "tonematch-eval", "-f/--overwrite")
    assert (tmp_path / "table.md").read_text() == "an earlier table\n"


@pytest.mark.parametrize(
    "text, words",
    [
        ("amount=abc", ["--option amount=abc", "must be a number"]),
        ("literal=abc", ["--option literal=abc", "must be a number"]),
        ("steps=2.5", ["--option steps=2.5", "whole number"]),
        ("steps=-1", ["--option steps=-1", ">= 0"]),
        ("skip=wdth", ["--option skip=wdth", "unknown group 'wdth'"]),
        ("amount=2", ["--option amount=2", "0..1"]),
        ("refine=maybe", ["--option refine=maybe", "True or False"]),
        ("nope=1", ["--option nope=1", "unknown option 'nope'"]),
        ("model=x", ["--option model=x", "--model"]),
    ],
)
def test_bad_option_values_name_the_option(text, words):
    from tonematch.training.evaluate import parse_option

    with pytest.raises(TonematchError) as caught:
        parse_option(text)
    for word in words:
        assert word in str(caught.value)


def test_option_values_read_as_the_python_api_reads_them():
    from tonematch.training.evaluate import match_options, parse_option

    assert parse_option("skip=width") == ("skip", ("width",))  # the group, not its letters
    assert parse_option("only=eq,width") == ("only", ("eq", "width"))
    assert parse_option("steps=2") == ("steps", 2)
    assert parse_option("target_lufs=-14") == ("target_lufs", -14.0)
    assert match_options(True, 8, {"steps": 2}).steps == 2  # an --option steps is the default method's own


def test_eval_bad_option_is_one_line(two_tracks, tmp_path):
    _, run, root = two_tracks
    args = [root / "music", "--cases", "1", "--sample-rate", SR, "--seconds", "1", "--model", run / "model"]
    for option, words in (("amount=abc", ["number"]), ("skip=width,wdth", ["unknown group 'wdth'"])):
        proc = command("eval_command", [*args, "--methods", "input", "--option", option], cwd=tmp_path)
        refused(proc, "tonematch-eval", f"--option {option}", *words)
        assert proc.stdout == ""


def test_export_refuses_a_missing_folder_and_takes_a_stem_with_an_extension(two_tracks, tmp_path):
    _, run, _ = two_tracks
    checkpoint = run / "checkpoints" / "last.ckpt"
    proc = command("export", [checkpoint, "-o", tmp_path / "missing" / "dir" / "x"], cwd=tmp_path)
    refused(proc, "tonematch-export", str(tmp_path / "missing" / "dir"), "does not exist")
    assert not (tmp_path / "missing").exists()
    for given in ("tiny.safetensors", "other.json"):
        stem = tmp_path / given.split(".")[0]
        proc = command("export", [checkpoint, "-o", tmp_path / given], cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert proc.stdout.strip().endswith(f"-> {stem}.safetensors + {stem}.json")
        assert stem.with_suffix(".safetensors").is_file() and stem.with_suffix(".json").is_file()
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["other.json", "other.safetensors", "tiny.json", "tiny.safetensors"]
    # the card says what the network heard in training, as the run's own export does
    exported, at_fit_end = (json.loads(p.read_text()) for p in (tmp_path / "tiny.json", run / "model.json"))
    for card in (exported, at_fit_end):
        assert card["data_kind"] == "selfsup" and card["segment_frames"] == at_fit_end["segment_frames"] > 0


def test_multirun_typos_are_one_line_before_any_job(tmp_path):
    from tonematch.training.train import sweep_variants

    # every value of every sweep is in one of the checked runs; quoted values stay whole
    assert sweep_variants(["a=1,2", "c=x", "b='p q','r,s'"]) == [
        ["a=1", "c=x", "b='p q'"],
        ["a=2", "c=x", "b='p q'"],
        ["a=1", "c=x", "b='r,s'"],
    ]
    assert sweep_variants(["a=glob(*)"]) == []  # left to Hydra
    args = ["-m", f"paths.log_dir={tmp_path / 'runs'}", "experiment=smoke,nope"]  # was Hydra's lines, status 1
    refused(command("train", args, cwd=tmp_path), "tonematch-train", "Could not find 'experiment/nope'")
    assert not (tmp_path / "runs").exists()


def test_export_refuses_to_replace_a_model_without_overwrite(two_tracks, tmp_path):
    _, run, _ = two_tracks
    checkpoint = run / "checkpoints" / "last.ckpt"
    (tmp_path / "old.json").write_text("someone's model card\n")
    proc = command("export", [checkpoint, "-o", tmp_path / "old"], cwd=tmp_path)
    refused(proc, "tonematch-export", str(tmp_path / "old.json"), "-f/--overwrite")
    assert (tmp_path / "old.json").read_text() == "someone's model card\n"
    assert not (tmp_path / "old.safetensors").exists()
    proc = command("export", [checkpoint, "-o", tmp_path / "old", "-f"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((tmp_path / "old.json").read_text())["data_kind"] == "selfsup"
