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
from jetscale.scaling.parametric_fit import FitError, huber


@dataclasses.dataclass(frozen=True)
class RepetitionFit:
    """The fitted ``R*``, the largest possible gain ``1 + R*``, and the gain of each run."""

    R_star: float
    max_gain: float
    gains: list[float]  # D' / U per input run
    rms_log_residual: float


def fit_repetition(
    N: ArrayLike,
    U: ArrayLike,
    epochs: ArrayLike,
    loss: ArrayLike,
    params: dict[str, float],
) -> RepetitionFit:
    """Fit ``R*`` given the parametric-law ``params`` (E, A, alpha, B, beta) from fresh-data runs.

    Needs at least two runs with more than one epoch (R > 0 carries the information).
    """
    n, u, ep, losses = (np.asarray(v, dtype=np.float64).ravel() for v in (N, U, epochs, loss))
    if not (len(n) == len(u) == len(ep) == len(losses)):
        msg = "N, U, epochs and loss must have the same length"
        raise FitError(msg)
    repetitions = ep - 1.0
    if (repetitions < 0).any():
        msg = "epochs must be >= 1"
        raise FitError(msg)
    if int((repetitions > 0).sum()) < 2:
        msg = "fitting R* needs at least two runs with more than one epoch"
        raise FitError(msg)
    log_l = np.log(losses)

    def objective(log_r_star: float) -> float:
        d_eff = effective_data(u, repetitions, float(np.exp(log_r_star)))
        r = np.log(parametric_law(n, d_eff, **params)) - log_l
        return float(huber(r)[0].sum())

    result = minimize_scalar(objective, bounds=(np.log(1e-2), np.log(1e4)), method="bounded")
    if not result.success:
        msg = f"the R* fit did not converge: {result.message}"
        raise FitError(msg)
    r_star = float(np.exp(result.x))
    d_eff = effective_data(u, repetitions, r_star)
    residual = np.log(parametric_law(n, d_eff, **params)) - log_l
    return RepetitionFit(
        R_star=r_star,
        max_gain=1.0 + r_star,
        gains=(d_eff / u).tolist(),
        rms_log_residual=float(np.sqrt(np.mean(residual**2))),
    )
