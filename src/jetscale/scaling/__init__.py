"""Neural scaling laws for jet taggers: the laws as named functions, and their fits.

Status: the laws and the robust parametric fit (Hoffmann et al. 2022, approach 3)
are here; sweeps (`jetscale scan`), the other fits and the plots are issue 5's
remaining work.
"""

from __future__ import annotations

from jetscale.scaling.laws import compute_optimal, data_law, effective_data, parametric_law
from jetscale.scaling.parametric_fit import FitError, ParametricFit, fit_parametric_law

__all__ = [
    "FitError",
    "ParametricFit",
    "compute_optimal",
    "data_law",
    "effective_data",
    "fit_parametric_law",
    "parametric_law",
]
