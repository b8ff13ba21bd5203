"""The batched L-BFGS takes scipy's L-BFGS-B steps, and a problem's result is its own."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from jetscale.scaling.batched_lbfgs import CONVERGED_GRADIENT, minimize_lbfgs


def rosenbrock(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rosenbrock's function of each row of ``x`` (K, n) and its gradient."""
    head, tail = x[:, :-1], x[:, 1:]
    value = np.sum(100.0 * (tail - head**2) ** 2 + (1.0 - head) ** 2, axis=1)
    grad = np.zeros_like(x)
    grad[:, :-1] = -400.0 * head * (tail - head**2) - 2.0 * (1.0 - head)
    grad[:, 1:] += 200.0 * (tail - head**2)
    return value, grad


def starts(count: int) -> np.ndarray:
    return np.random.default_rng(1).normal(0.0, 2.0, (count, 5))


def test_takes_scipys_steps_on_a_smooth_problem() -> None:
    """The same evaluations as scipy from every start, ending at the same point."""
    x0 = starts(12)
    batch = minimize_lbfgs(lambda x, rows: rosenbrock(x), x0)

    def one(v: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = rosenbrock(v[None])
        return float(value[0]), grad[0]

    for k, start in enumerate(x0):
        reference = minimize(one, start, jac=True, method="L-BFGS-B")
        assert batch.nfev[k] == reference.nfev, k
        np.testing.assert_allclose(batch.x[k], reference.x, rtol=0, atol=1e-9)
        np.testing.assert_allclose(batch.fun[k], reference.fun, rtol=0, atol=1e-12)


def test_a_problem_does_not_depend_on_its_batch() -> None:
    """Each problem's arithmetic is row by row: alone or among others, bit for bit the same."""
    x0 = starts(9)
    together = minimize_lbfgs(lambda x, rows: rosenbrock(x), x0)
    for k in (0, 4, 8):
        alone = minimize_lbfgs(lambda x, rows: rosenbrock(x), x0[k : k + 1])
        assert np.array_equal(alone.x[0], together.x[k])
        assert alone.fun[0] == together.fun[k] and alone.nfev[0] == together.nfev[k]


def test_a_start_at_the_minimum_stops_at_once() -> None:
    result = minimize_lbfgs(lambda x, rows: rosenbrock(x), np.ones((2, 5)))
    assert result.nfev.tolist() == [1, 1]
    assert (result.status == CONVERGED_GRADIENT).all()
    assert result.fun.tolist() == [0.0, 0.0]
