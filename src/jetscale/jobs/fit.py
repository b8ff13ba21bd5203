"""The job behind ``jetscale fit``: a results table in; every fit, its intervals and the plots out.

Which runs each fit uses:

* a table with ``feature_set`` / ``max_particles`` columns mixes studies whose
  floors differ, so the main fits use one group: the one with the most
  single-epoch runs, or the one named with ``group``;
* the parametric law, L(D) per size, and approaches 1 and 2 use that group's
  single-epoch runs (``epochs == 1``, so D = U is fresh data);
* approach 2 uses runs with an ``isoflop_budget`` when the table has them,
  else runs whose C agree within 15%;
* the repetition fit uses the group's multi-epoch runs with the parametric
  fit held fixed;
* the comparison fits every group separately.

Compute convention: C = 6 N D n_bar, N non-embedding parameters, D jets seen,
n_bar constituents per jet (Hoffmann et al.'s 6ND with constituents as tokens;
``jetscale scan`` writes it as ``C``). Without a C column, C = 6 N D is used
(n_bar = 1) and the JSON says so.

Floors and bounds the runs do not resolve are also given in words
(:mod:`jetscale.scaling.bounds`): ``fit.json`` has a ``reading`` beside E, each
L_inf and R*, such as ``{"value": "consistent with 0", "interval": [...]}``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from jetscale.io.atomic import output_set, write_json, write_text
from jetscale.io.lock import DirectoryLock
from jetscale.nn.counting import training_flops
from jetscale.provenance import provenance
from jetscale.scaling import compare
from jetscale.scaling.bounds import AT_LIMIT, floor_zero_below, reading
from jetscale.scaling.data_fit import fit_data_law
from jetscale.scaling.frontier import Envelope, IsoFLOPFit, isoflop_fit, loss_envelope
from jetscale.scaling.laws import compute_optimal, parametric_law
from jetscale.scaling.parametric_fit import FitError, fit_parametric_law, single_threaded_blas
from jetscale.scaling.progress import progress_log
from jetscale.scaling.repetition import (
    R_STAR_RANGE,
    RepetitionFit,
    fit_repetition,
    observed_effective_data,
)
from jetscale.scaling.table import check_used, read_table

#: Compute convention of every frontier (Hoffmann et al.'s, constituents as tokens).
COMPUTE_CONVENTION = (
    "C = 6 N D n_bar (N non-embedding parameters, D jets seen, n_bar constituents per jet)"
)
#: The seed of every bootstrap (the fits' default): the same table gives the same intervals.
BOOTSTRAP_SEED = 0


def run_fit(
    table: str | os.PathLike[str],
    out: str | os.PathLike[str],
    n_bootstrap: int = 100,
    loss_column: str = "loss",
    group: Mapping[str, Any] | None = None,
    plots: bool = True,
    experiment: str = "none",
) -> dict[str, Any]:
    """Fit everything the table supports; write ``fit.json``, ``comparison.md`` and ``plots/``.

    ``group`` picks the main group, e.g. ``{"feature_set": "kin"}``. BLAS runs
    single-threaded throughout (see :func:`jetscale.scaling.parametric_fit.single_threaded_blas`).
    A bad table or a fit that cannot run raises :class:`FitError` naming the table
    (and column and row, or group and fit) before anything is written; the outputs
    are written as a set (:func:`jetscale.io.atomic.output_set`, an ``INCOMPLETE``
    marker until the last one is written).
    """
    with single_threaded_blas():
        return _fit_table(table, out, n_bootstrap, loss_column, group, plots, experiment)


def _fit_table(
    table: str | os.PathLike[str],
    out: str | os.PathLike[str],
    n_bootstrap: int,
    loss_column: str,
    group: Mapping[str, Any] | None,
    plots: bool,
    experiment: str,
) -> dict[str, Any]:
    # Every value a fit uses is checked here or in read_table, with file, column and row.
    columns = read_table(table, required=("N", "D", loss_column))
    loss_all = columns[loss_column]
    n_rows = len(loss_all)
    epochs = columns.get("epochs", np.ones(n_rows))
    fresh = epochs == 1
    groups = compare.groups(columns)
    chosen, main = _main_group(groups, fresh, group, table)
    pick = np.zeros(n_rows, dtype=bool)
    pick[main] = True
    single = pick & fresh
    n, d, loss = columns["N"][single], columns["D"][single], loss_all[single]
    where = f"{table}: group {chosen or '(all runs)'}"
    if "C" in columns:
        check_used(table, columns, "C", single, f"the compute of {where}'s single-epoch runs")
        compute = columns["C"][single]
        n_bar = float(np.median(compute / training_flops(n, d)))
        convention = COMPUTE_CONVENTION
    else:
        compute, n_bar = training_flops(n, d), 1.0
        convention = "C = 6 N D (the table has no C column; D in the table's units)"

    result: dict[str, Any] = {
        "table": str(table),
        "loss_column": loss_column,
        "rows": n_rows,
        "group": chosen,
        "single_epoch_runs": int(single.sum()),
        "compute_convention": convention,
        "tokens_per_jet": n_bar,
        "provenance": provenance(seeds={"bootstrap": BOOTSTRAP_SEED}),
    }
    with _fitting(where, f"the parametric fit of {int(single.sum())} single-epoch runs"):
        parametric = fit_parametric_law(n, d, loss, n_bootstrap=n_bootstrap)
    p = parametric.params
    fitted = parametric_law(n, d, **p)
    result["parametric"] = dataclasses.asdict(parametric)
    result["parametric"]["reading"] = {
        "E": reading(p["E"], parametric.intervals["E"], floor_zero_below(float(loss.min())))
    }

    if p["alpha"] > 0 and p["beta"] > 0:
        c_grid = np.geomspace(compute.min(), compute.max() * 10, 30)
        n_opt, d_opt = compute_optimal(c_grid / n_bar, p["A"], p["alpha"], p["B"], p["beta"])
        result["frontier_from_parametric_fit"] = {
            "convention": convention,
            "N_opt_exponent": p["beta"] / (p["alpha"] + p["beta"]),
            "D_opt_exponent": p["alpha"] / (p["alpha"] + p["beta"]),
            "C": c_grid.tolist(),
            "N_opt": n_opt.tolist(),
            "D_opt": d_opt.tolist(),
            "loss": parametric_law(n_opt, d_opt, **p).tolist(),
        }
    else:  # the loss does not fall with both N and D: no compute-optimal split exists
        result["frontier_from_parametric_fit"] = {
            "convention": convention,
            "undefined": (
                f"the fitted exponents alpha = {p['alpha']:.3g}, beta = {p['beta']:.3g} are not "
                "both positive: the loss does not fall with both N and D in this table, so no "
                "compute-optimal frontier follows from the fit"
            ),
        }
    result["data_scaling_per_size"] = _per_size(n, d, loss, n_bootstrap)

    with _fitting(where, "the loss envelope (approach 1)"):
        envelope = loss_envelope(compute, loss, n, d, n_bootstrap=2 * n_bootstrap)
    result["approach_1_envelope"] = dataclasses.asdict(envelope)
    budget = columns["isoflop_budget"][single] if "isoflop_budget" in columns else None
    with _fitting(where, "the IsoFLOP profiles (approach 2)"):
        if budget is not None and np.isfinite(budget).any():
            planned = np.isfinite(budget)
            isoflop = isoflop_fit(
                compute[planned],
                n[planned],
                d[planned],
                loss[planned],
                budget[planned],
                2 * n_bootstrap,
            )
        else:
            isoflop = isoflop_fit(compute, n, d, loss, None, 2 * n_bootstrap)
    result["approach_2_isoflop"] = dataclasses.asdict(isoflop)

    repeated = pick & ~fresh
    repetition = None
    if "U" in columns and int(repeated.sum()) >= 2:
        rows = pick & (fresh | repeated)
        check_used(table, columns, "U", rows, f"the repetition fit of {where}")
        progress_log.info("%s: the repetition fit (R*)", where)
        try:
            repetition = fit_repetition(
                columns["N"][rows], columns["U"][rows], epochs[rows], loss_all[rows], p, n_bootstrap
            )
            result["repetition"] = dataclasses.asdict(repetition)
            result["repetition"]["reading"] = {
                "R_star": reading(
                    repetition.R_star,
                    repetition.R_star_interval,
                    zero_below=R_STAR_RANGE[0] * (1.0 + AT_LIMIT),
                    upper_limit=R_STAR_RANGE[1],
                )
            }
        except FitError as err:
            result["repetition"] = {"skipped": str(err)}
    else:
        result["repetition"] = {
            "skipped": "needs U and epochs columns and at least two runs with epochs > 1"
        }

    comparison = []
    for g, rows in groups:
        with _fitting(f"{table}: group {g or '(all runs)'}", "the comparison fit"):
            comparison.append(
                compare.fit_group(
                    g,
                    *_fresh_columns(columns, loss_all, rows, fresh),
                    n_bootstrap,
                    parametric if g == chosen else None,
                )
            )
    result["comparison"] = [dataclasses.asdict(row) for row in comparison]

    out_dir = Path(out)
    names = ("fit.json", "comparison.md", *(("plots/",) if plots else ()))
    # Written as a set: an INCOMPLETE marker stays if any output fails (io.atomic.output_set).
    # One writer per directory (io.lock), then the outputs as a set.
    with (
        DirectoryLock(out_dir, "jetscale fit"),
        output_set(out_dir, names, f"jetscale fit {table}"),
    ):
        # fit.json first: whatever fails later (a plot, a full disk), the numbers are kept.
        write_json(out_dir / "fit.json", result)
        write_text(out_dir / "comparison.md", compare.markdown(comparison))
        if plots:
            result["plots"] = [
                str(path)
                for path in _plots(
                    out_dir / "plots",
                    experiment,
                    compute,
                    loss,
                    n,
                    d,
                    fitted,
                    envelope,
                    result,
                    isoflop,
                    columns,
                    loss_all,
                    repeated,
                    repetition,
                    comparison,
                )
            ]
        write_json(out_dir / "fit.json", result)
    return result


@contextlib.contextmanager
def _fitting(where: str, what: str) -> Iterator[None]:
    """Re-raise a :class:`FitError` of the block naming the table, the group and the fit.

    A progress line says what is fitted.
    """
    progress_log.info("%s: %s", where, what)
    try:
        yield
    except FitError as err:
        msg = f"{where}: {what}: {err}"
        raise FitError(msg) from err


def _main_group(
    groups: list[tuple[dict[str, Any], np.ndarray]],
    fresh: np.ndarray,
    wanted: Mapping[str, Any] | None,
    table: object,
) -> tuple[dict[str, Any], np.ndarray]:
    if wanted:
        for values, rows in groups:
            if all(str(values.get(k)) == str(v) for k, v in wanted.items()):
                return values, rows
        msg = f"{table}: no runs with {dict(wanted)}; groups are {[g for g, _ in groups]}"
        raise FitError(msg)
    return max(groups, key=lambda item: int(fresh[item[1]].sum()))


def _fresh_columns(
    columns: Mapping[str, np.ndarray], loss: np.ndarray, rows: np.ndarray, fresh: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keep = rows[fresh[rows]]
    return columns["N"][keep], columns["D"][keep], loss[keep]


def _per_size(n: np.ndarray, d: np.ndarray, loss: np.ndarray, n_bootstrap: int) -> dict[str, Any]:
    per_size: dict[str, Any] = {}
    for size in np.unique(n):
        same = n == size
        runs = int(same.sum())
        progress_log.info("L(D) at N = %g: %d run%s", size, runs, "" if runs == 1 else "s")
        try:
            fit = fit_data_law(d[same], loss[same], n_bootstrap=n_bootstrap)
            zero_below = floor_zero_below(float(loss[same].min()))
            per_size[f"{size:g}"] = dataclasses.asdict(fit) | {
                "reading": {
                    "L_inf": reading(fit.params["L_inf"], fit.intervals["L_inf"], zero_below)
                }
            }
        except FitError as err:
            per_size[f"{size:g}"] = {"skipped": str(err)}
    return per_size


def _plots(
    out: Path,
    experiment: str,
    compute: np.ndarray,
    loss: np.ndarray,
    n: np.ndarray,
    d: np.ndarray,
    fitted: np.ndarray,
    envelope: Envelope,
    result: dict[str, Any],
    isoflop: IsoFLOPFit,
    columns: Mapping[str, np.ndarray],
    loss_all: np.ndarray,
    repeated: np.ndarray,
    repetition: RepetitionFit | None,
    comparison: list[compare.GroupFit],
) -> list[Path]:
    """The six figures, from the main group's single-epoch runs and the fits above."""
    from jetscale.plotting import scaling as sp

    style = sp.scaling_style(experiment)
    frontier = result["frontier_from_parametric_fit"]
    line = None if "undefined" in frontier else (frontier["C"], frontier["loss"])
    written = sp.plot_loss_vs_compute(compute, loss, n, envelope, line, out, style)
    if isoflop.curves:
        written += sp.plot_isoflop(isoflop, out, style)
    written += sp.plot_observed_vs_fitted(loss, fitted, n, out, style)
    written += sp.plot_residuals(n, d, np.log(loss) - np.log(fitted), out, style)
    if repetition is not None:
        u, ep = columns["U"][repeated], columns["epochs"][repeated]
        gain = (
            observed_effective_data(
                columns["N"][repeated], loss_all[repeated], result["parametric"]["params"]
            )
            / u
        )
        written += sp.plot_repetition_gain(ep, gain, u, repetition.R_star, out, style)
    if len(comparison) > 1:
        written += sp.plot_floors(comparison, out, style)
    return written
