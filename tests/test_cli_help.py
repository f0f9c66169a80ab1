"""The command line's help tells the truth: required arguments shown as required and first, each
stated default the one the code uses, a description for every style action."""

from __future__ import annotations

import argparse

import pytest

from tonematch.inference import refine
from tonematch.inference.cli import build_parser


def _subparsers(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _subparsers(sub, (*prefix, name))


COMMANDS = dict(_subparsers(build_parser()))


@pytest.mark.parametrize("command, target", [("match", "--reference REF"), ("master", "--style S.tmstyle")])
def test_the_target_and_output_are_shown_required_and_first(command, target):
    text = COMMANDS[(command,)].format_help()
    usage = text.splitlines()[0]
    assert usage == f"usage: tonematch {command} MIX [MIX ...] {target} -o OUT [options]"
    assert text.index("required arguments:") < text.index("mastering options:")
    required = text[text.index("required arguments:") : text.index("mastering options:")]
    assert target.split()[0] in required and "--output" in required and "MIX" in required


def test_platform_list_needs_no_required_argument(capsys):
    from tonematch.inference.cli import main

    assert main(["match", "--platform", "list"]) == 0
    assert "apple" in capsys.readouterr().out


@pytest.mark.parametrize("command", [("match",), ("master",), ("studio",), ("style", "fit")])
def test_steps_states_refinement_s_real_default(command):
    steps = next(a for a in COMMANDS[command]._actions if "--steps" in a.option_strings)
    assert f"default {refine.STEPS}" in steps.help


def test_master_s_defaults_name_no_reference():
    actions = {a.dest: a for a in COMMANDS[("master",)]._actions}
    for dest in ("target_lufs", "ceiling"):
        assert "the reference's" not in actions[dest].help and "style" in actions[dest].help


def test_every_option_with_a_default_states_it():
    missing = []
    for command, parser in COMMANDS.items():
        for a in parser._actions:
            if a.help in (None, argparse.SUPPRESS) or isinstance(a, argparse._SubParsersAction):
                continue
            if a.default not in (None, False, (), argparse.SUPPRESS) and "default" not in a.help:
                missing.append((command, a.dest, a.default))
    assert missing == []


def test_every_style_action_has_a_description():
    for command, parser in COMMANDS.items():
        if command[0] == "style" and len(command) == 2:
            assert parser.description, command


@pytest.mark.parametrize("command", [("style", "fit"), ("style", "from-references")])
def test_a_style_command_s_overwrite_names_the_style_file_not_audio(command):
    overwrite = next(a for a in COMMANDS[command]._actions if "--overwrite" in a.option_strings)
    assert "audio" not in overwrite.help and "style" in overwrite.help


@pytest.mark.parametrize(
    "argv, verb, extra",
    [
        (["master", "x.wav", "--literal", "0.9"], "master", "--literal 0.9"),
        (["style", "show", "s.tmstyle", "--foo"], "style show", "--foo"),
        (["match", "x.wav", "--foo"], "match", "--foo"),
    ],
)
def test_an_unknown_option_names_its_command_and_that_command_s_help(capsys, argv, verb, extra):
    from tonematch.inference.cli import main

    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert capsys.readouterr().err == (
        f"tonematch: error: {verb}: unrecognized arguments: {extra} (see tonematch {verb} --help)\n"
    )


def test_every_tonematch_eval_option_with_a_default_states_it():
    from tonematch.training.eval_command import build_parser as eval_parser

    parser = eval_parser()
    missing = [
        a.option_strings[0]
        for a in parser._actions
        if a.option_strings
        and a.help != argparse.SUPPRESS
        and a.default not in (None, False, argparse.SUPPRESS)
        and "default" not in (a.help or "")
    ]
    assert missing == []
    model = next(a for a in parser._actions if "--model" in a.option_strings)
    assert "without it" in model.help  # no shipped-model default: the network's rows are left out


def test_typical_s_split_fractions_state_their_defaults(capsys):
    from tonematch.training.typical import main as typical

    with pytest.raises(SystemExit):
        typical(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default 0.05)" in text and "(default 0.1)" in text


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize("command", [["analyze", "x.wav"], ["match", "x.wav", "-r", "r.wav", "-o", "o.wav"]])
def test_verbose_is_taken_before_or_after_the_command(command, where):
    """`tonematch -v match ...` as the usage line shows it: the command's own -v must not reset it."""
    argv = ["-v", *command] if where == "before" else [*command, "-v"]
    assert build_parser().parse_args(argv).verbose is True
    assert build_parser().parse_args(command).verbose is False


def test_no_help_text_shows_a_doubled_percent_sign():
    # a description is printed as written: "40 %%" came out as "40 %%"
    for command, parser in COMMANDS.items():
        assert "%%" not in parser.format_help(), command
