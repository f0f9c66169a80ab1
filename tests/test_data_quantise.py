"""The writer's compiled quantiser against the plain numpy arithmetic it replaces: the same
integers, the same dither stream, whatever the block split."""

import numpy as np
import pytest

from tonematch.data.quantise import quantise


def numpy_quantise(x, bits, rng):
    scale = float(2 ** (bits - 1))
    y = x.astype(np.float64) * scale
    if rng is not None:
        u = rng.random(y.shape + (2,))
        y += u[..., 0] + u[..., 1] - 1.0
    q = np.clip(np.rint(y), -scale, scale - 1.0)
    q[(x == 0.0).all(axis=1)] = 0.0  # digital silence stays silent (auto-blank)
    return q.astype(np.int16) if bits == 16 else q.astype(np.int32) << 8


@pytest.mark.parametrize("bits", [16, 24])
@pytest.mark.parametrize("dither", [True, False])
def test_same_integers_and_dither_stream_as_numpy(bits, dither):
    block = (np.random.default_rng(1).standard_normal((2, 20001)) * 0.6).astype(np.float32)
    # full scale, beyond it both ways, half an LSB (round half to even), silence, silence in one channel
    block[:, :6] = np.array([[1.0, -1.0, 2.0, 0.5 / 2 ** (bits - 1), 0.0, 0.0], [-2.0, 0.99999, -1.0, 1e-9, 0.0, 0.3]])
    old, new = np.random.default_rng(5), np.random.default_rng(5)
    for lo, hi in ((0, 777), (777, 20001)):  # a split mid-stream continues the same numbers
        x = block[:, lo:hi].T  # the writer hands [frames, channels] views
        expected = numpy_quantise(x, bits, old if dither else None)
        got = quantise(x, bits, new if dither else None)
        assert got.dtype == expected.dtype and np.array_equal(got, expected)
    assert old.random() == new.random()


def test_every_layout_runs_one_compiled_kernel():
    """F-order, strided and read-only blocks quantise as a C block does, through the one compiled
    kernel (each layout or read-only flag would be another kernel to load: ~25 ms a process)."""
    from tonematch.data import quantise as q

    x = (np.random.default_rng(0).standard_normal((4096, 2)) * 0.3).astype(np.float32)
    want = q.quantise(x, 16, np.random.default_rng(1))
    frozen = x.copy()
    frozen.setflags(write=False)
    wide = np.zeros((4096, 4), np.float32)
    wide[:, ::2] = x
    for given in (np.asfortranarray(x), frozen, wide[:, ::2]):
        assert np.array_equal(q.quantise(given, 16, np.random.default_rng(1)), want)
    # one kernel per output type (16 or 24 bits), never per input layout
    inputs = {(sig[0].layout, sig[0].mutable) for sig in q._dithered.signatures}
    assert inputs == {("C", True)}, q._dithered.signatures


def test_digital_silence_stays_silent_and_the_music_around_it_keeps_its_dither():
    x = np.zeros((3000, 2), np.float32)
    x[1000:2000] = (np.random.default_rng(2).standard_normal((1000, 2)) * 0.1).astype(np.float32)
    got = quantise(x, 16, np.random.default_rng(3))
    assert not got[:1000].any() and not got[2000:].any()  # lead-in and tail: digital black
    plain = quantise(x, 16, None)
    assert np.count_nonzero(got[1000:2000] != plain[1000:2000]) > 500  # the music is dithered
    # the same numbers as if the silence had been dithered: no sample of the music moves
    rng = np.random.default_rng(3)
    loud = x.copy()
    loud[:1000] = loud[2000:] = 0.5
    np.testing.assert_array_equal(quantise(loud, 16, rng)[1000:2000], got[1000:2000])
