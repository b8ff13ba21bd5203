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


def add_experiment_option(parser: argparse.ArgumentParser) -> None:
    """``--experiment``: the mplhep style and label of the plots."""
    parser.add_argument(
        "--experiment",
        default="CMS",
        help="mplhep style and label of the plots: CMS, ATLAS, LHCb, ALICE (default: %(default)s)",
    )
