"""Every option of every subcommand explains itself in ``--help``, with its default."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from jetscale.cli import build_parser
from jetscale.commands import COMMANDS

#: Actions whose default is implied by the action (a flag is off unless given).
FLAGS = (
    argparse._StoreTrueAction,
    argparse._StoreFalseAction,
    argparse._StoreConstAction,
    argparse._CountAction,
    argparse._HelpAction,
    argparse._VersionAction,
)


def subparsers() -> dict[str, argparse.ArgumentParser]:
    (sub,) = (a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def option_problems(parser: argparse.ArgumentParser) -> list[str]:
    """What ``--help`` would not tell of each option: its purpose, or its default."""
    problems = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = "/".join(action.option_strings) or action.dest
        text = action.help
        if not text or text == argparse.SUPPRESS:
            problems.append(f"{name}: no help text")
            continue
        if isinstance(action, FLAGS) or action.default == argparse.SUPPRESS:
            continue
        if action.default in ("", [], ()):  # %(default)s would show nothing: words then
            if "default" not in text:
                problems.append(f"{name}: empty default {action.default!r} not described")
        elif action.default is not None and "%(default)" not in text:
            problems.append(f"{name}: default {action.default!r} not shown (%(default)s)")
        elif action.option_strings and not action.required and "default" not in text:
            problems.append(f"{name}: does not say what happens without it (default: ...)")
    return problems


def test_the_commands_are_the_parsers_subcommands() -> None:
    assert list(subparsers()) == list(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help_and_shows_its_default(command: str) -> None:
    parser = subparsers()[command]
    assert option_problems(parser) == []
    parser.format_help()  # every %(...)s expands


def test_the_global_options_have_help() -> None:
    assert [p for p in option_problems(build_parser()) if "command" not in p] == []


def test_the_check_finds_what_it_is_for() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bare")
    parser.add_argument("--hidden-default", type=int, default=3, help="a number")
    parser.add_argument("--silent-none", help="a path")
    parser.add_argument("--shown", type=int, default=3, help="a number (default: %(default)s)")
    parser.add_argument("--flag", action="store_true", help="a switch")
    parser.add_argument("--text", default="", help="a label")
    parser.add_argument("--words", default="", help="a label (default: no text)")
    parser.add_argument("file", help="a positional")
    assert option_problems(parser) == [
        "--bare: no help text",
        "--hidden-default: default 3 not shown (%(default)s)",
        "--silent-none: does not say what happens without it (default: ...)",
        "--text: empty default '' not described",
    ]


def test_train_defaults_in_help_are_trainconfig_s() -> None:
    """``jetscale train --help`` repeats TrainConfig's defaults (it must not import torch)."""
    pytest.importorskip("torch")
    from jetscale.commands.train import MASS_DECORRELATION, TRAIN_DEFAULTS, TRAIN_OPTIONS
    from jetscale.train import TrainConfig
    from jetscale.train.reweight import METHODS

    fields = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    assert set(TRAIN_DEFAULTS) == set(TRAIN_OPTIONS)
    assert {k: fields[k] for k in TRAIN_OPTIONS} == TRAIN_DEFAULTS
    assert MASS_DECORRELATION == METHODS
    assert "(default: 0.001)" in " ".join(subparsers()["train"].format_help().split())
