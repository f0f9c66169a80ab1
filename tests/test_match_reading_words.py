"""The run's `reference:` line says what the master took: `--amount` scales the move it reports,
and with the EQ skipped no share of the reference's balance is claimed."""

from __future__ import annotations

import re

import numpy as np
from scipy.signal import welch

import tonematch


def _treble_over_bass_db(audio: np.ndarray, sample_rate: int) -> float:
    f, p = welch(audio.mean(axis=0), sample_rate, nperseg=8192)
    return float(10.0 * np.log10(p[(f > 2000) & (f < 10000)].mean() / p[(f > 40) & (f < 250)].mean()))


def _said_move_db(result) -> float:
    line = result.describe().splitlines()[-1]
    return float(re.search(r"the master moved ([+-]\d+\.\d) dB", line).group(1))


def test_the_move_said_is_the_move_made_at_half_amount(example_mix, example_reference):
    refined = tonematch.match(example_mix, example_reference, amount=0.5)
    network = tonematch.match(example_mix, example_reference, amount=0.5, refine=False)
    made = _treble_over_bass_db(refined.audio, refined.sample_rate) - _treble_over_bass_db(
        network.audio, network.sample_rate
    )
    # before: the line said -2.7 dB (the move at amount 1) where the master moved -1.21 dB
    assert abs(_said_move_db(refined) - made) < 0.6
    assert "amount=0.5 scales the move" in refined.describe()  # as the API spells it


def test_no_share_of_the_balance_is_claimed_with_the_eq_skipped(example_mix, example_reference):
    words = tonematch.match(example_mix, example_reference, skip="eq").describe().splitlines()[-1]
    # before: "--literal 0.4 takes 80 % of the tilt", with the EQ off
    assert "of the tilt" not in words and "the EQ is skipped" in words
