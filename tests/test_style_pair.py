"""A pair read for fitting is what reading the whole files gives: load_pair's offset is align()'s
on the whole mono files, and inputs.analyse_array's levels, metered a block at a time, are the
meters' of the whole arrays in one block, exactly."""

import numpy as np
import soundfile as sf

from tonematch.data.align import align
from tonematch.data.pairs import Pair, load_pair
from tonematch.data.synth import music_like
from tonematch.inference import inputs
from tonematch.models import excerpts

SR = 22050


def test_a_pair_reads_as_the_whole_files(tmp_path, monkeypatch):
    mix = music_like(seconds=40.0, sample_rate=SR, seed=3)  # longer than align's 30 s excerpt
    shift = 2345  # the master lags the mix, and is a little longer
    master = np.concatenate([np.zeros((2, shift), np.float32), 0.8 * mix, np.zeros((2, 500), np.float32)], axis=1)
    sf.write(tmp_path / "a_mix.wav", mix.T, SR, subtype="FLOAT")
    sf.write(tmp_path / "a_master.wav", master.T, SR, subtype="FLOAT")
    p = Pair(tmp_path / "a_mix.wav", tmp_path / "a_master.wav", "a")

    m, aligned, sr, offset = load_pair(p)
    mono = [np.mean(x, axis=0, dtype=np.float32).astype(np.float64) for x in (mix, master)]
    assert offset == int(round(align(mono[0], mono[1], SR).offset_frames)) == shift
    np.testing.assert_array_equal(aligned, master[:, shift : shift + mix.shape[1]])

    monkeypatch.setattr(inputs, "LEVEL_BLOCK", 4096)  # many blocks, a short last one
    for x in (m, aligned):
        blocked = inputs.analyse_array(x, sr)
        lufs, tp, peak = inputs.stream_levels([x], sr, x.shape[0])  # the whole array in one block
        np.testing.assert_array_equal(blocked.clips, excerpts.excerpts(x, sr, inputs.EXCERPT_S, inputs.MAX_EXCERPTS))
        assert (blocked.lufs, blocked.true_peak_dbtp, blocked.true_peak_ratio) == (
            lufs,
            inputs.db(tp),
            max(1.0, tp / peak),
        )
