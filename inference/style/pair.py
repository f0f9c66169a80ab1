"""One of the engineer's pairs read for fitting: the mix and its aligned master, analysed."""

from __future__ import annotations

from dataclasses import dataclass

from tonematch.data.errors import TonematchError
from tonematch.data.pairs import load_pair
from tonematch.models.chain.settings import Settings

from .. import character, inputs
from .gain_trace import read_compressor
from .identify import PairFit


@dataclass
class PairData:
    """One aligned pair seen through excerpts (the same positions in mix and master)."""

    name: str
    mix_path: str
    master_path: str
    mix: inputs.Analysis
    master: inputs.Analysis
    mix_char: dict
    master_char: dict
    offset_frames: int
    settings: Settings | None = None  # the pair refined toward its own master
    compressor: dict | None = None  # the compressor read from the pair's gain trace (gain_trace.py)
    fit: PairFit | None = None  # the chain identified on the pair (identify.py)


def read_pair(pair) -> PairData:
    mix, master, sr, offset = load_pair(pair)
    a = inputs.analyse_array(mix, sr)
    del mix  # only the excerpts and levels are kept
    b = inputs.analyse_array(master, sr)
    del master
    if b.lufs is None:
        raise TonematchError(f"pair {pair.name}: the master is silent where it overlaps the mix")
    return PairData(
        pair.name,
        str(pair.mix),
        str(pair.master),
        a,
        b,
        character.character_of(a.clips, sr, a.true_peak_ratio),
        character.character_of(b.clips, sr, b.true_peak_ratio),
        offset,
        compressor=read_compressor(a.clips, b.clips, sr),
    )
