"""The .tmstyle file: round trip, refusal of corrupt, truncated, foreign and other-version files,
and loading never executes code."""

import json
import pickle
from dataclasses import replace

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.torch import save_file
from style_example import example_style

from tonematch.data.errors import TonematchError
from tonematch.inference.style import describe, file as style_file, load_style, save_style


def test_round_trip(tmp_path):
    s = example_style()
    path = save_style(s, tmp_path / "mine")
    assert path.name == "mine.tmstyle"
    back = load_style(path)
    for name in style_file.TENSORS:
        np.testing.assert_array_equal(getattr(back, name), getattr(s, name))
    assert back.habit == s.habit and back.true_peak_dbtp == s.true_peak_dbtp
    assert back.meta["name"] == "mine" and back.meta["base"] == style_file.base_version()
    with safe_open(str(path), framework="numpy") as f:  # plain safetensors, JSON card in the header
        assert json.loads(f.metadata()["card"])["meta"]["pairs"] == 6


def test_truncated_and_corrupt_files_are_refused(tmp_path):
    path = save_style(example_style(), tmp_path / "s.tmstyle")
    data = path.read_bytes()
    cut = tmp_path / "cut.tmstyle"
    cut.write_bytes(data[: len(data) - 20])
    with pytest.raises(TonematchError, match="not a readable style file"):
        load_style(cut)
    flipped = bytearray(data)
    flipped[-3] ^= 0xFF  # inside the tensor bytes: the file still parses
    bad = tmp_path / "bad.tmstyle"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(TonematchError, match="corrupt"):
        load_style(bad)
    junk = tmp_path / "junk.tmstyle"
    junk.write_bytes(b"\x00" * 5)
    with pytest.raises(TonematchError):
        load_style(junk)
    with pytest.raises(TonematchError, match="not found"):
        load_style(tmp_path / "missing.tmstyle")
    with pytest.raises(TonematchError, match="is a folder, not a style file"):  # it exists: not 'not found'
        load_style(tmp_path)


def _rewrite(path, out, **changes):
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta.update(changes)
    save_file(tensors, str(out), metadata=meta)
    return out


def test_other_versions_and_foreign_files_are_refused(tmp_path):
    path = save_style(example_style(), tmp_path / "s.tmstyle")
    with pytest.raises(TonematchError, match="another base version"):
        load_style(_rewrite(path, tmp_path / "b.tmstyle", base="character-0/chain-000000000000"))
    with pytest.raises(TonematchError, match="format version"):
        load_style(_rewrite(path, tmp_path / "v.tmstyle", format_version="99"))
    with pytest.raises(TonematchError, match="not a tonematch style"):
        load_style(_rewrite(path, tmp_path / "f.tmstyle", format="tonematch-model"))


class _Boom:
    def __reduce__(self):
        import os

        return (os.system, (f"touch {_Boom.marker}",))


def test_loading_never_executes_code(tmp_path):
    _Boom.marker = tmp_path / "executed"
    evil = tmp_path / "evil.tmstyle"
    evil.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(TonematchError):
        load_style(evil)
    assert not _Boom.marker.exists()


def test_show_says_what_the_style_does_in_words_and_numbers(tmp_path, capsys):
    from tonematch.inference.cli import main

    path = save_style(example_style(), tmp_path / "mine.tmstyle")
    assert main(["style", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert describe(load_style(path))[0] == "style 'mine': learned from 6 of your mix/master pairs"
    assert "EQ: low shelf +1.5 dB at 90 Hz" in out
    assert "stereo width 1.20 (side +1.6 dB)" in out
    # the ceiling master will use: the masters peak at -1.2 dBTP, under the -1 dBTP cap; the pairs' own after it
    assert "loudness -9.0 LUFS, ceiling -1.2 dBTP when mastering (your pairs: -1.0 dBTP)" in out
    # without a timing read from pairs the compressor is shown as the start it is, and the
    # dynamics as the targets it is set to
    assert (
        "compression: starts at ratio 2.5:1, threshold 4.0 dB above the mix's loudness "
        "(-18.0 dBFS on average over the pairs)" in out
    )
    assert "adapts per mix: ratio and threshold, set to reach the block crest and loudness spread" in out
    assert "attack and release: not read from the pairs" in out
    # tonal values are a balance (intercepts relative to the average), not EQ moves
    assert "not EQ moves" in out and "40 Hz: 2.0 dB below the average, whatever the mix" in out
    assert "10.2 kHz: 50 % of the mix's own balance, plus 2.0 dB" in out
    assert "pulls the balance to its own" in out and "block crest: 40 % of the mix's own crest, plus 5.0 dB" in out
    assert "loudness: -9.0 LUFS, whatever the mix" in out and "loudness spread: 0.5 LU, whatever the mix" in out
    # the width line is labelled per band
    assert "200 Hz to 1.0 kHz: 90 % of the mix's own side level, less 10.0 dB" in out
    assert "5.0 kHz to 20.0 kHz: 70 % of the mix's own side level, plus 1.5 dB" in out
    assert main(["style", "show", str(tmp_path / "nope.tmstyle")]) == 2


def test_show_reads_aloud_without_identifiers_or_bare_numbers():
    """Every figure carries its unit (or is a ratio, a percentage or a Q); no internal identifier
    (the base version stays in --json); a spread that shrinks reads as 'less', never as a
    negative spread."""
    import re

    s = example_style()
    s.scalar_a[0], s.scalar_c[0] = 1.0, -0.8  # the mix's own loudness spread, 0.8 LU narrower
    s.habit = replace(s.habit, attack_ms=60.0, release_ms=800.0, timing_pairs=5, reduction_db=6.2)
    s.meta["check"] = {
        "style": {"mrstft": 0.5, "lufs_error": 0.2, "crest_error": 0.4},
        "generic": {"mrstft": 0.8, "lufs_error": 0.3, "crest_error": 0.9},
        "mrstft_gain": 0.375,
    }
    text = "\n".join(describe(s))
    assert "loudness spread: 100 % of the mix's own spread, less 0.8 LU" in text
    assert "-0.8" not in text and "character-" not in text and "chain-" not in text and "a=" not in text
    units = r"(dB|dBFS|dBTP|LU|LUFS|ms|Hz|kHz|%|:1)"
    allowed = {"1.20", "0.00", "1.00", "1.2"}  # width (with its dB after it) and an EQ's Q
    for line in text.splitlines():
        for m in re.finditer(r"[-+]?\d+(\.\d+)?(?![\d.])", line):
            rest = line[m.end() :].lstrip()
            if (
                re.match(units, rest)
                or m.group(0).lstrip("+-") in allowed
                or line[: m.start()].endswith(("Q ", "'", ":"))
            ):
                continue
            # numbers that are part of a label: "from 5 of the pairs", "6 of your", MR-STFT values
            assert re.match(r"(of |with |\()", rest) or "MR-STFT" in line, (m.group(0), line)


@pytest.mark.parametrize(
    "attack, release, words",
    [(2.0, 55.0, "fast, attack 2.0 ms, release 55 ms"), (12.0, 150.0, "medium, attack 12 ms, release 150 ms")]
    + [(60.0, 800.0, "slow, attack 60 ms, release 800 ms")],
)
def test_show_names_the_timing_read_from_pairs(attack, release, words):
    s = example_style()
    s.habit = replace(s.habit, attack_ms=attack, release_ms=release, timing_pairs=5, reduction_db=6.2)
    text = "\n".join(describe(s))
    assert f"compression: {words} (read from 5 of the pairs), ratio 2.5:1, threshold 4.0 dB above" in text
    assert "about 6.2 dB of gain reduction" in text
    assert "fixed: attack and release, as read" in text


def test_the_habit_is_typed_and_its_card_object_loads_as_before(tmp_path, capsys):
    """The habit is a Habit in memory and a JSON object in the card; a card habit without the keys
    older fits left out (timing_pairs, reduction_db) loads with them at their defaults."""
    from tonematch.inference.style import Habit

    s = example_style()
    assert isinstance(s.habit, Habit) and s.habit.timing_pairs == 0 and s.habit.reduction_db is None
    path = save_style(s, tmp_path / "s.tmstyle")
    with safe_open(str(path), framework="numpy") as f:
        card = json.loads(f.metadata()["card"])
    assert card["habit"]["ratio"] == 2.5 and card["habit"]["eq"]["eq.low_shelf.freq_hz"] == 90.0
    from tonematch.inference.cli import main

    assert main(["style", "show", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["habit"] == card["habit"] and shown["meta"]["name"] == "mine"

    with safe_open(str(path), framework="pt") as f:
        meta, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    card = json.loads(meta["card"])
    del card["habit"]["timing_pairs"], card["habit"]["reduction_db"]
    meta["card"] = json.dumps(card)
    save_file(tensors, str(tmp_path / "old.tmstyle"), metadata=meta)
    back = load_style(tmp_path / "old.tmstyle")
    assert back.habit == s.habit and back.habit.compressor()["threshold_rel_lufs"] == 4.0
    card["habit"]["ratio"] = "fast"
    meta["card"] = json.dumps(card)
    save_file(tensors, str(tmp_path / "bad.tmstyle"), metadata=meta)
    with pytest.raises(TonematchError, match="habit's ratio"):
        load_style(tmp_path / "bad.tmstyle")
