"""The robust parametric fit recovers known parameters; bad tables get clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from jetscale.scaling import FitError, fit_parametric_law, parametric_law

TRUTH = {"E": 0.6, "A": 40.0, "alpha": 0.34, "B": 300.0, "beta": 0.28}


def table(noise: float = 0.005, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 6 x 6 grid of (N, D) runs from the law with multiplicative log-normal noise."""
    n, d = np.meshgrid(np.logspace(4, 7, 6), np.logspace(5, 8, 6))
    n, d = n.ravel(), d.ravel()
    rng = np.random.default_rng(seed)
    return n, d, parametric_law(n, d, **TRUTH) * np.exp(rng.normal(0.0, noise, len(n)))


def test_recovers_known_parameters_within_its_intervals() -> None:
    n, d, loss = table()
    fit = fit_parametric_law(n, d, loss, n_bootstrap=30, seed=0)
    assert fit.n_points == 36 and fit.n_bootstrap == 30
    for name, value in TRUTH.items():
        low, high = fit.intervals[name]
        assert low <= value <= high, (name, value, fit.intervals[name])
        assert fit.params[name] == pytest.approx(value, rel=0.05), name
    assert fit.rms_log_residual < 0.01  # the injected noise is 0.5%


def test_one_wild_point_does_not_drag_the_fit() -> None:
    n, d, loss = table()
    loss[7] *= 1.5  # a diverged run
    fit = fit_parametric_law(n, d, loss, n_bootstrap=0)
    for name in ("E", "alpha", "beta"):
        assert fit.params[name] == pytest.approx(TRUTH[name], rel=0.05), name


@pytest.mark.parametrize(
    ("n", "d", "loss", "message"),
    [
        ([1e4] * 5, [1e5, 1e6, 1e7, 1e8, 1e9], [1.0] * 5, "5 points are too few"),
        (
            [1e4, 1e5, 1e6, 1e4, 1e5, 1e6],
            [1e5] * 6,
            [1.0] * 6,
            "two distinct values of both N and D",
        ),
        (
            [1e4, 1e5, 1e6, 1e4, 1e5, 1e6],
            [1e5, 1e5, 1e5, 1e6, 1e6, 1e6],
            [1, 1, 0, 1, 1, 1],
            r"loss has 1 non-positive or non-finite values \(first at point 3 of 6: 0.0\)",
        ),
        ([1e4, 1e5], [1e5], [1.0, 1.0], "same length"),
    ],
)
def test_bad_tables_get_clear_errors(n: list, d: list, loss: list, message: str) -> None:
    with pytest.raises(FitError, match=message):
        fit_parametric_law(n, d, loss, n_bootstrap=0)


def test_analytic_gradient_matches_finite_differences() -> None:
    from scipy.optimize import approx_fprime

    from jetscale.scaling.parametric_fit import huber_objective

    n, d, loss = table(noise=0.2)  # residuals beyond delta exercise the linear branch too
    args = (np.log(n), np.log(d), np.log(loss))
    theta = np.array([3.5, 5.0, -0.4, 0.3, 0.25])
    numeric = approx_fprime(theta, lambda t: huber_objective(t, *args)[0], 1e-7)
    np.testing.assert_allclose(huber_objective(theta, *args)[1], numeric, rtol=1e-4, atol=1e-8)


def test_every_fit_names_the_first_bad_point() -> None:
    """L(D) and R* took logarithms of whatever they got: a negative loss became a NaN
    fit or "did not converge" instead of naming the value."""
    from jetscale.scaling import fit_data_law, fit_repetition

    d = [1e5, 1e6, 1e7, 1e8]
    with pytest.raises(FitError, match=r"^loss has 1 .*\(first at point 2 of 4: -0.5\)$"):
        fit_data_law(d, [1.0, -0.5, 0.8, 0.7], n_bootstrap=0)
    with pytest.raises(FitError, match=r"^D has 1 .*\(first at point 4 of 4: inf\)$"):
        fit_data_law([*d[:3], float("inf")], [1.0, 0.9, 0.8, 0.7], n_bootstrap=0)
    params = {"E": 0.6, "A": 40.0, "alpha": 0.34, "B": 300.0, "beta": 0.28}
    runs = {"N": [1e6] * 3, "U": [1e5] * 3, "epochs": [1, 2, 4], "loss": [1.0, 0.9, 0.8]}
    with pytest.raises(FitError, match=r"^U has 1 .*\(first at point 3 of 3: nan\)$"):
        fit_repetition(**{**runs, "U": [1e5, 1e5, float("nan")]}, params=params, n_bootstrap=0)
    with pytest.raises(FitError, match=r"epochs must be finite and >= 1 .*point 2 of 3: 0.0\)$"):
        fit_repetition(**{**runs, "epochs": [1, 0, 4]}, params=params, n_bootstrap=0)
