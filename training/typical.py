"""The typical tonal balance of a model's training music, written into its card.

  python -m tonematch.training.typical $CORPUS/train_root -o models/weights/default

Refinement compares a reference's balance with a blend of the mix's and this one to tell the
reference's mastering from its music (inference/refine.tone_anchor). It is the mean, in dB per
band, of the character tone (inference/character) of every track of the training split (the
split tonematch-eval holds out from: --val-fraction and --test-fraction as there), each read
on the same excerpts `match` reads, at 44.1 kHz.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from tonematch.data.errors import TonematchError
from tonematch.data.resample import resample
from tonematch.inference import character
from tonematch.inference.console import error, one_line
from tonematch.inference.inputs import analyse_input
from tonematch.models import excerpts
from tonematch.models.files import card_path, set_card_field

from .splits import add_split_options, held_out

SAMPLE_RATE = 44100


def typical_balance(root, val_fraction: float = 0.05, test_fraction: float = 0.1, split_seed: int = 0) -> dict:
    """{"centres_hz", "tone_db", "tracks", "split"}: the mean character tone of the training
    split of ROOT's tracks at SAMPLE_RATE."""
    tones = []
    for path in held_out(root, "train", val_fraction, test_fraction, split_seed):
        a = analyse_input(path, "training track")
        clips = a.clips
        if a.sample_rate != SAMPLE_RATE:
            joined = resample(excerpts.joined(clips), a.sample_rate, SAMPLE_RATE)
            clips = excerpts.split(joined, clips.shape[0])
        tones.append(character.character_of(clips, SAMPLE_RATE)["tone"])
    # the bands depend on the rate alone: read them off a moment of the last track
    centres = character.analyse(clips[:1, :, :4096], SAMPLE_RATE, levels=False).centers_hz
    return {
        "centres_hz": [round(float(c), 2) for c in centres],
        "tone_db": [round(float(t), 3) for t in np.mean(tones, axis=0)],
        "tracks": len(tones),
        "split": {"val_fraction": val_fraction, "test_fraction": test_fraction, "split_seed": split_seed},
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tonematch.training.typical", description=__doc__.split("\n\n")[0])
    p.add_argument("folder", help="the training folder (its training split is read)")
    p.add_argument("-o", "--output", required=True, help="model stem whose STEM.json gets the typical_balance")
    add_split_options(p)
    args = p.parse_args(argv)
    try:
        if not card_path(args.output).is_file():  # before a minute of reading the corpus
            raise TonematchError(f"model card not found: {card_path(args.output)}")
        balance = typical_balance(args.folder, args.val_fraction, args.test_fraction)
        written = set_card_field(args.output, "typical_balance", balance)
    except TonematchError as exc:
        error(one_line(exc), "python -m tonematch.training.typical")
        return 2
    print(f"typical balance of {balance['tracks']} training tracks -> {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
