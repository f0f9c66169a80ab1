"""One of the engineer's pairs read for fitting: the mix and its aligned master, analysed."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tonematch.data.errors import TonematchError
from tonematch.data.pairs import read_aligned
from tonematch.models.chain.settings import Settings

from .. import character, inputs
from .edits import unedited_span
from .gain_trace import read_compressor
from .identify import PairFit, identify_pair
from .transfer import estimate, mids


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
    inverted: bool = False  # the master's polarity was flipped against the mix: read turned back
    span: tuple[int, int] | None = None  # the mix's frames read (edits.py: a fade or a cut left out); None: all
    notes: list[str] = field(default_factory=list)  # one line each for the user: what reading the pair changed
    master_lufs: float | None = None  # the master's loudness as it plays (LUFS): read_pair sets it
    settings: Settings | None = None  # the pair refined toward its own master
    compressor: dict | None = None  # the compressor read from the pair's gain trace (gain_trace.py)
    fit: PairFit | None = None  # the chain identified on the pair (identify.py)

    def played_master_lufs(self) -> float:
        """The master's loudness as it plays: read_pair's reading, else its excerpts', played."""
        return inputs.played_lufs(self.master) if self.master_lufs is None else self.master_lufs


SAME_AUDIO_DB = -60.0  # a master this close to its mix (difference re the mix) is a copy of it


def _unmastered(mix: np.ndarray, master: np.ndarray, block: int = 1 << 20) -> bool:
    """The aligned master is its mix within SAME_AUDIO_DB: a copied file, not a master (a gain
    change alone is a master: it differs by the gain). Summed a block at a time (no full copy)."""
    diff = total = 0.0
    for s in range(0, min(mix.shape[1], master.shape[1]), block):
        a = mix[:, s : s + block].astype(np.float64)
        diff += float(np.sum((master[:, s : s + block] - a) ** 2))
        total += float(np.sum(a * a))
    return total > 0.0 and diff <= total * 10.0 ** (SAME_AUDIO_DB / 10.0)


def read_pair(pair, identify: bool = False) -> PairData:
    """A pair aligned and analysed where its master is mastering: a master with its polarity
    flipped, or its left and right swapped, is read turned back, and a fade or a cut of the
    master at either end (edits.py) is left out of the reading; each is one line in `notes`.
    Its compressor is read; `identify`: its chain identified too (identify.identify_pair), on
    the same EQ estimate."""
    from tonematch.data.audio import info

    channels = info(pair.mix).channels, info(pair.master).channels
    if channels[1] < channels[0]:  # upmixed, it would read as width 0
        raise TonematchError(f"pair {pair.name}: the master is mono and its mix stereo: export the master in stereo")
    aligned = read_aligned(pair)
    mix, master, sr = aligned.mix, aligned.master, aligned.sample_rate
    offset, inverted, swapped = aligned.offset, aligned.inverted, aligned.swapped
    del aligned  # the arrays are dropped as soon as they are analysed
    if _unmastered(mix, master):
        raise TonematchError(f"pair {pair.name}: the master is the mix itself (a copy): there is no mastering to read")
    notes = []
    if channels[0] < channels[1]:  # read as the mix is: the master's width has no mix width to follow
        notes.append(
            f"pair {pair.name}: its mix is mono and its master stereo: read in mono (no width is learnt from it)"
        )
    if inverted:
        notes.append(f"pair {pair.name}: its master's polarity is inverted against the mix: read flipped")
    if swapped:
        notes.append(
            f"pair {pair.name}: its master's left and right channels are swapped against the mix: read swapped back"
        )
    span, frames = unedited_span(mix, master, sr, pair.name), mix.shape[1]
    if span.note is not None:
        notes.append(f"pair {pair.name}: {span.note}: left out of the reading")
    a = inputs.analyse_array(mix[:, span.start : span.end], sr)
    del mix  # only the excerpts and levels are kept
    b = inputs.analyse_array(master[:, span.start : span.end], sr)
    del master
    if b.lufs is None:
        raise TonematchError(f"pair {pair.name}: the master is silent where it overlaps the mix")
    master_lufs = inputs.played_lufs(b)
    if channels[0] < channels[1]:  # read in mono, its side is gone: the stereo master's own reading
        master_lufs = _stereo_lufs(pair.master, sr, offset, frames, span)
    eq = estimate(mids(a.clips), mids(b.clips), sr)  # read by the compressor's reading and identify alike
    p = PairData(
        pair.name,
        str(pair.mix),
        str(pair.master),
        a,
        b,
        character.character_of(a.clips, sr, a.true_peak_ratio),
        character.character_of(b.clips, sr, b.true_peak_ratio),
        offset,
        inverted=inverted,
        span=(span.start, span.end) if (span.start, span.end) != (0, frames) else None,
        notes=notes,
        compressor=read_compressor(a.clips, b.clips, sr, eq=eq),
        master_lufs=master_lufs,
    )
    if identify:
        identify_pair(p, eq)
    return p


def _stereo_lufs(path, sample_rate: int, offset: int, frames: int, span) -> float:
    """Integrated loudness of a stereo master over the mix's span, aligned as the pair was read
    (the polarity does not change it; nor a left/right swap)."""
    from tonematch.data import audio
    from tonematch.data.pairs import aligned_master
    from tonematch.models.measure.loudness import integrated_loudness

    master, _ = audio.load(path, sample_rate=sample_rate)
    aligned = aligned_master(master, offset, frames)[:, span.start : span.end]
    del master
    lufs = integrated_loudness(aligned, sample_rate)
    if lufs is None:
        raise TonematchError(f"{path}: the master is silent where it overlaps the mix")
    return float(lufs)
