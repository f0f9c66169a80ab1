"""`tonematch match` (and the options `master` shares with it): argument parsing and the command."""

from __future__ import annotations

import argparse
import sys

from tonematch.data.errors import TonematchError


def _groups(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_shared_options(p: argparse.ArgumentParser) -> None:
    """The options of every mastering command (match, master)."""
    p.add_argument("mixes", metavar="MIX", nargs="*", help="mix files or folders of mixes")
    p.add_argument("-o", "--output", metavar="OUT", help="output .wav/.flac (one mix) or a folder (several)")
    p.add_argument(
        "--no-refine", action="store_true", help="skip refinement (faster; the network's settings as they are)"
    )
    p.add_argument("--steps", type=int, metavar="N", help="refinement iterations (default 60)")
    p.add_argument(
        "--amount",
        type=float,
        default=1.0,
        metavar="0..1",
        help="scale every EQ, dynamics and width move toward neutral (default 1)",
    )
    p.add_argument("--only", type=_groups, metavar="GROUPS", help="comma list of eq,dynamics,width,loudness to use")
    p.add_argument("--skip", type=_groups, default=(), metavar="GROUPS", help="comma list of groups to leave off")
    p.add_argument("--target-lufs", type=float, metavar="LUFS", help="loudness target (default: the reference's)")
    p.add_argument("--platform", metavar="NAME", help="a streaming target (loudness and ceiling); 'list' prints them")
    p.add_argument(
        "--ceiling",
        type=float,
        metavar="DBTP",
        help="true-peak ceiling (default -1.0, or the reference's peak where it is lower)",
    )
    p.add_argument(
        "--model",
        metavar="STEM",
        help="model files STEM.safetensors + STEM.json (default: the shipped "
        "model); 'none' starts from the non-learned matcher",
    )
    p.add_argument("--report", action="store_true", help="also write OUT.png: EQ, spectra, compressor, loudness")
    p.add_argument(
        "--bit-depth", choices=("16", "24", "float"), help="output format (default: the input's 16/24-bit, else 24)"
    )
    p.add_argument("--no-dither", action="store_true", help="quantise without TPDF dither")


def add_match_parser(sub, common) -> None:
    p = sub.add_parser(
        "match",
        parents=[common],
        help="master mixes the way a reference track sounds",
        description="Predict and refine chain settings that give MIX the tonal balance, dynamics, width and "
        "loudness of REF, render them exactly, and write the settings beside the output (OUT.json).",
    )
    add_shared_options(p)
    p.add_argument("--reference", "-r", metavar="REF", help="the reference track")
    p.set_defaults(func=cmd_match)


def list_platforms() -> str:
    from .match import PLATFORMS

    return "\n".join(f"{name:8s} {lufs:6.1f} LUFS  {tp:5.1f} dBTP" for name, (lufs, tp) in PLATFORMS.items())


def options_from(args: argparse.Namespace):
    from .match import Options

    options = Options(
        refine=not args.no_refine,
        steps=args.steps,
        amount=args.amount,
        only=args.only,
        skip=tuple(args.skip or ()),
        target_lufs=args.target_lufs,
        platform=args.platform,
        ceiling_dbtp=args.ceiling,
        model=args.model,
    )
    options.check()
    return options


def run_batch(args, plan, options) -> int:
    """Master every mix with `plan` (master.Plan); 1 when any failed (each reported in one
    line), 0 otherwise."""
    from .cli import warn
    from .master import master_many

    def error(text: str) -> None:
        print(f"tonematch: error: {text}", file=sys.stderr, flush=True)

    failed = master_many(
        args.mixes,
        plan,
        args.output,
        options,
        error=error,
        report=args.report,
        bit_depth=args.bit_depth,
        dither=not args.no_dither,
        warn=warn,
        source=getattr(args, "source", None),
    )
    return 1 if failed else 0


def start_run(args: argparse.Namespace, command: str, target_flag: str, target_value):
    """What `match` and `master` check first: `--platform list` prints and ends the run (None);
    otherwise every required argument is there (one error line naming those missing) and the
    options are valid."""
    if args.platform == "list":
        print(list_platforms())
        return None
    required = (("MIX", args.mixes), (target_flag, target_value), ("-o/--output", args.output))
    missing = [flag for flag, value in required if not value]
    if missing:
        raise TonematchError(f"{command}: missing {', '.join(missing)}")
    return options_from(args)


def cmd_match(args: argparse.Namespace) -> int:
    options = start_run(args, "match", "--reference", args.reference)
    if options is None:
        return 0
    from . import match

    reference = match.target_from(match.analyse_file(args.reference), name=args.reference)
    model = match.load_model(options.model)
    args.source = {"reference": str(args.reference), "model": "none" if model is None else (options.model or "default")}
    from .master import reference_plan

    return run_batch(args, reference_plan(reference, options, model), options)
