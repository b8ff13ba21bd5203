"""R* is recovered from runs generated with repeated data."""

from __future__ import annotations

import numpy as np
import pytest

from jetscale.scaling import FitError, effective_data, parametric_law
from jetscale.scaling.repetition import fit_repetition

PARAMS = {"E": 0.6, "A": 40.0, "alpha": 0.34, "B": 300.0, "beta": 0.28}


def test_recovers_r_star_and_reports_gains() -> None:
    rng = np.random.default_rng(2)
    u = np.repeat([1e5, 1e6], 6)
    epochs = np.tile([1, 2, 4, 8, 16, 32], 2).astype(float)
    n = np.full(len(u), 1e6)
    truth = 5.0
    loss = parametric_law(n, effective_data(u, epochs - 1, truth), **PARAMS)
    loss *= np.exp(rng.normal(0, 0.001, len(u)))
    fit = fit_repetition(n, u, epochs, loss, PARAMS)
    assert fit.R_star == pytest.approx(truth, rel=0.1)
    assert fit.max_gain == pytest.approx(1 + fit.R_star)
    # Gain by hand for one repetition: 1 + R* (1 - exp(-1/R*)).
    assert fit.gains[1] == pytest.approx(1 + fit.R_star * (1 - np.exp(-1 / fit.R_star)))
    assert fit.gains[0] == pytest.approx(1.0)


def test_needs_repeated_runs() -> None:
    with pytest.raises(FitError, match="at least two runs with more than one epoch"):
        fit_repetition([1e6, 1e6], [1e5, 1e5], [1, 2], [1.0, 1.0], PARAMS)
