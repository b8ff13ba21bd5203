"""Per-model-size data scaling ``L(D) = L_inf + B / D^beta``, fitted like the parametric law.

Same recipe as :mod:`jetscale.scaling.parametric_fit` (Huber loss on
``log L`` against ``LSE(b - beta log D, l)``, L-BFGS from a grid, all starts
and resamples in one batch, bootstrap intervals), with three parameters:
``L_inf = exp(l)``, ``B = exp(b)``, ``beta``.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize

from jetscale.scaling.multistart import best_of_starts
from jetscale.scaling.parametric_fit import (
    FIT_METHODS,
    HUBER_DELTA,
    FitError,
    FitMethod,
    check_positive,
    huber,
    logsumexp,
    single_threaded_blas,
)
from jetscale.scaling.progress import RefitProgress

_STARTS = tuple(itertools.product((0.0, 5.0, 10.0), (-1.0, 0.0), (0.2, 0.5, 1.0)))


@dataclasses.dataclass(frozen=True)
class DataFit:
    """``L_inf``, ``B``, ``beta`` with central 90% bootstrap intervals."""

    params: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    rms_log_residual: float
    n_points: int


def _objective(theta: np.ndarray, log_d: np.ndarray, log_l: np.ndarray) -> tuple[float, np.ndarray]:
    b, e, beta = theta
    terms = np.stack([b - beta * log_d, np.full_like(log_d, e)])
    pred = logsumexp(terms, axis=0)
    weights = np.exp(terms - pred)
    r = pred - log_l
    loss, dr = huber(r)
    grad = np.array(
        [np.sum(dr * weights[0]), np.sum(dr * weights[1]), np.sum(dr * weights[0] * -log_d)]
    )
    return float(loss.sum()), grad


def _fit(log_d: np.ndarray, log_l: np.ndarray, starts: tuple[tuple[float, ...], ...]) -> np.ndarray:
    """The reference: ``scipy.optimize.minimize`` from each start in turn, keeping the best."""
    results = [
        minimize(_objective, np.array(s), args=(log_d, log_l), jac=True, method="L-BFGS-B")
        for s in starts
    ]
    finite = [r for r in results if np.isfinite(r.fun)]
    if not finite:
        msg = "the data-scaling fit did not converge from any starting point"
        raise FitError(msg)
    return min(finite, key=lambda r: r.fun).x


def _best_fits(
    log_d: np.ndarray,
    log_l: np.ndarray,
    picks: list[np.ndarray],
    starts: tuple[tuple[float, ...], ...],
    method: FitMethod,
    progress: RefitProgress | None = None,
) -> np.ndarray:
    """Best optimum (R, 3) over ``starts`` of each resample ``picks[r]``."""
    if not picks:
        return np.empty((0, 3))
    if method == "scipy":
        fits = []
        for count, pick in enumerate(picks):
            if progress is not None:
                progress.done(count)
            fits.append(_fit(log_d[pick], log_l[pick], starts))
        return np.array(fits)
    index = np.stack(picks)  # (R, P)
    grid = np.broadcast_to(np.array(starts), (len(picks), len(starts), 3))
    theta, values = best_of_starts(log_d[index][:, None], log_l[index], grid, HUBER_DELTA)
    if not np.isfinite(values).all():
        msg = "the data-scaling fit did not converge from any starting point"
        raise FitError(msg)
    return theta


def fit_data_law(
    D: ArrayLike,
    loss: ArrayLike,
    n_bootstrap: int = 100,
    seed: int = 0,
    method: FitMethod = "batched",
) -> DataFit:
    """Fit :func:`jetscale.scaling.laws.data_law` to one model size's runs (at least 4, 3 distinct D).

    ``method`` as in :func:`jetscale.scaling.parametric_fit.fit_parametric_law`.
    """
    if method not in FIT_METHODS:
        msg = f"method must be one of {FIT_METHODS}, got {method!r}"
        raise ValueError(msg)
    d = np.asarray(D, dtype=np.float64).ravel()
    losses = np.asarray(loss, dtype=np.float64).ravel()
    if len(d) != len(losses):
        msg = f"D and loss must have the same length, got {len(d)} and {len(losses)}"
        raise FitError(msg)
    check_positive(D=d, loss=losses)
    if len(d) < 4 or len(np.unique(d)) < 3:
        msg = f"L(D) has 3 parameters; it needs at least 4 points with 3 distinct D, got {len(d)} points, {len(np.unique(d))} distinct D"
        raise FitError(msg)
    log_d, log_l = np.log(d), np.log(losses)
    with single_threaded_blas():
        return _fit_with_intervals(d, log_d, log_l, n_bootstrap, seed, method)


def _fit_with_intervals(
    d: np.ndarray,
    log_d: np.ndarray,
    log_l: np.ndarray,
    n_bootstrap: int,
    seed: int,
    method: FitMethod,
) -> DataFit:
    theta = _best_fits(log_d, log_l, [np.arange(len(d))], _STARTS, method)[0]
    rng = np.random.default_rng(seed)
    picks = [rng.integers(0, len(d), len(d)) for _ in range(n_bootstrap)]
    picks = [p for p in picks if len(np.unique(d[p])) >= 3]
    progress = RefitProgress(f"L(D) on {len(d)} runs", len(picks)) if method == "scipy" else None
    samples = _best_fits(log_d, log_l, picks, (tuple(theta), *_STARTS[::6]), method, progress)
    boot = [_natural(s) for s in samples]
    params = _natural(theta)
    intervals = {
        k: (
            float(np.percentile([p[k] for p in boot], 5)),
            float(np.percentile([p[k] for p in boot], 95)),
        )
        if boot
        else (float("nan"), float("nan"))
        for k in params
    }
    b, e, beta = theta
    pred = logsumexp(np.stack([b - beta * log_d, np.full_like(log_d, e)]), axis=0)
    return DataFit(params, intervals, float(np.sqrt(np.mean((pred - log_l) ** 2))), len(d))


def _natural(theta: np.ndarray) -> dict[str, float]:
    """L_inf, B, beta of ``(b, e, beta)``; ``inf`` past the float range, as in
    :func:`jetscale.scaling.parametric_fit.fit_parametric_law`'s resamples."""
    b, e, beta = (float(x) for x in theta)
    with np.errstate(over="ignore"):
        return {"L_inf": float(np.exp(e)), "B": float(np.exp(b)), "beta": beta}
