"""Frequencies as sentences and band labels print them."""

from tonematch.inference.formatting import hz, hz_short


def test_hz_in_a_sentence_and_in_a_label():
    assert (hz(90.0), hz(2500.0), hz(1000.0)) == ("90 Hz", "2.5 kHz", "1.0 kHz")
    assert (hz_short(60.0), hz_short(2500.0), hz_short(20000.0)) == ("60", "2.5k", "20k")
