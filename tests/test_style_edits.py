"""A pair read for `style fit` is read where its master is mastering (inference/style/edits.py,
pair.py): a master faded out or in, or cut shorter than its mix, has that stretch left out of the
reading with one warning line, and a master with its polarity flipped is read turned back with
one line; a clean pair is read whole, as before.

The masters are exact chain renders of synthetic mixes with louder and quieter passages (the
style tests' engineer, with the fast compressor of tests/test_inference_gain_trace.py: 4:1 from
8 dB under the mix's loudness, 1 ms / 40 ms, whose timing a clean pair reads). The edits are
applied to the master afterwards, as an engineer's editor does. Nothing here asks which grid
point won: readings are checked within bands around the engineer's truth, and a flipped master
against the same pair read upright (the flip is exact in floats, so the reading is the same)."""

import re

import numpy as np
import pytest
import soundfile as sf
from style_engineer import FAST, SLOW, SR, engineer_settings, make_mix

from tonematch.data.errors import TonematchError
from tonematch.data.pairs import Pair
from tonematch.inference.style import describe, fit_pairs
from tonematch.inference.style.edits import MARGIN_S, unedited_span
from tonematch.inference.style.file import json_safe
from tonematch.inference.style.heldout import _read_as_fitted
from tonematch.inference.style.pair import read_pair
from tonematch.models.chain.exact import render_array

SECONDS, FADE_S = 12.0, 3.0


def _master(mix: np.ndarray, seed: int, compressor: dict | None = FAST) -> np.ndarray:
    return render_array(mix, engineer_settings(mix, seed, compressor), SR)


def _faded(x: np.ndarray, seconds: float, out: bool = True) -> np.ndarray:
    """x with a linear fade (amplitude 1 -> 0) over its last (or first) `seconds`."""
    n = int(seconds * SR)
    ramp = np.linspace(1.0, 0.0, n, dtype=np.float32)
    y = x.copy()
    if out:
        y[:, -n:] *= ramp
    else:
        y[:, :n] *= ramp[::-1]
    return y


@pytest.fixture(scope="module")
def song():
    mix = make_mix(0, SECONDS, sections=True)
    return mix, _master(mix, 0)


def _write(folder, name: str, mix: np.ndarray, master: np.ndarray) -> Pair:
    (folder / "mix").mkdir(parents=True, exist_ok=True)
    (folder / "master").mkdir(parents=True, exist_ok=True)
    sf.write(folder / "mix" / f"{name}.wav", mix.T, SR, subtype="FLOAT")
    sf.write(folder / "master" / f"{name}.wav", master.T, SR, subtype="FLOAT")
    return Pair(folder / "mix" / f"{name}.wav", folder / "master" / f"{name}.wav", name)


@pytest.fixture(scope="module")
def clean(song, tmp_path_factory):
    return read_pair(_write(tmp_path_factory.mktemp("clean"), "song", *song))


def _within(value: float, truth: float, factor: float) -> bool:
    return truth / factor <= value <= truth * factor


def _reads_the_engineer(p) -> None:
    """The pair's compressor is the engineer's fast one, read as a clean pair reads it."""
    c = p.compressor
    assert c is not None and c["timing"] == "read", c
    assert c["error_db"] < 0.5, c
    assert _within(c["attack_ms"], FAST["attack_ms"], 2.0) and _within(c["release_ms"], FAST["release_ms"], 1.5), c
    assert _within(c["ratio"], FAST["ratio"], 1.4) and c["reduction_db"] > 3.0, c


def _seconds_in(note: str, words: str) -> float:
    found = re.fullmatch(rf"pair (\S+): its master {words} (\d+\.\d) s: left out of the reading", note)
    assert found, note
    return float(found.group(2))


def test_a_clean_pair_is_read_whole_and_as_before(clean, song):
    assert clean.notes == [] and clean.span is None and not clean.inverted
    _reads_the_engineer(clean)
    # nothing is left out of a clean pair on any habit or song, loud passages or quiet ones
    for seed in (0, 1, 2):
        mix = make_mix(seed, SECONDS, sections=True)
        for habit in (FAST, SLOW, None):
            span = unedited_span(mix, _master(mix, seed, habit), SR)
            assert (span.start, span.end, span.note) == (0, mix.shape[1], None), (seed, habit)
    # nor from a mix that fades out itself, mastered as it is: the ratio stays where it was
    faded = _faded(song[0], FADE_S)
    span = unedited_span(faded, _master(faded, 0), SR)
    assert (span.start, span.end, span.note) == (0, faded.shape[1], None)


def test_a_faded_out_master_is_read_without_its_fade(song, clean, tmp_path):
    mix, master = song
    p = read_pair(_write(tmp_path, "faded", mix, _faded(master, FADE_S)))
    [note] = p.notes
    assert 2.6 <= _seconds_in(note, "fades out over the last") <= 3.5, note
    assert note.startswith("pair faded: ")
    # the fade (and a margin) is left out, and little more
    start, end = p.span
    assert start == 0 and mix.shape[1] - (FADE_S + MARGIN_S + 0.6) * SR <= end <= mix.shape[1] - FADE_S * SR * 0.85
    # the compressor reads as on the clean pair (with the fade read: 6.6 dB of error, timing unreadable)
    _reads_the_engineer(p)
    assert p.compressor["threshold_db"] == pytest.approx(clean.compressor["threshold_db"], abs=1.5)
    # the master's loudness is the master's, not the fade's (0.4 LU low with it)
    assert p.master.lufs == pytest.approx(clean.master.lufs, abs=0.2)


def test_a_faded_in_master_is_read_without_its_fade(song, clean, tmp_path):
    mix, master = song
    p = read_pair(_write(tmp_path, "faded_in", mix, _faded(master, 2.0, out=False)))
    [note] = p.notes
    assert 1.8 <= _seconds_in(note, "fades in over the first") <= 2.5, note
    start, end = p.span
    assert end == mix.shape[1] and 1.7 * SR <= start <= (2.0 + MARGIN_S + 0.6) * SR
    # with the fade in: 1 dB of error, and the master's loudness 0.35 LU low
    _reads_the_engineer(p)
    assert p.master.lufs == pytest.approx(clean.master.lufs, abs=0.2)


def test_a_master_cut_short_is_read_where_it_has_audio(song, clean, tmp_path):
    mix, master = song
    cut = int(0.3 * SR)
    p = read_pair(_write(tmp_path, "short", mix, master[:, :-cut]))  # the master ends 0.3 s before the mix
    assert p.notes == ["pair short: its master has no audio over the last 0.3 s: left out of the reading"]
    assert p.span == (0, mix.shape[1] - cut)
    # the missing tail read as gain reduction gave 55 dB of error and no timing
    _reads_the_engineer(p)


def test_a_master_a_few_samples_short_or_long_is_no_edit(song, tmp_path):
    """An export's rounding (a master 7 samples short, or 5 of silence longer) is no cut: no line
    (it said "no audio over the last 0.1 s"), the missing samples left out all the same."""
    mix, master = song
    short = read_pair(_write(tmp_path, "short7", mix, master[:, :-7]))
    assert short.notes == [] and short.span == (0, mix.shape[1] - 7)
    longer = read_pair(_write(tmp_path, "long5", mix, np.pad(master, ((0, 0), (0, 5)))))
    assert longer.notes == [] and longer.span is None


def test_a_master_with_too_little_audio_cannot_be_read(song):
    mix, master = song
    short = master.copy()
    short[:, int(0.8 * SR) :] = 0.0  # the master stops after 0.8 s of the mix's 12
    with pytest.raises(TonematchError, match=r"pair song: its master has no audio over the last 11.2 s: too little"):
        unedited_span(mix, short, SR, "song")


def test_an_inverted_master_is_read_flipped_and_said_so(song, clean, tmp_path):
    mix, master = song
    p = read_pair(_write(tmp_path, "upside", mix, -master))
    assert p.notes == ["pair upside: its master's polarity is inverted against the mix: read flipped"]
    assert p.inverted and p.offset_frames == clean.offset_frames == 0
    # read as the upright master is: the flip is exact
    np.testing.assert_array_equal(p.master.clips, clean.master.clips)
    assert p.compressor == pytest.approx(clean.compressor)


def test_the_held_out_check_reads_a_pair_as_it_was_fitted(song, tmp_path):
    mix, master = song
    edited = -_faded(master, FADE_S)
    p = read_pair(_write(tmp_path, "both", mix, edited))
    assert len(p.notes) == 2 and p.inverted and p.span is not None
    m, upright, sr = _read_as_fitted(p, Pair(tmp_path / "mix" / "both.wav", tmp_path / "master" / "both.wav", "both"))
    assert sr == SR
    np.testing.assert_array_equal(m, mix[:, : p.span[1]])
    np.testing.assert_array_equal(upright, -edited[:, : p.span[1]])


def test_style_fit_says_each_edit_once_and_fits_what_upright_pairs_fit(song, tmp_path):
    mix, master = song
    other = make_mix(1, SECONDS, sections=True)
    second = _master(other, 1)
    pairs = [
        _write(tmp_path / "upright", "a", mix, master),
        _write(tmp_path / "upright", "b", other, second),
    ]
    edited = [
        _write(tmp_path / "edited", "a", mix, -master),
        _write(tmp_path / "edited", "b", other, second),
    ]
    lines = []
    upright = fit_pairs(pairs, "u", check=False, say=lambda _: None, error=lines.append, progress=False)
    assert lines == []
    flipped = fit_pairs(edited, "e", check=False, say=lambda _: None, error=lines.append, progress=False)
    assert lines == ["pair a: its master's polarity is inverted against the mix: read flipped"]
    assert flipped.meta["pairs"] == 2
    # the style is the upright pairs' style: in words, and every number of its settings
    assert describe(flipped)[1:] == describe(upright)[1:]
    ours, theirs = _numbers(json_safe(flipped.settings)), _numbers(json_safe(upright.settings))
    assert [k for k, _ in ours] == [k for k, _ in theirs]
    assert [v for _, v in ours] == pytest.approx([v for _, v in theirs], rel=1e-6, abs=1e-9)


def _numbers(card, path: str = "") -> list[tuple[str, float]]:
    """(path, value) for every number in a JSON-like card."""
    if isinstance(card, dict):
        return [item for k in sorted(card) for item in _numbers(card[k], f"{path}/{k}")]
    if isinstance(card, list):
        return [item for i, v in enumerate(card) for item in _numbers(v, f"{path}/{i}")]
    return [(path, float(card))] if isinstance(card, (int, float)) and not isinstance(card, bool) else []
