"""tonematch-eval --unmastered: mixes from one subfolder against other tracks' masters; the
measures read how far an output moved toward its reference."""

import os

import numpy as np
import pytest
import soundfile as sf

from tonematch.data.errors import TonematchError
from tonematch.training import unmastered
from tonematch.training.foreign.fir_eq import Tilt, equalise

from signals import music_like

SR = 22050


def test_measures_read_the_move_toward_the_reference():
    mix = music_like(3.0, SR, seed=4, level_db=-24)
    reference = equalise(music_like(3.0, SR, seed=5, level_db=-10), [Tilt(1.5)], SR)
    still = unmastered.measure(mix, mix, reference, SR)
    copy = unmastered.measure(reference, mix, reference, SR)
    assert still["closed"] == pytest.approx(0.0, abs=1e-9) and still["shape"] > 2.0
    assert copy["closed"] == pytest.approx(1.0, abs=1e-9) and copy["shape"] == pytest.approx(0.0, abs=1e-9)
    assert still["lufs"] < -10.0 and copy["lufs"] == pytest.approx(0.0, abs=1e-6)
    halfway = unmastered.measure(equalise(mix, [Tilt(0.75)], SR), mix, reference, SR)
    assert 0.1 < halfway["closed"] < 0.9 and abs(halfway["tilt"]) < abs(still["tilt"])


def test_cases_take_mixes_from_the_subfolder_and_references_from_the_rest(tmp_path):
    for folder, seeds in (("raw", (1, 2)), ("masters", (3, 4, 5))):
        (tmp_path / folder).mkdir()
        for s in seeds:
            sf.write(tmp_path / folder / f"t{s}.wav", music_like(3.0, SR, seed=s).T, SR, subtype="FLOAT")
    files = sorted(str(p) for p in tmp_path.rglob("*.wav"))
    cases = unmastered.make_cases(files, "raw", 4, 0, SR, 1.0)
    assert [c["track"] for c in cases] == ["t1.wav", "t2.wav", "t1.wav", "t2.wav"]
    assert all(c["reference_track"] in {"t3.wav", "t4.wav", "t5.wav"} for c in cases)
    assert all(c["input"].shape == (2, SR) for c in cases)
    again = unmastered.make_cases(files, "raw", 4, 0, SR, 1.0)
    assert all(np.array_equal(a["reference"], b["reference"]) for a, b in zip(cases, again))
    with pytest.raises(TonematchError, match="under 'nothing"):
        unmastered.make_cases(files, "nothing", 1, 0, SR, 1.0)
    assert os.path.isdir(tmp_path / "raw")


def test_time_per_case_is_the_method_alone_not_the_measures(monkeypatch):
    """The time column is what a method took; the 1/3-octave and loudness measures of its output
    are the evaluation's own cost (they made the identity read 0.23 s a case)."""
    import time

    real = unmastered.measure

    def slow_measure(*args):
        time.sleep(0.4)  # stands for the measures' cost, well above any timer's noise
        return real(*args)

    monkeypatch.setattr(unmastered, "measure", slow_measure)
    case = {"input": music_like(3.0, SR, seed=6, level_db=-24), "reference": music_like(3.0, SR, seed=7)}
    case.update(track="mix.wav", reference_track="master.wav")

    def slow_copy(audio, reference):
        time.sleep(0.15)
        return audio

    results, _ = unmastered.run([case], {"input": lambda a, r: a, "slow": slow_copy}, SR)
    assert results["input"]["seconds"] < 0.1
    assert 0.15 <= results["slow"]["seconds"] < 0.35


@pytest.mark.parametrize(
    "extra",
    [["--chain", "foreign"], ["--chain", "project"], ["--reference", "other-track"], ["--chain-config", "x.yaml"]],
)
def test_options_it_would_ignore_are_refused_in_one_line(extra, capsys):
    """--unmastered masters nothing and draws its references from other songs: a --chain or
    --reference given with it was silently ignored (the report read as if they had applied)."""
    from tonematch.training import eval_command

    with pytest.raises(SystemExit) as stop:
        eval_command.parse_args(["music", "--unmastered", "raw", *extra])
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(lines) == 1
    assert lines[0].startswith("tonematch-eval: error: --unmastered") and extra[0] in lines[0]
    assert eval_command.parse_args(["music", "--unmastered", "raw"]).unmastered == "raw"


@pytest.mark.parametrize("split, words", [("all", "1 cases from `music`:"), ("test", "from the test split of `music`")])
def test_the_header_names_the_split_only_when_there_is_one(split, words):
    from tonematch.training import eval_command

    args = eval_command.parse_args(["music", "--unmastered", "raw", "--split", split, "--cases", "1"])
    head = unmastered.report({}, [], [], args).split("\n\n")[1]
    assert words in head and ("the all split" not in head)
    assert ("other tracks of the split" in head) == (split != "all")
