"""A style learns an adaptive synthetic engineer (style_engineer.py): on held-out pairs its target
is >= 30 % closer in tonal balance to the engineer's true master than generic matching's target
(the closest of the engineer's other masters as reference), its slopes say the engineer pulls the
treble and loudness to their own, and its exact render lands within 0.5 LU of the true master.
The fit's held-out check, on exact renders, finds the style >= 30 % closer (MR-STFT) too."""

import numpy as np
import pytest
from style_engineer import SR, TARGET_LUFS, make_pairs

from tonematch.data.pairs import find_pairs, load_pair
from tonematch.inference import character, match, quality, style
from tonematch.inference.style import character_fit, heldout


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("engineer")
    make_pairs(root, range(8), seconds=5.0)
    pairs = find_pairs(root)
    return pairs, [style.read_pair(p) for p in pairs]


def test_style_beats_generic_matching_on_held_out_pairs(data):
    pairs, rows = data
    held = heldout.holdout_indices(len(rows))
    assert len(held) == 2
    train = [p for i, p in enumerate(rows) if i not in held]
    fitted = style.fit_style(train, "engineer")
    frames = character.analyse(rows[0].mix.clips[:, :, :2048], SR)
    tone_only = {"width": 0.0, "spread": 0.0, "crest": 0.0}
    ours, generic = [], []
    for i in held:
        p = rows[i]
        pred = fitted.predict(p.mix_char, p.mix.lufs, SR)
        ref = heldout.closest_pair(p, train)
        ours.append(float(character.distance(pred, p.master_char, frames, tone_only)))
        generic.append(float(character.distance(ref.master_char, p.master_char, frames, tone_only)))
        assert abs(float(pred["lufs"]) - p.master.lufs) <= 0.5
    assert np.mean(ours) <= 0.7 * np.mean(generic), (ours, generic)
    # what it learned, in its own coefficients: the engineer's loudness whatever the mix, the top pulled
    assert fitted.scalar_a[2] < 0.2 and abs(fitted.scalar_c[2] + fitted.scalar_a[2] * -20 - TARGET_LUFS) < 1.0
    assert fitted.tone_a[-1] < 0.6


def test_a_style_master_lands_on_the_engineers_loudness(data):
    pairs, rows = data
    fitted = style.fit_style(rows[:-1], "engineer")
    mix, master, sr, _ = load_pair(pairs[-1])
    out, settings, notes = style.master_array(mix, sr, fitted, match.Options(steps=20))
    assert notes["start"] == "style"
    assert abs(quality.lufs(out, sr) - quality.lufs(master, sr)) <= 0.5
    assert settings.values["compressor.ratio"] > 1.2  # the generic start compresses; refinement keeps some


def test_shrunk_line_recovers_a_slope_and_shrinks_noise():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 3, 10)
    a, c, _ = character_fit.shrunk_line(x, 0.3 * x + 2.0 + rng.normal(0, 0.05, 10))
    assert a == pytest.approx(0.3, abs=0.05) and c == pytest.approx(2.0, abs=0.1)
    a, c, _ = character_fit.shrunk_line(x, -9.0 + rng.normal(0, 0.3, 10))  # a constant target: a ~ 0
    assert a < 0.1 and c == pytest.approx(-9.0, abs=0.4)


def test_held_out_masters_are_closer_with_the_style_than_with_generic_matching(data):
    """The fit's own held-out check, on exact renders of the held-out mixes against the engineer's
    real masters (MR-STFT): the style >= 30 % closer than the generic model matching the
    engineer's closest other master as reference, the loudness within half a LU."""
    pairs, rows = data
    check = heldout.heldout_check(rows, pairs, match.Options(steps=30), say=lambda _: None)
    assert check is not None and len(check["held_out"]) == 2
    assert check["style"]["mrstft"] <= 0.7 * check["generic"]["mrstft"], check
    assert check["mrstft_gain"] >= 0.3
    assert check["style"]["lufs_error"] <= 0.5
