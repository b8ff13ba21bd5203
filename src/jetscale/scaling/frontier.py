"""The compute-optimal frontier from runs: Hoffmann et al. 2022's approaches 1 and 2.

Approach 1 (loss envelope): order the runs by training compute C and keep
those that reach a lower loss than every cheaper run; the (N, D) of these
runs, fitted as power laws in C, estimate N_opt(C) and D_opt(C). Hoffmann et
al. take the envelope over every evaluation along each training curve; here
it is over the final losses of the runs, which is what a grid of independent
runs (each with its own cosine schedule) measures without bias.

Approach 2 (IsoFLOP profiles): runs at one fixed budget C and several model
sizes trace loss versus log N; a parabola fitted to it has its minimum at
N_opt(C), and D_opt(C) = C / (6 N_opt n_bar) follows from the convention
C = 6 N D n_bar (n_bar constituents per jet). Power laws through the minima of
several budgets give the exponents.

Intervals are central 90% bootstrap intervals over runs (within each budget,
for approach 2).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from jetscale.nn.counting import training_flops
from jetscale.scaling.parametric_fit import FitError

#: Runs whose compute differs by less than this factor share an IsoFLOP profile
#: when the table has no ``isoflop_budget`` column.
ISOFLOP_TOLERANCE = 1.15


@dataclasses.dataclass(frozen=True)
class PowerLaw:
    """``y = coefficient * C**exponent``, with a bootstrap interval on the exponent."""

    exponent: float
    coefficient: float
    exponent_interval: tuple[float, float]
    n_points: int

    def __call__(self, compute: ArrayLike) -> np.ndarray:
        return self.coefficient * np.asarray(compute, dtype=np.float64) ** self.exponent


@dataclasses.dataclass(frozen=True)
class Envelope:
    """Approach 1: the runs on the loss envelope, and N_opt(C), D_opt(C) through them."""

    C: list[float]
    loss: list[float]
    N: list[float]
    D: list[float]
    N_opt: PowerLaw | None
    D_opt: PowerLaw | None
    note: str = ""


@dataclasses.dataclass(frozen=True)
class IsoFLOPProfile:
    """One budget: its runs, the parabola ``loss = p0 x^2 + p1 x + p2`` in x = ln N, its minimum."""

    budget: float
    N: list[float]
    loss: list[float]
    parabola: list[float]
    N_opt: float
    D_opt: float
    loss_opt: float
    minimum_inside: bool  # False: N_opt extrapolates beyond the sizes run at this budget


@dataclasses.dataclass(frozen=True)
class IsoFLOPFit:
    """Approach 2: the profiles, and power laws through their minima."""

    profiles: list[IsoFLOPProfile]  # budgets whose parabola has a minimum
    N_opt: PowerLaw | None
    D_opt: PowerLaw | None
    skipped: list[str]
    curves: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # every budget's runs


def _arrays(*values: ArrayLike) -> list[np.ndarray]:
    arrays = [np.asarray(v, dtype=np.float64).ravel() for v in values]
    if len({len(a) for a in arrays}) != 1:
        msg = f"columns must have the same length, got {[len(a) for a in arrays]}"
        raise FitError(msg)
    return arrays


def _power_law(c: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    slope, intercept = np.polyfit(np.log(c), np.log(y), 1)
    return float(slope), float(np.exp(intercept))


def _interval(samples: list[float]) -> tuple[float, float]:
    if len(samples) < 2:
        return (float("nan"), float("nan"))
    return (float(np.percentile(samples, 5)), float(np.percentile(samples, 95)))


def _envelope_index(c: np.ndarray, loss: np.ndarray) -> np.ndarray:
    order = np.lexsort((loss, c))  # by compute, ties by loss
    best = np.inf
    keep = []
    for i in order:
        if loss[i] < best:
            keep.append(i)
            best = loss[i]
    return np.asarray(keep, dtype=np.int64)


def loss_envelope(
    C: ArrayLike, loss: ArrayLike, N: ArrayLike, D: ArrayLike, n_bootstrap: int = 200, seed: int = 0
) -> Envelope:
    """Approach 1 on final losses; power laws need at least 3 envelope runs with distinct C."""
    c, losses, n, d = _arrays(C, loss, N, D)
    if len(c) < 2:
        msg = f"the loss envelope needs at least 2 runs, got {len(c)}"
        raise FitError(msg)
    keep = _envelope_index(c, losses)
    fields = {
        "C": c[keep].tolist(),
        "loss": losses[keep].tolist(),
        "N": n[keep].tolist(),
        "D": d[keep].tolist(),
    }
    if len(np.unique(c[keep])) < 3:
        note = f"only {len(np.unique(c[keep]))} runs on the envelope: no power laws"
        return Envelope(**fields, N_opt=None, D_opt=None, note=note)
    rng = np.random.default_rng(seed)
    boot_n, boot_d = [], []
    for _ in range(n_bootstrap):
        pick = rng.integers(0, len(c), len(c))
        sub = pick[_envelope_index(c[pick], losses[pick])]
        if len(np.unique(c[sub])) >= 2:
            boot_n.append(_power_law(c[sub], n[sub])[0])
            boot_d.append(_power_law(c[sub], d[sub])[0])
    laws = []
    for y, boot in ((n[keep], boot_n), (d[keep], boot_d)):
        exponent, coefficient = _power_law(c[keep], y)
        laws.append(PowerLaw(exponent, coefficient, _interval(boot), len(keep)))
    return Envelope(**fields, N_opt=laws[0], D_opt=laws[1])


def isoflop_groups(C: ArrayLike, budget: ArrayLike | None = None) -> list[np.ndarray]:
    """Row indices of each IsoFLOP profile: by the planned budget, or by C within ISOFLOP_TOLERANCE."""
    c = np.asarray(C, dtype=np.float64)
    if budget is not None:
        b = np.asarray(budget, dtype=np.float64)
        return [np.flatnonzero(b == value) for value in np.unique(b[np.isfinite(b)])]
    order = np.argsort(c)
    groups: list[list[int]] = []
    for i in order:
        if groups and c[i] <= c[groups[-1][0]] * ISOFLOP_TOLERANCE:
            groups[-1].append(int(i))
        else:
            groups.append([int(i)])
    return [np.asarray(g) for g in groups]


def _parabola(log_n: np.ndarray, loss: np.ndarray) -> np.ndarray | None:
    coefficients = np.polyfit(log_n, loss, 2)
    return coefficients if coefficients[0] > 0 else None


def isoflop_fit(
    C: ArrayLike,
    N: ArrayLike,
    D: ArrayLike,
    loss: ArrayLike,
    budget: ArrayLike | None = None,
    n_bootstrap: int = 200,
    seed: int = 0,
) -> IsoFLOPFit:
    """Approach 2: a parabola per budget with at least 3 model sizes; power laws over >= 2 budgets."""
    c, n, d, losses = _arrays(C, N, D, loss)
    profiles: list[IsoFLOPProfile] = []
    curves: list[dict[str, Any]] = []
    members: list[np.ndarray] = []
    skipped: list[str] = []
    for rows in isoflop_groups(c, budget):
        level = (
            float(np.asarray(budget, dtype=np.float64)[rows[0]])
            if budget is not None
            else float(np.exp(np.log(c[rows]).mean()))
        )
        if len(np.unique(n[rows])) < 3:
            skipped.append(
                f"C = {level:.3g}: {len(np.unique(n[rows]))} model sizes (a parabola needs 3)"
            )
            continue
        order = rows[np.argsort(n[rows])]
        curves.append({"budget": level, "N": n[order].tolist(), "loss": losses[order].tolist()})
        log_n = np.log(n[rows])
        coefficients = _parabola(log_n, losses[rows])
        if coefficients is None:
            best = float(n[rows][np.argmin(losses[rows])])
            edge = (
                f"; the lowest loss is at the {'smallest' if best == n[rows].min() else 'largest'} N run ({best:g}), "
                "so N_opt lies outside the sizes run"
                if best in (n[rows].min(), n[rows].max())
                else ""
            )
            skipped.append(f"C = {level:.3g}: loss vs log N curves down, no minimum{edge}")
            continue
        x_opt = -coefficients[1] / (2 * coefficients[0])
        n_bar = float(np.median(c[rows] / training_flops(n[rows], d[rows])))
        n_opt = float(np.exp(x_opt))
        profiles.append(
            IsoFLOPProfile(
                budget=level,
                N=n[rows].tolist(),
                loss=losses[rows].tolist(),
                parabola=coefficients.tolist(),
                N_opt=n_opt,
                D_opt=level / training_flops(n_opt, n_bar),
                loss_opt=float(np.polyval(coefficients, x_opt)),
                minimum_inside=bool(log_n.min() <= x_opt <= log_n.max()),
            )
        )
        members.append(rows)
    if len(profiles) < 2:
        return IsoFLOPFit(
            profiles,
            None,
            None,
            [*skipped, f"{len(profiles)} usable profiles: no power laws (need 2)"],
            curves,
        )
    budgets = np.array([p.budget for p in profiles])
    rng = np.random.default_rng(seed)
    boot_n, boot_d = [], []
    for _ in range(n_bootstrap):
        n_opts, d_opts = [], []
        for profile, rows in zip(profiles, members, strict=True):
            pick = rows[rng.integers(0, len(rows), len(rows))]
            fitted = (
                _parabola(np.log(n[pick]), losses[pick]) if len(np.unique(n[pick])) >= 3 else None
            )
            if fitted is None:
                break
            n_opt = float(np.exp(-fitted[1] / (2 * fitted[0])))
            n_bar = float(np.median(c[pick] / training_flops(n[pick], d[pick])))
            n_opts.append(n_opt)
            d_opts.append(profile.budget / training_flops(n_opt, n_bar))
        else:
            boot_n.append(_power_law(budgets, np.array(n_opts))[0])
            boot_d.append(_power_law(budgets, np.array(d_opts))[0])
    laws = []
    for values, boot in (
        ([p.N_opt for p in profiles], boot_n),
        ([p.D_opt for p in profiles], boot_d),
    ):
        exponent, coefficient = _power_law(budgets, np.array(values))
        laws.append(PowerLaw(exponent, coefficient, _interval(boot), len(profiles)))
    return IsoFLOPFit(profiles, laws[0], laws[1], skipped, curves)
