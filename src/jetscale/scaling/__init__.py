"""Neural scaling laws for jet taggers: the laws as named functions, and their fits.

Status: the laws, the robust parametric fit (Hoffmann et al. 2022, approach 3),
per-size L(D) fits, the repetition fit for R* (Muennighoff et al. 2023), the
frontier implied by the parametric fit, and
``jetscale fit TABLE --out DIR`` (JSON) are here. Sweeps (``jetscale scan``),
approaches 1 and 2, feature-set comparisons, the repetition fit inside
``jetscale fit``, and the plots
are issue 5's remaining work.
"""

from __future__ import annotations

from jetscale.scaling.data_fit import DataFit, fit_data_law
from jetscale.scaling.laws import compute_optimal, data_law, effective_data, parametric_law
from jetscale.scaling.parametric_fit import FitError, ParametricFit, fit_parametric_law
from jetscale.scaling.repetition import RepetitionFit, fit_repetition

__all__ = [
    "DataFit",
    "FitError",
    "ParametricFit",
    "RepetitionFit",
    "compute_optimal",
    "data_law",
    "effective_data",
    "fit_data_law",
    "fit_parametric_law",
    "fit_repetition",
    "parametric_law",
]
