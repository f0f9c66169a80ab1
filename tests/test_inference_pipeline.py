"""One road for every mix (inference/pipeline.py): the command line and the API decide the same
settings for the same files, every path records where its settings came from, and that record
stays true once a person edits them."""

from __future__ import annotations

import json
import os

import numpy as np
import soundfile as sf

import tonematch
from tonematch.inference import match, pipeline
from tonematch.inference.cli import main
from tonematch.inference.inputs import analyse_array, analyse_file
from tonematch.models.chain.settings import Settings

from signals import music_like

STEPS = ["--steps", "3"]


def test_the_command_and_the_api_decide_the_same_settings(tmp_path, capsys, example_mix, example_reference):
    out = tmp_path / "out.wav"
    assert main(["match", str(example_mix), "-r", str(example_reference), "-o", str(out), *STEPS]) == 0
    capsys.readouterr()
    written = Settings.from_json(str(tmp_path / "out.json"))
    result = tonematch.match(example_mix, example_reference, steps=3)
    assert written.values == result.settings.values and written.bypass == result.settings.bypass
    for settings in (written, result.settings):
        assert settings.source["started_from"] == "network" and settings.source["refined"] is not None
        # both files by their names alone, as a shared settings file should carry them
        assert settings.source["reference"] == os.path.basename(example_reference)
        assert settings.source["mix"] == os.path.basename(example_mix) and settings.source["model"] == "default"
        assert not settings.edited
    # and the array the API returns is the file the command wrote, but for its 16-bit quantisation
    # (the example's format) with TPDF dither: within 1.5 steps of 2^-15
    y, _ = sf.read(out, dtype="float32", always_2d=True)
    assert np.abs(y.T - result.audio).max() < 2 * 2.0**-15
    # the API's words carry the command's line on how the reference was read, its options as the API spells them
    reading = [line for line in result.describe().splitlines() if line.startswith("reference: ")]
    assert len(reading) == 1 and "literal=0.4 takes 80 % of the tilt" in reading[0]


def test_an_edit_shows_in_the_provenance(tmp_path, example_mix, example_reference):
    result = tonematch.match(example_mix, example_reference, refine=False)
    settings = result.settings
    assert settings.source["started_from"] == "network" and not settings.edited
    settings.values["eq.low_shelf.gain_db"] += 1.5
    assert settings.edited
    path = tmp_path / "edited.json"
    settings.to_json(str(path))
    saved = json.loads(path.read_text())
    assert saved["source"]["edited"] is True and saved["source"]["started_from"] == "network"
    again = Settings.from_json(str(path))
    assert again.edited
    # an edit put back is no edit
    settings.values["eq.low_shelf.gain_db"] -= 1.5
    assert not settings.edited


def test_a_rate_change_is_not_an_edit():
    s = Settings.defaults(96000)
    s.values["eq.high_shelf.freq_hz"] = 30000.0
    s.values["eq.high_shelf.gain_db"] = 2.0
    stamped = s.stamped({"started_from": "network"})
    moved, notes = stamped.at_rate(44100)
    assert notes and moved.values["eq.high_shelf.freq_hz"] < 30000.0
    assert not moved.edited


def test_every_aim_goes_the_same_road(example_mix, example_reference):
    """A reference with the network, with the matcher, and the neutral chain: each decision is
    finished the same way (the run's loudness and ceiling, stamped provenance)."""
    mix = analyse_file(example_mix)
    target = match.target_from(analyse_file(example_reference), name="ref")
    options = match.Options(steps=2, target_lufs=-12.0)
    aims = {
        "network": pipeline.ReferenceAim(target, match.load_model(None)),
        "matcher": pipeline.ReferenceAim(target, None),
        "neutral": pipeline.NeutralAim(target),
    }
    for start, aim in aims.items():
        decision = pipeline.decide(mix, aim, options)
        assert decision.start == start
        assert decision.settings.values["loudness.target_lufs"] == -12.0
        assert decision.settings.source["started_from"] == start
        assert decision.settings.source["model"] == ("default" if start == "network" else "none")
        assert not decision.settings.edited


def test_settings_that_are_not_finite_are_refused_naming_the_mix(example_reference):
    class Broken:
        def choose(self, mix, options):
            s = Settings.defaults(mix.sample_rate)
            s.values["eq.low_shelf.gain_db"] = float("nan")
            return s, {"start": "broken"}, None

        def provenance(self):
            return {}

    x, sr = sf.read(example_reference, dtype="float32", always_2d=True)
    try:
        pipeline.decide(analyse_array(x.T, sr), Broken(), match.Options(), "song.wav")
    except tonematch.TonematchError as exc:
        assert "cannot master 'song.wav'" in str(exc) and "eq.low_shelf.gain_db" in str(exc)
    else:
        raise AssertionError("NaN settings were not refused")


def test_settings_made_at_another_rate_render_and_report_on_a_low_rate_mix(tmp_path, example_reference):
    """A 44.1 kHz master's high shelf at 16 kHz, edited into a 22.05 kHz mix's settings (the
    studio's import): the render moves the band to the rate's limit, and the report beside it
    draws that render instead of refusing the values (the studio's export failed here)."""
    from tonematch.inference.inputs import analyse_input
    from tonematch.models.chain.exact import render_array

    sr = 22050
    x = music_like(4.0, sr, seed=3)
    mix_path = tmp_path / "mix22.wav"
    sf.write(mix_path, x.T, sr, subtype="FLOAT")
    settings = Settings.defaults(sr)
    settings.values.update({"eq.high_shelf.freq_hz": 16000.0, "eq.high_shelf.gain_db": 4.0})
    mix = analyse_input(mix_path, "mix")
    target = match.target_from(analyse_input(example_reference, "reference"))
    decision = pipeline.Decision(settings, target, {"start": "network"})
    out = tmp_path / "out.wav"
    summary = pipeline.write_master(mix_path, mix, decision, out, report=True)
    assert (tmp_path / "out.png").is_file() and any("16000 Hz is above" in w for w in summary["warnings"])
    assert Settings.from_json(str(tmp_path / "out.json")).values["eq.high_shelf.freq_hz"] == 16000.0
    y, _ = sf.read(out, dtype="float32", always_2d=True)
    moved, _ = settings.at_rate(sr)
    assert np.abs(y.T - render_array(x, moved, sr)).max() < 1e-4  # the moved chain, but for 24-bit dither


def test_a_model_given_by_path_is_recorded_by_its_name(example_mix, example_reference):
    from tonematch.models.files import DEFAULT_MODEL

    # a shared settings file names its model as it names its mix and reference: no folders of this machine
    result = tonematch.match(example_mix, example_reference, model=str(DEFAULT_MODEL), refine=False)
    assert result.settings.source["model"] == os.path.basename(str(DEFAULT_MODEL)) == "default"


def test_the_words_of_an_edited_result_say_its_audio_is_the_master_as_made(example_mix, example_reference):
    result = tonematch.match(example_mix, example_reference, refine=False)
    assert "edited after the master was made" not in result.describe()
    result.settings.values["width.width"] = 1.5
    words = result.describe()
    assert "width: 1.50" in words and "edited after the master was made" in words.splitlines()[-1]
