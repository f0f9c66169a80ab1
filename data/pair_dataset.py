"""Real before/after pairs for training: each pair aligned once at construction, then served as
input = mix segment, target = the time-aligned master segment (sub-frame, by band-limited
interpolation), reference = another, non-overlapping master segment of the same track. A master
whose polarity is flipped against its mix is served the right way up, and one whose left and right
are swapped is served swapped back (target and reference), as style fit reads them
(pairs.read_aligned).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from .align import MAX_OFFSET_S, Alignment, align_excerpts, mono, read_fractional
from .cache import DecodeCache
from .errors import TonematchError
from .pairs import Pair, channels_swapped
from .segments import SegmentDataset, item_rng, rms_db, to_tensor


@dataclass(frozen=True)
class _Aligned:
    pair: Pair
    alignment: Alignment
    whole: int  # floor of the offset: master frame = mix frame + whole (+ fraction)
    fraction: float
    first: int  # range of valid mix segment starts, inclusive
    last: int
    master_frames: int
    sign: float  # -1: the master is the mix upside down, and is served flipped back
    swapped: bool  # the master's left and right are the mix's right and left: served swapped back


class PairsDataset(SegmentDataset):
    """Items: input, target, reference ([2, T] float32 tensors), track (name), start (mix frame),
    reference_start (master frame), offset_frames and correlation (the pair's alignment)."""

    _HALF = 16  # margin each side for the fractional-delay filter

    def __init__(
        self,
        pairs,
        sample_rate: int = 44100,
        segment_frames: int = 131072,
        examples_per_epoch: int = 1024,
        seed: int = 0,
        deterministic: bool = False,
        cache: DecodeCache | None = None,
        max_offset_s: float = MAX_OFFSET_S,
        min_correlation: float = 0.5,
        excerpt_s: float = 30.0,
        silence_db: float = -50.0,
        tries: int = 8,
    ):
        super().__init__(sample_rate, segment_frames, examples_per_epoch, seed, deterministic, cache, silence_db, tries)

        pairs = list(pairs)
        if not pairs:
            raise TonematchError("no mix/master pairs given")
        self.items: list[_Aligned] = []
        skipped = []
        for pair in pairs:
            item = self._prepare(pair, max_offset_s, min_correlation, excerpt_s)
            if item is None:
                skipped.append(pair.name)
            else:
                self.items.append(item)
        seconds = 2 * self.segment_frames / self.sample_rate
        if not self.items:
            raise TonematchError(f"no pair is long enough: each needs about {seconds:.1f} s of overlapping audio")
        if skipped:
            shown = ", ".join(skipped[:8]) + (" ..." if len(skipped) > 8 else "")
            warnings.warn(f"skipping {len(skipped)} pair(s) shorter than {seconds:.1f} s: {shown}", stacklevel=2)
        self.alignments = {it.pair.name: it.alignment for it in self.items}

    def _prepare(self, pair: Pair, max_offset_s: float, min_correlation: float, excerpt_s: float):
        """Align once (reading only an excerpt of each file) and work out where segments may start."""
        S, H = self.segment_frames, self._HALF
        mix_frames = self.reader.frames(pair.mix)
        master_frames = self.reader.frames(pair.master)
        max_lag = int(round(max_offset_s * self.sample_rate))
        # from the middle of what both files hold, as align() does: a master that stops early aligns
        both = min(mix_frames, master_frames)
        length = min(both, int(excerpt_s * self.sample_rate))
        start = (both - length) // 2
        mix_excerpt = self.reader.read(pair.mix, start, length)
        alignment = align_excerpts(
            mono(mix_excerpt),
            mono(self.reader.read(pair.master, start - max_lag, length + 2 * max_lag)),
            max_lag,
            min_correlation,
            pair.name,
            self.sample_rate,
            either_polarity=True,  # an inverted master is the same recording: flipped back in __getitem__
        )
        whole = math.floor(alignment.offset_frames)
        # Mix start s needs mix[s, s+S) and master[s+whole-H, s+whole+S+H) inside the files.
        first = max(0, H - whole)
        last = min(mix_frames - S, master_frames - S - whole - H)
        # The reference needs S master frames clear of the target: possible at one end if at all.
        if last < first or not (last + whole >= S or first + whole + 2 * S <= master_frames):
            return None
        sign = -1.0 if alignment.inverted else 1.0
        # read as it is, a swapped master's side runs against the mix's: a width no chain can set
        master_excerpt = sign * self.reader.read(pair.master, start + round(alignment.offset_frames), length)
        swapped = channels_swapped(mix_excerpt, master_excerpt)
        fraction = alignment.offset_frames - whole
        return _Aligned(pair, alignment, whole, fraction, first, last, master_frames, sign, swapped)

    def _place(self, rng, it: _Aligned) -> tuple[int, int] | None:
        """A mix start and a reference start clear of the target, or None if this draw has no room."""
        S = self.segment_frames
        s = int(rng.integers(it.first, it.last + 1))
        m = s + it.whole
        left = max(m - S + 1, 0)  # reference starts 0 .. m-S
        right = max(it.master_frames - S - (m + S) + 1, 0)  # m+S .. master_frames-S
        if left + right == 0:
            return None
        j = int(rng.integers(left + right))
        return s, (j if j < left else m + S + (j - left))

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(index)
        rng = item_rng(self.seed, index, self.deterministic)
        if self.deterministic:
            it = self.items[index % len(self.items)]
        else:
            it = self.items[int(rng.integers(len(self.items)))]
        S, H = self.segment_frames, self._HALF

        # Retry positions landing in silence; some draws leave no room for the reference at all.
        best, placed_count = None, 0
        for _ in range(4 * self.tries):
            placed = self._place(rng, it)
            if placed is None:
                continue
            s, r = placed
            mix = self.reader.read(it.pair.mix, s, S)
            reference = self.reader.read(it.pair.master, r, S)
            level = min(rms_db(mix), rms_db(reference))
            if best is None or level > best[0]:
                best = (level, s, r, mix, reference)
            placed_count += 1
            if level > self.silence_db or placed_count >= self.tries:
                break
        if best is None:  # only when the track barely fits; _prepare guarantees one end works
            s = it.last if it.last + it.whole >= S else it.first
            m = s + it.whole
            r = 0 if m >= S else m + S
            best = (None, s, r, self.reader.read(it.pair.mix, s, S), self.reader.read(it.pair.master, r, S))
        _, s, r, mix, reference = best

        # Target: master frames s + offset ... read with margins, then shifted by the fraction.
        padded = self.reader.read(it.pair.master, s + it.whole - H, S + 2 * H)
        target = read_fractional(padded, it.fraction, H)
        if it.swapped:
            target, reference = target[::-1], reference[::-1]
        return {
            "input": to_tensor(mix),
            "target": to_tensor(it.sign * target),
            "reference": to_tensor(it.sign * reference),
            "track": it.pair.name,
            "start": int(s),
            "reference_start": int(r),
            "offset_frames": float(it.alignment.offset_frames),
            "correlation": float(it.alignment.correlation),
        }
