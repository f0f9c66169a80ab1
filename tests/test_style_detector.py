"""The style's RMS detector search (inference/style/detector.py): it moves the threshold, ratio
and timing toward what renders closest, and tries its other windows with what it found."""

import math

import pytest

from tonematch.inference.style.detector import RMS_WINDOWS_MS, rms_search


def _cost(true_window_ms: float):
    """A smooth stand-in for the renders' distance: least at threshold -8, ratio 4, 5 / 120 ms
    and the given window."""

    def cost(theta) -> float:
        thr, ln_ratio, ln_att, ln_rel, ln_window = theta[2:]
        return (
            0.01 * (thr + 8.0) ** 2
            + (ln_ratio - math.log(4.0)) ** 2
            + 0.1 * (ln_att - math.log(5.0)) ** 2
            + 0.1 * (ln_rel - math.log(120.0)) ** 2
            + 0.5 * (ln_window - math.log(true_window_ms)) ** 2
        )

    return cost


def test_the_search_moves_the_compressor_and_picks_the_closest_window():
    start = [math.log(60.0), -1.0, -2.0, math.log(6.0), math.log(10.0), math.log(150.0)]
    for true_ms in RMS_WINDOWS_MS:
        cost = _cost(true_ms)
        found, theta = rms_search(cost, start)
        assert math.exp(theta[6]) == pytest.approx(true_ms)
        assert found < 0.2 * cost(start + [math.log(true_ms)])  # the settings moved toward the least
        assert theta[:2] == start[:2]  # the limiter's two are held


def test_a_timing_the_renders_cannot_tell_apart_is_said_so():
    """timing_heard probes the attack x/÷3 and the release x/÷2 from what the search found: on a
    profile steep in the attack and flat in the release, the attack is heard and the release is
    not, and `style show` names the release's span as not told apart (and says nothing of the
    attack)."""
    from tonematch.inference.style.detector import TIMING_HEARD, heard, timing_heard
    from tonematch.inference.style.words import _unheard

    def cost(theta) -> float:  # 0.2 at the least; the release moves it by 1e-4 at most
        return 0.2 + 0.05 * (theta[4] - math.log(5.0)) ** 2 + 1e-4 * math.tanh((theta[5] - math.log(120.0)) ** 2)

    theta = [math.log(60.0), -1.0, -8.0, math.log(4.0), math.log(5.0), math.log(120.0), math.log(20.0)]
    probes = timing_heard(cost, theta, cost(theta))
    assert min(probes["attack_ms"]) > 10 * TIMING_HEARD and max(probes["release_ms"]) < 0.2 * TIMING_HEARD
    assert heard(probes, "attack_ms") and not heard(probes, "release_ms")
    said = _unheard({"attack_ms": 5.0, "release_ms": 120.0, "timing_probes": probes})
    assert "release 60 to 240 ms sound nearly alike" in said and "attack" not in said
    assert _unheard({"attack_ms": 5.0, "release_ms": 120.0}) == ""  # a style fitted before the probes
