"""tonematch-eval: the command. Its text, methods and tables: training/evaluate.py (the comparison
on held-out cases), training/follow.py (--follow), training/unmastered.py (--unmastered)."""

from __future__ import annotations

import argparse
import os
import sys

from tonematch.inference.console import error

from . import evaluate


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tonematch-eval", description=evaluate.__doc__.split("\n\n")[0])
    p.add_argument("folder", help="music; with --split test, the training folder (its held-out tracks are used)")
    p.add_argument(
        "--split",
        choices=("all", "test", "val"),
        default="all",
        help="which tracks of FOLDER: all (the default), or the held-out split the training recipe made",
    )
    evaluate.add_split_options(p)
    p.add_argument("--steps", type=int, help="refinement steps (default: the match default)")
    p.add_argument("--methods", help="comma list of methods to run (default: all)")
    p.add_argument(
        "--model",
        help="model stem: STEM.safetensors + STEM.json; without it the network's rows (network, network + "
        "refine) are left out",
    )
    p.add_argument(
        "--cases", type=int, default=32, help="cases drawn from the tracks, mixes with --follow (default 32)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the cases' draw (default 0)")
    p.add_argument("--sample-rate", type=int, default=44100, help="rate the cases are made at, in Hz (default 44100)")
    p.add_argument("--seconds", type=float, default=6.0, help="length of each segment (default 6 s)")
    p.add_argument(
        "--reference",
        choices=evaluate.REFERENCES,
        default="same-track",
        help="the reference of each case: another segment of the target's own track (default) or a "
        "segment of a different track, both through the target's chain draw",
    )
    p.add_argument("--out", help="also write the markdown report here")
    p.add_argument("-f", "--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--chain-config", help="YAML with the chain draw (default: configs/chain/default.yaml)")
    p.add_argument(
        "--chain",
        choices=evaluate.CHAINS,
        help="who masters targets and references: the project's chain draw (default) or the evaluation-only "
        "foreign family (training/foreign); --follow always uses the foreign family",
    )
    p.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="a `match` option (a tonematch.inference.match.Options field) for the default method, network + "
        "refine; repeatable, e.g. --option amount=0.5",
    )
    p.add_argument(
        "--follow",
        action="store_true",
        help="the follow evaluation: one reference song mastered along single axes (training/follow.py)",
    )
    p.add_argument(
        "--unmastered",
        metavar="SUBDIR",
        help="quiet unmastered mixes (the split's tracks under FOLDER/SUBDIR) against other songs' masters "
        "(training/unmastered.py)",
    )
    p.add_argument("--axes", help="--follow: comma list of axes (default: tone,dynamics,width,loudness)")
    p.add_argument(
        "--scales",
        default="1",
        help="--follow: comma list of step sizes; each gives a + and a - variant per axis (default: 1)",
    )
    return p


def _refuse(text: str) -> None:
    """One line and status 2, as every other refusal of an evaluation (argparse's p.error prints
    its usage block first)."""
    error(text, "tonematch-eval")
    sys.exit(2)


def parse_args(argv=None):
    from tonematch.data.audio import check_sample_rate
    from tonematch.data.errors import TonematchError

    p = build_parser()
    args = p.parse_args(argv)
    if args.cases < 1 or args.seconds <= 0.4 or args.seed < 0:
        _refuse("--cases must be >= 1, --seconds above 0.4 (one loudness block) and --seed >= 0")
    try:
        check_sample_rate(args.sample_rate, "--sample-rate")
    except TonematchError as exc:
        _refuse(str(exc))
    if args.out and os.path.isfile(args.out) and not args.overwrite:  # a folder is refused where it is written
        _refuse(f"--out {args.out} exists: give -f/--overwrite to replace it")
    if args.follow and args.chain == "project":
        _refuse("--follow masters with the foreign family only (leave out --chain or say --chain foreign)")
    if args.follow and args.reference != "same-track":
        _refuse("--follow picks its own reference (another track): leave out --reference")
    if args.unmastered and (args.follow or args.chain or args.chain_config or args.reference != "same-track"):
        _refuse(
            "--unmastered masters nothing and takes its references from other songs as they are: leave out "
            "--follow, --chain, --chain-config and --reference"
        )
    args.chain = args.chain or ("foreign" if args.follow else "project")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.follow:
        from . import follow

        return follow.main(args)
    if args.unmastered:
        from . import unmastered

        return unmastered.main(args)
    return evaluate.emit(args, lambda: evaluate.run(args))


if __name__ == "__main__":
    sys.exit(main())
