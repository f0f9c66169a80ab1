"""The settings style (inference/style/: identify.py, settings_fit.py, master.py): each pair's
chain identified, each group of settings fixed or adaptive by leave-one-out, a new mix mastered
from the settings predicted.

The habit of issue 17 (style_habit.py: one settings file on every mix) must come back as that
chain: each EQ move within 1 dB, nothing invented above 0.5 dB, the compressor's ratio within
20 %, its threshold within 1.5 dB and its timing within 35 %, every group fixed; and a seventh
mix mastered with the style lands near the engineer's own master of it. Tolerances, never
which grid point or candidate wins."""

import math

import numpy as np
import pytest
from style_habit import HABIT, SR, broadband_mix, habit_settings, make_habit_pairs

from tonematch.data.pairs import find_pairs
from tonematch.inference import match, quality, style
from tonematch.inference.style import bands, identify, settings_fit, settings_model, transfer
from tonematch.inference.style.distance import spectral_distance
from tonematch.models import excerpts
from tonematch.models.chain.exact import render_array


@pytest.fixture(scope="module")
def habit(tmp_path_factory):
    root = tmp_path_factory.mktemp("habit")
    make_habit_pairs(root, range(6), seconds=6.0)
    data = []
    for pair in find_pairs(root):
        p = style.read_pair(pair)
        identify.identify_pair(p)
        data.append(p)
    fitted = style.fit_style(data, "habit")
    settings_fit.attach(fitted, data)
    return fitted, data


MIN_MOVE_DB = 0.25  # bands smaller than this are not moves


def _bands(values: dict) -> list[tuple[str, float, float]]:
    return [
        (band, values[f"eq.{band}.gain_db"], values[f"eq.{band}.freq_hz"])
        for band in bands.EQ_BANDS
        if abs(values[f"eq.{band}.gain_db"]) >= MIN_MOVE_DB
    ]


def test_a_fixed_habit_comes_back_as_its_chain(habit):
    fitted, _ = habit
    g = fitted.settings["groups"]
    assert all(g[name]["mode"] == "fixed" for name in ("eq", "compressor", "width", "loudness"))
    moves = _bands(g["eq"]["values"])
    shelf = [m for m in moves if m[0] == "low_shelf"]
    bell = [m for m in moves if m[0].startswith("peak") and abs(math.log2(m[2] / 3000.0)) < 0.5]
    assert len(shelf) == 1 and abs(shelf[0][1] - 3.0) <= 1.0 and abs(math.log2(shelf[0][2] / 100.0)) < 0.5, moves
    assert len(bell) == 1 and abs(bell[0][1] + 2.0) <= 1.0, moves
    invented = [m for m in moves if m not in shelf + bell]
    assert all(abs(m[1]) <= 0.5 for m in invented), moves
    comp = g["compressor"]
    assert comp["on"] and comp["threshold"]["reference"] == "dBFS"
    assert abs(comp["threshold"]["value"] - HABIT["compressor.threshold_db"]) <= 1.5, comp
    assert abs(math.exp(comp["log_ratio"]["value"]) / HABIT["compressor.ratio"] - 1.0) <= 0.2, comp
    assert abs(comp["attack_ms"] / HABIT["compressor.attack_ms"] - 1.0) <= 0.35, comp
    assert abs(comp["release_ms"] / HABIT["compressor.release_ms"] - 1.0) <= 0.35, comp
    assert abs(10 ** (g["width"]["value"] / 20) - 1.0) <= 0.05
    assert abs(g["loudness"]["value"] - HABIT["loudness.target_lufs"]) <= 0.3
    assert abs(g["limiter"]["ceiling_dbtp"] - HABIT["limiter.ceiling_dbtp"]) <= 0.3
    words = "\n".join(style.describe(fitted))
    assert "EQ, fixed: low shelf +" in words and "compressor, fixed: ratio" in words
    assert "loudness, fixed: -10.0 LUFS" in words


def _mean_reduction_db(clips: np.ndarray, settings, hop: int = 512) -> float:
    """The chain compressor's power-weighted mean gain reduction (dB) on excerpts [N, C, L]: the
    render with the compressor over the render without it, frame by frame (limiter and loudness
    off), weighted by the power going in."""
    from tonematch.models.chain.settings import Settings

    x = excerpts.joined(clips)
    off = settings.bypass | {"limiter", "loudness"}
    went_in = render_array(x, Settings(settings.values, SR, off | {"compressor"}), SR)
    came_out = render_array(x, Settings(settings.values, SR, off), SR)
    frames = x.shape[1] // hop
    p_in = np.mean(went_in[:, : frames * hop].astype(np.float64) ** 2, axis=0).reshape(frames, hop).mean(axis=1)
    p_out = np.mean(came_out[:, : frames * hop].astype(np.float64) ** 2, axis=0).reshape(frames, hop).mean(axis=1)
    gain_db = 10.0 * np.log10(np.maximum(p_out, 1e-20) / np.maximum(p_in, 1e-20))
    gain_db -= settings.values["compressor.makeup_db"]
    return float(-np.sum(p_in * np.minimum(gain_db, 0.0)) / np.sum(p_in))


def test_style_show_says_how_much_the_masters_are_compressed(habit):
    fitted, data = habit
    read = fitted.settings["groups"]["compressor"]["reduction_db"]
    truth = float(np.median([_mean_reduction_db(p.mix.clips, habit_settings()) for p in data]))
    assert truth > 1.0  # the habit compresses audibly: the check means something
    assert abs(read - truth) <= 1.0, (read, truth)
    words = "\n".join(style.describe(fitted))
    assert f"your masters show about {read:.1f} dB of gain reduction on average" in words


def test_a_new_mix_is_mastered_with_the_habit(habit):
    """A seventh mix: the style's settings are the habit's, its master as close to the engineer's
    as the chain gets on the pairs, and far closer than a loudness-only render."""
    fitted, data = habit
    mix = broadband_mix(6, 6.0)
    truth = render_array(mix, habit_settings(), SR)
    out, settings, notes = style.master_array(mix, SR, fitted, match.Options())
    assert notes["start"] == "style" and notes["settings_from"] == "style settings"
    loud = habit_settings()
    loud.bypass = frozenset(set(loud.bypass) | {"eq", "compressor"})
    loud.values["width.width"] = 1.0
    plain = render_array(mix, loud, SR)

    def distance(x):
        return spectral_distance(excerpts.excerpts(x, SR), excerpts.excerpts(truth, SR), SR)

    floor = np.mean([p.fit.floor_db for p in data])
    assert distance(out) <= 1.5 * floor and distance(out) <= 0.5 * distance(plain), (distance(out), floor)
    assert abs(quality.lufs(out, SR) - quality.lufs(truth, SR)) <= 0.5
    from tonematch.models.measure.truepeak import true_peak_dbtp

    assert true_peak_dbtp(out) <= settings.values["limiter.ceiling_dbtp"] + 0.05


def test_the_style_file_keeps_the_settings_and_refuses_broken_ones(habit, tmp_path):
    import json

    from safetensors import safe_open
    from safetensors.numpy import save_file

    from tonematch.data.errors import TonematchError
    from tonematch.inference.style import load_style, save_style

    fitted, _ = habit
    path = save_style(fitted, tmp_path / "habit.tmstyle")
    back = load_style(path)
    assert back.settings["groups"]["eq"]["values"] == pytest.approx(fitted.settings["groups"]["eq"]["values"])
    assert style.describe(back) == style.describe(fitted)

    def rewrite(card_change=None, **meta):
        with safe_open(str(path), framework="numpy") as f:
            metadata, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
        if card_change is not None:
            card = json.loads(metadata["card"])
            card_change(card)
            metadata["card"] = json.dumps(card)
        metadata.update(meta)
        out = tmp_path / "changed.tmstyle"
        save_file(tensors, str(out), metadata=metadata)
        return out

    old = load_style(rewrite(format_version="2"))  # an older style: its character lines, no settings
    assert old.settings is None and "your chain" not in "\n".join(style.describe(old))

    def bad_ratio(card):
        card["settings"]["groups"]["compressor"]["log_ratio"]["value"] = 9.0

    with pytest.raises(TonematchError, match="ratio"):
        load_style(rewrite(bad_ratio))

    def no_eq(card):
        del card["settings"]["groups"]["eq"]

    with pytest.raises(TonematchError, match="lack a group"):
        load_style(rewrite(no_eq))


def test_adaptive_lines_need_the_pairs_to_show_it():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 3.0, 10)
    line = settings_model.adaptive_line(x, 2.0 - 0.6 * x + rng.normal(0, 0.1, 10))
    assert line["mode"] == "adaptive" and line["slope"] == pytest.approx(-0.6, abs=0.15)
    line = settings_model.adaptive_line(x, 2.0 + rng.normal(0, 0.1, 10), noise=0.1)
    assert line["mode"] == "fixed" and line["value"] == pytest.approx(2.0, abs=0.15)
    few = settings_model.adaptive_line(x[:4], -0.6 * x[:4])
    assert few["mode"] == "fixed"  # four pairs: too few to learn a slope


def test_the_band_fit_finds_two_moves_and_invents_none():
    grid = transfer.grid_hz()
    truth = habit_settings().values
    curve = bands.eq_response_db(truth, grid, SR) + 4.0  # known up to a constant
    values, error = bands.fit_bands(curve, np.ones_like(grid), grid, SR, prune=True)
    moves = _bands(values)
    assert error < 0.1 and len(moves) == 2, moves
    shelf = [m for m in moves if m[0] == "low_shelf"]
    bell = [m for m in moves if m[0].startswith("peak")]  # peak3 or peak4: both reach 3 kHz
    assert len(shelf) == 1 and len(bell) == 1, moves
    for (_, gain, freq), key in ((shelf[0], "low_shelf"), (bell[0], "peak3")):
        assert gain == pytest.approx(truth[f"eq.{key}.gain_db"], abs=0.3)
        assert abs(math.log2(freq / truth[f"eq.{key}.freq_hz"])) < 0.2


def test_an_adaptive_eq_hears_the_balance_against_the_mids():
    """An adaptive EQ follows the mix's bass and treble against its mids: the same balance a few dB
    louder or quieter overall asks for the same EQ, a brighter top for less treble."""
    bumps = style.BUMP_HZ
    k = len(bumps)
    model = {
        "curve_db": np.zeros(len(transfer.grid_hz())),
        "slopes": np.full(k, -0.7),
        "mix_mean": np.zeros(k),
    }
    tone = np.array([4.0, 2.0, 0.0, 0.5, -0.5, -3.0, -6.0])
    base = settings_model.eq_curve(model, tone, bumps)
    assert np.allclose(settings_model.eq_curve(model, tone + 5.0, bumps), base)
    brighter = tone.copy()
    brighter[-1] += 3.0
    top = transfer.grid_hz() > 8000
    assert np.all(settings_model.eq_curve(model, brighter, bumps)[top] < base[top] - 0.5)


def test_an_rms_detecting_style_says_so_and_masters_with_it(habit):
    """A style whose compressor hears RMS (consensus chose it) names its window in `style show`
    (and that its timing was found on renders, not read) and sets it in the chain it masters
    with; a style from before the detector reads as peak."""
    import copy

    fitted, data = habit
    words = "\n".join(style.describe(fitted))
    assert "peak detector" in words or "RMS detector over" in words
    rms = copy.deepcopy(fitted)
    comp = rms.settings["groups"]["compressor"]
    assert comp["on"]
    comp["rms_ms"] = 25.0
    rms_words = "\n".join(style.describe(rms))
    assert "RMS detector over 25 ms" in rms_words
    # the detector's search set the timing: the words must not credit the gain traces
    assert "found on renders of your pairs" in rms_words and "read on" not in rms_words.split("compressor")[1]
    values = settings_model.predict(rms.settings, data[0].fit.descriptors, SR)
    assert values["compressor.rms_ms"] == 25.0
    del comp["rms_ms"]
    assert settings_model.predict(rms.settings, data[0].fit.descriptors, SR)["compressor.rms_ms"] == 0.0
