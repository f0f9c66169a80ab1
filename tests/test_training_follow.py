"""The follow evaluation's machinery (training/follow.py) on synthetic signals, no corpus: the slope
reads 1 for a method that copies the reference's tilt, 0.5 for one that copies half of it, 0 for one
that ignores the reference; and the command runs end to end on a tiny synthetic folder."""

import subprocess
import sys

import numpy as np
import pytest

from tonematch.training import follow, metrics
from tonematch.training.datamodule import write_synthetic_tracks
from tonematch.training.foreign import ForeignMaster
from tonematch.training.foreign.fir_eq import Tilt, equalise

from signals import music_like

SR = 16000


def test_follow_slope_is_the_pooled_least_squares_slope_through_the_origin():
    ideal = [np.array([2.0]), np.array([-1.0, 3.0])]
    assert follow.follow_slope([(i, i) for i in ideal]) == pytest.approx(1.0)
    assert follow.follow_slope([(0.5 * i, i) for i in ideal]) == pytest.approx(0.5)
    assert follow.follow_slope([(0.0 * i, i) for i in ideal]) == 0.0
    assert follow.follow_slope([(-i, i) for i in ideal]) == pytest.approx(-1.0)
    # pooled: sum(o i) / sum(i^2) = (1 * 2 + 0 * 1) / (4 + 1)
    assert follow.follow_slope([(np.array([1.0]), np.array([2.0])), (np.array([0.0]), np.array([1.0]))]) == (
        pytest.approx(0.4)
    )
    assert np.isnan(follow.follow_slope([(np.array([1.0]), np.array([0.0]))]))


def tilt_copier(fraction: float):
    """A method that tilts the mix so its tilt descriptor moves `fraction` of the way to the
    reference's (Newton steps on the tilt in dB/octave)."""

    def run(audio, reference):
        start = metrics.tilt_db(audio, SR)
        goal = start + fraction * (metrics.tilt_db(reference, SR) - start)
        slope, y = 0.0, audio
        for _ in range(4):
            now = metrics.tilt_db(y, SR)
            per_db = metrics.tilt_db(equalise(audio, [Tilt(slope + 0.5)], SR), SR) - now
            slope += 0.5 * (goal - now) / per_db
            y = equalise(audio, [Tilt(slope)], SR)
        return y

    return run


def synthetic_case(axes):
    """A mix whose reference is the same song: the reference then moves exactly as the ideal."""
    clean = music_like(2.0, SR, seed=11, level_db=-20)
    chosen = follow.masterings(seed=3, index=0, axes=axes, scales=(1.0,))
    ideals = [ForeignMaster(m.settings).apply(clean, SR) for m in chosen]
    return {
        "input": equalise(clean, [Tilt(-0.3)], SR) * np.float32(0.5),  # a darker, quieter mix
        "masterings": chosen,
        "references": ideals,
        "ideals": ideals,
        "track": "mix",
        "reference_track": "mix",
    }


def test_a_copy_of_the_reference_tilt_follows_and_ignoring_it_does_not():
    axes = ("tone", "width")
    methods = {
        "ignores": lambda audio, reference: audio,
        "copies": tilt_copier(1.0),
        "half": tilt_copier(0.5),
        "reference": lambda audio, reference: reference,
    }
    records, notes, timings = follow.run([synthetic_case(axes)], methods, SR)
    assert not notes and len(timings) == 1 and all(len(r) == 1 for r in records.values())
    summary = follow.summarise(records, axes)
    slope = {name: row["slopes"] for name, row in summary.items()}
    assert slope["ignores"][("tone", "tilt")] == 0.0 and slope["ignores"][("width", "width")] == 0.0
    assert slope["copies"][("tone", "tilt")] == pytest.approx(1.0, abs=0.05)
    assert slope["half"][("tone", "tilt")] == pytest.approx(0.5, abs=0.05)
    # a tilt copier does not follow width, apart from cross-talk: the side here is brighter than the
    # mid (hats), so a wider reference reads brighter and the copier's tilt moves its side/mid a little
    assert abs(slope["copies"][("width", "width")]) < 0.5
    assert slope["copies"][("tone", "shape")] > 0.5  # a tilt is most of these variants' shape change
    assert slope["reference"][("width", "width")] == pytest.approx(1.0)
    errors = {name: row["errors"] for name, row in summary.items()}
    assert errors["reference"]["tilt"] == 0.0 and errors["reference"]["shape"] == 0.0
    assert errors["copies"]["tilt"] < 0.2 < errors["ignores"]["tilt"]
    moves = follow.ideal_moves(records, axes)
    assert moves[("tone", "tilt")] > 2.0 and moves[("width", "width")] > 2.0  # the variants moved the ideal


def test_descriptors_read_what_they_name():
    x = music_like(2.0, SR, seed=2)
    d = follow.describe(x, SR)
    assert set(d) == {"tilt", "shape", "width", "plr", "crest", "spread", "lufs"}
    shape = d["shape"]
    assert shape.ndim == 1 and abs(shape.mean()) < 1e-9 and np.isfinite(shape).all()
    louder = follow.describe(2.0 * x, SR)
    assert louder["lufs"] - d["lufs"] == pytest.approx(6.02, abs=0.01)
    for key in ("tilt", "width", "plr", "crest", "spread"):
        assert follow.error(louder, d, key) < 1e-3  # level is not tone, width or density
    assert follow.error(louder, d, "shape") < 1e-3


def test_the_follow_command_runs_on_a_synthetic_folder(tmp_path):
    write_synthetic_tracks(tmp_path, 3, 4.0, SR)
    out = tmp_path / "follow.md"
    cmd = [sys.executable, "-m", "tonematch.training.eval_command", str(tmp_path), "--follow", "--cases", "1"]
    cmd += ["--seconds", "1.5", "--sample-rate", str(SR), "--axes", "tone,width"]
    cmd += ["--methods", "input,reference,matcher"]
    proc = subprocess.run(cmd + ["--out", str(out)], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert out.read_text().strip() == proc.stdout.strip()
    assert "mix 1:" in proc.stderr  # the per-mix timing line
    tables = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    slope_header = [c.strip() for c in tables[0].strip("|").split("|")]
    assert slope_header == ["method", "mixes", "tone: tilt", "tone: 1/3-oct shape", "width: side/mid"]
    rows = {c[0]: c[1:] for c in ([x.strip() for x in line.strip("|").split("|")] for line in tables[1:4])}
    assert set(rows) == {"input", "reference", "matcher"}
    assert rows["input"] == ["1", "0.00", "0.00", "0.00"]
    assert float(rows["reference"][1]) > 0.5  # another song moves, in the main, as the ideal does
    # errors: the same three methods, every column finite
    error_rows = [line for line in tables[4:] if not line.startswith("| method")]
    assert len(error_rows) == 3 and "nan" not in " ".join(error_rows)


def test_loudness_spread_reads_macro_dynamics():
    noise = np.random.default_rng(4).standard_normal((2, 6 * SR)).astype(np.float32)
    steady = 0.05 * noise
    assert metrics.momentary_spread_lu(steady, SR) < 1.0
    stepped = steady.copy()
    stepped[:, : 3 * SR] *= 10.0  # 20 dB louder for half the clip
    assert metrics.momentary_spread_lu(stepped, SR) == pytest.approx(20.0, abs=1.0)
    assert metrics.momentary_spread_lu(np.zeros((2, SR), np.float32), SR) == 0.0


def test_the_report_calls_the_tracks_held_out_only_for_a_held_out_split():
    """--split all (the default) reads every track of the folder, training tracks too: the report
    must not call them held out."""
    from types import SimpleNamespace

    mix = music_like(2.0, SR, seed=8)
    references = [music_like(2.0, SR, seed=9), equalise(music_like(2.0, SR, seed=9), [Tilt(0.6)], SR)]
    masterings = [follow.Mastering("base", "base", 0.0, None), follow.Mastering("tone", "brighter", 1.0, None)]
    case = {"input": mix, "masterings": masterings, "references": references, "ideals": references}
    records, notes, timings = follow.run([case], {"input": lambda a, r: a}, SR)
    seen = [{"track": "a.wav", "reference_track": "b.wav"}]
    for split, held in (("all", False), ("test", True)):
        args = SimpleNamespace(split=split, folder="/music", seed=0, seconds=2.0, sample_rate=SR)
        text = follow.report(records, notes, timings, seen, args, ("tone",), (1.0,))
        assert ("held-out" in text) == held, split


def _row(out_tilt: list[float], ideal_tilt: list[float]) -> dict:
    """A mix's record with only tilt (tone axis): base first, then its variants."""

    def described(tilt: float) -> dict:
        return {key: np.zeros(3) if key == "shape" else 0.0 for key, _, _ in follow.DESCRIPTORS} | {"tilt": tilt}

    return {
        "outputs": [described(v) for v in out_tilt],
        "ideals": [described(v) for v in ideal_tilt],
        "axes": ["base"] + ["tone"] * (len(ideal_tilt) - 1),
        "seconds": 0.0,
    }


def test_the_intervals_resample_whole_mixes():
    """A slope every mix shares has no spread; mixes that disagree spread it between their own
    slopes, around the pooled one; the errors' interval holds their mean."""
    same = [_row([0.0, 0.5 * d, -0.5 * d], [0.0, d, -d]) for d in (1.0, 2.0, 3.0, 1.5)]
    spans = follow.intervals(same, ("tone",))
    assert spans[("tone", "tilt")] == pytest.approx((0.5, 0.5))
    assert follow.intervals(same[:2], ("tone",)) == {}  # too few mixes to resample
    mixed = [_row([0.0, s * 2.0, -s * 2.0], [0.0, 2.0, -2.0]) for s in (0.2, 0.5, 0.8, 1.1, 0.4)]
    low, high = follow.intervals(mixed, ("tone",))[("tone", "tilt")]
    pooled = follow.summarise({"m": mixed}, ("tone",))["m"]["slopes"][("tone", "tilt")]
    assert pooled == pytest.approx(0.6)
    assert 0.2 <= low < pooled < high <= 1.1
    errors = [follow._mean_error(r, "tilt") for r in mixed]
    e_low, e_high = follow.intervals(mixed, ("tone",))["tilt"]
    assert min(errors) <= e_low < np.mean(errors) < e_high <= max(errors)
