"""Neural scaling laws for jet taggers: sweeps of training runs, and the fits.

* :mod:`.sweep_config`, :mod:`.sweep_data` -- the sweeps of ``jetscale scan`` (YAML
  files, their training data); :mod:`jetscale.jobs.scan` runs them as dask tasks;
* :mod:`.laws` -- the laws as named functions;
* :mod:`.parametric_fit`, :mod:`.data_fit` -- L(N, D) and L(D), Huber on log L,
  L-BFGS from a grid, bootstrap intervals (Hoffmann et al. 2022, approach 3);
  :mod:`.multistart` and :mod:`.batched_lbfgs` minimise every start and resample
  of a fit as one batch;
* :mod:`.frontier` -- the loss envelope and IsoFLOP profiles (approaches 1, 2);
* :mod:`.repetition` -- R* of Muennighoff et al. 2023's effective data;
* :mod:`.compare` -- floors and exponents per feature set and max particles;
* :mod:`.table` -- results tables read with checks.

:mod:`jetscale.jobs.fit` (``jetscale fit``) runs all of it on a table and writes JSON and plots.
"""

from __future__ import annotations

from jetscale.scaling.data_fit import DataFit, fit_data_law
from jetscale.scaling.frontier import isoflop_fit, loss_envelope
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
    "isoflop_fit",
    "loss_envelope",
    "parametric_law",
]
