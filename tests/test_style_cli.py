"""`tonematch style fit / from-references` and `tonematch master --style` end to end on tiny folders,
and the Python API `tonematch.master`."""

import json

import numpy as np
import pytest
import soundfile as sf
from style_engineer import SR, make_mix, make_pairs

import tonematch
from tonematch.inference.cli import main


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    make_pairs(root, range(5), seconds=4.0)
    # a pair that is not the same recording: reported in one line and left out
    sf.write(root / "mix" / "stranger.wav", make_mix(50, 4.0).T, SR, subtype="FLOAT")
    sf.write(root / "master" / "stranger.wav", make_mix(51, 4.0).T, SR, subtype="FLOAT")
    out = root / "mine.tmstyle"
    assert main(["style", "fit", str(root), "-o", str(out), "--no-check", "--steps", "0"]) == 0
    return root, out


def test_fit_leaves_out_a_pair_that_does_not_align(fitted, capsys):
    from tonematch.inference.style import load_style

    root, out = fitted
    style = load_style(out)
    assert style.meta["pairs"] == 5 and "stranger" not in style.meta["pair_names"]
    assert style.settings is not None and -12.0 < style.settings["groups"]["loudness"]["value"] < -8.0


def test_master_one_file_and_a_batch_with_a_bad_file(fitted, tmp_path, capsys):
    root, style = fitted
    mix = root / "mix" / "song0.wav"
    out = tmp_path / "one.wav"
    assert main(["master", str(mix), "--style", str(style), "-o", str(out), "--steps", "10", "--bit-depth", "24"]) == 0
    settings = json.loads(out.with_suffix(".json").read_text())
    assert settings["source"]["started_from"] == "style" and settings["source"]["style"] == style.name
    assert sf.info(out).subtype == "PCM_24"
    said = capsys.readouterr()
    assert "settings from the style 'mine'" in said.out
    # a style of pairs masters with its own settings: a --steps that nothing reads is named
    assert "tonematch: warning: --steps has no effect: a style of pairs masters with its own settings" in said.err

    batch = tmp_path / "in"
    batch.mkdir()
    for name in ("a", "b"):
        (batch / f"{name}.wav").write_bytes(mix.read_bytes())
    (batch / "broken.wav").write_bytes(b"RIFF not really a wav file")
    folder = tmp_path / "out"
    code = main(
        [
            "master",
            str(batch),
            "--style",
            str(style),
            "-o",
            str(folder),
            "--no-refine",
            "--target-lufs",
            "-12",
            "--skip",
            "width",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "broken.wav" in err and len([line for line in err.splitlines() if "error" in line]) == 1
    for name in ("a", "b"):
        assert (folder / f"{name}.wav").is_file()
        s = json.loads((folder / f"{name}.json").read_text())
        loud = next(p for p in s["chain"] if p["processor"] == "loudness")
        assert loud["target_lufs"] == -12.0
        assert next(p for p in s["chain"] if p["processor"] == "width").get("enabled") is False
    assert not (folder / "broken.wav").exists()


def test_master_refuses_missing_arguments_and_a_bad_style(fitted, tmp_path):
    root, style = fitted
    assert main(["master", str(root / "mix" / "song0.wav"), "-o", str(tmp_path / "x.wav")]) == 2
    bad = tmp_path / "bad.tmstyle"
    bad.write_bytes(b"nonsense")
    assert main(["master", str(root / "mix" / "song0.wav"), "--style", str(bad), "-o", str(tmp_path / "x.wav")]) == 2
    assert not (tmp_path / "x.wav").exists()


def test_api_master_and_a_style_from_references(fitted, tmp_path):
    root, style = fitted
    x = make_mix(9, 4.0)
    with pytest.warns(UserWarning, match="--steps has no effect: a style of pairs masters with its own settings"):
        result = tonematch.master(x, str(style), sample_rate=SR, steps=10)
    assert isinstance(result, tonematch.MasterResult) and result.audio.shape == x.shape
    assert result.notes["start"] == "style"
    from tonematch.inference.quality import lufs

    assert abs(lufs(result.audio, SR) - result.settings.values["loudness.target_lufs"]) < 0.5
    refs = tmp_path / "refs.tmstyle"
    assert main(["style", "from-references", str(root / "master"), "-o", str(refs)]) == 0
    from tonematch.inference.style import load_style

    s = load_style(refs)
    assert s.meta["kind"] == "references" and np.all(s.tone_a == 0)
    assert -13.0 < s.scalar_c[2] < -9.0  # the masters' loudness (five at -10, the stranger quieter)
    half = tonematch.master(x, s, sample_rate=SR, refine=False, amount=0.5)
    assert np.isfinite(half.audio).all()


def test_a_style_masters_report_calls_its_target_the_style_target():
    from types import SimpleNamespace

    from tonematch.inference.report import target_label

    # style.choose_settings names its target "style NAME"; a reference keeps its file name
    assert target_label(SimpleNamespace(name="style mine")) == "style target"
    assert target_label(SimpleNamespace(name="ref.wav")) == "reference"


def test_the_studio_does_not_say_it_refines_a_style_of_settings(fitted, tmp_path):
    """A style fitted on pairs is the engineer's own chain, never refined: the studio's start-up
    lines must not say it refines."""
    from tonematch.inference.match import Options
    from tonematch.inference.studio.session import Studio

    root, style = fitted
    said = []
    s = Studio(
        root / "mix" / "song0.wav",
        tmp_path / "o.wav",
        style=style,
        options=Options(),
        background=False,
        say=said.append,
    )
    try:
        assert "choosing the settings" in said and not any("refining" in line for line in said), said
        assert s.notes.get("refined") is None  # and the decision did not refine either
    finally:
        s.close()


def test_a_references_styles_report_draws_their_balance_not_the_output(fitted, tmp_path):
    """The report's "style target" of a style from references was the mix rendered with the
    master's own settings: it lay on the output's curve. It is the balance the style predicts."""
    from tonematch.inference import character, report
    from tonematch.inference.inputs import analyse_array
    from tonematch.inference.match import Options
    from tonematch.inference.style import load_style
    from tonematch.inference.style.aim import StyleAim

    root, _ = fitted
    refs = tmp_path / "refs.tmstyle"
    assert main(["style", "from-references", str(root / "master"), "-o", str(refs)]) == 0
    mix = analyse_array(make_mix(9, 4.0), SR)
    settings, _, target = StyleAim(load_style(refs)).choose(mix, Options())
    frames = character.analyse(mix.clips, SR, mix.true_peak_ratio)
    centres, drawn = report.target_balance(target, SR)
    tone = np.asarray(target.character["tone"])
    np.testing.assert_allclose(drawn, tone - tone[character.tone_range(centres, SR)].mean())
    p = {k: float(v) for k, v in settings.values.items()}
    output = report.balance_db(character.render(frames, p, settings.bypass), frames)
    assert np.abs(drawn - output).max() > 2.0  # 6.5 dB here: not the output, which the old curve traced


def test_the_studio_draws_a_references_styles_balance_as_the_report_does(fitted, tmp_path):
    from tonematch.inference import report
    from tonematch.inference.match import Options
    from tonematch.inference.studio.session import Studio

    root, _ = fitted
    refs = tmp_path / "refs.tmstyle"
    assert main(["style", "from-references", str(root / "master"), "-o", str(refs)]) == 0
    s = Studio(root / "mix" / "song0.wav", tmp_path / "o.wav", style=refs, options=Options(), background=False)
    try:
        tone = np.asarray(s.target.character["tone"])
        _, predicted = report.target_balance(s.target, s.sample_rate)
        np.testing.assert_allclose(s.tone_reference, predicted)
        np.testing.assert_allclose(predicted, tone - tone[report.character.tone_range(s.tone_hz, SR)].mean())
    finally:
        s.close()
