"""`tonematch style fit | from-references | show` and `tonematch master MIX... --style S`."""

from __future__ import annotations

import argparse
import os

from tonematch.data.errors import TonematchError

# `master` takes every option of `match` but --model (and --literal): the style sets its start.
MODEL_UNUSED = (
    "--model does not apply: a style of pairs starts from its own settings, a style from references from the "
    "shipped network (use --model with match)"
)
# a style command writes one file: no audio beside it
STYLE_OVERWRITE = "an existing style file (S.tmstyle); without it, it is refused"


def add_style_parsers(sub, common) -> None:
    from .cli_match import add_overwrite, add_shared_options, usage

    p = sub.add_parser(
        "style",
        parents=[common],
        help="learn your own mastering style from your mix/master pairs",
        description="Fit, make or show a style (.tmstyle): what an engineer does as a function of the mix.",
    )
    ss = p.add_subparsers(dest="style_command", metavar="ACTION", required=True)

    f = ss.add_parser(
        "fit",
        parents=[common],
        help="fit a style on a folder (mix/ + master/) or CSV (mix,master) of pairs",
        description="Align and analyse every pair (one that does not align is reported and left out), "
        "learn how the masters' character follows the mixes', and print a held-out check.",
    )
    f.add_argument("pairs", metavar="PAIRS", help="folder with mix/ and master/ (matched by name) or a CSV mix,master")
    f.add_argument("-o", "--output", metavar="S.tmstyle", required=True, help="the style file to write")
    f.add_argument("--name", help="the style's name (default: the output's stem)")
    f.add_argument(
        "--steps",
        type=int,
        default=None,
        metavar="N",
        help="refinement iterations of the held-out check's masters (default 8, as match)",
    )
    f.add_argument("--no-check", action="store_true", help="skip the held-out check (faster)")
    add_overwrite(f, STYLE_OVERWRITE)
    f.set_defaults(func=cmd_fit)

    r = ss.add_parser(
        "from-references",
        parents=[common],
        help="a style from reference masters alone (no pairs)",
        description="The style holds the masters' average loudness, ceiling, tonal balance and width. "
        "Mastering starts from the network's settings for each mix and moves its tonal balance toward the "
        "masters' average by 40 % of the tilt (their finer balance and width are mostly their music).",
    )
    r.add_argument("folder", metavar="DIR", nargs="+", help="reference masters (files or folders)")
    r.add_argument("-o", "--output", metavar="S.tmstyle", required=True, help="the style file to write")
    r.add_argument("--name", help="the style's name (default: the output's stem)")
    add_overwrite(r, STYLE_OVERWRITE)
    r.set_defaults(func=cmd_from_references)

    s = ss.add_parser(
        "show",
        parents=[common],
        help="what a style does, in words and numbers",
        description="Print what a style does: its loudness and ceiling, how each part of it follows the mix "
        "(the style's own value, or the mix's kept), and its held-out check when it has one.",
    )
    s.add_argument("style", metavar="S.tmstyle", help="the style file")
    s.add_argument("--json", action="store_true", help="the style's card and numbers as JSON")
    s.set_defaults(func=cmd_show)

    m = sub.add_parser(
        "master",
        parents=[common],
        help="master mixes in your own style (no reference)",
        description="Predict the settings your style would choose for each MIX (a style from references: the "
        "network's settings for the mix, refined toward the masters' balance), render exactly and write the "
        "settings beside the output (OUT.json).",
        usage=usage("style"),
    )
    add_shared_options(m, "style")
    m.set_defaults(func=cmd_master)


def _name(args) -> str:
    from pathlib import Path

    return args.name or Path(args.output).stem


def _style_path(args):
    """The style file -o names, .tmstyle added where it has no extension. Another extension is
    refused: save_style would append .tmstyle to it (x.json.tmstyle), a name nobody asked for."""
    from pathlib import Path

    from .style import SUFFIX

    path = Path(args.output)
    if path.suffix == SUFFIX:
        return path
    if path.suffix:
        raise TonematchError(
            f"-o '{args.output}': a style file's extension is {SUFFIX}, not {path.suffix} "
            f"(or give none and {SUFFIX} is added)"
        )
    return path.with_name(path.name + SUFFIX)


def _style_output(args, inputs) -> str:
    """The style file the run will write, checked with the run's inputs before any audio is
    read: not an input, its folder writable, not existing unless -f."""
    from .outputs import OutputPlan

    path = _style_path(args)
    plan = OutputPlan(args.overwrite)
    for role, p in inputs:
        plan.add_input(p, role)
    plan.add_output(path, "style")
    plan.check()
    return str(path)


def cmd_fit(args: argparse.Namespace) -> int:
    import warnings

    from tonematch.data.pairs import find_pairs

    from . import match, style
    from .console import warn

    _style_path(args)  # a wrong extension is refused before the pairs are even listed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pairs = find_pairs(args.pairs)
    for w in caught:
        warn(str(w.message))
    inputs = [("pairs manifest" if os.path.isfile(args.pairs) else "pairs folder", args.pairs)]
    inputs += [("mix of a pair", str(p.mix)) for p in pairs] + [("master of a pair", str(p.master)) for p in pairs]
    out = _style_output(args, inputs)
    print(f"{len(pairs)} pair(s) in {args.pairs}")
    options = match.Options(steps=args.steps)
    fitted = style.fit_pairs(
        pairs,
        _name(args),
        check=not args.no_check,
        options=options,
        error=warn,
    )
    path = style.save_style(fitted, out, replace=args.overwrite)
    print("\n".join(style.describe(fitted)))
    print(f"wrote {path} ({fitted.meta['pairs']} pairs, {fitted.meta['fit_seconds']:.0f} s)")
    return 0


def _json_legend(s) -> dict:
    """What `show --json`'s arrays mean, so that a script need not know the file's layout; a style
    from references also says how much of its masters' balance mastering copies."""
    from .character import WIDTH_EDGES_HZ
    from .style.master import STYLE_LITERAL
    from .style.model import SCALARS

    legend = {
        "lines": "a master's value = a x the mix's + c: tone_a/tone_c per bump_hz (dB relative to the mean "
        "over the bands), width_a/width_c per width band (side relative to mid, dB), scalar_a/scalar_c per scalar",
        "scalars": {name: unit for name, unit in zip(SCALARS, ("LU (loudness spread)", "dB (block crest)", "LUFS"))},
        "width_bands_hz": [[lo, hi] for lo, hi in zip(WIDTH_EDGES_HZ[:-1], WIDTH_EDGES_HZ[1:])][: s.width_c.size],
    }
    if s.from_references:
        legend["literal"] = STYLE_LITERAL  # from references: the share refinement copies (match's --literal)
    return legend


def cmd_from_references(args: argparse.Namespace) -> int:
    """A style from finished masters. A reference that cannot be read or used is reported in one
    warning line and left out, as style fit leaves out a pair (exit 0 when the style is written)."""
    from . import style
    from .batch import expand_inputs
    from .console import one_line, reraise_interrupt, traceback_if, warn
    from .inputs import analyse_input

    _style_path(args)  # a wrong extension is refused before the references are listed
    paths = expand_inputs(args.folder)
    out = _style_output(args, [("reference master", str(p)) for p in paths])
    masters = []
    for path in paths:
        try:
            masters.append(analyse_input(path, "reference master", warn=warn))
        except Exception as exc:  # noqa: BLE001 - one unusable reference is left out
            reraise_interrupt(exc)  # but Ctrl-C or SIGTERM met inside a compiled kernel stops
            traceback_if(args.verbose, exc)
            text = one_line(exc)
            warn(f"{text if str(path) in text else f'{path}: {text}'} (left out)")
    if not masters:
        raise TonematchError(f"no usable reference masters among the {len(paths)} given")
    fitted = style.style_from_references(masters, _name(args))
    path = style.save_style(fitted, out, replace=args.overwrite)
    print("\n".join(style.describe(fitted)))
    left_out = len(paths) - len(masters)
    print(f"wrote {path} ({len(masters)} reference masters" + (f", {left_out} left out)" if left_out else ")"))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from . import style

    s = style.load_style(args.style)
    if args.json:
        import json

        from .style.file import TENSORS, card_of, json_safe
        from .style.master import mastering_ceiling

        # the card as the file holds it (settings included), the ceiling the text view names, the numbers
        shown = {**card_of(s), "mastering_ceiling_dbtp": mastering_ceiling(s)}
        shown.update({n: getattr(s, n).tolist() for n in TENSORS})
        shown["legend"] = _json_legend(s)
        print(json.dumps(json_safe(shown), indent=2))
    else:
        print("\n".join(style.describe(s)))
    return 0


def cmd_master(args: argparse.Namespace) -> int:
    from .cli_match import jobs_for, model_inputs, run_batch, start_run
    from .console import warn

    options = start_run(args, "master", "--style", args.style)
    if options is None:
        return 0
    if options.model is not None:
        raise TonematchError(f"master: {MODEL_UNUSED}")
    from .style import load_style
    from .style.aim import StyleAim

    # the outputs are checked before the style is read; a style from references reads the shipped
    # network, so its files are inputs no output may replace (for a style of pairs: harmless)
    jobs, many = jobs_for(args, [("style", args.style), *model_inputs(None)])
    aim = StyleAim(load_style(args.style), args.style)
    for note in aim.conflicts(options):
        warn(note)
    return run_batch(args, jobs, many, aim, options)
