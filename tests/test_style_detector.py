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
