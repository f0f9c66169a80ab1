"""What `tonematch style` says to its user, on real (synthetic music) pairs: `show --json` carries
the style's settings, the fit's progress bar stays off a pipe and out of warning lines, a CSV line
naming a missing file leaves that pair out, -o with another extension is refused, and `show`
names the ceiling `master` will use."""

import io
import json
import re

import numpy as np
import pytest
import soundfile as sf
from style_engineer import SR, make_mix, make_pairs

import tonematch
from tonematch.data.errors import TonematchError
from tonematch.data.pairs import Pair, find_pairs
from tonematch.inference.cli import main
from tonematch.inference.style import describe, fit_pairs, load_style

from signals import music_like


def _manifest(root, lines: list[str]):
    path = root / "pairs.csv"
    path.write_text("mix,master\n" + "".join(f"{line}\n" for line in lines))
    return path


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A style fitted from a CSV manifest of three pairs, one line of which names a missing mix;
    -o without an extension. Output captured: not a terminal."""
    root = tmp_path_factory.mktemp("pairs")
    make_pairs(root, range(3), seconds=4.0)
    lines = [f"mix/song{i}.wav,master/song{i}.wav" for i in range(3)]
    manifest = _manifest(root, lines[:1] + ["mix/gone.wav,master/gone.wav"] + lines[1:])
    capture = pytest.MonkeyPatch()
    out, err = io.StringIO(), io.StringIO()
    capture.setattr("sys.stdout", out)
    capture.setattr("sys.stderr", err)
    try:
        code = main(["style", "fit", str(manifest), "-o", str(root / "mine"), "--no-check"])
    finally:
        capture.undo()
    return root, code, out.getvalue(), err.getvalue()


def test_a_missing_file_in_a_manifest_leaves_out_its_pair_with_one_warning(fitted):
    root, code, out, err = fitted
    assert code == 0, err
    assert err.splitlines() == [
        f"tonematch: warning: manifest '{root / 'pairs.csv'}' line 3: no such file 'mix/gone.wav' (pair left out)"
    ]
    style = load_style(root / "mine.tmstyle")  # no extension given: .tmstyle added
    assert style.meta["pair_names"] == ["song0", "song1", "song2"]


def test_a_manifest_with_no_usable_line_or_a_bad_line_is_an_error(tmp_path, capsys):
    make_pairs(tmp_path, [0], seconds=1.0)
    manifest = _manifest(tmp_path, ["mix/gone.wav,master/gone.wav", "mix/lost.wav,master/song0.wav"])
    assert main(["style", "fit", str(manifest), "-o", str(tmp_path / "s.tmstyle")]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"tonematch: error: manifest '{manifest}' line 2: no such file 'mix/gone.wav' (and 1 more line(s) like it)\n"
    )
    _manifest(tmp_path, ["mix/song0.wav,master/song0.wav", "mix/song0.wav,"])
    with pytest.raises(TonematchError, match="line 3: no master file given"):
        find_pairs(manifest)


def test_the_fit_draws_no_progress_bar_off_a_terminal(fitted):
    _, code, out, err = fitted
    assert code == 0 and "wrote " in out  # the pairs were read: the bar had its chance
    assert "fitting" not in out + err and "\r" not in out + err and "pair/s" not in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_left_out_pair_on_a_terminal_is_a_line_of_its_own(tmp_path, monkeypatch):
    """On a terminal the bar is drawn, and cleared before each warning: the warning starts its line."""
    from tonematch.inference.console import warn

    make_pairs(tmp_path, [0], seconds=3.0)
    (tmp_path / "master" / "bad.wav").write_bytes(b"RIFF not really a wav file")
    mix, master = tmp_path / "mix", tmp_path / "master"
    pairs = [
        Pair(mix / "song0.wav", master / "song0.wav", "song0"),
        Pair(mix / "song0.wav", master / "bad.wav", "bad"),  # its master is not audio
        Pair(mix / "song0.wav", master / "song0.wav", "again"),
    ]
    screen = _Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    fitted = fit_pairs(pairs, "t", check=False, say=lambda _: None, error=warn)
    assert fitted.meta["pairs"] == 2
    shown = screen.getvalue()
    assert "fitting" in shown  # the bar is drawn on a terminal
    pieces = re.split(r"[\r\n]", shown)
    [line] = [p for p in pieces if "warning" in p]
    assert line.startswith("tonematch: warning: pair bad left out: ")


@pytest.mark.parametrize("command", [["fit", "no/such/pairs"], ["from-references", "no/such/masters"]])
def test_an_output_with_another_extension_is_refused_before_any_work(tmp_path, capsys, command):
    out = tmp_path / "st" / "x.json"
    assert main(["style", *command, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    # the extension is the one error, though the input does not exist either: nothing else was looked at
    assert (
        err == f"tonematch: error: -o '{out}': a style file's extension is .tmstyle, not .json "
        "(or give none and .tmstyle is added)\n"
    )
    assert not (tmp_path / "st").exists()


def test_show_json_carries_the_settings_the_text_shows(fitted, capsys):
    root = fitted[0]
    path = root / "mine.tmstyle"
    assert main(["style", "show", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    style = load_style(path)
    assert shown["settings"] == json.loads(json.dumps(style.settings))
    groups = shown["settings"]["groups"]
    text = "\n".join(describe(style))
    loud = groups["loudness"]
    mode = "fixed" if loud["mode"] == "fixed" else "adapting to the mix"
    assert f"loudness, {mode}: {loud['value']:.1f} LUFS" in text
    ceiling = groups["limiter"]["ceiling_dbtp"]
    assert f"limiter, fixed: ceiling {ceiling:+.1f} dBTP" in text
    assert shown["mastering_ceiling_dbtp"] == pytest.approx(ceiling)
    assert groups["compressor"]["on"] in (True, False) and {"eq", "width"} <= groups.keys()


def test_show_names_the_ceiling_master_uses_for_a_style_from_references(tmp_path, capsys):
    """Masters that peak above -1 dBTP: the style's own reading is theirs, master caps it at -1."""
    folder = tmp_path / "refs"
    folder.mkdir()
    for seed in (1, 2):
        loud = music_like(4.0, SR, seed=seed, level_db=-12.0)
        loud *= 10 ** (-0.5 / 20) / np.abs(loud).max()  # sample peak at -0.5 dBFS
        sf.write(folder / f"ref{seed}.wav", loud.T, SR, subtype="FLOAT")
    path = tmp_path / "refs.tmstyle"
    assert main(["style", "from-references", str(folder), "-o", str(path)]) == 0
    style = load_style(path)
    assert style.true_peak_dbtp > -1.0
    capsys.readouterr()
    assert main(["style", "show", str(path)]) == 0
    text = capsys.readouterr().out
    result = tonematch.master(make_mix(3, 4.0), style, sample_rate=SR, refine=False)
    used = result.settings.values["limiter.ceiling_dbtp"]
    assert used == pytest.approx(-1.0)
    assert (
        f"ceiling {used:.1f} dBTP when mastering (the references peak at {style.true_peak_dbtp:.1f} dBTP on average)"
        in text
    )
