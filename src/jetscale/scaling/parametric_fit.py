"""Fit ``L(N, D) = E + A/N^alpha + B/D^beta`` the robust way (Hoffmann et al. 2022, approach 3).

As in Hoffmann et al. and the replication by Besiroglu et al. 2024: minimize
the Huber loss (delta = 1e-3) between ``log L`` and the log-sum-exp
parametrization ``LSE(a - alpha log N, b - beta log D, e)`` with
``a = log A, b = log B, e = log E``, by L-BFGS from a grid of starting points,
keeping the best; intervals come from refitting bootstrap resamples of the points.
Every start of every resample is minimised in one batch
(:mod:`jetscale.scaling.multistart`, scipy's L-BFGS-B step for step), which
takes seconds where scipy one start at a time took minutes.
The Huber loss keeps a few outlying runs (a diverged or undertrained point)
from dragging the fit, and fitting in log space weighs every decade of loss alike.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize

from jetscale.scaling.multistart import best_of_starts, huber_loss, logsumexp
from jetscale.scaling.progress import RefitProgress

HUBER_DELTA = 1e-3
PARAMETERS = ("E", "A", "alpha", "B", "beta")
#: Starting grid (a, b, e, alpha, beta), a coarser version of Hoffmann et al.'s.
START_GRID: tuple[tuple[float, ...], ...] = tuple(
    itertools.product((0.0, 5.0, 10.0), (0.0, 5.0, 10.0), (-1.0, 0.0), (0.3, 0.7), (0.3, 0.7))
)
#: How the starts are minimised: "batched" (every start and resample as one problem,
#: :mod:`jetscale.scaling.batched_lbfgs`) or "scipy" (``scipy.optimize.minimize``
#: one start at a time: the reference, 10 to 18 times slower on the demo table's
#: fits, benchmarks/bench_fit.py). Both run L-BFGS-B.
FitMethod = Literal["batched", "scipy"]
FIT_METHODS: tuple[FitMethod, ...] = ("batched", "scipy")


def single_threaded_blas() -> Any:
    """BLAS limited to one thread for the block.

    L-BFGS calls BLAS on vectors of five numbers; OpenBLAS threads only add
    hand-over cost, and on a machine busy with training (a sweep) they made the
    fits 3x slower.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def huber(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Huber loss of residuals ``r`` (quadratic within HUBER_DELTA, linear outside) and its derivative."""
    return huber_loss(r, HUBER_DELTA)


class FitError(ValueError):
    """Input a fit cannot use, or a fit that did not converge; the message says which."""


def check_positive(**arrays: np.ndarray) -> None:
    """Raise :class:`FitError` naming the first argument and point (1-based) that is not
    a positive, finite number: the fits take logarithms, and a NaN would otherwise come
    out as a fit that "did not converge" or as NaN parameters."""
    for name, values in arrays.items():
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            first = int(np.argmax(bad))
            msg = f"{name} has {int(bad.sum())} non-positive or non-finite values (first at point {first + 1} of {len(values)}: {float(values[first])!r})"
            raise FitError(msg)


@dataclasses.dataclass(frozen=True)
class ParametricFit:
    """Fitted parameters, their bootstrap intervals and the fit quality."""

    params: dict[str, float]  # E, A, alpha, B, beta
    intervals: dict[str, tuple[float, float]]  # central 90% (5th, 95th percentile) of bootstraps
    huber_loss: float  # objective at the optimum (sum over points)
    rms_log_residual: float  # sqrt(mean((log L_fit - log L)^2))
    n_points: int
    n_bootstrap: int


def huber_objective(
    theta: np.ndarray, log_n: np.ndarray, log_d: np.ndarray, log_l: np.ndarray
) -> tuple[float, np.ndarray]:
    """Summed Huber loss and its gradient in (a, b, e, alpha, beta)."""
    a, b, e, alpha, beta = theta
    terms = np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])  # (3, P)
    pred = logsumexp(terms, axis=0)
    weights = np.exp(terms - pred)  # softmax over the three terms: d pred / d term
    r = pred - log_l
    loss, dr = huber(r)
    grad = np.array(
        [
            np.sum(dr * weights[0]),
            np.sum(dr * weights[1]),
            np.sum(dr * weights[2]),
            np.sum(dr * weights[0] * -log_n),
            np.sum(dr * weights[1] * -log_d),
        ]
    )
    return float(loss.sum()), grad


def _best_fit(
    log_n: np.ndarray, log_d: np.ndarray, log_l: np.ndarray, starts: tuple[tuple[float, ...], ...]
) -> tuple[np.ndarray, float]:
    """The reference: ``scipy.optimize.minimize`` from each start in turn, keeping the best."""
    best_theta, best_value = None, np.inf
    for start in starts:
        result = minimize(
            huber_objective,
            np.array(start),
            args=(log_n, log_d, log_l),
            jac=True,
            method="L-BFGS-B",
        )
        if np.isfinite(result.fun) and result.fun < best_value:
            best_theta, best_value = result.x, float(result.fun)
    if best_theta is None:
        msg = "the parametric fit did not converge from any starting point"
        raise FitError(msg)
    return best_theta, best_value


def _best_fits(
    log_n: np.ndarray,
    log_d: np.ndarray,
    log_l: np.ndarray,
    picks: list[np.ndarray],
    starts: tuple[tuple[float, ...], ...],
    method: FitMethod,
    progress: RefitProgress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Best optimum ``theta`` (R, 5) and loss (R,) over ``starts`` of each resample ``picks[r]``."""
    if not picks:
        return np.empty((0, 5)), np.empty(0)
    if method == "scipy":
        fits = []
        for count, pick in enumerate(picks):
            if progress is not None:
                progress.done(count)
            fits.append(_best_fit(log_n[pick], log_d[pick], log_l[pick], starts))
        return np.array([t for t, _ in fits]), np.array([v for _, v in fits])
    index = np.stack(picks)  # (R, P)
    log_x = np.stack([log_n[index], log_d[index]], axis=1)  # (R, 2, P)
    grid = np.broadcast_to(np.array(starts), (len(picks), len(starts), 5))
    theta, values = best_of_starts(log_x, log_l[index], grid, HUBER_DELTA)
    if not np.isfinite(values).all():
        msg = "the parametric fit did not converge from any starting point"
        raise FitError(msg)
    return theta, values


def fit_parametric_law(
    N: ArrayLike,
    D: ArrayLike,
    loss: ArrayLike,
    n_bootstrap: int = 100,
    seed: int = 0,
    method: FitMethod = "batched",
) -> ParametricFit:
    """Fit :func:`jetscale.scaling.laws.parametric_law` to runs ``(N, D, loss)``.

    Needs at least 6 points (five parameters plus one) with positive, finite
    values, and some spread in both N and D. Bootstrap refits start from the
    best full fit and a few grid points (the full grid for each would take
    minutes with "scipy"). ``method`` picks how the starts are minimised
    (:data:`FitMethod`): the same L-BFGS-B either way, "scipy" one start at a time.
    """
    if method not in FIT_METHODS:
        msg = f"method must be one of {FIT_METHODS}, got {method!r}"
        raise ValueError(msg)
    n, d, losses = (np.asarray(v, dtype=np.float64).ravel() for v in (N, D, loss))
    if not (len(n) == len(d) == len(losses)):
        msg = f"N, D and loss must have the same length, got {len(n)}, {len(d)}, {len(losses)}"
        raise FitError(msg)
    check_positive(N=n, D=d, loss=losses)
    if len(n) < 6:
        msg = f"the parametric law has 5 parameters; {len(n)} points are too few (need at least 6)"
        raise FitError(msg)
    if len(np.unique(n)) < 2 or len(np.unique(d)) < 2:
        msg = "the points need at least two distinct values of both N and D"
        raise FitError(msg)
    log_n, log_d, log_l = np.log(n), np.log(d), np.log(losses)
    with single_threaded_blas():
        return _fit_with_intervals(n, d, log_n, log_d, log_l, n_bootstrap, seed, method)


def _fit_with_intervals(
    n: np.ndarray,
    d: np.ndarray,
    log_n: np.ndarray,
    log_d: np.ndarray,
    log_l: np.ndarray,
    n_bootstrap: int,
    seed: int,
    method: FitMethod,
) -> ParametricFit:
    full, values = _best_fits(log_n, log_d, log_l, [np.arange(len(n))], START_GRID, method)
    theta, value = full[0], float(values[0])
    rng = np.random.default_rng(seed)
    picks = [rng.integers(0, len(n), len(n)) for _ in range(n_bootstrap)]
    # a degenerate resample cannot constrain both exponents
    picks = [p for p in picks if len(np.unique(n[p])) >= 2 and len(np.unique(d[p])) >= 2]
    local_starts = (tuple(theta), *START_GRID[:: max(1, len(START_GRID) // 3)])
    progress = RefitProgress(f"L(N, D) on {len(n)} runs", len(picks)) if method == "scipy" else None
    samples, _ = _best_fits(log_n, log_d, log_l, picks, local_starts, method, progress)
    params = _natural(theta)
    boot = (
        np.array([list(_natural(s).values()) for s in samples])
        if len(samples)
        else np.empty((0, 5))
    )
    intervals = {
        name: (float(np.percentile(boot[:, k], 5)), float(np.percentile(boot[:, k], 95)))
        if len(boot)
        else (float("nan"), float("nan"))
        for k, name in enumerate(PARAMETERS)
    }
    a, b, e, alpha, beta = theta
    pred = logsumexp(
        np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)]), axis=0
    )
    return ParametricFit(
        params=params,
        intervals=intervals,
        huber_loss=value,
        rms_log_residual=float(np.sqrt(np.mean((pred - log_l) ** 2))),
        n_points=len(n),
        n_bootstrap=len(samples),
    )


def _natural(theta: np.ndarray) -> dict[str, float]:
    """E, A, alpha, B, beta of ``(a, b, e, alpha, beta)``.

    A resample of a few runs can have its optimum at infinity: with a handful of
    distinct D, a step in D between two of them (b and beta without bound, b / beta
    fixed) fits as well as any law, and L-BFGS stops somewhere along that valley.
    ``exp(b)`` beyond the float range is then ``inf`` for that resample, said
    without a warning.
    """
    a, b, e, alpha, beta = (float(x) for x in theta)
    with np.errstate(over="ignore"):
        return {
            "E": float(np.exp(e)),
            "A": float(np.exp(a)),
            "alpha": alpha,
            "B": float(np.exp(b)),
            "beta": beta,
        }
