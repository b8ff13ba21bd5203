"""How much repeated data is worth: fit R* of Muennighoff et al. 2023's effective data.

With the parametric law fitted on single-epoch runs (fresh data), runs that
repeat ``U`` unique jets for ``epochs`` epochs are described by the same law at
the effective data ``D' = U + U R* (1 - exp(-R / R*))``, ``R = epochs - 1``.
Only ``R*`` is fitted here (Huber loss on log L, as for the other fits); the
effective-dataset gain of a run is ``D' / U``, bounded by ``1 + R*``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize_scalar

from jetscale.scaling.laws import effective_data, parametric_law
from jetscale.scaling.parametric_fit import FitError, check_positive, huber

#: The range R* is searched in: an interval ending at its top has no upper end the
#: runs set (repeated jets as good as new up to the epochs run).
R_STAR_RANGE = (1e-2, 1e4)


@dataclasses.dataclass(frozen=True)
class RepetitionFit:
    """The fitted ``R*``, the largest possible gain ``1 + R*``, and the gain of each run."""

    R_star: float
    R_star_interval: tuple[float, float]  # central 90% of bootstrap refits over runs
    max_gain: float
    gains: list[float]  # D' / U per input run
    rms_log_residual: float


def fit_repetition(
    N: ArrayLike,
    U: ArrayLike,
    epochs: ArrayLike,
    loss: ArrayLike,
    params: dict[str, float],
    n_bootstrap: int = 100,
    seed: int = 0,
) -> RepetitionFit:
    """Fit ``R*`` given the parametric-law ``params`` (E, A, alpha, B, beta) from fresh-data runs.

    Needs at least two runs with more than one epoch (R > 0 carries the information).
    """
    n, u, ep, losses = (np.asarray(v, dtype=np.float64).ravel() for v in (N, U, epochs, loss))
    if not (len(n) == len(u) == len(ep) == len(losses)):
        msg = "N, U, epochs and loss must have the same length"
        raise FitError(msg)
    check_positive(N=n, U=u, loss=losses)
    repetitions = ep - 1.0
    bad = ~(np.isfinite(repetitions) & (repetitions >= 0))
    if bad.any():
        first = int(np.argmax(bad))
        msg = f"epochs must be finite and >= 1 (first bad at point {first + 1} of {len(ep)}: {float(ep[first])!r})"
        raise FitError(msg)
    if int((repetitions > 0).sum()) < 2:
        msg = "fitting R* needs at least two runs with more than one epoch"
        raise FitError(msg)
    r_star = _fit_r_star(n, u, repetitions, np.log(losses), params)
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_bootstrap):
        pick = rng.integers(0, len(n), len(n))
        if int((repetitions[pick] > 0).sum()) >= 2:
            boot.append(
                _fit_r_star(n[pick], u[pick], repetitions[pick], np.log(losses[pick]), params)
            )
    interval = (
        (float(np.percentile(boot, 5)), float(np.percentile(boot, 95)))
        if boot
        else (float("nan"), float("nan"))
    )
    d_eff = effective_data(u, repetitions, r_star)
    residual = np.log(parametric_law(n, d_eff, **params)) - np.log(losses)
    return RepetitionFit(
        R_star=r_star,
        R_star_interval=interval,
        max_gain=1.0 + r_star,
        gains=(d_eff / u).tolist(),
        rms_log_residual=float(np.sqrt(np.mean(residual**2))),
    )


def _fit_r_star(
    n: np.ndarray,
    u: np.ndarray,
    repetitions: np.ndarray,
    log_l: np.ndarray,
    params: dict[str, float],
) -> float:
    def objective(log_r_star: float) -> float:
        d_eff = effective_data(u, repetitions, float(np.exp(log_r_star)))
        r = np.log(parametric_law(n, d_eff, **params)) - log_l
        return float(huber(r)[0].sum())

    bounds = (np.log(R_STAR_RANGE[0]), np.log(R_STAR_RANGE[1]))
    result = minimize_scalar(objective, bounds=bounds, method="bounded")
    if not result.success:
        msg = f"the R* fit did not converge: {result.message}"
        raise FitError(msg)
    return float(np.exp(result.x))


def observed_effective_data(N: ArrayLike, loss: ArrayLike, params: dict[str, float]) -> np.ndarray:
    """The data D' at which the fitted law reaches each run's loss (NaN at or below the N floor).

    Inverting ``L = E + A/N^alpha + B/D'^beta`` for D' gives each repeated-data
    run's own effective data, to set beside the fitted ``D'(U, R; R*)``.
    """
    n = np.asarray(N, dtype=np.float64)
    excess = np.asarray(loss, dtype=np.float64) - params["E"] - params["A"] / n ** params["alpha"]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(excess > 0, (params["B"] / excess) ** (1.0 / params["beta"]), np.nan)
