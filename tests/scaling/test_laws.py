"""The scaling laws against hand computations and a brute-force optimum."""

from __future__ import annotations

import numpy as np
import pytest

from jetscale.scaling import compute_optimal, data_law, effective_data, parametric_law


def test_laws_by_hand() -> None:
    assert data_law(100.0, 1.0, 10.0, 0.5) == pytest.approx(2.0)  # 1 + 10 / 10
    # 0.5 + 8 / 2**3 + 27 / 3**3 = 0.5 + 1 + 1
    assert parametric_law(2.0, 3.0, 0.5, 8.0, 3.0, 27.0, 3.0) == pytest.approx(2.5)


def test_effective_data_limits() -> None:
    assert effective_data(1000.0, 0.0, 5.0) == pytest.approx(1000.0)  # one epoch: just U
    assert effective_data(1000.0, 1e6, 5.0) == pytest.approx(6000.0)  # saturates at U (1 + R*)
    # One repetition with R* = 1: U + U (1 - 1/e).
    assert effective_data(1.0, 1.0, 1.0) == pytest.approx(2.0 - np.exp(-1.0))


def test_compute_optimal_matches_a_brute_force_scan() -> None:
    A, alpha, B, beta = 40.0, 0.34, 300.0, 0.28
    for compute in (1e12, 1e15):
        n_grid = np.logspace(2, 12, 200_001)
        loss = parametric_law(n_grid, compute / (6.0 * n_grid), 0.0, A, alpha, B, beta)
        n_scan = n_grid[np.argmin(loss)]
        n_opt, d_opt = compute_optimal(compute, A, alpha, B, beta)
        assert n_opt == pytest.approx(n_scan, rel=1e-3)
        assert 6.0 * n_opt * d_opt == pytest.approx(compute)
