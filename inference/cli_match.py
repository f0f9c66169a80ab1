"""`tonematch match` (and the options `master` shares with it): argument parsing and the command."""

from __future__ import annotations

import argparse

from tonematch.data.errors import TonematchError


def _groups(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


# What the help of `match` and `master` says where they differ (the target: a reference or a style).
TARGET_HELP = {
    "reference": {
        "flags": ("--reference", "-r"),
        "metavar": "REF",
        "help": "the reference track",
        "no_refine": "skip refinement (faster; the network's settings as they are)",
        "steps": "refinement iterations (default 8)",
        "target_lufs": "loudness target (default: the reference's)",
        "ceiling": "true-peak ceiling (default -1.0, or the reference's peak where it is lower, not under -6.0)",
        "model": "model files STEM.safetensors + STEM.json (default: the shipped model); 'none' starts from the "
        "non-learned matcher",
    },
    "style": {
        "flags": ("--style", "-s"),
        "metavar": "S.tmstyle",
        "help": "the style file (tonematch style fit or style from-references)",
        "no_refine": "skip refinement (a style from references: the network's settings for the mix as they are; "
        "a style fitted on pairs is never refined)",
        "steps": "refinement iterations, for a style from references (default 8)",
        "target_lufs": "loudness target (default: the loudness the style gives the mix)",
        "ceiling": "true-peak ceiling (default: the style's for the mix; from references, -1.0 or the masters' "
        "peak where it is lower, not under -6.0)",
        "model": "not for master (an error): a style of pairs starts from its own settings, a style from "
        "references from the shipped network",
    },
}


def usage(target: str) -> str:
    """The usage line: the required arguments first (argparse would show the target in brackets,
    since `--platform list` runs without it)."""
    flag, metavar = TARGET_HELP[target]["flags"][0], TARGET_HELP[target]["metavar"]
    return f"%(prog)s MIX [MIX ...] {flag} {metavar} -o OUT [options]"


def add_shared_options(p: argparse.ArgumentParser, target: str) -> argparse._ArgumentGroup:
    """The options of every mastering command (match: `target` "reference"; master: "style"),
    the required ones first in their own group. They are checked by start_run, not by argparse:
    `--platform list` needs none of them. Returns the group of the other options."""
    said = TARGET_HELP[target]
    required = p.add_argument_group("required arguments")
    required.add_argument("mixes", metavar="MIX", nargs="*", help="mix files or folders of mixes")
    required.add_argument(*said["flags"], dest=target, metavar=said["metavar"], help=said["help"])
    required.add_argument(
        "-o", "--output", metavar="OUT", help="output .wav/.flac (one mix), or a folder (made if missing with several)"
    )
    p = p.add_argument_group("mastering options")  # every option below goes in this group
    p.add_argument("--no-refine", action="store_true", help=said["no_refine"])
    p.add_argument("--steps", type=int, metavar="N", help=said["steps"])
    p.add_argument(
        "--amount",
        type=float,
        default=1.0,
        metavar="0..1",
        help="scale every EQ, dynamics and width move toward neutral (default 1)",
    )
    p.add_argument("--only", type=_groups, metavar="GROUPS", help="comma list of eq,dynamics,width,loudness to use")
    p.add_argument("--skip", type=_groups, default=(), metavar="GROUPS", help="comma list of groups to leave off")
    p.add_argument("--target-lufs", type=float, metavar="LUFS", help=said["target_lufs"])
    p.add_argument("--platform", metavar="NAME", help="a streaming target (loudness and ceiling); 'list' prints them")
    p.add_argument("--ceiling", type=float, metavar="DBTP", help=said["ceiling"])
    p.add_argument("--model", metavar="STEM", help=said["model"])
    p.add_argument("--report", action="store_true", help="also write OUT.png: EQ, spectra, compressor, loudness")
    p.add_argument(
        "--bit-depth", choices=("16", "24", "float"), help="output format (default: the input's 16/24-bit, else 24)"
    )
    p.add_argument("--no-dither", action="store_true", help="quantise without TPDF dither")
    add_overwrite(p)
    p.add_argument(
        "--keep-extension",
        action="store_true",
        help="in a batch, name each master after its whole file name (song_ogg.wav), so song.wav and "
        "song.ogg get a master each",
    )
    return p


def add_overwrite(
    p, what: str = "existing outputs (the audio and the files written beside it); without it they are refused"
) -> None:
    p.add_argument(
        "-f",
        "--overwrite",
        action="store_true",
        help=f"replace {what}",
    )


def add_match_parser(sub, common) -> None:
    p = sub.add_parser(
        "match",
        parents=[common],
        help="master mixes the way a reference track sounds",
        description="Predict and refine chain settings that give MIX the tonal balance, dynamics, width and "
        "loudness of REF, render them exactly, and write the settings beside the output (OUT.json).",
        usage=usage("reference"),
    )
    add_literal_option(add_shared_options(p, "reference"))
    p.set_defaults(func=cmd_match)


def add_literal_option(p) -> None:
    """--literal, for match and for the studio's reference."""
    p.add_argument(
        "--literal",
        type=float,
        metavar="0..1",
        help="how literally the reference's tonal balance and width are copied: 0 only what the network "
        "reads as mastering, 0.5 also the reference's tilt, 1 its whole balance (above 0.5 also through the "
        "third-octave match EQ) and its width (default 0.4)",
    )


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
        **({"literal": args.literal} if getattr(args, "literal", None) is not None else {}),
    )
    options.check()
    return options


def conflicts(options, bit_depth=None, no_dither: bool = False, literal_given: bool = False) -> list[str]:
    """Options that contradict or cancel each other, one line each: the run goes on, with the
    precedence stated (an explicit --target-lufs or --ceiling over a platform's value).
    `literal_given`: --literal was set (its default is not worth a word)."""
    from .match import PLATFORMS

    notes = []
    groups = options.groups()
    if options.platform is not None:
        lufs, ceiling = PLATFORMS[options.platform]
        if options.target_lufs is not None and options.ceiling_dbtp is not None:
            notes.append(f"--platform {options.platform} has no effect: --target-lufs and --ceiling set both values")
        elif options.target_lufs is not None:
            notes.append(
                f"--target-lufs {options.target_lufs:g} overrides {options.platform}'s {lufs:g} LUFS "
                f"(its {ceiling:g} dBTP ceiling still applies)"
            )
        elif options.ceiling_dbtp is not None:
            notes.append(
                f"--ceiling {options.ceiling_dbtp:g} overrides {options.platform}'s {ceiling:g} dBTP "
                f"(its {lufs:g} LUFS target still applies)"
            )
    if "loudness" not in groups and options.target_lufs is not None:
        notes.append(f"--target-lufs {options.target_lufs:g} has no effect: the loudness group is off")
    if not groups:
        notes.append("--only/--skip leave no group on: only the limiter acts on the mix")
    if not options.refine and options.steps is not None:
        notes.append("--steps has no effect with --no-refine")
    if literal_given and not options.refine:
        notes.append("--literal has no effect with --no-refine: it sets what refinement takes of the reference")
    elif literal_given and options.model == "none":
        notes.append(
            "--literal has no effect with --model none: it sets what the network's reading takes of the "
            "reference, and without the network refinement matches the reference's measured character"
        )
    if no_dither and bit_depth == "float":
        notes.append("--no-dither has no effect on float output (it is not quantised)")
    return notes


def model_inputs(stem) -> list[tuple[str, str]]:
    """The files of the model a run reads ((role, path) for the output plan)."""
    from tonematch.models.files import DEFAULT_MODEL, model_paths

    if stem == "none":
        return []
    return [("model file", str(p)) for p in model_paths(stem or DEFAULT_MODEL)]


def run_batch(args, jobs, many: bool, aim, options) -> int:
    """Master every job toward `aim` (pipeline.Aim). One mix: its error is the run's (exit 2).
    A batch: 1 when any mix failed (each reported in one line, with its traceback under -v),
    0 otherwise."""
    from .batch import master_many
    from .console import error, traceback_if, warn

    def report(text: str, exc: BaseException) -> None:
        traceback_if(args.verbose, exc)
        error(text)

    failed = master_many(
        jobs,
        many,
        aim,
        options,
        error=report,
        report=args.report,
        bit_depth=args.bit_depth,
        dither=not args.no_dither,
        warn=warn,
        replace=args.overwrite,
    )
    return 1 if failed else 0


def start_run(args: argparse.Namespace, command: str, target_flag: str, target_value):
    """What `match` and `master` check first: `--platform list` prints and ends the run (None);
    otherwise every required argument is there (one error line naming those missing), the
    options are valid, and options that contradict each other are named in one warning each."""
    from .console import warn

    if args.platform == "list":
        print(list_platforms())
        return None
    required = (("MIX", args.mixes), (target_flag, target_value), ("-o/--output", args.output))
    missing = [flag for flag, value in required if not value]
    if missing:
        raise TonematchError(f"{command}: missing {', '.join(missing)}")
    options = options_from(args)
    for note in conflicts(options, args.bit_depth, args.no_dither, getattr(args, "literal", None) is not None):
        warn(note)
    return options


def jobs_for(args, inputs):
    """The run's output plan (batch.plan_jobs), checked before any audio is read."""
    from .batch import plan_jobs
    from .console import warn

    return plan_jobs(
        args.mixes,
        args.output,
        report=args.report,
        overwrite=args.overwrite,
        keep_extension=args.keep_extension,
        inputs=inputs,
        warn=warn,
        bit_depth=args.bit_depth,
    )


def cmd_match(args: argparse.Namespace) -> int:
    options = start_run(args, "match", "--reference", args.reference)
    if options is None:
        return 0
    from . import match
    from .console import warn
    from .inputs import analyse_input
    from .pipeline import ReferenceAim

    jobs, many = jobs_for(args, [("reference", args.reference), *model_inputs(options.model)])
    reference = match.target_from(analyse_input(args.reference, "reference", warn=warn), name=args.reference)
    model = match.load_model(options.model)
    return run_batch(args, jobs, many, ReferenceAim(reference, model, options.model or "default"), options)
