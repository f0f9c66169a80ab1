"""The core API on the shipped examples in a fresh process: `import tonematch`, match (without and
with refinement), render and analyze work, and none of them loads the training stack. .ci/run
repeats the command-line half of this in a venv that has only the core dependencies."""

import json
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAINING_STACK = ("pytorch_lightning", "lightning", "lightning_fabric", "hydra", "auraloss", "omegaconf")

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
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in TRAINING_STACK),
}))
"""


@pytest.fixture(scope="module")
def result(tmp_path_factory, example_mix, example_reference):
    out = tmp_path_factory.mktemp("core") / "mastered.wav"
    script = f"TRAINING_STACK = {TRAINING_STACK!r}\n{SCRIPT}"
    proc = subprocess.run(
        [sys.executable, "-c", script, str(example_mix), str(example_reference), str(out)],
        cwd=REPO,
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


def test_render_analyze_match_and_master_never_load_torch(tmp_path, example_mix, example_reference):
    """`tonematch render`, `analyze`, `match` (with and without refinement), `style fit` (with
    its held-out check), `style from-references` and `master --style` run without importing torch
    (about 220 MB and a second a process): the exact renderer and the meters are numpy + numba,
    the network runs in models/numpy_runtime.py and the refinement's frame model in autograd's numpy."""
    out = tmp_path / "out.wav"
    references = tmp_path / "references"
    references.mkdir()
    shutil.copy(example_reference, references / "reference.flac")
    script = (
        "import os, sys\n"
        "from tonematch.inference.cli import main\n"
        "for argv in (['render', sys.argv[1], '--params', 'examples/settings.json', '-o', sys.argv[2]],\n"
        "             ['analyze', sys.argv[2]],\n"
        "             ['match', sys.argv[1], '-r', sys.argv[3], '-o', sys.argv[2] + '.m.wav', '--no-refine'],\n"
        "             ['match', sys.argv[1], '-r', sys.argv[3], '-o', sys.argv[2] + '.r.wav'],\n"
        "             ['style', 'fit', sys.argv[5], '-o', sys.argv[2] + '.fit.tmstyle'],\n"
        "             ['style', 'from-references', sys.argv[4], '-o', sys.argv[2] + '.tmstyle'],\n"
        "             ['master', sys.argv[1], '--style', sys.argv[2] + '.tmstyle', '-o', sys.argv[2] + '.s.wav']):\n"
        "    if argv[:2] == ['style', 'fit']:  # four pairs: quarters of the mix and of its render\n"
        "        import soundfile as sf\n"
        "        mix, sr = sf.read(sys.argv[1], dtype='float32')\n"
        "        master, _ = sf.read(sys.argv[2], dtype='float32')\n"
        "        quarter = len(mix) // 4\n"
        "        for k, folder in ((k, f) for k in range(4) for f in ('mix', 'master')):\n"
        "            os.makedirs(os.path.join(sys.argv[5], folder), exist_ok=True)\n"
        "            x = mix if folder == 'mix' else master\n"
        "            sf.write(os.path.join(sys.argv[5], folder, f'q{k}.wav'), x[k * quarter:(k + 1) * quarter], sr)\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as e:\n"
        "        assert not e.code, e.code\n"
        "print('TORCH', 'torch._C' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(example_mix), str(out), str(example_reference), str(references)]
        + [str(tmp_path / "pairs")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "TORCH False" and out.exists()
    assert "settings from the network" in proc.stdout  # the shipped model ran
    assert ", refined" in proc.stdout or "refinement kept the start" in proc.stdout  # refinement ran
    assert "held-out check on 1 pair(s)" in proc.stdout  # style fit ran its check


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
