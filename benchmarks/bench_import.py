"""Import cost of what a coffea worker loads: ``jetscale.processors`` against its own stack.

Usage::

    python benchmarks/bench_import.py [--repeats 7]

Each figure is the median wall time of ``import X`` in fresh interpreters, run
alternately in one session so machine load affects all alike. ``coffea.processor``
is the floor: a jetscale processor cannot load faster than coffea itself. The
script also lists which heavy stacks each import pulls in (none of torch or
matplotlib should appear for the processors).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

HEAVY = ("torch", "matplotlib", "mplhep", "onnxruntime", "scipy", "coffea", "numba")
TARGETS = (
    "coffea.processor",
    "jetscale.processors",
    "jetscale.inference",
    "jetscale.plotting.tagger",
)


def import_time(module: str) -> tuple[float, list[str]]:
    """Seconds to import ``module`` in a fresh interpreter, and the heavy stacks it loaded."""
    code = (
        "import sys, time\n"
        "start = time.perf_counter()\n"
        f"import {module}\n"
        "elapsed = time.perf_counter() - start\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})\n"
        "print(elapsed, ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, heavy = out.stdout.split()
    return float(seconds), heavy.split(",")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="fresh interpreters per module")
    args = parser.parse_args()
    times: dict[str, list[float]] = {t: [] for t in TARGETS}
    loaded: dict[str, list[str]] = {}
    for _ in range(args.repeats):
        for target in TARGETS:
            seconds, loaded[target] = import_time(target)
            times[target].append(seconds)
    floor = statistics.median(times["coffea.processor"])
    print(f"{'import':<28} {'median s':>9} {'/ coffea':>9}  heavy stacks loaded")
    for target in TARGETS:
        median = statistics.median(times[target])
        print(f"{target:<28} {median:9.2f} {median / floor:9.2f}  {', '.join(loaded[target])}")


if __name__ == "__main__":
    main()
