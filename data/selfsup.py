"""Self-supervised examples from mastered music alone.

Item i: two non-overlapping segments A and B of one track. A, degraded, is the model's input;
clean A is what it should recover; clean B is the reference: by default another segment of the
same track; with probability `other_reference`, a segment of another track (then the reference
shares only the mastering with the target, as with a real reference song). The random mastering
chain that turns target_source/reference_source into target and reference is drawn later,
batched, by the training step.
"""

from __future__ import annotations

import os
import warnings

from .cache import DecodeCache
from .degrade import NEUTRAL, apply_degradation, sample_degradation
from .errors import TonematchError
from .segments import SegmentDataset, audible, item_rng, pick_two, rms_db, to_tensor


class SelfSupervisedDataset(SegmentDataset):
    """Items are dicts: input, target_source, reference_source ([2, T] float32 tensors),
    degradation (dict of floats), track, reference_track (str), start_a, start_b (ints, frames at
    sample_rate; start_b in reference_track).

    deterministic: item i is a function of (seed, i) only and tracks are taken in turn (for
    validation/test). Otherwise every access draws anew (see segments.item_rng).
    """

    def __init__(
        self,
        files,
        sample_rate: int = 44100,
        segment_frames: int = 131072,
        examples_per_epoch: int = 1024,
        seed: int = 0,
        deterministic: bool = False,
        cache: DecodeCache | None = None,
        degrade: bool = True,
        silence_db: float = -50.0,
        tries: int = 8,
        other_reference: float = 0.0,
    ):
        super().__init__(sample_rate, segment_frames, examples_per_epoch, seed, deterministic, cache, silence_db, tries)
        self.degrade = bool(degrade)
        if not 0.0 <= float(other_reference) <= 1.0:
            raise TonematchError(f"other_reference is a probability in [0, 1], got {other_reference}")
        self.other_reference = float(other_reference)

        files = [os.fspath(f) for f in files]
        if not files:
            raise TonematchError("no audio files given to the self-supervised dataset")
        need = 2 * self.segment_frames
        self.tracks: list[tuple[str, int]] = []
        short = []
        for f in files:
            n = self.reader.frames(f)
            if n >= need:
                self.tracks.append((f, n))
            else:
                short.append(f)
        seconds = need / self.sample_rate
        if not self.tracks:
            raise TonematchError(
                f"no track is long enough: each needs at least {seconds:.1f} s "
                f"(two non-overlapping segments of {self.segment_frames} frames)"
            )
        if short:
            names = ", ".join(os.path.basename(f) for f in short[:5]) + (" ..." if len(short) > 5 else "")
            warnings.warn(f"skipping {len(short)} track(s) shorter than {seconds:.1f} s: {names}", stacklevel=2)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(index)
        rng = item_rng(self.seed, index, self.deterministic)
        if self.deterministic:
            path, total = self.tracks[index % len(self.tracks)]
        else:
            path, total = self.tracks[int(rng.integers(len(self.tracks)))]

        other = None
        if self.other_reference > 0 and len(self.tracks) > 1 and rng.random() < self.other_reference:
            pick = int(rng.integers(len(self.tracks) - 1))
            other = self.tracks[pick + (pick >= self.tracks.index((path, total)))]

        def draw():
            start_a, start_b = pick_two(rng, total, self.segment_frames)
            if other is not None:
                start_b = int(rng.integers(0, other[1] - self.segment_frames + 1))
            a = self.reader.read(path, start_a, self.segment_frames)
            b = self.reader.read(other[0] if other else path, start_b, self.segment_frames)
            return min(rms_db(a), rms_db(b)), (start_a, start_b, a, b)

        start_a, start_b, a, b = audible(draw, self.tries, self.silence_db)

        params = sample_degradation(rng) if self.degrade else dict(NEUTRAL)
        degraded = apply_degradation(a, self.sample_rate, params) if self.degrade else a.copy()
        return {
            "input": to_tensor(degraded),
            "target_source": to_tensor(a),
            "reference_source": to_tensor(b),
            "degradation": params,
            "track": path,
            "reference_track": other[0] if other else path,
            "start_a": int(start_a),
            "start_b": int(start_b),
        }
