"""The core install on the shipped examples in a fresh process with torch and librosa made
unimportable (a meta-path blocker in a sitecustomize on PYTHONPATH, so no second venv is needed):
`import tonematch` and the API, every product command (match with and without the network and
refinement, --report, render, analyze, style fit/from-references/show, master --style, studio)
work, and none of them loads the training stack. .ci/run repeats the command line in a venv that
has only the core dependencies; pyproject keeps torch and librosa out of them."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAINING_STACK = ("pytorch_lightning", "lightning", "lightning_fabric", "hydra", "auraloss", "omegaconf")
BLOCKED = ("torch", "librosa")  # the train extra's; the core install does not have them

# Imported at start-up from PYTHONPATH: importing a blocked package fails as if it were not installed.
BLOCKER = f"""
import sys


class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
"""


@pytest.fixture(scope="module")
def core_env(tmp_path_factory) -> dict[str, str]:
    """The environment of a process that cannot import torch or librosa."""
    folder = tmp_path_factory.mktemp("blocker")
    (folder / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), env.get("PYTHONPATH")]))
    return env


def test_the_blocker_makes_torch_and_librosa_unimportable(core_env):
    for name in ("torch", "torch.nn", "librosa"):
        proc = subprocess.run([sys.executable, "-c", f"import {name}"], env=core_env, capture_output=True, text=True)
        assert proc.returncode == 1 and "ModuleNotFoundError" in proc.stderr, (name, proc.stderr[-500:])


SCRIPT = r"""
import json, sys
import tonematch

mix, ref, out = sys.argv[1], sys.argv[2], sys.argv[3]
quick = tonematch.match(mix, ref, model="none", refine=False)
refined = tonematch.match(mix, ref, model="none", refine=True, steps=20)
summary = tonematch.render(mix, "examples/settings.json", out)
array = tonematch.render(mix, quick.settings)
print(json.dumps({
    "version": tonematch.__version__,
    "quick": {"shape": list(quick.audio.shape), "sr": quick.sample_rate, "notes": quick.notes,
              "analysis": tonematch.analyze(quick.audio, quick.sample_rate)},
    "refined": {"notes": refined.notes, "analysis": tonematch.analyze(refined.audio, refined.sample_rate)},
    "rerender_max_diff": float(abs(array - quick.audio).max()),
    "render": summary["report"],
    "file": tonematch.analyze(out),
    "reference": tonematch.analyze(ref),
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in TRAINING_STACK + BLOCKED),
}))
"""


@pytest.fixture(scope="module")
def result(tmp_path_factory, core_env, example_mix, example_reference):
    out = tmp_path_factory.mktemp("core") / "mastered.wav"
    script = f"TRAINING_STACK = {TRAINING_STACK!r}\nBLOCKED = {BLOCKED!r}\n{SCRIPT}"
    proc = subprocess.run(
        [sys.executable, "-c", script, str(example_mix), str(example_reference), str(out)],
        cwd=REPO,
        env=core_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_no_training_stack_is_imported(result):
    assert result["loaded"] == []


def test_match_without_refinement(result):
    quick = result["quick"]
    assert quick["sr"] == 44100 and quick["shape"] == [2, 12 * 44100]
    assert quick["notes"]["start"] == "matcher" and not quick["notes"].get("refined")
    # lands on the reference's loudness under the default -1 dBTP ceiling
    assert abs(quick["analysis"]["integrated_lufs"] - result["reference"]["integrated_lufs"]) < 0.5
    assert quick["analysis"]["true_peak_dbtp"] <= -1.0 + 0.05
    # the settings it returns render the same audio again
    assert result["rerender_max_diff"] < 1e-5


def test_match_with_refinement_gets_closer(result):
    notes = result["refined"]["notes"]
    assert notes["refined"] and notes["distance_after"] < notes["distance_before"]
    assert result["refined"]["analysis"]["true_peak_dbtp"] <= -1.0 + 0.05


def test_render_and_analyze_a_file(result):
    assert result["render"]["miss_lu"] < 0.1
    # examples/settings.json: -14 LUFS under a -1 dBTP ceiling
    assert result["file"]["integrated_lufs"] == pytest.approx(-14.0, abs=0.1)
    assert result["file"]["true_peak_dbtp"] <= -1.0 + 0.05
    assert result["file"]["sample_rate"] == 44100 and result["file"]["channels"] == 2


COMMANDS = r"""
import json, os, sys

import soundfile as sf

from tonematch.inference.cli import main

mix, ref, refs, work = sys.argv[1:5]
out = os.path.join(work, "out")


def run(*argv):
    print("$ tonematch", *argv, flush=True)
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code
    assert not code, (argv, code)


def quarters(master):  # four pairs for style fit: quarters of the mix and of its render
    x, sr = sf.read(mix, dtype="float32")
    y, _ = sf.read(master, dtype="float32")
    n = len(x) // 4
    for k in range(4):
        for folder, audio in (("mix", x), ("master", y)):
            os.makedirs(os.path.join(work, "pairs", folder), exist_ok=True)
            sf.write(os.path.join(work, "pairs", folder, f"q{k}.wav"), audio[k * n : (k + 1) * n], sr)


def studio_session(self, sockets=None):
    # instead of serving: one settings round trip and the export, through the app uvicorn would serve
    from starlette.testclient import TestClient

    guard = self.config.app
    with TestClient(guard, base_url=f"http://127.0.0.1:{sockets[0].getsockname()[1]}") as client:
        client.headers["X-Tonematch-Token"] = guard.token
        settings = client.get("/api/settings").json()
        assert client.put("/api/settings", json=settings).status_code == 200
        assert client.post("/api/export").status_code == 200


run("render", mix, "--params", "examples/settings.json", "-o", out + ".render.wav")
run("analyze", out + ".render.wav")
run("match", mix, "-r", ref, "-o", out + ".none.wav", "--model", "none")
run("match", mix, "-r", ref, "-o", out + ".net.wav", "--no-refine")
run("match", mix, "-r", ref, "-o", out + ".refined.wav", "--report")
quarters(out + ".render.wav")
run("style", "fit", os.path.join(work, "pairs"), "-o", out + ".fit.tmstyle")
run("style", "from-references", refs, "-o", out + ".tmstyle")
run("style", "show", out + ".tmstyle")
run("master", mix, "--style", out + ".tmstyle", "-o", out + ".style.wav", "--report")
try:
    import httpx2, starlette, uvicorn  # noqa: F401  (the studio and test extras)
except ImportError:
    print("studio: skipped (no studio extra)")
else:
    uvicorn.Server.run = studio_session
    run("studio", mix, "-r", ref, "-o", out + ".studio.wav", "--no-browser", "--port", "0", "--no-refine")
print(json.dumps({"loaded": sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[5].split(",")))}))
"""


def test_every_product_command_runs_without_torch_or_librosa(tmp_path, core_env, example_mix, example_reference):
    """The exact renderer and the meters are numpy + numba, the network runs in models/numpy_runtime.py and
    refinement's frame model in autograd's numpy: no product command needs torch or librosa."""
    references = tmp_path / "references"
    references.mkdir()
    shutil.copy(example_reference, references / "reference.flac")
    argv = [
        str(example_mix),
        str(example_reference),
        str(references),
        str(tmp_path),
        ",".join(TRAINING_STACK + BLOCKED),
    ]
    proc = subprocess.run(
        [sys.executable, "-c", COMMANDS, *argv], cwd=REPO, env=core_env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"loaded": []}
    said = proc.stdout
    assert "settings from the network" in said  # the shipped model ran
    assert ", refined" in said or "refinement kept the start" in said  # refinement ran
    assert "held-out check on 1 pair(s)" in said  # style fit ran its check
    for name in ("render.wav", "none.wav", "net.wav", "refined.wav", "refined.png", "fit.tmstyle", "style.wav"):
        assert (tmp_path / f"out.{name}").exists(), name
    if "studio: skipped" not in said:
        assert (tmp_path / "out.studio.wav").exists() and (tmp_path / "out.studio.json").exists()


def test_pyproject_keeps_torch_out_of_the_core_and_ships_every_package():
    """`pip install tonematch` must not pull torch (from the public index, gigabytes of CUDA) or
    librosa; training gets them from its extra. A package folder missing from the list would be
    absent from a built wheel while the editable install still finds it."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib comes with Python 3.11")
    config = tomllib.loads(open(os.path.join(REPO, "pyproject.toml"), "rb").read().decode())

    def names(requirements):
        return {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower() for r in requirements}

    core = names(config["project"]["dependencies"])
    assert not core & {"torch", "librosa", "pytorch-lightning", "hydra-core", "auraloss", "tensorboard"}, core
    assert {"torch", "librosa"} <= names(config["project"]["optional-dependencies"]["train"])
    tools = config["tool"]["setuptools"]
    found = set()
    for package, folder in tools["package-dir"].items():
        root = os.path.join(REPO, folder)
        for here, _, files in os.walk(root):
            rel = os.path.relpath(here, root)
            if "__init__.py" in files:
                found.add(package if rel == "." else f"{package}.{rel.replace(os.sep, '.')}")
    assert found - set(tools["packages"]) == set()


def test_lazy_torch_leaves_sys_modules_alone():
    """The chain's lazy torch must not put a half-made module in sys.modules: a later
    `from torch.utils.data import ...` (the pair dataset, after the frame model was imported) has
    to import the real torch the ordinary way, and the stand-in then serves it too."""
    script = (
        "import sys\n"
        "import tonematch.inference.character\n"
        "from tonematch.models.chain.lazy import torch, is_tensor\n"
        "assert 'torch' not in sys.modules\n"
        "from torch.utils.data import Dataset\n"
        "import tonematch.data.pairs\n"
        "assert is_tensor(torch.zeros(2)) and torch.Tensor is sys.modules['torch'].Tensor\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
