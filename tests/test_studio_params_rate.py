"""The page's controls span only values the studio accepts: at a low rate (8 kHz) the table's rate
bounds lower the top bell's bottom to 1.8 kHz, under the 2 kHz that render refuses, so the
slider's left end gave a 400 and left the page stuck on a value the server never took."""

from __future__ import annotations

import pytest

from tonematch.inference.studio.readouts import params_table
from tonematch.models.chain import TABLE
from tonematch.models.chain.settings import Settings


@pytest.mark.parametrize("sample_rate", [8000, 11025, 44100, 96000])
def test_every_control_end_is_a_value_render_takes(sample_rate):
    start = Settings.defaults(sample_rate).values
    for row in params_table(sample_rate):
        for end in ("low", "high"):
            values = {**start, row["key"]: row[end]}
            TABLE.validate(values, sample_rate)  # raises where render would refuse it


def test_match_bands_are_labelled_by_their_nominal_frequency():
    # the page shows these names; only match EQ rows carry one (the others are named by setting)
    labels = {row["key"]: row["label"] for row in params_table(44100)}
    assert labels["match.31hz.gain_db"] == "31.5 Hz"
    assert labels["match.1k25hz.gain_db"] == "1.25 kHz"
    assert labels["match.12k5hz.gain_db"] == "12.5 kHz"
    assert labels["eq.low_shelf.gain_db"] is None
    assert sum(1 for key, label in labels.items() if label is not None and key.startswith("match.")) == 28
