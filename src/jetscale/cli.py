"""The ``jetscale`` command line: a dispatcher over :mod:`jetscale.commands`.

Subcommands: ``run`` (the main job on the embedded default), ``generate``
(JetClass-format jets from Pythia), ``features`` (feature arrays of files),
``train``, ``export``, ``tag`` (tag JetClass or NanoAOD files inside coffea),
``scan`` (scaling sweeps), ``fit`` (scaling-law fits), ``cka`` (layer similarity of two
models), ``cards`` (list detector cards), ``transfer-study`` (fine-tuning against scratch
over labelled jets, and the effective data transferred), ``robustness`` (how a tagger's
score moves under simulation variations, on re-simulated files).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from jetscale._version import __version__
from jetscale.commands import COMMANDS


def _command(name: str) -> ModuleType:
    """The module of a subcommand (``transfer-study`` is ``transfer_study``)."""
    return importlib.import_module(f"jetscale.commands.{name.replace('-', '_')}")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand (the CLI reference of the docs is generated from it)."""
    parser = argparse.ArgumentParser(
        prog="jetscale",
        description="Boosted-jet tagging for coffea analyses: generate, build features, train, "
        "export, tag, and study scaling laws.",
        epilog="`jetscale COMMAND --help` explains each command; the documentation is in docs/ "
        "(docs/cli.md). Global options such as -v go before the command.",
    )
    parser.add_argument("--version", action="version", version=f"jetscale {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = _command(name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; 2 and a one-line message for errors of input, files or setup."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # The command writes figures to files: no display needed (a library never chooses).
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        return int(args.handler(args))
    except (ValueError, OSError, RuntimeError, ImportError) as err:
        # JetFileError, CardError, CheckpointError, TrainingError, MissingDependencyError
        # One line: the message, then any notes (e.g. the INCOMPLETE marker of io.atomic).
        message = "; ".join([str(err), *getattr(err, "__notes__", ())])
        print(f"jetscale {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
