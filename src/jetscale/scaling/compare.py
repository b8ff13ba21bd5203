"""Floors and exponents side by side: one fit per input feature set and per max particles.

Vigl et al. find that the irreducible loss depends on what the tagger sees:
fewer features or fewer constituents raise the floor. Each group of
single-epoch runs (same ``feature_set`` and ``max_particles``) gets the
parametric fit when it has enough runs (at least 8, with 3 distinct N and 3
distinct D), else the per-size data law L(D) of its largest model; the table
says which, so floors from the two kinds are not compared unknowingly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jetscale.scaling.bounds import floor_zero_below, format_value, reading
from jetscale.scaling.data_fit import fit_data_law
from jetscale.scaling.parametric_fit import FitError, ParametricFit, fit_parametric_law

GROUP_COLUMNS = ("feature_set", "max_particles")


@dataclasses.dataclass(frozen=True)
class GroupFit:
    """One row of the comparison table; ``alpha`` is None for an L(D) fit."""

    group: dict[str, Any]
    kind: str  # "parametric" (E + A/N^alpha + B/D^beta) or "data law at N=..." or "failed"
    points: int
    floor: float  # E, or L_inf of the data law
    floor_interval: tuple[float, float]
    alpha: float | None
    alpha_interval: tuple[float, float] | None
    beta: float
    beta_interval: tuple[float, float]
    lowest_loss: float = float("nan")  # the group's best single-epoch run: an observed number
    lowest_loss_at: tuple[float, float] = (float("nan"), float("nan"))  # its (N, D)
    note: str = ""
    #: The floor and its interval in words (jetscale.scaling.bounds.reading): consistent
    #: with 0 below a thousandth of the lowest loss; empty for a failed fit.
    floor_reading: dict[str, Any] = dataclasses.field(default_factory=dict)


def groups(
    columns: Mapping[str, np.ndarray], keys: Sequence[str] = GROUP_COLUMNS
) -> list[tuple[dict[str, Any], np.ndarray]]:
    """Row indices per distinct value of the group columns present in the table (one group if none)."""
    present = [k for k in keys if k in columns]
    n_rows = len(next(iter(columns.values())))
    if not present:
        return [({}, np.arange(n_rows))]
    labels = [tuple(_group_value(columns[k][i]) for k in present) for i in range(n_rows)]
    out = []
    for value in sorted(set(labels), key=_order):
        rows = np.flatnonzero([label == value for label in labels])
        out.append((dict(zip(present, value, strict=True)), rows))
    return out


def _order(values: tuple[Any, ...]) -> tuple[tuple[int, Any], ...]:
    """Numbers in numeric order (8 < 16 < 32), text alphabetically."""
    return tuple((0, v) if isinstance(v, int | float) else (1, str(v)) for v in values)


def _group_value(value: Any) -> Any:
    if isinstance(value, np.floating) and float(value).is_integer():
        return int(value)
    return value.item() if isinstance(value, np.generic) else value


def fit_group(
    group: dict[str, Any],
    n: np.ndarray,
    d: np.ndarray,
    loss: np.ndarray,
    n_bootstrap: int,
    parametric: ParametricFit | None = None,
) -> GroupFit:
    """The parametric fit if the runs support it (or ``parametric``, made already), else L(D)
    of the largest model; with the lowest observed loss, which needs no fit to compare.

    A group without runs (e.g. only multi-epoch runs) gives a ``failed`` row saying so."""
    if len(n) == 0:
        return _failed(group, 0, "no single-epoch runs (epochs == 1) to fit")
    row = (
        parametric_row(group, parametric)
        if parametric is not None
        else _fit(group, n, d, loss, n_bootstrap)
    )
    best = int(np.argmin(loss))
    words = (
        reading(row.floor, row.floor_interval, floor_zero_below(float(loss[best])))
        if row.kind != "failed"
        else {}
    )
    return dataclasses.replace(
        row,
        lowest_loss=float(loss[best]),
        lowest_loss_at=(float(n[best]), float(d[best])),
        floor_reading=words,
    )


def _fit(
    group: dict[str, Any], n: np.ndarray, d: np.ndarray, loss: np.ndarray, n_bootstrap: int
) -> GroupFit:
    if len(n) >= 8 and len(np.unique(n)) >= 3 and len(np.unique(d)) >= 3:
        try:
            return parametric_row(group, fit_parametric_law(n, d, loss, n_bootstrap=n_bootstrap))
        except FitError as err:
            return _failed(group, len(n), str(err))
    largest = n == n.max()
    try:
        data = fit_data_law(d[largest], loss[largest], n_bootstrap=n_bootstrap)
    except FitError as err:
        return _failed(group, len(n), str(err))
    p, i = data.params, data.intervals
    kind = f"data law at N={n.max():g}"
    return GroupFit(
        group, kind, int(largest.sum()), p["L_inf"], i["L_inf"], None, None, p["beta"], i["beta"]
    )


def parametric_row(group: dict[str, Any], fit: ParametricFit) -> GroupFit:
    """One row of the comparison: a group's parametric fit with its intervals."""
    p, i = fit.params, fit.intervals
    return GroupFit(
        group,
        "parametric",
        fit.n_points,
        p["E"],
        i["E"],
        p["alpha"],
        i["alpha"],
        p["beta"],
        i["beta"],
    )


def _failed(group: dict[str, Any], points: int, reason: str) -> GroupFit:
    nan = float("nan")
    return GroupFit(
        group, "failed", points, nan, (nan, nan), None, None, nan, (nan, nan), note=reason
    )


def markdown(rows: Sequence[GroupFit]) -> str:
    """The comparison as a Markdown table (90% bootstrap intervals in brackets)."""
    keys = list(rows[0].group) if rows else []
    head = [
        *keys,
        "fit",
        "runs",
        "floor (E or L_inf)",
        "alpha (N)",
        "beta (D)",
        "lowest loss (N, D)",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        alpha = "-" if row.alpha is None else _with_interval(row.alpha, row.alpha_interval)
        cells = [
            *(str(row.group[k]) for k in keys),
            row.kind if not row.note else f"{row.kind}: {row.note}",
            str(row.points),
            _floor(row),
            alpha,
            _with_interval(row.beta, row.beta_interval),
            f"{row.lowest_loss:.4g} ({row.lowest_loss_at[0]:.3g}, {row.lowest_loss_at[1]:.3g})",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _floor(row: GroupFit) -> str:
    """The floor as it reads: "consistent with 0 [0, 4.34e-06]" rather than 8.95e-73."""
    if not row.floor_reading:
        return _with_interval(row.floor, row.floor_interval)
    return format_value(row.floor, row.floor_interval, row.floor_reading, digits=3)


def _with_interval(value: float, interval: tuple[float, float] | None) -> str:
    if interval is None or not np.all(np.isfinite(interval)):
        return f"{value:.3g}"
    return f"{value:.3g} [{interval[0]:.3g}, {interval[1]:.3g}]"
