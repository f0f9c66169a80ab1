"""tonematch-eval on a tiny synthetic folder: the table has every column and a row per method, the
cases are reproducible, and the non-learned matcher beats the unchanged input."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tonematch.data.tracks import TrackReader
from tonematch.inference.matcher import FIT_BANDS, fit_eq, tone_curve
from tonematch.models.chain import TABLE
from tonematch.models.chain.biquads import design, power_response
from tonematch.models.chain.exact import render_array
from tonematch.models.files import save_model
from tonematch.models.model import MasteringModel
from tonematch.training.datamodule import write_synthetic_tracks
from tonematch.training.evaluate import COLUMNS, make_cases

SR = 16000
CHAIN = Path(__file__).resolve().parent.parent / "configs" / "chain" / "default.yaml"


def parse(table_text):
    lines = []
    for line in table_text.splitlines():  # the first table: all cases
        if line.startswith("| "):
            lines.append(line)
        elif lines and not line.startswith("|"):
            break
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(header[1:], (float(c) for c in cells[1:])))
    return header, rows


def run_eval(args):
    # a fresh process: there tonematch.training sets the OpenMP wait policy before torch loads
    cmd = [sys.executable, "-m", "tonematch.training.eval_command", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_table_and_matcher_beats_input(tmp_path):
    write_synthetic_tracks(tmp_path / "music", 3, 4.0, SR)
    torch.manual_seed(0)
    model = MasteringModel.for_table(
        TABLE,
        SR,
        excerpt_frames=16384,
        encoder_kwargs={"n_fft": 1024, "hop": 512, "n_mels": 32, "channels": [8, 16, 16, 16], "embed_dim": 32},
        controller_kwargs={"hidden": 32},
    )
    save_model(model, tmp_path / "tiny")
    out = tmp_path / "results.md"
    printed = run_eval(
        [
            str(tmp_path / "music"),
            "--cases",
            "3",
            "--seed",
            "1",
            "--sample-rate",
            str(SR),
            "--seconds",
            "1.5",
            "--model",
            str(tmp_path / "tiny"),
            "--out",
            str(out),
            "--steps",
            "10",
        ]
    )
    assert out.read_text().strip() == printed.strip()
    header, rows = parse(printed)
    assert header == ["method", "cases"] + [h for _, h, _ in COLUMNS]
    assert {"input", "matcher", "network", "refine from neutral", "network + refine"} <= set(rows)
    assert all(row["cases"] == 3 and all(np.isfinite(list(row.values()))) for row in rows.values())
    base, raw = rows["matcher"], rows["input"]
    assert base["mel dist (dB)"] < raw["mel dist (dB)"] and base["MR-STFT"] < raw["MR-STFT"]
    assert base["LUFS err (LU)"] < 0.5 and base["true peak max (dBTP)"] <= 0.05
    if importlib.util.find_spec("matchering") is None:
        assert "matchering not installed" in printed


def test_cases_are_fixed_by_the_seed(tmp_path):
    write_synthetic_tracks(tmp_path, 3, 3.0, SR)
    config = str(CHAIN)
    a, b, c = (make_cases(tmp_path, 2, seed, SR, 1.0, config) for seed in (4, 4, 5))
    for key in ("input", "target", "reference"):
        assert all(np.array_equal(x[key], y[key]) for x, y in zip(a, b))
    assert not all(np.array_equal(x["target"], y["target"]) for x, y in zip(a, c))


def test_other_track_references_come_from_another_track(tmp_path):
    write_synthetic_tracks(tmp_path, 3, 3.0, SR)
    config = str(CHAIN)
    same = make_cases(tmp_path, 4, 2, SR, 1.0, config)
    other = make_cases(tmp_path, 4, 2, SR, 1.0, config, reference="other-track")
    again = make_cases(tmp_path, 4, 2, SR, 1.0, config, reference="other-track")
    reader = TrackReader(SR)
    for s, o, a in zip(same, other, again):
        # the same case otherwise: input, target and draw do not depend on the reference kind
        assert np.array_equal(s["input"], o["input"]) and np.array_equal(s["target"], o["target"])
        assert s["settings"].values == o["settings"].values and s["track"] == o["track"]
        assert s["reference_track"] == s["track"]
        assert o["reference_track"] != o["track"]
        assert not np.array_equal(s["reference"], o["reference"])
        assert np.array_equal(o["reference"], a["reference"])  # picked from the seed
        # the reference is that other track's clean segment through the target's draw
        source = reader.read(tmp_path / o["reference_track"], o["reference_start"], o["reference"].shape[1])
        np.testing.assert_array_equal(o["reference"], render_array(source, o["settings"], SR))
    printed = run_eval(
        [str(tmp_path), "--cases", "2", "--sample-rate", str(SR), "--seconds", "1.0"]
        + ["--methods", "input,matcher", "--reference", "other-track"]
    )
    assert "Cross-track references" in printed
    header, rows = parse(printed)
    assert set(rows) == {"input", "matcher"} and all(row["cases"] == 2 for row in rows.values())


def test_baseline_eq_fit_follows_a_tilt():
    grid = np.geomspace(30.0, 7000.0, 64)
    tilt = 4.0 * np.log2(grid / 1000.0) / np.log2(7000.0 / 30.0)  # +-2 dB, a gentle tilt
    values = fit_eq(tilt, grid, SR)
    kinds = {"low_shelf": "low_shelf", "high_shelf": "high_shelf"}
    fitted = sum(
        10
        * np.log10(
            power_response(
                design(
                    kinds.get(b, "peak"),
                    values[f"eq.{b}.freq_hz"],
                    values[f"eq.{b}.q"],
                    values[f"eq.{b}.gain_db"],
                    SR,
                    np,
                ),
                grid,
                SR,
            )
        )
        for b in FIT_BANDS
    )
    residual = fitted - tilt
    assert np.sqrt(np.mean((residual - residual.mean()) ** 2)) < 0.2  # dB, level aside
    assert np.std(tilt) > 1.0  # the curve was worth fitting


def test_tone_curve_sees_shape_not_level():
    from scipy.signal import lfilter

    rng = np.random.default_rng(0)
    noise = rng.standard_normal((1, 2, 2 * SR)).astype(np.float32)
    freqs, louder = tone_curve(noise, 2.0 * noise, SR)
    assert np.abs(louder).max() < 0.01  # level alone is not tone
    brighter = (noise + lfilter([1.0, -1.0], [1.0], noise, axis=-1)).astype(np.float32)  # a rising tilt
    freqs, curve = tone_curve(noise, brighter, SR)
    assert curve[freqs > 4000].mean() - curve[freqs < 200].mean() > 6.0


def test_the_core_mrstft_reads_as_the_training_metric():
    """inference.quality.mrstft (numpy, for `style fit`) and the evaluation's auraloss MR-STFT are
    the same distance: the style's held-out figures read on the model card's scale."""
    from tonematch.inference import quality
    from tonematch.training import metrics

    from signals import music_like

    x = music_like(3.0, 44100, seed=1)
    for y in (x * 0.8 + 0.01 * np.random.default_rng(0).standard_normal(x.shape), x[:, ::-1] * 0.5):
        y = np.ascontiguousarray(y, dtype=np.float32)
        assert abs(quality.mrstft(x, y) - metrics.mrstft(x, y)) < 1e-4 * metrics.mrstft(x, y)


def test_foreign_chain_cases_master_targets_and_references_with_the_foreign_family(tmp_path):
    from tonematch.training.evaluate import foreign_settings
    from tonematch.training.foreign import ForeignMaster, ForeignSettings

    write_synthetic_tracks(tmp_path, 3, 3.0, SR)
    project = make_cases(tmp_path, 2, 6, SR, 1.0, str(CHAIN))
    foreign = make_cases(tmp_path, 2, 6, SR, 1.0, None, chain="foreign")
    again = make_cases(tmp_path, 2, 6, SR, 1.0, None, chain="foreign")
    reader = TrackReader(SR)
    for p, f, a, i in zip(project, foreign, again, range(2)):
        # the same segments and degradation; only who masters them differs
        assert np.array_equal(p["input"], f["input"]) and f["reference_start"] == p["reference_start"]
        assert isinstance(f["settings"], ForeignSettings) and f["settings"] == foreign_settings(6, i)
        assert np.array_equal(f["target"], a["target"]) and np.array_equal(f["reference"], a["reference"])
        source = reader.read(tmp_path / f["reference_track"], f["reference_start"], f["reference"].shape[1])
        np.testing.assert_array_equal(f["reference"], ForeignMaster(f["settings"]).apply(source, SR))
        assert not np.allclose(f["target"], p["target"], atol=1e-3)
        assert f["reduction_db"] >= 0.0
    printed = run_eval(
        [str(tmp_path), "--cases", "2", "--sample-rate", str(SR), "--seconds", "1.0"]
        + ["--methods", "input,matcher", "--chain", "foreign"]
    )
    assert "Foreign chain" in printed
    header, rows = parse(printed)
    assert set(rows) == {"input", "matcher"} and rows["matcher"]["LUFS err (LU)"] < 0.5


def test_pipeline_method_passes_match_options_through():
    from tonematch.data.errors import TonematchError
    from tonematch.training.evaluate import parse_option, pipeline_method

    from signals import music_like

    x = music_like(2.0, SR, seed=1, level_db=-30)
    ref = music_like(2.0, SR, seed=2, level_db=-12)
    neutral = pipeline_method(SR, None, refined=False, options={"amount": 0.0, "skip": ("loudness",)})
    np.testing.assert_allclose(neutral(x, ref), x, atol=1e-6)  # README: amount 0 without loudness is the mix
    matched = pipeline_method(SR, None, refined=False)(x, ref)
    assert np.abs(matched - x).max() > 1e-2
    quieter = pipeline_method(SR, None, refined=False, options={"target_lufs": -20.0})(x, ref)
    from tonematch.inference.quality import lufs

    assert lufs(quieter, SR) == pytest.approx(-20.0, abs=0.3)
    for bad in ({"no_such_option": 1}, {"amount": 2.0}):
        with pytest.raises(TonematchError):
            pipeline_method(SR, None, options=bad)
    assert parse_option("amount=0.5") == ("amount", 0.5)
    assert parse_option('skip=["width", "eq"]') == ("skip", ("width", "eq"))
    assert parse_option("platform=apple") == ("platform", "apple")
    with pytest.raises(TonematchError):
        parse_option("amount")


def test_one_target_scored_many_times_reads_as_mrstft():
    """quality.MRSTFT (the target's spectra taken once; float32 for the style fit's searches)
    gives mrstft's figure, and ranks two renders as mrstft does."""
    from tonematch.inference import quality

    from signals import music_like

    target = music_like(3.0, 44100, seed=2)
    near = np.ascontiguousarray(target * 0.9, dtype=np.float32)
    far = np.ascontiguousarray(music_like(3.0, 44100, seed=3), dtype=np.float32)
    exact, fast = quality.MRSTFT(target), quality.MRSTFT(target, np.float32)
    for out in (near, far):
        assert exact(out) == pytest.approx(quality.mrstft(out, target), rel=1e-9)
        assert fast(out) == pytest.approx(quality.mrstft(out, target), rel=1e-4)
    assert fast(near) < fast(far)
    with pytest.raises(ValueError):
        fast(near[:, :-1])
