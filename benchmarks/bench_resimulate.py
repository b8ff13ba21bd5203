"""Re-simulation throughput next to fresh generation: jets/s of one worker, side by side.

Usage::

    python benchmarks/bench_resimulate.py [--jets 200] [--views 4] [--classes QCD Hbb Tbqq]

For each class, in this one process (one worker, Pythia's initialisation
included, as a ``--workers`` process runs a unit): fresh generation of ``--jets``
jets (``generate_class``), then ``--jets`` groups of ``--views`` nominal views
(``generate_class(..., resimulate=K)``), alternating so a busy machine slows
both alike. Printed per class: jets/s of each, their ratio, and the hard
processes per group (each generated once, whatever K).
"""

from __future__ import annotations

import argparse
import time

import awkward as ak
import numpy as np

from jetscale.generate import generate_class
from jetscale.generate.cards import read_card_text
from jetscale.generate.resimulate import view_specs
from jetscale.generate.units import WorkUnit, run_unit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jets", type=int, default=200, help="jets, and groups (default: 200)")
    parser.add_argument("--views", type=int, default=4, help="views per group (default: 4)")
    parser.add_argument(
        "--classes",
        nargs="+",
        default=["QCD", "Hbb", "Tbqq"],
        help="classes (default: QCD Hbb Tbqq)",
    )
    args = parser.parse_args()
    card_text, _ = read_card_text("cms")
    views = view_specs(args.views)
    print(f"{args.jets} jets fresh, {args.jets} groups of {args.views} views; one worker")
    print(
        f"{'class':6s} {'fresh jets/s':>12s} {'resim jets/s':>12s} {'ratio':>6s} "
        f"{'views/group':>11s} {'hard/group':>10s}"
    )
    for name in args.classes:
        start = time.perf_counter()
        fresh = generate_class(name, args.jets, seed=5, unit_jets=args.jets)
        fresh_rate = len(fresh) / (time.perf_counter() - start)
        unit = WorkUnit(name, 0, args.jets, "cms", 5, card_text, views=views)
        start = time.perf_counter()
        result = run_unit(unit)
        resim_rate = len(result.jets) / (time.perf_counter() - start)
        groups = len(np.unique(ak.to_numpy(result.jets.group)))
        print(
            f"{name:6s} {fresh_rate:12.1f} {resim_rate:12.1f} {resim_rate / fresh_rate:6.2f} "
            f"{len(result.jets) / groups:11.2f} {result.n_events / groups:10.2f}"
        )


if __name__ == "__main__":
    main()
