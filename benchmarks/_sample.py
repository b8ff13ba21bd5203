"""The jets the benchmarks measure on: the given files, or a small sample generated now.

One home for the benchmarks' default data (Pythia 8 + FastJet + the CMS card,
a fixed seed), so their figures are on the same kind of jets.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence

import awkward as ak

from jetscale.io import read_jets


def sample_jets(
    files: Sequence[str] | None, classes: Sequence[str] = ("QCD", "Tbqq"), jets_per_class: int = 100
) -> ak.Array:
    """``files`` read, or ``jets_per_class`` generated jets of each class (seed 9, two workers)."""
    if files:
        return read_jets(list(files))
    from jetscale.generate import generate

    out = tempfile.mkdtemp(prefix="jetscale-bench-")
    summary = generate(out, list(classes), jets_per_class, seed=9, workers=2, progress=False)
    return read_jets(summary.files)
