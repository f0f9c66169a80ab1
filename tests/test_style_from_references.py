"""A style from reference masters (tonematch style from-references): the network masters each mix
as it hears it and refinement moves its balance part of the way toward the references' average.
Masters of other songs must not drag a mix to their balance and width wholesale (they did: EQ of
+-8-12 dB and width 0.17 from one nearly mono master), and brighter references must still give a
brighter master."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import tonematch
from tonematch.inference.inputs import analyse_array
from tonematch.inference.quality import lufs
from tonematch.inference.style import style_from_references
from tonematch.models.chain.exact import render_array
from tonematch.models.chain.settings import Settings
from tonematch.models.measure.spectrum import third_octave_db

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EQ_GAINS = [f"eq.{b}.gain_db" for b in ("low_shelf", "peak1", "peak2", "peak3", "peak4", "high_shelf")]


def _tilted(x: np.ndarray, sr: int, treble_db: float, side: float = 1.0) -> np.ndarray:
    """The reference with shelves tilting it (treble up and bass down by treble_db), its side scaled."""
    s = Settings.defaults(sr)
    s.values.update({"eq.low_shelf.gain_db": -treble_db, "eq.high_shelf.gain_db": treble_db})
    y = render_array(x, s, sr)
    mid, sid = 0.5 * (y[0] + y[1]), 0.5 * (y[0] - y[1]) * side
    return np.stack([mid + sid, mid - sid]).astype(np.float32)


def _treble_over_bass(x: np.ndarray, sr: int) -> float:
    centres, db = third_octave_db(x, sr)
    return float(db[(centres >= 2000) & (centres <= 12000)].mean() - db[(centres >= 40) & (centres <= 250)].mean())


@pytest.fixture(scope="module")
def reference():
    x, sr = sf.read(EXAMPLES / "reference.flac", dtype="float32", always_2d=True)
    return x.T, sr


@pytest.fixture(scope="module")
def masters(reference):
    x, sr = reference
    out = {}
    for name, tilt in (("bright", 5.0), ("dark", -5.0)):
        # three masters each, one of them nearly mono: the old start followed its width to 0.17
        refs = [_tilted(x, sr, tilt), _tilted(x[:, sr:], sr, tilt), _tilted(x, sr, tilt, side=0.05)]
        out[name] = style_from_references([analyse_array(r, sr) for r in refs], name)
    return out


@pytest.fixture(scope="module")
def mastered(masters):
    mix, sr = sf.read(EXAMPLES / "mix.flac", dtype="float32", always_2d=True)
    return {name: tonematch.master(mix.T, s, sample_rate=sr) for name, s in masters.items()}, mix.T, sr


def test_the_network_starts_and_refinement_moves_part_of_the_way(mastered):
    results, _, _ = mastered
    for r in results.values():
        assert r.notes["start"] == "style" and r.notes["settings_from"] == "network"
        reading = r.notes["reading"]
        assert reading["of"] == "style" and 0.0 < reading["tilt_share"] < 1.0 and reading["detail_share"] == 0.0
        v = r.settings.values
        gains = [abs(v[k]) for k in EQ_GAINS if r.settings.enabled(k.split(".gain_db")[0])]
        assert max(gains) <= 6.0, {k: round(v[k], 1) for k in EQ_GAINS}
        assert 0.6 <= v["width.width"] <= 1.6


def test_brighter_references_give_a_brighter_master(mastered):
    results, _, sr = mastered
    bright, dark = (_treble_over_bass(results[k].audio, sr) for k in ("bright", "dark"))
    # the two styles' balances read about 6 dB apart in tilt against the network's start; the style
    # takes 40 % of it: about 2.4 dB apart
    read = [results[k].notes["reading"]["reference_tilt_db"] for k in ("bright", "dark")]
    assert read[0] - read[1] > 4.0, read
    assert bright - dark > 1.2, (bright, dark)


def test_the_master_is_as_loud_as_the_references_play(masters, mastered, reference):
    results, _, sr = mastered
    for name, r in results.items():
        assert abs(lufs(r.audio, sr) - masters[name].scalar_c[2]) < 0.5


def test_show_json_says_what_its_arrays_mean(masters, tmp_path, capsys):
    import json

    from tonematch.inference.cli import main
    from tonematch.inference.style import save_style
    from tonematch.inference.style.master import STYLE_LITERAL

    path = save_style(masters["bright"], tmp_path / "bright.tmstyle")
    assert main(["style", "show", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    legend = shown["legend"]
    assert list(legend["scalars"]) == ["spread", "crest", "lufs"] and len(shown["scalar_c"]) == 3
    assert len(legend["width_bands_hz"]) == len(shown["width_c"]) and legend["literal"] == STYLE_LITERAL
    # the loudness the text view names is the scalar the legend calls LUFS
    assert shown["scalar_c"][2] == pytest.approx(masters["bright"].scalar_c[2])


def test_mono_references_have_no_width_to_show(reference):
    from tonematch.inference.style import describe

    x, sr = reference
    mono = x.mean(axis=0, keepdims=True)
    shown = describe(style_from_references([analyse_array(mono, sr), analyse_array(mono[:, sr:], sr)], "mono"))
    assert "their stereo width: none read (mono references)" in shown
    assert not any("relative to the mid" in line for line in shown)
