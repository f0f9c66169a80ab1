"""The evaluation-only foreign processor family (training/foreign): never reachable from the
training data path, sharing only the measurements, and each processor doing what it says on
music-like signals and noise."""

import ast
import math
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from tonematch.inference.quality import crest_db, lufs
from tonematch.models.measure import spectrum
from tonematch.models.measure.truepeak import true_peak_dbtp
from tonematch.training import metrics
from tonematch.training.foreign import AXES, ForeignMaster, ForeignSettings, draw, variants
from tonematch.training.foreign.clipper import soft_clip
from tonematch.training.foreign.compressor import compress
from tonematch.training.foreign.fir_eq import Bell, Shelf, Tilt, design, equalise, magnitude, response_db
from tonematch.training.foreign.limiter import limit
from tonematch.training.foreign.width import width

from signals import music_like, true_peak_db

SR = 44100
FOREIGN = Path(__file__).resolve().parent.parent / "training" / "foreign"


# -- isolation -----------------------------------------------------------------------------------


def test_the_training_path_never_imports_the_foreign_family():
    code = """
import importlib, pkgutil, sys
import tonematch.data
for m in pkgutil.iter_modules(tonematch.data.__path__):
    importlib.import_module("tonematch.data." + m.name)
for name in ("module", "datamodule", "losses", "chain_draw", "sampling", "schedules", "callbacks", "train", "export"):
    importlib.import_module("tonematch.training." + name)
import tonematch.inference.match, tonematch.inference.refine, tonematch.inference.matcher
assert "tonematch.data.degrade" in sys.modules and "tonematch.training.module" in sys.modules
print(sorted(m for m in sys.modules if "foreign" in m or m == "tonematch.training.follow"))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


REPO = FOREIGN.parent.parent
PACKAGES = {"tonematch.data": "data", "tonematch.models": "models", "tonematch.training": "training"}
PACKAGES.update({"tonematch.inference": "inference", "tonematch": "tonematch"})
EVALUATION_ONLY = ("tonematch.training.foreign", "tonematch.training.evaluate", "tonematch.training.follow")


def _source(module: str, root: Path) -> Path | None:
    for prefix in sorted(PACKAGES, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            base = root / PACKAGES[prefix] / module[len(prefix) :].lstrip(".").replace(".", "/")
            for path in (base.with_suffix(".py"), base / "__init__.py"):
                if path.is_file():
                    return path
    return None


def reachable(entries, root: Path = REPO) -> dict:
    """{module: the module that imports it}, over every import statement of the tonematch
    modules reachable from `entries`, those inside functions included (they run later, so an
    import-time check of sys.modules does not see them)."""
    found, todo = {m: None for m in entries}, list(entries)
    while todo:
        module = todo.pop()
        path = _source(module, root)
        if path is None:
            continue
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                stem = (base + "." + node.module if node.module else base) if node.level else node.module
                names.add(stem)
                names.update(stem + "." + a.name for a in node.names)
        for name in names:
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                sub = ".".join(parts[:i])
                if sub.startswith("tonematch") and sub not in found and _source(sub, root) is not None:
                    found[sub] = module
                    todo.append(sub)
    return found


# typical: the recipe's last step, whose typical balance is written into the shipped model
TRAINING_ENTRIES = [
    f"tonematch.training.{m}" for m in ("train", "export", "datamodule", "module", "chain_draw", "typical")
]
TRAINING_ENTRIES += ["tonematch.data.selfsup", "tonematch.data.degrade", "tonematch.data.pair_dataset"]


def test_no_import_on_the_training_path_reaches_the_foreign_family_even_inside_a_function():
    found = reachable(TRAINING_ENTRIES)
    assert "tonematch.data.degrade" in found and "tonematch.training.chain_draw" in found
    leaks = {m: found[m] for m in found if m.startswith(EVALUATION_ONLY)}
    assert not leaks, f"evaluation-only modules on the training path (module: imported by): {leaks}"


def test_the_static_check_sees_an_import_made_inside_a_function(tmp_path):
    for folder in ("data", "training"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "training" / "foreign").mkdir()
    (tmp_path / "training" / "foreign" / "__init__.py").write_text("")
    (tmp_path / "training" / "chain_draw.py").write_text("def draw():\n    from .foreign import draw\n")
    assert "tonematch.training.foreign" in reachable(["tonematch.training.chain_draw"], tmp_path)


def test_the_foreign_family_shares_only_the_measurements():
    """No processor of the project's chain (or anything else of tonematch but the meters) is
    imported by the foreign package: its EQ, compressor and limiter are its own."""
    seen = set()
    for path in sorted(FOREIGN.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                seen.add(node.module)
            elif isinstance(node, ast.Import):
                seen.update(a.name for a in node.names)
    ours = {m for m in seen if m.startswith("tonematch")}
    assert ours and all(m.startswith("tonematch.models.measure") for m in ours), ours


# -- EQ ------------------------------------------------------------------------------------------


def test_the_fir_is_linear_phase_and_meets_its_design():
    moves = [Tilt(0.4), Shelf(3.0, 120.0, high=False), Shelf(-4.0, 6000.0, high=True), Bell(2.5, 900.0, 1.2)]
    h = design(moves, SR)
    assert len(h) % 2 == 1
    np.testing.assert_allclose(h, h[::-1], atol=1e-12)  # symmetric: linear phase
    f = np.geomspace(60.0, 16000.0, 120)
    error = response_db(h, f, SR) - 20 * np.log10(magnitude(moves, f))
    assert np.abs(error).max() < 0.25


def _band_gain_db(x, y):
    centres, before = spectrum.third_octave_db(x, SR)
    _, after = spectrum.third_octave_db(y, SR)
    return centres, after - before


def test_a_tilt_moves_the_spectrum_the_stated_db_per_octave():
    x = music_like(4.0, SR, seed=2)
    y = equalise(x, [Tilt(1.0)], SR)
    centres, gain = _band_gain_db(x, y)
    band = (centres > 60) & (centres < 11000)
    slope, at_pivot = np.polyfit(np.log2(centres[band] / 1000.0), gain[band], 1)
    assert slope == pytest.approx(1.0, abs=0.05)
    assert at_pivot == pytest.approx(0.0, abs=0.2)
    # the follow evaluation's descriptor sees it too: its high bands lie 3.3 to 9 octaves above its low ones
    assert 3.3 < metrics.tilt_db(y, SR) - metrics.tilt_db(x, SR) < 9.0


def test_shelves_and_bell_reach_their_gain():
    x = (0.1 * np.random.default_rng(1).standard_normal((2, 4 * SR))).astype(np.float32)
    centres, high = _band_gain_db(x, equalise(x, [Shelf(4.0, 2000.0, high=True)], SR))
    assert np.abs(high[(centres > 10000) & (centres < 18000)] - 4.0).max() < 0.3
    assert np.abs(high[centres < 400]).max() < 0.2
    centres, bell = _band_gain_db(x, equalise(x, [Bell(-6.0, 1000.0, 1.0)], SR))
    assert bell[np.argmin(np.abs(centres - 1000.0))] == pytest.approx(-6.0, abs=0.5)
    assert np.abs(bell[(centres < 200) | (centres > 6000)]).max() < 0.2


def test_flat_eq_is_exactly_transparent_and_the_filtered_output_is_aligned():
    x = music_like(2.0, SR, seed=4)
    assert np.array_equal(equalise(x, [Tilt(0.0), Bell(0.0, 1000.0)], SR), x)
    y = equalise(x, [Bell(3.0, 2000.0, 2.0)], SR).astype(np.float64)
    lags = np.arange(-50, 51)
    corr = [np.dot(x[0, 100:-100], y[0, 100 + k : y.shape[1] - 100 + k]) for k in lags]
    assert lags[int(np.argmax(corr))] == 0  # the FIR's delay is taken out


# -- compressor ----------------------------------------------------------------------------------


def test_compressor_ratio_one_is_transparent():
    x = music_like(1.0, SR)
    y, reduction = compress(x, SR, threshold_db=-40.0, ratio=1.0)
    assert np.array_equal(y, x) and not reduction.any()


def test_feedback_compressor_settles_on_its_static_curve():
    t = np.arange(2 * SR) / SR
    rms_db = -8.0
    sine = (math.sqrt(2) * 10 ** (rms_db / 20) * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    x = np.stack([sine, sine])
    y, reduction = compress(x, SR, threshold_db=-20.0, ratio=4.0, attack_ms=5.0, release_ms=100.0, knee_db=0.0)
    tail = y[:, SR:].astype(np.float64)
    out_db = 10 * math.log10(np.mean(tail**2))
    # 12 dB over at the input -> 3 dB over at the output: 9 dB of reduction
    assert out_db == pytest.approx(-20.0 + 12.0 / 4.0, abs=0.3)
    assert reduction[SR:].mean() == pytest.approx(9.0, abs=0.3)


def test_compressor_reduces_crest():
    """Notes at levels 24 dB apart (20 ms fades): the loud ones come down toward the quiet ones."""
    rng = np.random.default_rng(1)
    note = int(0.25 * SR)
    t = np.arange(note) / SR
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)
    notes = [
        10 ** (level / 20) * fade * np.sin(2 * np.pi * f * t)
        for level, f in zip(rng.uniform(-30.0, -6.0, 16), rng.uniform(150.0, 800.0, 16))
    ]
    x = np.stack([np.concatenate(notes)] * 2).astype(np.float32)
    y, reduction = compress(x, SR, threshold_db=-30.0, ratio=4.0, attack_ms=2.0, release_ms=60.0, rms_ms=5.0)
    assert crest_db(y) < crest_db(x) - 1.0

    def spread_db(z):  # loudest minus quietest note (RMS over each note's middle)
        levels = [
            10 * np.log10(np.mean(z[0, i * note + note // 4 : (i + 1) * note - note // 4] ** 2)) for i in range(16)
        ]
        return max(levels) - min(levels)

    # 4:1 above -30 dB would leave ~8 of the 22 dB at rest; the release carried into quiet notes adds some
    assert spread_db(x) > 20.0 and spread_db(y) < spread_db(x) - 8.0


def _recovery_ms(burst_s: float, auto_release: float) -> float:
    """Time after a loud burst until the gain reduction is back under 3 dB."""
    n, start = 4 * SR, SR // 2
    rng = np.random.default_rng(0)
    level = np.full(n, 10 ** (-40 / 20))
    end = start + int(burst_s * SR)
    level[start:end] = 10 ** (-6 / 20)
    x = (level * rng.standard_normal((2, n))).astype(np.float32)
    _, reduction = compress(x, SR, -30.0, 4.0, attack_ms=2.0, release_ms=50.0, rms_ms=5.0, auto_release=auto_release)
    assert reduction[end - 1] > 10.0  # it was compressing hard when the burst ended
    return 1000.0 * int(np.argmax(reduction[end:] < 3.0)) / SR


def test_release_depends_on_the_programme():
    short, long = _recovery_ms(0.03, 6.0), _recovery_ms(1.5, 6.0)
    assert long > 3.0 * short  # sustained compression lets go slowly, a transient fast
    plain_short, plain_long = _recovery_ms(0.03, 1.0), _recovery_ms(1.5, 1.0)
    assert plain_long < 1.5 * plain_short  # without the slow release, one release time
    assert short < 1.5 * plain_short


# -- clipper and limiter -------------------------------------------------------------------------


def test_clipper_is_transparent_below_its_knee_and_takes_the_peaks_above():
    x = music_like(2.0, SR, seed=3, level_db=-20)
    peak_db = 20 * np.log10(np.abs(x).max())
    assert np.array_equal(soft_clip(x, peak_db + 3.5, knee_db=3.0), x)
    level = peak_db - 6.0  # 6 dB of drive
    y = soft_clip(x, level, knee_db=2.0)
    assert true_peak_db(y, 4) < level + 1.0  # at least 5 of the 6 dB over are gone
    assert crest_db(y) < crest_db(x) - 3.0


def _clicky_noise(seed):
    rng = np.random.default_rng(seed)
    x = (0.3 * rng.standard_normal((2, SR))).astype(np.float32)
    x[:, rng.integers(100, SR - 100, 40)] += rng.choice([-4.0, 4.0], (2, 40)).astype(np.float32)  # +12 dBFS
    return x


def _intersample_sine():
    t = np.arange(SR)
    s = (1.4 * np.sin(np.pi / 2 * t + np.pi / 4)).astype(np.float32)  # samples 3 dB under the peak
    return np.stack([s, s])


@pytest.mark.parametrize("ceiling", [-0.3, -1.0, -3.0])
@pytest.mark.parametrize("release_ms", [10.0, 150.0])
def test_limiter_holds_its_ceiling_measured_4x_oversampled(ceiling, release_ms):
    for x in (_clicky_noise(int(-ceiling * 10)), _intersample_sine(), music_like(1.5, SR, seed=3, level_db=-6)):
        y, gain = limit(x, SR, ceiling, release_ms, lookahead_ms=3.0)
        assert true_peak_db(y, 4) <= ceiling + 0.01  # scipy's 4x polyphase reading
        assert true_peak_dbtp(y) <= ceiling + 1e-3  # the project's meter, which the limiter checks
        assert gain.max() <= 1.0 and gain.min() < 0.9


def test_limiter_is_transparent_under_the_ceiling_and_acts_before_the_peak():
    x = music_like(1.0, SR, seed=5, level_db=-30)
    y, _ = limit(x, SR, -1.0)
    assert np.array_equal(y, x)
    click = np.zeros((2, SR), np.float32)
    click[:, SR // 2] = 2.0
    y, gain = limit(click + 0.01, SR, -1.0, release_ms=50.0, lookahead_ms=4.0)
    assert gain[SR // 2 - 40] < 0.9  # the ramp started ahead of the click (lookahead)
    assert 20 * np.log10(np.abs(y).max()) <= -1.0


# -- width ---------------------------------------------------------------------------------------


def test_width_scales_side_over_mid_and_leaves_the_mid():
    x = music_like(2.0, SR, seed=6)
    for gain in (0.5, 1.4):
        y = width(x, SR, side_gain=gain)
        assert metrics.side_mid_db(y) - metrics.side_mid_db(x) == pytest.approx(20 * math.log10(gain), abs=0.01)
        np.testing.assert_allclose(y[0] + y[1], x[0] + x[1], atol=1e-6)
    mono = x[:1]
    assert np.array_equal(width(mono, SR, 1.4, 120.0), mono)


def test_side_lowcut_makes_the_bass_mono():
    rng = np.random.default_rng(3)
    x = (0.1 * rng.standard_normal((2, 4 * SR))).astype(np.float32)  # unrelated channels: side = mid
    y = width(x, SR, side_lowcut_hz=200.0)
    side = 0.5 * (y[0] - y[1])
    centres, before = spectrum.third_octave_db(0.5 * (x[0] - x[1]), SR)
    _, after = spectrum.third_octave_db(side, SR)
    low, high = centres < 60, centres > 1000
    assert (after[low] - before[low]).max() < -15.0
    assert np.abs(after[high] - before[high]).max() < 0.3


# -- the whole chain -----------------------------------------------------------------------------


def test_draws_are_seeded_and_variants_move_one_axis():
    assert draw(3) == draw(3) and draw(3) != draw(4)
    base = draw(7)
    moved = {axis: set() for axis in AXES}
    for axis, label, amount, settings in variants(base):
        assert label in AXES[axis] and amount in (1.0, -1.0)
        moved[axis] |= {k for k, v in asdict(settings).items() if v != asdict(base)[k]}
    assert moved["tone"] == {"tilt_db_per_oct"}
    assert moved["width"] == {"side_gain"}
    assert moved["loudness"] == {"target_lufs"}
    assert {"comp_threshold_db", "comp_ratio", "drive_db"} <= moved["dynamics"]
    assert not moved["dynamics"] & (moved["tone"] | moved["width"] | moved["loudness"])


def test_the_master_lands_on_its_loudness_under_its_ceiling_and_its_variants_move_their_axis():
    x = music_like(3.0, SR, seed=8, level_db=-24)
    base = ForeignSettings(
        tilt_db_per_oct=0.1,
        comp_threshold_db=-24.0,
        comp_ratio=2.5,
        side_gain=1.1,
        clip_db=1.0,
        ceiling_dbtp=-1.0,
        drive_db=3.0,
        target_lufs=-12.0,
    )
    out = {}
    for _, label, _, settings in [("base", "base", 0.0, base)] + variants(base):
        y = ForeignMaster(settings).apply(x, SR)
        assert y.shape == x.shape and y.dtype == np.float32
        assert lufs(y, SR) == pytest.approx(settings.target_lufs, abs=0.05)
        assert true_peak_dbtp(y) <= settings.ceiling_dbtp + 1e-3
        out[label] = y
    assert metrics.tilt_db(out["brighter"], SR) > metrics.tilt_db(out["base"], SR) + 2.0
    assert metrics.tilt_db(out["darker"], SR) < metrics.tilt_db(out["base"], SR) - 2.0
    assert metrics.side_mid_db(out["wider"]) > metrics.side_mid_db(out["narrower"]) + 5.0
    assert metrics.plr_db(out["denser"], SR) < metrics.plr_db(out["base"], SR) < metrics.plr_db(out["more open"], SR)
    assert lufs(out["louder"], SR) > lufs(out["quieter"], SR) + 5.0


def test_neutral_settings_only_normalise():
    x = music_like(2.0, SR, seed=9, level_db=-30)
    y, report = ForeignMaster(ForeignSettings(target_lufs=-20.0)).render(x, SR)
    assert report["compressor_max_db"] == 0.0 and report["limiter_max_db"] == 0.0
    np.testing.assert_allclose(y, x * np.float32(10 ** ((-20.0 - lufs(x, SR)) / 20)), rtol=1e-3, atol=1e-7)
