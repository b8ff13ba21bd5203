"""Options that several subcommands share, declared once so they read the same everywhere."""

from __future__ import annotations

import argparse

from jetscale.features.registry import DEFAULT_FEATURE_SET, FEATURE_SETS


def add_feature_options(parser: argparse.ArgumentParser) -> None:
    """``--feature-set`` and ``--max-particles`` (defaults: full21, 128 slots)."""
    parser.add_argument(
        "--feature-set",
        choices=list(FEATURE_SETS),
        default=DEFAULT_FEATURE_SET,
        help="constituent features to build (default: %(default)s)",
    )
    parser.add_argument(
        "--max-particles",
        type=int,
        default=128,
        help="constituent slots per jet, highest pT first (default: %(default)s)",
    )


#: Values of ``--experiment`` (any case): "none", or an experiment whose mplhep style
#: and label the plots take (jetscale.plotting.style.EXPERIMENTS, named here so that
#: ``--help`` does not import matplotlib).
EXPERIMENTS = ("none", "CMS", "ATLAS", "LHCb", "ALICE", "DUNE")


def _experiment(value: str) -> str:
    for name in EXPERIMENTS:
        if value.lower() == name.lower():
            return name
    msg = f"unknown experiment {value!r}; choose one of {', '.join(EXPERIMENTS)} (any case)"
    raise argparse.ArgumentTypeError(msg)


def add_experiment_option(parser: argparse.ArgumentParser) -> None:
    """``--experiment``: the experiment whose style and label the plots carry (default: none)."""
    parser.add_argument(
        "--experiment",
        type=_experiment,
        default="none",
        metavar="{" + ",".join(EXPERIMENTS) + "}",
        help="experiment whose mplhep style and label the plots carry, for those entitled to "
        "it (CMS: 'CMS Simulation', then the --label text where the command has one); 'none' "
        "names no experiment: jetscale's generated jets are Pythia with a parametric "
        "detector, no experiment's simulation (default: %(default)s)",
    )


def add_label_option(parser: argparse.ArgumentParser) -> None:
    """``--label``: the text of the plot label (default: none)."""
    parser.add_argument(
        "--label",
        default="",
        help="plot label text: after 'Simulation' with an experiment (--experiment CMS --label "
        "Preliminary), else alone (--label 'Private work') (default: no text)",
    )
