"""`tonematch` command line: render and analyze here; match (cli_match.py), master and style
(cli_style.py) and studio (studio/command.py) join the parser from their own modules.

Imports stay light at module level (no torch): `tonematch --help` and `tonematch analyze` start
fast, and only the commands that render pay for the chain. Exit statuses (the README's table; tests/test_reliability*):

  0    done (also a batch in which every mix was written)
  1    a batch in which some mix failed (each reported in one line, the others written), or an
       internal error (a bug: one line, `-v` shows the traceback)
  2    a user error: the files, the options or the system; argparse's usage errors too
  130  Ctrl-C (SIGINT), 143 SIGTERM: both unwind as exceptions, so no temporary file is left

User-facing failures (TonematchError, OS and libsndfile errors) print one line
`tonematch: error: ...`; `--verbose` adds the traceback. Warnings print `tonematch: warning: ...`,
and numpy's floating-point RuntimeWarnings never reach the terminal (the checks that matter raise).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import traceback
import warnings

from tonematch.data.errors import TonematchError

from . import console
from .console import Terminated, one_line, user_error, warn

EXIT_FAILED = 1  # a batch in which some item failed, or an internal error
EXIT_ERROR = 2  # the same code argparse uses: the user has to change something
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143, what a shell reports for a process killed by SIGTERM


class Parser(argparse.ArgumentParser):
    """argparse with tonematch's one-line errors: `tonematch: error: match: ...` (exit 2), where
    argparse would print its usage block and `tonematch match: error: ...`."""

    def error(self, message):
        command = self.prog.partition(" ")[2]
        where = f"{command}: " if command else ""
        self.exit(EXIT_ERROR, f"tonematch: error: {where}{' '.join(message.split())} (see {self.prog} --help)\n")

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras and not hasattr(namespace, "_unknown_to"):  # the innermost command returns first
            namespace._unknown_to = self
        return namespace, extras

    def parse_args(self, args=None, namespace=None):
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:  # the command that met them says so, not the top level
            getattr(namespace, "_unknown_to", self).error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace


def cmd_render(args: argparse.Namespace) -> int:
    from tonematch.data.audio import check_sample_rate
    from tonematch.models.chain import TABLE

    if args.list_params:
        given = [f for f, v in (("IN", args.input), ("--params", args.params), ("-o", args.output)) if v is not None]
        if given:  # a render asked for beside the listing would silently not happen
            raise TonematchError(
                f"render: --list-params only prints the table; drop {', '.join(given)} to list it, or "
                "--list-params to render (--sample-rate HZ shows a rate's frequency limits)"
            )
        rate = check_sample_rate(44100 if args.sample_rate is None else args.sample_rate, "--sample-rate")
        print(f"chain parameters (frequency limits shown at {rate} Hz; JSON keys are processor / band / name):")
        print(TABLE.describe(rate))
        return 0
    if args.sample_rate is not None:  # a file renders at its own rate: a rate given here would go unused
        raise TonematchError(
            "render: --sample-rate only sets the rate --list-params shows; a file renders at its own rate"
        )
    missing = [
        flag
        for flag, value in (("IN", args.input), ("--params", args.params), ("-o/--output", args.output))
        if value is None
    ]
    if missing:  # one line, like every other error, rather than argparse's usage block
        raise TonematchError(f"render: missing {', '.join(missing)} (or use --list-params)")

    from tonematch.data.atomic import Transaction
    from tonematch.models.chain.settings import Settings

    from .outputs import OutputPlan, same_file
    from .pipeline import settings_path
    from .render import format_summary, render_file

    # OUT.json always holds the settings OUT was rendered with: written beside it, except where it
    # is the --params file itself (which holds them already, and is an input: never written to)
    beside = settings_path(args.output)
    writes_json = not same_file(beside, args.params)
    plan = OutputPlan(args.overwrite)
    plan.add_input(args.input, "input")
    plan.add_input(args.params, "settings file (--params)")
    plan.add_output(args.output, "master")
    if writes_json:
        plan.add_output(beside, "settings")
    plan.check()
    if args.overwrite:
        from .batch import stale_report

        stale_report(args.output, warn)
    settings = Settings.from_json(args.params)
    with Transaction(replace=args.overwrite) as files:
        summary = render_file(
            args.input,
            settings,
            files.stage(args.output),
            bit_depth=args.bit_depth,
            dither=not args.no_dither,
            warn=warn,
        )
        summary["output"] = args.output
        if writes_json:
            files.write(beside, lambda tmp: settings.to_json(tmp))
        files.commit()
    print(format_summary(summary))
    print(f"  settings: {beside}" + ("" if writes_json else " (the --params file, unchanged)"))
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from .analyze import analyze_file, format_table

    result = analyze_file(args.file)  # streams: bounded memory at any length
    if args.json:
        print(json.dumps({"file": args.file, **result}, indent=2, allow_nan=False))
    else:
        print(format_table(result, title=args.file))
    return 0


def build_parser() -> argparse.ArgumentParser:
    # -v is accepted before or after the subcommand; SUPPRESS keeps the subparser from resetting it.
    # The top level has its own -v (default False): a parent's action is shared by every parser it
    # is given to, so set_defaults(verbose=False) on it would reset `tonematch -v match ...` too.
    common = Parser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors"
    )
    parser = Parser(prog="tonematch", description="Learned, explainable audio mastering.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks on errors")
    from tonematch import __version__

    parser.add_argument("--version", action="version", version=f"tonematch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "render",
        parents=[common],
        help="render a file through the chain with a settings JSON",
        description="Render IN through the mastering chain with the settings in P.json, "
        "streaming (bounded memory), and write OUT (.wav or .flac) atomically, with the settings it was "
        "rendered with beside it (OUT.json; left as it is when it is the P.json given).",
    )
    p.add_argument("input", metavar="IN", nargs="?", help="input audio file")
    p.add_argument("--params", metavar="P.json", help="chain settings (see --list-params)")
    p.add_argument("-o", "--output", metavar="OUT", help="output file, .wav or .flac")
    p.add_argument(
        "--bit-depth",
        choices=("16", "24", "float"),
        help="output sample format (default: the input's if 16/24-bit PCM, else 24)",
    )
    p.add_argument("--no-dither", action="store_true", help="quantise without TPDF dither")
    from .cli_match import add_overwrite

    add_overwrite(p)
    p.add_argument("--list-params", action="store_true", help="print the parameter table and exit")
    p.add_argument(
        "--sample-rate",
        type=int,
        metavar="HZ",
        help="with --list-params: the rate at which frequency limits are shown (default 44100)",
    )
    p.set_defaults(func=cmd_render, parser=p)

    a = sub.add_parser(
        "analyze",
        parents=[common],
        help="measure loudness, peaks, dynamics, stereo, spectrum",
        description="Integrated loudness, loudness range, sample and true peak, crest factor, "
        "stereo width and correlation, and spectral balance of FILE.",
    )
    a.add_argument("file", metavar="FILE", help="audio file")
    a.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    a.set_defaults(func=cmd_analyze, parser=a)

    from .cli_match import add_match_parser

    add_match_parser(sub, common)
    from .cli_style import add_style_parsers

    add_style_parsers(sub, common)
    from .studio.command import add_studio_parser

    add_studio_parser(sub, common)
    return parser


_UNCHANGED = object()


def _raise_terminated(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup short
    console.signalled(Terminated)
    raise Terminated()


def _on_sigterm():
    """Install the SIGTERM handler; returns what to restore (_UNCHANGED where signals cannot be
    set: outside the main thread, e.g. when main() is called from a worker thread)."""
    if threading.current_thread() is not threading.main_thread():
        return _UNCHANGED
    return signal.signal(signal.SIGTERM, _raise_terminated)


def _run(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except Exception as exc:
        console.reraise_interrupt(exc)  # Ctrl-C or SIGTERM met inside a compiled kernel
        raise


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    console.forget_signals()
    previous = _on_sigterm()
    try:
        with warnings.catch_warnings():
            # numpy's overflow / invalid-value warnings: the input checks and the refusals of
            # non-finite settings speak for them in one line, a warning dump would only confuse
            warnings.simplefilter("ignore", RuntimeWarning)
            code = _run(args)
            console.stop_if_signalled()  # a SIGTERM whose raise Python dropped ends the run as one
        sys.stdout.flush()
    except BrokenPipeError:
        # e.g. `tonematch render --list-params | head`: the reader left; nothing went wrong here.
        # Point stdout at devnull so the interpreter's final flush does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    except KeyboardInterrupt:
        print("tonematch: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except Terminated:
        print("tonematch: terminated", file=sys.stderr)
        code = EXIT_TERMINATED
    except Exception as exc:
        if args.verbose:
            traceback.print_exc()
        console.error(one_line(exc))
        code = EXIT_ERROR if user_error(exc) else EXIT_FAILED
    finally:
        if previous is not _UNCHANGED:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
    return code


if __name__ == "__main__":
    sys.exit(main())
