"""Per-model-size data scaling ``L(D) = L_inf + B / D^beta``, fitted like the parametric law.

Same recipe as :mod:`jetscale.scaling.parametric_fit` (Huber loss on
``log L`` against ``LSE(b - beta log D, l)``, L-BFGS from a grid, bootstrap
intervals), with three parameters: ``L_inf = exp(l)``, ``B = exp(b)``, ``beta``.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize

from jetscale.scaling.parametric_fit import (
    FitError,
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
    results = [
        minimize(_objective, np.array(s), args=(log_d, log_l), jac=True, method="L-BFGS-B")
        for s in starts
    ]
    finite = [r for r in results if np.isfinite(r.fun)]
    if not finite:
        msg = "the data-scaling fit did not converge from any starting point"
        raise FitError(msg)
    return min(finite, key=lambda r: r.fun).x


def fit_data_law(D: ArrayLike, loss: ArrayLike, n_bootstrap: int = 100, seed: int = 0) -> DataFit:
    """Fit :func:`jetscale.scaling.laws.data_law` to one model size's runs (at least 4, 3 distinct D)."""
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
        return _fit_with_intervals(d, log_d, log_l, n_bootstrap, seed)


def _fit_with_intervals(
    d: np.ndarray, log_d: np.ndarray, log_l: np.ndarray, n_bootstrap: int, seed: int
) -> DataFit:
    theta = _fit(log_d, log_l, _STARTS)
    rng = np.random.default_rng(seed)
    boot = []
    progress = RefitProgress(f"L(D) on {len(d)} runs", n_bootstrap)
    for refit in range(n_bootstrap):
        progress.done(refit)
        pick = rng.integers(0, len(d), len(d))
        if len(np.unique(d[pick])) >= 3:
            boot.append(_natural(_fit(log_d[pick], log_l[pick], (tuple(theta), *_STARTS[::6]))))
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
    b, e, beta = (float(x) for x in theta)
    return {"L_inf": float(np.exp(e)), "B": float(np.exp(b)), "beta": beta}
