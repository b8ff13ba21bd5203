"""``jetscale cards``: the detector cards the generator knows."""

from __future__ import annotations

import argparse

HELP = "list the detector cards"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def run(args: argparse.Namespace) -> int:
    from jetscale.generate.cards import available_cards, load_card

    for name in available_cards():
        print(f"{name}: {load_card(name).description}")
    return 0
