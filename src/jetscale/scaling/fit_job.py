"""The job behind ``jetscale fit``: a results table in, every fit with its intervals out as JSON."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from jetscale.io.atomic import atomic_path
from jetscale.scaling.data_fit import fit_data_law
from jetscale.scaling.laws import compute_optimal
from jetscale.scaling.parametric_fit import FitError, fit_parametric_law
from jetscale.scaling.table import read_table

#: Compute convention of the frontier implied by the parametric fit (Hoffmann et al.).
COMPUTE_CONVENTION = "C = 6 N D"


def run_fit(
    table: str | os.PathLike[str], out: str | os.PathLike[str], n_bootstrap: int = 100
) -> dict[str, Any]:
    """Fit the parametric law and, per model size with enough points, L(D); write ``fit.json``."""
    columns = read_table(table)
    n, d, loss = columns["N"], columns["D"], columns["loss"]
    result: dict[str, Any] = {"table": str(table), "points": len(n)}
    parametric = fit_parametric_law(n, d, loss, n_bootstrap=n_bootstrap)
    result["parametric"] = dataclasses.asdict(parametric)
    p = parametric.params
    compute = np.logspace(np.log10(6 * n.min() * d.min()), np.log10(6 * n.max() * d.max()), 5)
    n_opt, d_opt = compute_optimal(compute, p["A"], p["alpha"], p["B"], p["beta"])
    result["frontier_from_parametric_fit"] = {
        "convention": COMPUTE_CONVENTION,
        "N_opt_exponent": p["beta"] / (p["alpha"] + p["beta"]),
        "D_opt_exponent": p["alpha"] / (p["alpha"] + p["beta"]),
        "C": compute.tolist(),
        "N_opt": n_opt.tolist(),
        "D_opt": d_opt.tolist(),
    }
    per_size: dict[str, Any] = {}
    for size in np.unique(n):
        pick = n == size
        try:
            per_size[f"{size:g}"] = dataclasses.asdict(
                fit_data_law(d[pick], loss[pick], n_bootstrap=n_bootstrap)
            )
        except FitError as err:
            per_size[f"{size:g}"] = {"skipped": str(err)}
    result["data_scaling_per_size"] = per_size
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "fit.json") as tmp:
        tmp.write_text(json.dumps(result, indent=2))
    return result
